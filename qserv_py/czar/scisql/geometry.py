"""``scisql_angSep``, ``scisql_s2PtInBox``, ``scisql_s2PtInCircle``, ``scisql_s2PtInEllipse``.

Each builder follows the UDF in ``src/udfs/*.c`` and ``src/geometry.c`` of sciSQL 0.3.11 step by
step (reference/sphgeom-and-scisql.md §3.1-3.4), in the terms of ``terms.py``: what the C code
computes from constant arguments (the ellipse's sines and cosines, the circle's squared chord) is
folded to literals here, the rest becomes SQL. With every argument literal, the call folds to its
value. The predicates return 0 when any argument is NULL and NULL when an argument is invalid,
in the UDF's order of checks.

Example (literal circle; ``4·sin²(0.05°/2)`` is folded to ``7.615435011377246e-07``)::

    scisql_s2PtInCircle(ra, decl, 10, 20, 0.05)
    -> CASE WHEN CAST(ra AS DOUBLE) IS NULL OR CAST(decl AS DOUBLE) IS NULL THEN 0
            WHEN NOT (CAST(decl AS DOUBLE) >= -90.0e0 AND CAST(decl AS DOUBLE) <= 90.0e0)
            THEN NULL
            WHEN ABS(CAST(decl AS DOUBLE) - 20.0e0) > 0.05e0 THEN 0
            ELSE LEAST(4.0e0, GREATEST(0.0e0, 4.0e0 * (x * (z - y) + y))) <= 7.615435011377246e-07
       END

where ``x = SIN((CAST(ra AS DOUBLE) * 0.5e0 - 5.0e0) * 0.017453292519943295e0)`` squared, and
``y``, ``z`` the same for the latitudes: the haversine of ``scisql_sc_dist2``, term for term.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from qserv_py.czar.scisql import model
from qserv_py.czar.scisql.arguments import is_constant, operand
from qserv_py.czar.scisql.terms import (
    Num,
    Operand,
    Pred,
    Value,
    add,
    and_,
    any_null,
    asin,
    at_most,
    atan2,
    case_,
    case_num,
    case_pred,
    clamp,
    cos,
    div,
    eq,
    fabs,
    fmod,
    ge,
    gt,
    le,
    lt,
    mul,
    not_,
    or_,
    render,
    sin,
    sq,
    sqrt,
    sub,
)

RAD = model.RAD_PER_DEG
V3 = tuple[Num, Num, Num]

# The smallest double whose reciprocal is finite: 1/(m*m) below it is +inf in C.
MIN_INVERTIBLE = 5.56268464626801e-309
# Ellipse terms x²/M² are compared with this before they are summed, so the sum cannot overflow.
_TERM_CAP = 1e300
# 6-argument angSep: components up to 2**255 cannot overflow any product or sum of squares.
_VECTOR_CAP = 2.0**255


def operands(name: str, args: Sequence[exp.Expr]) -> list[Operand]:
    return [operand(a, name) for a in args]


def nums(values: Sequence[Operand]) -> list[Num]:
    """The arguments for arithmetic. A NULL literal becomes 0.0: every builder tests for NULL
    first, and ``case_`` drops the branches after a test that is constantly true."""
    return [0.0 if v is None else v for v in values]


def valid_lat(lat: Num) -> Pred:
    return and_(ge(lat, -90.0), le(lat, 90.0))


def sctov3(lon: Num, lat: Num) -> V3:
    lon_r, lat_r = mul(lon, RAD), mul(lat, RAD)
    cos_lat = cos(lat_r)
    return (mul(cos(lon_r), cos_lat), mul(sin(lon_r), cos_lat), sin(lat_r))


def dot(a: V3, b: V3) -> Num:
    return add(add(mul(a[0], b[0]), mul(a[1], b[1])), mul(a[2], b[2]))


def _half_lon_delta_rad(lon1: Num, lon2: Num) -> Num:
    """C's ``(lon1 - lon2) * RAD * 0.5``. In SQL the halves are taken first: the same bits
    (scaling by 2 commutes with rounding; where it does not, the sine squared underflows to 0
    either way), and no overflow for longitudes near ±DBL_MAX."""
    if isinstance(lon1, float) and isinstance(lon2, float):
        return mul(mul(sub(lon1, lon2), RAD), 0.5)
    return mul(sub(mul(lon1, 0.5), mul(lon2, 0.5)), RAD)


def dist2(lon1: Num, lat1: Num, lon2: Num, lat2: Num) -> Num:
    """scisql_sc_dist2: the squared chord (haversine form), clamped to [0, 4]."""
    x = sq(sin(_half_lon_delta_rad(lon1, lon2)))
    y = sq(sin(mul(mul(sub(lat1, lat2), RAD), 0.5)))
    z = sq(cos(mul(mul(add(lat1, lat2), RAD), 0.5)))
    return clamp(mul(4.0, add(mul(x, sub(z, y)), y)), 0.0, 4.0)


def angsep(lon1: Num, lat1: Num, lon2: Num, lat2: Num) -> Num:
    """scisql_sc_angsep in degrees, capped at 180."""
    x = mul(dist2(lon1, lat1, lon2, lat2), 0.25)
    return at_most(mul(2.0 * model.DEG_PER_RAD, asin(sqrt(x))), 180.0)


def angred(angle: Num) -> Num:
    """scisql_angred: fmod into [0, 360)."""
    m = fmod(angle, 360.0)
    shifted = add(m, 360.0)
    return case_num((lt(m, 0.0), case_num((eq(shifted, 360.0), 0.0), default=shifted)), default=m)


# ---- the builders ----


def ang_sep(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_angSep(lon1, lat1, lon2, lat2)`` or ``(x1, y1, z1, x2, y2, z2)``: DOUBLE degrees,
    NULL for any NULL argument or |lat| > 90.

    Unlike the UDF, ``IS NULL`` sees the NULL of an invalid literal latitude (the UDF declares
    ``maybe_null=0`` for non-NULL literals; reference/scisql-golden.md).
    """
    values = operands("scisql_angSep", args)
    a = nums(values)
    if len(a) == 6:
        return render(case_((any_null(*values), None), default=_v3_angsep(a)))
    body = case_(
        (any_null(*values), None),
        (and_(valid_lat(a[1]), valid_lat(a[3])), angsep(a[0], a[1], a[2], a[3])),
    )
    return render(body)


def _v3_angsep(a: list[Num]) -> Value:
    """scisql_v3_angsep: atan2(|v1 x v2|, v1 . v2).

    Exact when every component is at most 2**255 in magnitude. Beyond that C may overflow to
    inf and return an arbitrary angle; the SQL returns NULL (MariaDB cannot hold inf) unless all
    six arguments are literals, which are folded with C's own semantics.
    """
    if all(isinstance(x, float) for x in a):
        folded = model.udf_ang_sep(*(float(x) for x in a if isinstance(x, float)))
        return None if folded is None or model.special(folded) else folded
    v1, v2 = (a[0], a[1], a[2]), (a[3], a[4], a[5])
    n = (
        sub(mul(v1[1], v2[2]), mul(v1[2], v2[1])),
        sub(mul(v1[2], v2[0]), mul(v1[0], v2[2])),
        sub(mul(v1[0], v2[1]), mul(v1[1], v2[0])),
    )
    ss = sqrt(dot(n, n))
    cs = dot(v1, v2)
    angle = case_num(
        (and_(eq(cs, 0.0), eq(ss, 0.0)), 0.0),
        default=at_most(mul(atan2(ss, cs), model.DEG_PER_RAD), 180.0),
    )
    in_range = and_(*(le(fabs(x), _VECTOR_CAP) for x in a))
    return case_((in_range, angle))


def s2_pt_in_box(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_s2PtInBox(lon, lat, lonMin, latMin, lonMax, latMax)``: 0/1, 0 for any NULL,
    NULL for an invalid latitude or a wrapping box with a bound outside [0, 360]."""
    values = operands("scisql_s2PtInBox", args)
    lon, lat, lon_min, lat_min, lon_max, lat_max = nums(values)
    if isinstance(lon_min, float) and isinstance(lon_max, float):
        wide: Pred = lon_max - lon_min >= 360.0
    else:  # halved, as in _half_lon_delta_rad: same truth value, no overflow
        wide = ge(sub(mul(lon_max, 0.5), mul(lon_min, 0.5)), 180.0)
    p, lo, hi = angred(lon), angred(lon_min), angred(lon_max)
    body = case_(
        (any_null(*values), False),
        (not_(and_(valid_lat(lat), valid_lat(lat_min), valid_lat(lat_max))), None),
        (and_(lt(lon_max, lon_min), or_(lt(lon_max, 0.0), gt(lon_min, 360.0))), None),
        (or_(gt(lat_min, lat_max), lt(lat, lat_min), gt(lat, lat_max)), False),
        (wide, True),
        (le(lo, hi), and_(ge(p, lo), le(p, hi))),
        default=or_(ge(p, lo), le(p, hi)),
    )
    return render(body)


def s2_pt_in_circle(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_s2PtInCircle(lon, lat, centerLon, centerLat, radius)``: 0/1, 0 for any NULL,
    NULL for an invalid latitude or a radius outside [0, 180].

    A constant radius is compared as a squared chord (``d2 <= 4 sin²(r/2)``, folded when
    literal), any other as an angle, as the UDF does; the two differ only at the boundary.
    """
    values = operands("scisql_s2PtInCircle", args)
    lon, lat, clon, clat, r = nums(values)
    if is_constant(args[4]):
        d = sin(mul(mul(r, 0.5), RAD))
        inside = le(dist2(lon, lat, clon, clat), mul(mul(4.0, d), d))
    else:
        inside = le(angsep(lon, lat, clon, clat), r)
    body = case_(
        (any_null(*values), False),
        (not_(and_(valid_lat(lat), valid_lat(clat))), None),
        (or_(lt(r, 0.0), gt(r, 180.0)), None),
        (gt(fabs(sub(lat, clat)), r), False),
        default=inside,
    )
    return render(body)


def s2_pt_in_ellipse(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_s2PtInEllipse(lon, lat, centerLon, centerLat, semiMajorAxisAngle,
    semiMinorAxisAngle, positionAngle)``; axes in arcsec, position angle in degrees E of N.

    0 for any NULL; NULL for an invalid point latitude, then for axes outside
    ``0 <= minor <= major <= 36000``, then for an invalid centre latitude. The test is done in
    the orthographic projection at the centre, so, like the UDF, the antipodal ellipse matches
    too. A zero (or underflowing) minor axis gives 0 everywhere, as C's ``inf`` does.
    """
    values = operands("scisql_s2PtInEllipse", args)
    lon, lat, clon, clat, major, minor, pa = nums(values)
    body = case_(
        (any_null(*values), False),
        (not_(valid_lat(lat)), None),
        (or_(lt(minor, 0.0), gt(minor, major), gt(major, 36000.0)), None),
        (not_(valid_lat(clat)), None),
        default=_in_ellipse(lon, lat, clon, clat, major, minor, pa),
    )
    return render(body)


def _in_ellipse(lon: Num, lat: Num, clon: Num, clat: Num, major: Num, minor: Num, pa: Num) -> Pred:
    sin_lon, cos_lon = sin(mul(clon, RAD)), cos(mul(clon, RAD))
    sin_lat, cos_lat = sin(mul(clat, RAD)), cos(mul(clat, RAD))
    posang = mul(pa, RAD)
    sin_pa, cos_pa = sin(posang), cos(posang)
    m = div(mul(minor, RAD), model.ARCSEC_PER_DEG)
    mj = div(mul(major, RAD), model.ARCSEC_PER_DEG)
    m2, mj2 = mul(m, m), mul(mj, mj)
    vx, vy, vz = sctov3(lon, lat)
    xne = sub(mul(cos_lat, vz), mul(sin_lat, add(mul(sin_lon, vy), mul(cos_lon, vx))))
    yne = sub(mul(cos_lon, vy), mul(sin_lon, vx))
    x = add(mul(sin_pa, yne), mul(cos_pa, xne))
    y = sub(mul(cos_pa, yne), mul(sin_pa, xne))
    xx, yy = sq(x), sq(y)
    if isinstance(m2, float) and m2 < MIN_INVERTIBLE:
        return False  # 1/m² is inf: every point gives inf or NaN, never <= 1
    inv_minor2, inv_major2 = div(1.0, m2), div(1.0, mj2)
    inside = le(add(mul(xx, inv_major2), mul(yy, inv_minor2)), 1.0)
    if isinstance(inv_minor2, float) and inv_minor2 <= _TERM_CAP:
        return inside  # both terms stay below ~1e300: no overflow
    return case_pred(
        (lt(m2, MIN_INVERTIBLE), False),
        (gt(xx, div(_TERM_CAP, inv_major2)), False),
        (gt(yy, div(_TERM_CAP, inv_minor2)), False),
        default=inside,
    )

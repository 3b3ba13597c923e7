"""sciSQL 0.3.11 in plain Python floats: the C code transcribed operation by operation.

Python floats are IEEE doubles and ``math`` calls the platform libm, so each function here gives
the bits the UDF gives (checked against all 2612 rows of ``reference/scisql-golden.tsv``). The
``c_*`` helpers give C's answers where Python would raise: ``inf`` on overflow, ``nan`` on a
domain error, signed infinities on division by zero.

Two users: the SQL builders fold constant arguments with the same helpers (a literal polygon's
edge normals are computed here, not in SQL), and the tests use the ``udf_*`` functions as the
oracle for functions the golden file does not cover (the ``dn`` family, 6-argument ``angSep``).

Arguments are ``float | None`` (``None`` is SQL NULL); predicates return ``0``/``1``/``None``.
See reference/sphgeom-and-scisql.md §3 for the semantics.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

RAD_PER_DEG = 0.0174532925199432957692369076849
DEG_PER_RAD = 57.2957795130823208767981548141
ARCSEC_PER_DEG = 3600.0
MAX_VERTS = 20
# photometry.h
FIVE_OVER_2LOG10 = 1.085736204758129569
TWOLOG10_OVER_5 = 0.9210340371976182736
AB_FLUX_SCALE = 3.630780547701013425e-20

V3 = tuple[float, float, float]


# ---- C libm semantics (never raise) ----


def c_div(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def c_sin(x: float) -> float:
    return math.sin(x) if math.isfinite(x) else math.nan


def c_cos(x: float) -> float:
    return math.cos(x) if math.isfinite(x) else math.nan


def c_asin(x: float) -> float:
    return math.asin(x) if -1.0 <= x <= 1.0 else math.nan


def c_sqrt(x: float) -> float:
    if math.isnan(x) or x < 0.0:
        return math.nan
    return math.sqrt(x)


def c_log10(x: float) -> float:
    if math.isnan(x) or x < 0.0:
        return math.nan
    if x == 0.0:
        return -math.inf
    return math.log10(x)


def c_pow(x: float, y: float) -> float:
    try:
        return math.pow(x, y)
    except OverflowError:
        return math.inf
    except ValueError:
        return math.nan


def c_fmod(x: float, y: float) -> float:
    try:
        return math.fmod(x, y)
    except ValueError:
        return math.nan


def special(x: float) -> bool:
    """SCISQL_ISSPECIAL: NaN or infinite."""
    return not math.isfinite(x)


# ---- geometry.h / geometry.c ----


def angred(angle_deg: float) -> float:
    angle = c_fmod(angle_deg, 360.0)
    if angle < 0.0:
        angle += 360.0
        if angle == 360.0:
            angle = 0.0
    return angle


def sc_ok(lon: float, lat: float) -> bool:
    """scisql_sc_init succeeds."""
    return not (special(lon) or special(lat) or lat < -90.0 or lat > 90.0)


def sctov3(lon: float, lat: float) -> V3:
    lon_r = lon * RAD_PER_DEG
    lat_r = lat * RAD_PER_DEG
    cos_lat = c_cos(lat_r)
    return (c_cos(lon_r) * cos_lat, c_sin(lon_r) * cos_lat, c_sin(lat_r))


def sc_dist2(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    x = c_sin((lon1 - lon2) * RAD_PER_DEG * 0.5)
    x *= x
    y = c_sin((lat1 - lat2) * RAD_PER_DEG * 0.5)
    y *= y
    z = c_cos((lat1 + lat2) * RAD_PER_DEG * 0.5)
    z *= z
    d2 = 4.0 * (x * (z - y) + y)
    return 0.0 if d2 < 0.0 else (4.0 if d2 > 4.0 else d2)


def sc_angsep(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    x = sc_dist2(lon1, lat1, lon2, lat2) * 0.25
    angsep = 2.0 * DEG_PER_RAD * c_asin(c_sqrt(x))
    return 180.0 if angsep > 180.0 else angsep


def dot(a: V3, b: V3) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def v3_angsep(v1: V3, v2: V3) -> float:
    n = (
        v1[1] * v2[2] - v1[2] * v2[1],
        v1[2] * v2[0] - v1[0] * v2[2],
        v1[0] * v2[1] - v1[1] * v2[0],
    )
    ss = c_sqrt(dot(n, n))
    cs = dot(v1, v2)
    if cs == 0.0 and ss == 0.0:
        return 0.0
    angsep = math.atan2(ss, cs) * DEG_PER_RAD
    return 180.0 if angsep > 180.0 else angsep


def rcross(v1: V3, v2: V3) -> V3:
    """Twice the cross product, as (v1 + v2) x (v2 - v1)."""
    x1, x2 = v2[0] + v1[0], v2[0] - v1[0]
    y1, y2 = v2[1] + v1[1], v2[1] - v1[1]
    z1, z2 = v2[2] + v1[2], v2[2] - v1[2]
    return (y1 * z2 - z1 * y2, z1 * x2 - x1 * z2, x1 * y2 - y1 * x2)


def cpoly(verts: Sequence[V3]) -> tuple[V3, list[V3]]:
    """scisql_s2cpoly_init: (vsum, edge plane normals), normals pointing inside."""
    n = len(verts)
    vsum = verts[n - 1]
    edges = []
    for i in range(n - 1):
        edges.append(rcross(verts[i], verts[i + 1]))
        vsum = (vsum[0] + verts[i][0], vsum[1] + verts[i][1], vsum[2] + verts[i][2])
    edges.append(rcross(verts[n - 1], verts[0]))
    if dot(vsum, edges[0]) < 0.0:
        edges = [(-e[0], -e[1], -e[2]) for e in edges]
    return vsum, edges


# ---- the UDFs ----

Arg = float | None


def udf_ang_sep(*a: Arg) -> float | None:
    if any(x is None or special(x) for x in a):
        return None
    v = [x for x in a if x is not None]
    if len(v) == 4:
        if not (sc_ok(v[0], v[1]) and sc_ok(v[2], v[3])):
            return None
        return sc_angsep(v[0], v[1], v[2], v[3])
    return v3_angsep((v[0], v[1], v[2]), (v[3], v[4], v[5]))


def udf_s2_pt_in_box(*a: Arg) -> int | None:
    if any(x is None for x in a):
        return 0
    lon, lat, lon_min, lat_min, lon_max, lat_max = (float(x) for x in a if x is not None)
    if not (sc_ok(lon, lat) and sc_ok(lon_min, lat_min) and sc_ok(lon_max, lat_max)):
        return None
    if lon_max < lon_min and (lon_max < 0.0 or lon_min > 360.0):
        return None
    if lat_min > lat_max or lat < lat_min or lat > lat_max:
        return 0
    if lon_max - lon_min >= 360.0:
        return 1
    lon, lon_min, lon_max = angred(lon), angred(lon_min), angred(lon_max)
    if lon_min <= lon_max:
        return int(lon_min <= lon <= lon_max)
    return int(lon >= lon_min or lon <= lon_max)


def udf_s2_pt_in_circle(*a: Arg, constant_radius: bool = True) -> int | None:
    """``constant_radius``: the UDF compares squared chords when the radius is a constant
    (literal) argument, and angular separations when it changes from row to row."""
    if any(x is None for x in a):
        return 0
    lon, lat, clon, clat, r = (float(x) for x in a if x is not None)
    if not (sc_ok(lon, lat) and sc_ok(clon, clat)):
        return None
    if r < 0.0 or r > 180.0 or math.isnan(r):
        return None
    if abs(lat - clat) > r:
        return 0
    if constant_radius:
        d = c_sin(r * 0.5 * RAD_PER_DEG)
        return int(sc_dist2(lon, lat, clon, clat) <= 4.0 * d * d)
    return int(sc_angsep(lon, lat, clon, clat) <= r)


def udf_s2_pt_in_ellipse(*a: Arg) -> int | None:
    if any(x is None for x in a):
        return 0
    lon, lat, clon, clat, major, minor, pa = (float(x) for x in a if x is not None)
    if not sc_ok(lon, lat):
        return None
    posang = pa * RAD_PER_DEG
    if special(posang) or math.isnan(major) or math.isnan(minor):
        return None
    if minor < 0.0 or minor > major or major > 10.0 * ARCSEC_PER_DEG:
        return None
    if not sc_ok(clon, clat):
        return None
    sin_lon, cos_lon = c_sin(clon * RAD_PER_DEG), c_cos(clon * RAD_PER_DEG)
    sin_lat, cos_lat = c_sin(clat * RAD_PER_DEG), c_cos(clat * RAD_PER_DEG)
    sin_pa, cos_pa = c_sin(posang), c_cos(posang)
    m = minor * RAD_PER_DEG / ARCSEC_PER_DEG
    mj = major * RAD_PER_DEG / ARCSEC_PER_DEG
    inv_minor2 = c_div(1.0, m * m)
    inv_major2 = c_div(1.0, mj * mj)
    vx, vy, vz = sctov3(lon, lat)
    xne = cos_lat * vz - sin_lat * (sin_lon * vy + cos_lon * vx)
    yne = cos_lon * vy - sin_lon * vx
    x = sin_pa * yne + cos_pa * xne
    y = cos_pa * yne - sin_pa * xne
    return int(x * x * inv_major2 + y * y * inv_minor2 <= 1.0)


def _vertices(a: Sequence[float]) -> list[V3] | None:
    verts = []
    for i in range(0, len(a), 2):
        if not sc_ok(a[i], a[i + 1]):
            return None
        verts.append(sctov3(a[i], a[i + 1]))
    return verts


def udf_s2_pt_in_cpoly(*a: Arg) -> int | None:
    if a[0] is None or a[1] is None:
        return 0
    if not sc_ok(a[0], a[1]):
        return None
    rest = [x for x in a[2:] if x is not None]
    if len(rest) != len(a) - 2:
        return 0
    verts = _vertices(rest)
    if verts is None:
        return None
    _, edges = cpoly(verts)
    v = sctov3(a[0], a[1])
    return int(all(dot(v, e) >= 0.0 for e in edges))


def udf_s2_cpoly_to_bin(*a: Arg) -> bytes | None:
    """The VARBINARY polygon; NULL past 9 vertices (the UDF writes into a 255-byte buffer)."""
    vals = [x for x in a if x is not None]
    if len(vals) != len(a):
        return None
    verts = _vertices(vals)
    if verts is None:
        return None
    vsum, edges = cpoly(verts)
    if 24 * (len(edges) + 1) > 255:
        return None
    return struct.pack(f"<{3 * (len(edges) + 1)}d", *vsum, *(c for e in edges for c in e))


# ---- photometry.h and src/udfs/*.c ----


def hypot(a: float, b: float) -> float:
    """scisql_hypot: |a|·sqrt(1 + (b/a)²) after ordering |a| >= |b| (not libm's hypot)."""
    if abs(a) < abs(b):
        a, b = b, a
    if a == 0.0:
        return 0.0
    q = c_div(b, a)
    return abs(a) * c_sqrt(1.0 + q * q)


def flux2ab(flux: float) -> float:
    return -2.5 * c_log10(flux) - 48.6


def nanojansky2ab(flux: float) -> float:
    return -2.5 * c_log10(flux) + 31.4


def flux2absigma(flux: float, fluxsigma: float) -> float:
    return c_div(FIVE_OVER_2LOG10 * fluxsigma, flux)


def dn2flux(dn: float, fluxmag0: float) -> float:
    return c_div(AB_FLUX_SCALE * dn, fluxmag0)


def dn2fluxsigma(dn: float, dnsigma: float, fluxmag0: float, fluxmag0sigma: float) -> float:
    h = hypot(dn * fluxmag0sigma, dnsigma * fluxmag0)
    return c_div(AB_FLUX_SCALE * h, fluxmag0 * fluxmag0)


def flux2dn(flux: float, fluxmag0: float) -> float:
    return c_div(flux * fluxmag0, AB_FLUX_SCALE)


def flux2dnsigma(flux: float, fluxsigma: float, fluxmag0: float, fluxmag0sigma: float) -> float:
    return c_div(hypot(flux * fluxmag0sigma, fluxmag0 * fluxsigma), AB_FLUX_SCALE)


def ab2flux(mag: float) -> float:
    return c_pow(10.0, -0.4 * (mag + 48.6))


def ab2nanojansky(mag: float) -> float:
    return c_pow(10.0, -0.4 * (mag - 31.4))


def _finite_or_null(x: float) -> float | None:
    return None if special(x) else x


def _args(a: Sequence[Arg]) -> list[float] | None:
    vals = [x for x in a if x is not None and not special(x)]
    return vals if len(vals) == len(a) else None


def udf_flux_to_ab_mag(f: Arg) -> float | None:
    v = _args([f])
    return None if v is None or v[0] <= 0.0 else _finite_or_null(flux2ab(v[0]))


def udf_nanojansky_to_ab_mag(f: Arg) -> float | None:
    v = _args([f])
    return None if v is None or v[0] <= 0.0 else _finite_or_null(nanojansky2ab(v[0]))


def udf_flux_to_ab_mag_sigma(f: Arg, fs: Arg) -> float | None:
    v = _args([f, fs])
    if v is None or v[0] <= 0.0 or v[1] < 0.0:
        return None
    return _finite_or_null(flux2absigma(v[0], v[1]))


udf_nanojansky_to_ab_mag_sigma = udf_flux_to_ab_mag_sigma


def udf_ab_mag_to_flux(m: Arg) -> float | None:
    v = _args([m])
    return None if v is None else _finite_or_null(ab2flux(v[0]))


def udf_ab_mag_to_nanojansky(m: Arg) -> float | None:
    v = _args([m])
    return None if v is None else _finite_or_null(ab2nanojansky(v[0]))


def udf_ab_mag_to_flux_sigma(m: Arg, ms: Arg) -> float | None:
    v = _args([m, ms])
    if v is None or v[1] < 0.0:
        return None
    return _finite_or_null(v[1] * ab2flux(v[0]) * TWOLOG10_OVER_5)


def udf_ab_mag_to_nanojansky_sigma(m: Arg, ms: Arg) -> float | None:
    v = _args([m, ms])
    if v is None or v[1] < 0.0:
        return None
    return _finite_or_null(v[1] * ab2nanojansky(v[0]) * TWOLOG10_OVER_5)


def udf_dn_to_flux(dn: Arg, fm0: Arg) -> float | None:
    v = _args([dn, fm0])
    return None if v is None or v[1] <= 0.0 else _finite_or_null(dn2flux(v[0], v[1]))


def udf_dn_to_ab_mag(dn: Arg, fm0: Arg) -> float | None:
    v = _args([dn, fm0])
    if v is None or v[0] <= 0.0 or v[1] <= 0.0:
        return None
    return _finite_or_null(flux2ab(dn2flux(v[0], v[1])))


def udf_dn_to_flux_sigma(dn: Arg, dns: Arg, fm0: Arg, fm0s: Arg) -> float | None:
    v = _args([dn, dns, fm0, fm0s])
    if v is None or v[1] < 0.0 or v[2] <= 0.0 or v[3] < 0.0:
        return None
    return _finite_or_null(dn2fluxsigma(*v))


def udf_dn_to_ab_mag_sigma(dn: Arg, dns: Arg, fm0: Arg, fm0s: Arg) -> float | None:
    v = _args([dn, dns, fm0, fm0s])
    if v is None or v[0] <= 0.0 or v[1] < 0.0 or v[2] <= 0.0 or v[3] < 0.0:
        return None
    return _finite_or_null(flux2absigma(dn2flux(v[0], v[2]), dn2fluxsigma(*v)))


def udf_flux_to_dn(f: Arg, fm0: Arg) -> float | None:
    v = _args([f, fm0])
    return None if v is None or v[1] <= 0.0 else _finite_or_null(flux2dn(v[0], v[1]))


def udf_flux_to_dn_sigma(f: Arg, fs: Arg, fm0: Arg, fm0s: Arg) -> float | None:
    v = _args([f, fs, fm0, fm0s])
    if v is None or v[1] < 0.0 or v[2] <= 0.0 or v[3] < 0.0:
        return None
    return _finite_or_null(flux2dnsigma(*v))


def udf_ab_mag_to_dn(m: Arg, fm0: Arg) -> float | None:
    v = _args([m, fm0])
    return None if v is None or v[1] <= 0.0 else _finite_or_null(flux2dn(ab2flux(v[0]), v[1]))


def udf_ab_mag_to_dn_sigma(m: Arg, ms: Arg, fm0: Arg, fm0s: Arg) -> float | None:
    v = _args([m, ms, fm0, fm0s])
    if v is None or v[1] < 0.0 or v[2] <= 0.0 or v[3] < 0.0:
        return None
    flux = ab2flux(v[0])
    return _finite_or_null(flux2dnsigma(flux, v[1] * flux * TWOLOG10_OVER_5, v[2], v[3]))

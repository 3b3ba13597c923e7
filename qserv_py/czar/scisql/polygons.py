"""``scisql_s2PtInCPoly`` (vertex-list form) and ``scisql_s2CPolyToBin``.

sciSQL builds a convex polygon from 3 to 20 vertices as one edge-plane normal per edge,
``e_i = (v_i + v_i+1) x (v_i+1 - v_i)``, all flipped when ``vsum . e_0 < 0`` so that either
vertex order works, and a point ``v`` is inside iff ``v . e_i >= 0`` for every edge
(reference/sphgeom-and-scisql.md §3.5). With literal vertices the normals are computed here and
the SQL is one dot product per edge::

    scisql_s2PtInCPoly(ra, decl, 0, 0, 10, 0, 10, 10)
    -> CASE WHEN CAST(ra AS DOUBLE) IS NULL OR CAST(decl AS DOUBLE) IS NULL THEN 0
            WHEN NOT (CAST(decl AS DOUBLE) >= -90.0e0 AND CAST(decl AS DOUBLE) <= 90.0e0)
            THEN NULL
            ELSE SIN(CAST(decl AS DOUBLE) * 0.017453292519943295e0) * 0.34729635533386066e0 >= 0.0e0
             AND <vx> * 0.0603073792140916e0 + <vy> * -0.3420201433256687e0
                 + <vz> * -2.2551405187698492e-17 >= 0.0e0
             AND <vy> * 0.34729635533386066e0 + <vz> * -0.3420201433256686e0 >= 0.0e0
       END

with ``<vx> = COS(ra·RAD) * COS(decl·RAD)`` and so on (``scisql_sctov3``); products with a zero
edge component are left out, which changes at most the sign of a zero sum.
With vertices from columns the normals are computed in SQL (long, but the same bits).

The 3-argument form takes the polygon as ``scisql_s2CPolyToBin`` bytes, which plain SQL cannot
decode, so it is refused; ``scisql_s2CPolyToBin`` itself is folded for literal vertices only.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from qserv_py.czar.scisql import model
from qserv_py.czar.scisql.errors import ER_NOT_SUPPORTED_YET, ScisqlError
from qserv_py.czar.scisql.geometry import V3, dot, nums, operands, sctov3, valid_lat
from qserv_py.czar.scisql.terms import (
    Pred,
    add,
    and_,
    any_null,
    case_,
    case_pred,
    ge,
    le,
    lt,
    mul,
    neg,
    not_,
    render,
    sub,
)


def _rcross(v1: V3, v2: V3) -> V3:
    """scisql_v3_rcross: twice the cross product, as (v1 + v2) x (v2 - v1)."""
    x1, x2 = add(v2[0], v1[0]), sub(v2[0], v1[0])
    y1, y2 = add(v2[1], v1[1]), sub(v2[1], v1[1])
    z1, z2 = add(v2[2], v1[2]), sub(v2[2], v1[2])
    return (
        sub(mul(y1, z2), mul(z1, y2)),
        sub(mul(z1, x2), mul(x1, z2)),
        sub(mul(x1, y2), mul(y1, x2)),
    )


def _edges(verts: Sequence[V3]) -> tuple[V3, list[V3]]:
    """scisql_s2cpoly_init before the orientation flip: (vsum, edge normals)."""
    n = len(verts)
    vsum = verts[n - 1]
    edges = []
    for i in range(n - 1):
        edges.append(_rcross(verts[i], verts[i + 1]))
        vsum = (add(vsum[0], verts[i][0]), add(vsum[1], verts[i][1]), add(vsum[2], verts[i][2]))
    edges.append(_rcross(verts[n - 1], verts[0]))
    return vsum, edges


def _inside(point: V3, vsum: V3, edges: list[V3]) -> Pred:
    flip = lt(dot(vsum, edges[0]), 0.0)
    if isinstance(flip, bool):
        if flip:
            edges = [(neg(e[0]), neg(e[1]), neg(e[2])) for e in edges]
        return and_(*(ge(dot(point, e), 0.0) for e in edges))
    # v . (-e) is exactly -(v . e): flipped normals mean "v . e <= 0" for every edge.
    return case_pred(
        (flip, and_(*(le(dot(point, e), 0.0) for e in edges))),
        default=and_(*(ge(dot(point, e), 0.0) for e in edges)),
    )


def s2_pt_in_cpoly(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_s2PtInCPoly(lon, lat, v1Lon, v1Lat, ..., vnLon, vnLat)``, 3 <= n <= 20: 0/1.

    Checks in the UDF's order: a NULL point gives 0, an invalid point latitude NULL, then a NULL
    vertex 0 and an invalid vertex latitude NULL. The boundary is inclusive. Vertices must be
    in order around a convex polygon smaller than a hemisphere; like the UDF, nothing checks it.
    """
    if len(args) == 3:
        raise ScisqlError(
            "This version of Qserv doesn't yet support scisql_s2PtInCPoly with a binary polygon"
            " (the 3-argument form); pass the vertices instead:"
            " scisql_s2PtInCPoly(lon, lat, v1Lon, v1Lat, v2Lon, v2Lat, v3Lon, v3Lat, ...)",
            ER_NOT_SUPPORTED_YET,
        )
    values = operands("scisql_s2PtInCPoly", args)
    a = nums(values)
    verts = [sctov3(a[i], a[i + 1]) for i in range(2, len(a), 2)]
    vsum, edges = _edges(verts)
    body = case_(
        (any_null(*values[:2]), False),
        (not_(valid_lat(a[1])), None),
        (any_null(*values[2:]), False),
        (not_(and_(*(valid_lat(a[i]) for i in range(3, len(a), 2)))), None),
        default=_inside(sctov3(a[0], a[1]), vsum, edges),
    )
    return render(body)


def s2_cpoly_to_bin(args: Sequence[exp.Expr]) -> exp.Expression:
    """``scisql_s2CPolyToBin(v1Lon, v1Lat, ...)``: the polygon as bytes, for literal vertices.

    The bytes are the UDF's: little-endian doubles ``vsum`` then each edge normal. NULL for a
    NULL or invalid vertex and, like the UDF (which writes into a 255-byte buffer), for more
    than 9 vertices.
    """
    values = operands("scisql_s2CPolyToBin", args)
    constants: list[float | None] = []
    for v in values:
        if not (v is None or isinstance(v, float)):
            raise ScisqlError(
                "This version of Qserv doesn't yet support scisql_s2CPolyToBin with"
                " non-constant arguments (plain SQL cannot encode doubles as bytes)",
                ER_NOT_SUPPORTED_YET,
            )
        constants.append(v)
    blob = model.udf_s2_cpoly_to_bin(*constants)
    if blob is None:
        return exp.Null()
    return exp.HexString(this=blob.hex().upper())

"""infer_area: a ``scisql_s2PtIn*`` term on the partitioning columns also prunes chunks.

Qserv's reverse inference (reference/qserv-behaviour.md 1.2): a top-level AND term
``scisql_s2PtIn{Box,Circle,Ellipse,CPoly}(lon, lat, <numeric literals>)``, bare or ``= 1`` or
``1 =``, restricts rows to a region, so only chunks that intersect it can hold results. The SQL
is left unchanged: the term still filters rows on the workers.

Stricter than Qserv, as the reference recommends: ``lon, lat`` must be the longitude and
latitude keys of one partitioned table (a term on other columns says nothing about where the
rows are stored), and the other side of ``=`` must be 1. Arguments the region code rejects
(sciSQL returns NULL for them) give no pruning here, never an error: the query means what it
says and simply scans. Several such terms, with or without areaspecs, all restrict:
``select_chunks`` intersects their chunk lists. Runs before ``restrict_area``, so it reads
only the terms the user wrote.

Example (``examples.py`` catalog; the circle touches one chunk):

>>> from qserv_py.czar.analysis.examples import show, show_plan
>>> show_plan("SELECT objectId FROM Object"
...           " WHERE scisql_s2PtInCircle(coord_ra, coord_dec, 62, -37, 0.05) = 1")
chunk: SELECT `Object`.`objectId` FROM `demo_dp02`.`Object_%CC%` AS `Object`
    WHERE CASE WHEN CAST(`Object`.`coord_ra` AS DOUBLE) IS NULL ... END = 1
columns: objectId
chunks: [4273] of demo_dp02
"""

from __future__ import annotations

from sqlglot import exp

from qserv_py.czar.analysis.context import AreaRestriction, PlanContext
from qserv_py.czar.analysis.predicates import conjuncts, numeric_literal, truth_call
from qserv_py.sphgeom.regions import RegionError, areaspec_region

__all__ = ["infer_area"]

_KINDS = {
    "scisql_s2ptinbox": "box",
    "scisql_s2ptincircle": "circle",
    "scisql_s2ptinellipse": "ellipse",
    "scisql_s2ptincpoly": "poly",
}


def infer_area(select: exp.Select, ctx: PlanContext) -> exp.Select:
    ctx.require("qualify_columns", "check_joins")
    for term in conjuncts(select):
        call = truth_call(term)
        if not isinstance(call, exp.Anonymous):
            continue
        kind = _KINDS.get(call.name.lower())
        if kind is None or len(call.expressions) < 3:
            continue
        if not _on_position_columns(call.expressions[0], call.expressions[1], ctx):
            continue
        values = [numeric_literal(arg) for arg in call.expressions[2:]]
        args = [v for v in values if v is not None]
        if len(args) != len(values):
            continue
        try:
            region = areaspec_region(kind, args)
        except RegionError:
            continue
        ctx.areas.append(AreaRestriction(kind, tuple(args), region, "scisql"))
    return select


def _on_position_columns(lon: exp.Expr, lat: exp.Expr, ctx: PlanContext) -> bool:
    if not (isinstance(lon, exp.Column) and isinstance(lat, exp.Column)):
        return False
    if lon.table != lat.table:
        return False
    table = ctx.ref(lon.table).table
    return (
        table.is_partitioned
        and table.has_position
        and lon.name.lower() == table.longitude_key.lower()
        and lat.name.lower() == table.latitude_key.lower()
    )

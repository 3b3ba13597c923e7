"""restrict_area: ``qserv_areaspec_*`` terms become per-table sciSQL predicates and a region.

Qserv's QservRestrictorPlugin (reference/qserv-behaviour.md 1.2; sphgeom-and-scisql.md 5):
each ``qserv_areaspec_<kind>(...)`` among the top-level AND terms of WHERE (bare, ``= 1`` or
``1 =``; name in any case) is removed from WHERE and remembered as a region. For each area and
each partitioned table with position columns, in FROM order, the term
``scisql_s2PtIn<Kind>(alias.lon, alias.lat, <the user's literals>) = 1`` is put in front of
WHERE, so the workers filter rows exactly while the czar picks chunks from the region
(``select_chunks``). Child tables use their own position columns, as in Qserv.

Rules, all checked here: arguments are numeric literals; the region is valid (sciSQL would
return NULL for every row otherwise, so the user gets one clear error instead of an empty
result); an areaspec anywhere else (under OR or NOT, in the select list, compared with 0) is
refused, as Qserv documents; the query reads a partitioned table with position columns.
Several areaspecs are all applied: rows must lie in every area (the terms are ANDed), and
``select_chunks`` intersects their chunk lists.

Example (``examples.py`` catalog):

>>> from qserv_py.czar.analysis.examples import show, show_plan
>>> show("SELECT objectId FROM Object WHERE qserv_areaspec_box(0.1, -6, 4, 6) AND tract > 1",
...      through="restrict_area")
SELECT `Object`.`objectId` FROM `demo_dp02`.`Object` AS `Object`
    WHERE scisql_s2PtInBox(`Object`.`coord_ra`, `Object`.`coord_dec`, 0.1, -6, 4, 6) = 1
    AND `Object`.`tract` > 1
"""

from __future__ import annotations

from sqlglot import exp

from qserv_py.czar.analysis.context import AreaRestriction, PlanContext, TableRef
from qserv_py.czar.analysis.errors import InvalidAreaRestrictor, UnsupportedQuery
from qserv_py.czar.analysis.predicates import (
    conjuncts,
    numeric_literal,
    set_conjuncts,
    truth_call,
)
from qserv_py.czar.analysis.sql_text import written
from qserv_py.sphgeom.regions import RegionError, areaspec_region

__all__ = ["AREASPEC_PREFIX", "SCISQL_PREDICATES", "restrict_area"]

AREASPEC_PREFIX = "qserv_areaspec_"
SCISQL_PREDICATES = {
    "box": "scisql_s2PtInBox",
    "circle": "scisql_s2PtInCircle",
    "ellipse": "scisql_s2PtInEllipse",
    "poly": "scisql_s2PtInCPoly",
}


def restrict_area(select: exp.Select, ctx: PlanContext) -> exp.Select:
    ctx.require("qualify_columns", "check_joins")
    if AREASPEC_PREFIX not in ctx.sql.lower():
        return select  # no call can be named so: skip walking the tree (most queries)
    kept: list[exp.Expr] = []
    found: list[exp.Anonymous] = []
    for term in conjuncts(select):
        call = truth_call(term)
        if _is_areaspec(call):
            assert isinstance(call, exp.Anonymous)
            found.append(call)
        else:
            kept.append(term)
    for node in select.walk():
        if _is_areaspec(node) and not any(node is f for f in found):
            raise UnsupportedQuery(
                f"{node.name} must be a term of the top-level AND of WHERE (WHERE"
                f" {node.name}(...) AND ...), not under OR or NOT, compared with anything"
                " but 1, or outside WHERE"
            )
    if not found:
        return select
    tables = _position_tables(ctx, found[0].name)
    predicates: list[exp.Expr] = []
    for call in found:  # several areas: every one applies
        kind = call.name.lower()[len(AREASPEC_PREFIX) :]
        if kind not in SCISQL_PREDICATES:
            raise UnsupportedQuery(
                f"{call.name} is not supported; the area restrictors are qserv_areaspec_box,"
                " qserv_areaspec_circle, qserv_areaspec_ellipse and qserv_areaspec_poly"
            )
        args = _literal_args(call, ctx.sql)
        try:
            region = areaspec_region(kind, args)
        except RegionError as exc:
            raise InvalidAreaRestrictor(
                f"Incorrect parameters in the call to native function '{call.name}':"
                f" {str(exc).removeprefix(f'qserv_areaspec_{kind}: ')}"
            ) from None
        ctx.areas.append(AreaRestriction(kind, tuple(args), region, "areaspec"))
        for ref in tables:
            predicates.append(_predicate(kind, ref, call))
    set_conjuncts(select, predicates + kept)
    return select


def _is_areaspec(node: exp.Expr | None) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.lower().startswith(AREASPEC_PREFIX)


def _position_tables(ctx: PlanContext, name: str) -> list[TableRef]:
    partitioned = ctx.partitioned()
    if not partitioned:
        raise UnsupportedQuery(
            f"{name} restricts partitioned tables, but this query reads only regular tables"
            f" ({', '.join(r.table.qualified_name for r in ctx.tables) or 'none'}); remove it"
        )
    tables = [ref for ref in partitioned if ref.table.has_position]
    if not tables:
        names = ", ".join(ref.table.qualified_name for ref in partitioned)
        raise UnsupportedQuery(
            f"{name} needs a table with position columns, and {names} has none; restrict"
            " its director table instead, or select by director key (objectId IN (...))"
        )
    return tables


def _literal_args(call: exp.Anonymous, sql: str) -> list[float]:
    values: list[float] = []
    for position, arg in enumerate(call.expressions, start=1):
        value = numeric_literal(arg)
        if value is None:
            raise InvalidAreaRestrictor(
                f"Incorrect parameters in the call to native function '{call.name}':"
                f" argument {position} must be a number written as a literal, not"
                f" {written(arg, sql)}"
            )
        values.append(value)
    return values


def _predicate(kind: str, ref: TableRef, call: exp.Anonymous) -> exp.Expr:
    lon = exp.column(ref.table.longitude_key, table=ref.alias, quoted=True)
    lat = exp.column(ref.table.latitude_key, table=ref.alias, quoted=True)
    args = [lon, lat, *(arg.copy() for arg in call.expressions)]
    function = exp.Anonymous(this=SCISQL_PREDICATES[kind], expressions=args)
    return exp.EQ(this=function, expression=exp.Literal.number(1))

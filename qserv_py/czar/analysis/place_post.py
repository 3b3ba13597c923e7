"""place_post: where ORDER BY, LIMIT/OFFSET and DISTINCT run, per chunk or in the merge.

Qserv's PostPlugin and AggregatePlugin rules (reference/qserv-behaviour.md 1.5), for chunked
queries (a "single" query keeps all of them and runs once):

- aggregated or grouped (``split_aggregates`` built a merge): ORDER BY, LIMIT/OFFSET and
  DISTINCT go to the merge only; a per-chunk LIMIT would cut groups short.
- DISTINCT or ORDER BY without aggregates: a merge is built whose select list reads one PASS
  column per item. Per chunk, DISTINCT stays (it only removes rows the merge would remove
  too), and ORDER BY stays only with a LIMIT, as ``ORDER BY ... LIMIT offset+n``: the first
  offset+n rows overall are among the first offset+n of some chunk, so each chunk may stop
  there. The merge repeats DISTINCT, ORDER BY (by the result column's name when it orders
  by a select item) and ``LIMIT n OFFSET m``.
- LIMIT alone: no merge. Each chunk returns at most offset+n rows and the plan carries
  ``limit``/``offset`` hints: the czar skips ``offset`` rows, passes ``limit`` rows, and
  cancels the chunks still running (Qserv's ``_squashSuperfluous``).

LIMIT and OFFSET must be non-negative integer literals, as in MariaDB.

Examples (``examples.py`` catalog):

>>> from qserv_py.czar.analysis.examples import show, show_plan
>>> show("SELECT objectId, coord_ra FROM Object ORDER BY coord_ra DESC LIMIT 10",
...      through="place_post")
chunk: SELECT `Object`.`objectId` AS `QS1_PASS`, `Object`.`coord_ra` AS `QS2_PASS`
    FROM `demo_dp02`.`Object` AS `Object` ORDER BY `Object`.`coord_ra` DESC LIMIT 10
merge: SELECT `QS1_PASS` AS `objectId`, `QS2_PASS` AS `coord_ra` FROM `%RR%`
    ORDER BY `coord_ra` DESC LIMIT 10
>>> show_plan("SELECT objectId FROM Object LIMIT 10 OFFSET 5")
chunk: SELECT `Object`.`objectId` FROM `demo_dp02`.`Object_%CC%` AS `Object` LIMIT 15
columns: objectId
chunks: all 8983 of demo_dp02
stop after: 10 rows, skipping 5
"""

from __future__ import annotations

import dataclasses

from sqlglot import exp

from qserv_py.czar.analysis.context import PlanContext, Statements
from qserv_py.czar.analysis.errors import ParseError, UnsupportedQuery
from qserv_py.czar.analysis.merge_columns import MergeColumns, merge_table
from qserv_py.czar.analysis.predicates import integer_literal
from qserv_py.czar.analysis.sql_text import to_sql, written

__all__ = ["place_post"]


def place_post(stmts: Statements, ctx: PlanContext) -> Statements:
    ctx.require("split_aggregates")
    select = stmts.parallel
    limit, offset = _limit_offset(select)
    if ctx.scope == "single":
        return stmts
    order = select.args.get("order")
    distinct = select.args.get("distinct") is not None
    if stmts.merge is not None and stmts.columns is not None:
        _to_merge(stmts.merge, stmts.columns, stmts, ctx, limit, offset)
        for key in ("order", "limit", "offset", "distinct"):
            select.set(key, None)
        select.set("expressions", list(stmts.columns.parallel))
        stmts.columns.group_chunks(select)  # ORDER BY COUNT(DISTINCT x) may add keys
        return stmts
    if distinct or order is not None:
        columns = MergeColumns(ctx)
        items = [
            exp.alias_(columns.to_merge(item), name, quoted=True)
            for item, name in zip(stmts.items, ctx.result_columns, strict=True)
        ]
        merge = exp.Select(expressions=items).from_(merge_table(), copy=False)
        _to_merge(merge, columns, stmts, ctx, limit, offset)
        if not columns.parallel:  # e.g. SELECT DISTINCT 1 FROM Object: rows still count
            columns.column(exp.Literal.number(1), "PASS")
        select.set("expressions", list(columns.parallel))
        select.set("offset", None)
        if limit is None:
            select.set("order", None)
        else:
            select.set("limit", exp.Limit(expression=exp.Literal.number(limit + offset)))
        return dataclasses.replace(stmts, merge=merge, columns=columns)
    if limit is not None:
        select.set("limit", exp.Limit(expression=exp.Literal.number(limit + offset)))
        select.set("offset", None)
        ctx.limit = limit
        ctx.offset = offset
    return stmts


def _limit_offset(select: exp.Select) -> tuple[int | None, int]:
    """LIMIT's row count and OFFSET, from ``LIMIT n``, ``LIMIT m, n`` or ``LIMIT n OFFSET m``."""
    limit_node = select.args.get("limit")
    offset_node = select.args.get("offset")
    if limit_node is None:
        return None, 0
    count = _non_negative(limit_node.expression, "LIMIT")
    skip = 0
    if limit_node.args.get("offset") is not None:
        skip = _non_negative(limit_node.args["offset"], "OFFSET")
    if offset_node is not None:
        skip = _non_negative(offset_node.expression, "OFFSET")
    return count, skip


def _non_negative(node: exp.Expr, what: str) -> int:
    value = integer_literal(node) if isinstance(node, exp.Literal) else None
    if value is None or value < 0:
        raise ParseError(
            f"You have an error in your SQL syntax; check the manual that corresponds to your"
            f" MariaDB server version for the right syntax to use near '{to_sql(node)}'"
            f" ({what} takes a non-negative integer)"
        )
    return value


def _to_merge(
    merge: exp.Select,
    columns: MergeColumns,
    stmts: Statements,
    ctx: PlanContext,
    limit: int | None,
    offset: int,
) -> None:
    """Move ORDER BY, DISTINCT, LIMIT and OFFSET of the per-chunk statement into ``merge``."""
    select = stmts.parallel
    distinct = select.args.get("distinct") is not None
    order = select.args.get("order")
    if order is not None:
        merge.set(
            "order",
            exp.Order(
                expressions=[
                    _merge_ordered(o, columns, stmts.items, ctx, distinct)
                    for o in order.expressions
                ]
            ),
        )
    if distinct:
        merge.set("distinct", exp.Distinct())
    if limit is not None:
        merge.set("limit", exp.Limit(expression=exp.Literal.number(limit)))
        if offset:
            merge.set("offset", exp.Offset(expression=exp.Literal.number(offset)))


def _merge_ordered(
    ordered: exp.Ordered,
    columns: MergeColumns,
    items: tuple[exp.Expr, ...],
    ctx: PlanContext,
    distinct: bool,
) -> exp.Ordered:
    """ORDER BY the result column when it orders by a select item, else its merge form."""
    merged = ordered.copy()
    for item, name in zip(items, ctx.result_columns, strict=True):
        if item == ordered.this:  # structural equality of sqlglot trees
            merged.set("this", exp.column(name, quoted=True))
            return merged
    if distinct:
        raise UnsupportedQuery(
            f"ORDER BY {written(ordered.this, ctx.sql)} with SELECT DISTINCT is not supported;"
            " order by columns of the select list"
        )
    merged.set("this", columns.to_merge(ordered.this))
    return merged

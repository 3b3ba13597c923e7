"""The czar's query analysis: SQL text in, a ``QueryPlan`` (or an ``AnalysisFailure``) out.

Pure: no I/O, no clock, no globals; everything comes from the arguments (the catalog as a
``CatalogView``, the session's default database). ``PASSES`` alone decides what runs and in
which order; a pass's phase is the tuple it sits in (STYLE 3, Qserv's ``QueryPlugin`` phases):

- logical passes rewrite the user's AST (``exp.Select``) and record facts in ``PlanContext``;
- physical passes build the per-chunk and merge statements (``Statements``);
- final passes refine the finished ``QueryPlan`` (its chunk selection).

``parse`` runs in front of them: it makes the tree they work on. Each pass checks the passes
it needs have run (``ctx.require``), so reordering ``PASSES`` wrongly fails with
``AnalysisBug`` instead of producing wrong SQL. At DEBUG the SQL after each pass is logged,
so one log shows which pass changed a query how.

Cost: one parse (about 150-300 us with sqlglotc) and two generations per query; per chunk
only ``QueryPlan.render``, a string substitution (reference/stack-measurements.md 2.3).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NamedTuple

from sqlglot import exp

from qserv_py.czar.analysis.catalog_view import CatalogView
from qserv_py.czar.analysis.check_joins import check_joins
from qserv_py.czar.analysis.check_supported import check_supported
from qserv_py.czar.analysis.classify_joins import classify_joins
from qserv_py.czar.analysis.context import PlanContext, Statements
from qserv_py.czar.analysis.count_from_catalog import count_from_catalog
from qserv_py.czar.analysis.errors import AnalysisBug, AnalysisError, AnalysisFailure
from qserv_py.czar.analysis.infer_area import infer_area
from qserv_py.czar.analysis.parse import parse
from qserv_py.czar.analysis.place_post import place_post
from qserv_py.czar.analysis.plan import ChunkList, QueryPlan, display_sql
from qserv_py.czar.analysis.qualify_columns import qualify_columns
from qserv_py.czar.analysis.qualify_tables import qualify_tables
from qserv_py.czar.analysis.restrict_area import restrict_area
from qserv_py.czar.analysis.restrict_director import restrict_director
from qserv_py.czar.analysis.restrict_sub_chunks import restrict_sub_chunks
from qserv_py.czar.analysis.rewrite_scisql import rewrite_scisql
from qserv_py.czar.analysis.select_chunks import select_chunks
from qserv_py.czar.analysis.split_aggregates import split_aggregates
from qserv_py.czar.analysis.sql_text import to_sql
from qserv_py.czar.analysis.template_tables import template_tables

__all__ = [
    "PASSES",
    "FinalPass",
    "LogicalPass",
    "Passes",
    "PhysicalPass",
    "analyse",
    "plan_query",
]

logger = logging.getLogger(__name__)

LogicalPass = Callable[[exp.Select, PlanContext], exp.Select]
PhysicalPass = Callable[[Statements, PlanContext], Statements]
FinalPass = Callable[[QueryPlan, PlanContext], QueryPlan]
Trace = Callable[[str, str, str | None], None]
"""Called after each step with its name, the per-chunk SQL and the merge SQL (tokens shown)."""


class Passes(NamedTuple):
    logical: tuple[LogicalPass, ...]
    physical: tuple[PhysicalPass, ...]
    final: tuple[FinalPass, ...]


PASSES = Passes(
    logical=(
        check_supported,  # first: later passes assume one block of plain tables
        qualify_tables,  # needs check_supported; db and alias for each table, ctx.tables
        check_joins,  # needs qualify_tables; refuses outer joins early, sets ctx.scope
        qualify_columns,  # needs qualify_tables, check_joins; binds names, result columns
        classify_joins,  # needs qualify_columns; before the restrictors and rewrite_scisql
        infer_area,  # before restrict_area, so it reads the user's scisql terms only
        restrict_area,  # needs qualify_columns, check_joins
        restrict_director,  # needs qualify_columns, check_joins
        restrict_sub_chunks,  # needs the area restrictors
        rewrite_scisql,  # after the restrictors (they read and write scisql_s2PtIn* calls)
        count_from_catalog,  # last: only a bare COUNT(*) of a whole table, from the catalog
    ),
    physical=(
        split_aggregates,  # needs qualify_columns; builds the merge for aggregates and GROUP BY
        place_post,  # needs split_aggregates; ORDER BY / LIMIT / DISTINCT placement
        template_tables,  # last: renames partitioned tables of the finished chunk statement
    ),
    final=(
        select_chunks,  # needs the restrictor passes; sets QueryPlan.chunks
    ),
)


def analyse(
    sql: str, view: CatalogView, default_db: str | None, passes: Passes = PASSES
) -> QueryPlan | AnalysisFailure:
    """Plan ``sql``; an error the user should see comes back as an ``AnalysisFailure``.

    The one boundary where typed analysis errors become values (STYLE 3). Anything else
    raised is a bug in qserv-py and propagates, so tests see it.
    """
    try:
        return plan_query(sql, view, default_db, passes)
    except AnalysisError as error:
        return AnalysisFailure.from_error(error)


def plan_query(
    sql: str,
    view: CatalogView,
    default_db: str | None,
    passes: Passes = PASSES,
    trace: Trace | None = None,
) -> QueryPlan:
    """Plan ``sql`` or raise an ``AnalysisError``; ``trace`` sees the SQL after each step."""
    ctx = PlanContext(view=view, default_db=default_db, sql=sql)
    select = parse(sql, ctx)
    _done("parse", select, None, ctx, trace)
    for logical in passes.logical:
        select = logical(select, ctx)
        _done(logical.__name__, select, None, ctx, trace)
    items = tuple(_unaliased(item).copy() for item in select.expressions)
    stmts = Statements(parallel=select, items=items)
    for physical in passes.physical:
        stmts = physical(stmts, ctx)
        _done(physical.__name__, stmts.parallel, stmts.merge, ctx, trace)
    merge_sql = to_sql(stmts.merge) if stmts.merge is not None else None
    plan = QueryPlan(
        sql=sql,
        chunk_template=to_sql(stmts.parallel),
        merge_sql=merge_sql,
        result_columns=ctx.result_columns,
        chunks=ChunkList("", ()),  # replaced by select_chunks (checked below)
        scope=ctx.scope,
        needs_merge=merge_sql is not None,
        limit=ctx.limit if merge_sql is None else None,
        offset=ctx.offset if merge_sql is None else 0,
        sub_chunk_column=ctx.sub_chunk_column,
        overlap=ctx.join is not None and ctx.join.overlap_alias is not None,
        tables=tuple(sorted({(ref.table.db, ref.table.name) for ref in ctx.tables})),
    )
    for final in passes.final:
        plan = final(plan, ctx)
        ctx.done.append(final.__name__)
    if "select_chunks" not in ctx.done:
        raise AnalysisBug("no final pass chose the chunks (select_chunks missing from PASSES)")
    return plan


def _unaliased(item: exp.Expr) -> exp.Expr:
    return item.this if isinstance(item, exp.Alias) else item


def _done(
    name: str,
    parallel: exp.Select,
    merge: exp.Select | None,
    ctx: PlanContext,
    trace: Trace | None,
) -> None:
    ctx.done.append(name)
    if trace is None and not logger.isEnabledFor(logging.DEBUG):
        return
    text = display_sql(to_sql(parallel))
    merge_text = display_sql(to_sql(merge)) if merge is not None else None
    if trace is not None:
        trace(name, text, merge_text)
    logger.debug("after %s: %s%s", name, text, f" ;; merge: {merge_text}" if merge_text else "")

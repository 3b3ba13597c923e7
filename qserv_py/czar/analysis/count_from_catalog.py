"""count_from_catalog: ``SELECT COUNT(*) FROM <partitioned table>`` answered from the catalog.

Ingest counts every partitioned table's rows (home rows; overlap rows are copies) and
publishes the count with the table, in the same transaction, and a table is never appended
to: its count stays right as long as the table exists. So the count of a whole partitioned
table needs no worker: the statement becomes a SELECT without FROM that the czar's own
MariaDB evaluates (``CatalogCount``; the engine first checks that the catalog still holds that
count, see ``QueryEngine._catalog_count``). Qserv itself always scans.

Only the plain form qualifies: one partitioned table, every select item ``COUNT(*)`` (aliases
allowed), no WHERE, GROUP BY, HAVING, DISTINCT, ORDER BY or join; LIMIT/OFFSET stay on the
constant statement (``LIMIT 0`` gives no row, as in MariaDB). The value is
``CAST(CAST(<n> AS DECIMAL(20, 0)) AS SIGNED)``, a BIGINT(21) like MariaDB's ``COUNT(*)``
(``CAST(<n> AS SIGNED)`` alone would be an INT for small n), under the name the user wrote.
Anything else, or a view built without row counts, is planned as usual. Runs last among the
logical passes, so restrictors rewritten into WHERE already show.

Example (``examples.py`` catalog, where ``Object`` has 123456 rows):

>>> from qserv_py.czar.analysis.examples import show_plan
>>> show_plan("SELECT COUNT(*) AS n FROM Object")
chunk: SELECT CAST(CAST(123456 AS DECIMAL(20, 0)) AS SIGNED) AS `n`
columns: n
chunks: the catalog's row count of demo_dp02.Object (123456)
"""

from __future__ import annotations

from sqlglot import exp

from qserv_py.czar.analysis.context import PlanContext
from qserv_py.czar.analysis.plan import CatalogCount

__all__ = ["count_from_catalog"]

_NOT_ALLOWED = ("where", "group", "having", "distinct", "order", "joins")


def count_from_catalog(select: exp.Select, ctx: PlanContext) -> exp.Select:
    ctx.require("qualify_columns", "check_joins", "restrict_area")
    if len(ctx.tables) != 1 or any(select.args.get(key) for key in _NOT_ALLOWED):
        return select
    table = ctx.tables[0].table
    if not table.is_partitioned or table.row_count is None:
        return select
    if not all(_is_count_star(item) for item in select.expressions):
        return select
    # CAST(<n> AS SIGNED) alone is an INT for small n; through DECIMAL(20, 0) it is a BIGINT
    # of width 21, exactly what MariaDB's COUNT(*) returns.
    decimal = exp.Cast(
        this=exp.Literal.number(table.row_count), to=exp.DataType.build("DECIMAL(20, 0)")
    )
    value = exp.Cast(this=decimal, to=exp.DataType(this=exp.DataType.Type.BIGINT))
    answer = exp.Select(
        expressions=[exp.alias_(value.copy(), name, quoted=True) for name in ctx.result_columns]
    )
    for key in ("limit", "offset"):
        if select.args.get(key) is not None:
            answer.set(key, select.args[key].copy())
    ctx.scope = "single"
    ctx.catalog_count = CatalogCount(table.db, table.name, table.row_count)
    return answer


def _is_count_star(item: exp.Expr) -> bool:
    node = item.this if isinstance(item, exp.Alias) else item
    return isinstance(node, exp.Count) and isinstance(node.this, exp.Star)

"""check_joins: decide whether the query runs per chunk, and refuse joins that would not.

A query runs inside each chunk independently only if every row it returns can be built from
one chunk's data. Regular tables are fully replicated on every worker; this pass sets the
scope and refuses the one outer join that breaks locality whatever the join conditions say:

- no partitioned table: ``scope = "single"``, the query runs once on any worker;
- a partitioned table: ``scope = "chunked"``. A LEFT JOIN whose left side holds only regular
  tables cannot have a partitioned table on its right: ``CcdVisit LEFT JOIN ForcedSource``
  would repeat the unmatched visits once per chunk.

Joins of two or more partitioned tables are judged by ``classify_joins`` (which asks
``relation_graph``), once the columns are bound.

Example (``examples.py`` catalog):

>>> from qserv_py.czar.analysis.examples import show, show_plan
>>> show("SELECT v.band FROM CcdVisit v LEFT JOIN ForcedSource f USING (ccdVisitId)",
...      through="check_joins")
ERROR 1235: LEFT JOIN to the partitioned table demo_dp02.ForcedSource is not supported: it
    would repeat the unmatched rows once per chunk; put ForcedSource first (FROM ForcedSource
    LEFT JOIN ...) or use an inner JOIN
>>> show("SELECT f.psfFlux FROM ForcedSource f JOIN CcdVisit v USING (ccdVisitId)",
...      through="check_joins")
SELECT `f`.`psfFlux` FROM `demo_dp02`.`ForcedSource` AS `f`
    JOIN `demo_dp02`.`CcdVisit` AS `v` USING (`ccdVisitId`)
"""

from __future__ import annotations

from sqlglot import exp

from qserv_py.czar.analysis.context import PlanContext
from qserv_py.czar.analysis.errors import UnsupportedQuery

__all__ = ["check_joins"]


def check_joins(select: exp.Select, ctx: PlanContext) -> exp.Select:
    ctx.require("qualify_tables")
    partitioned = ctx.partitioned()
    for position, join in enumerate(select.args.get("joins") or [], start=1):
        side = str(join.args.get("side") or "").upper()
        right = ctx.tables[position]
        left_partitioned = any(ref.table.is_partitioned for ref in ctx.tables[:position])
        if side == "LEFT" and right.table.is_partitioned and not left_partitioned:
            raise UnsupportedQuery(
                f"LEFT JOIN to the partitioned table {right.table.qualified_name} is not"
                " supported: it would repeat the unmatched rows once per chunk; put"
                f" {right.table.name} first (FROM {right.table.name} LEFT JOIN ...) or use"
                " an inner JOIN"
            )
    ctx.scope = "chunked" if partitioned else "single"
    return select

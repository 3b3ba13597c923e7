"""check_joins: decide whether the query runs per chunk, and refuse joins that would not.

A query runs inside each chunk independently only if every row it returns can be built from
one chunk's data. With regular tables fully replicated on every worker, that holds when the
query reads at most one partitioned table, provided no outer join makes rows of the regular
side appear once per chunk:

- no partitioned table: ``scope = "single"``, the query runs once on any worker;
- one partitioned table: ``scope = "chunked"``; a LEFT JOIN must keep the partitioned table
  on its left (``CcdVisit LEFT JOIN ForcedSource`` would repeat unmatched visits per chunk);
- two or more partitioned table references (director-child joins, near-neighbour self
  joins): refused for now. They need Qserv's locality proof (director keys, overlap
  tables, sub-chunks), which belongs in ``relation_graph.py`` with its argument written
  down (STYLE 3); that module will replace this check.

Example (``examples.py`` catalog):

>>> from qserv_py.czar.analysis.examples import show, show_plan
>>> show("SELECT o.objectId FROM Object o JOIN ForcedSource f USING (objectId)",
...      through="check_joins")
ERROR 1235: joins between partitioned tables (demo_dp02.Object AS o and
    demo_dp02.ForcedSource AS f) are not supported yet; query each partitioned table on its
    own, joined with regular tables only
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
    if len(partitioned) > 1:
        names = " and ".join(f"{ref.table.qualified_name} AS {ref.alias}" for ref in partitioned)
        raise UnsupportedQuery(
            f"joins between partitioned tables ({names}) are not supported yet; query each"
            " partitioned table on its own, joined with regular tables only"
        )
    for position, join in enumerate(select.args.get("joins") or [], start=1):
        side = str(join.args.get("side") or "").upper()
        right = ctx.tables[position]
        if side == "LEFT" and right.table.is_partitioned:
            raise UnsupportedQuery(
                f"LEFT JOIN to the partitioned table {right.table.qualified_name} is not"
                " supported: it would repeat the unmatched rows once per chunk; put"
                f" {right.table.name} first (FROM {right.table.name} LEFT JOIN ...) or use"
                " an inner JOIN"
            )
    ctx.scope = "chunked" if partitioned else "single"
    return select

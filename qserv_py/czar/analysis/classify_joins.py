"""classify_joins: a join of partitioned tables runs per chunk, or is refused (error 1235).

Asks ``relation_graph.join_plan`` (the one module reading join conditions for locality, with
its argument written down) and records the answer in ``ctx.join``: the restrictor passes then
choose chunks only from the tables that decide them (``ctx.selects_chunks``), and
``template_tables`` reads a near-neighbour join's overlap table. The SQL is unchanged here.
Runs after ``qualify_columns`` (every column is ``alias.column``) and before the restrictor
passes and ``rewrite_scisql`` (it reads ``scisql_angSep`` as the user wrote it).

Examples (``examples.py`` catalog):

>>> from qserv_py.czar.analysis.examples import show, show_plan
>>> show_plan("SELECT o.objectId, f.psfFlux FROM Object o JOIN ForcedSource f USING (objectId)"
...           " WHERE o.objectId IN (7, 8)")
chunk: SELECT `o`.`objectId`, `f`.`psfFlux` FROM `demo_dp02`.`Object_%CC%` AS `o`
    JOIN `demo_dp02`.`ForcedSource_%CC%` AS `f` USING (`objectId`) WHERE `o`.`objectId` IN (7, 8)
columns: objectId, psfFlux
chunks: Object.objectId in [7, 8] within any chunk
>>> show("SELECT o.objectId FROM Object o, Object p WHERE o.tract = p.tract",
...      through="classify_joins")
ERROR 1235: the join of (demo_dp02.Object AS o) and (demo_dp02.Object AS p) cannot be
    evaluated using only partition-local data: the join condition o.tract = p.tract is not on
    the director key of one director table, so matching rows may be in different chunks; join
    on the director key (e.g. USING (objectId)), or use a near-neighbour condition
    scisql_angSep(...) < r with r at most the overlap, 0.01667 deg (60.012 arcsec)
"""

from __future__ import annotations

from sqlglot import exp

from qserv_py.czar.analysis.context import PlanContext
from qserv_py.czar.analysis.relation_graph import join_plan

__all__ = ["classify_joins"]


def classify_joins(select: exp.Select, ctx: PlanContext) -> exp.Select:
    ctx.require("qualify_columns", "check_joins")
    ctx.join = join_plan(select, ctx)
    return select

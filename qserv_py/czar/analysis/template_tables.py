"""template_tables: partitioned tables in the per-chunk statement get the chunk token.

``db.Table AS alias`` becomes ``db.Table_%CC% AS alias`` for each director or child table
(Qserv's chunk-level name template, reference/qserv-behaviour.md 2.2); regular tables keep
their names, since every worker holds all of them. ``qualify_tables`` gave every table an alias, so
column references (``alias.column``) stay valid whatever the table is called, and the plan's
``render(chunk_id)`` is a plain string substitution. Runs last among the physical passes: it
only renames tables of the statement the other passes finished.

Example (``examples.py`` catalog):

>>> from qserv_py.czar.analysis.examples import show, show_plan
>>> show("SELECT f.psfFlux FROM ForcedSource f JOIN CcdVisit v USING (ccdVisitId)",
...      through="template_tables")
SELECT `f`.`psfFlux` FROM `demo_dp02`.`ForcedSource_%CC%` AS `f`
    JOIN `demo_dp02`.`CcdVisit` AS `v` USING (`ccdVisitId`)
"""

from __future__ import annotations

from sqlglot import exp

from qserv_py.czar.analysis.context import PlanContext, Statements
from qserv_py.czar.analysis.plan import CHUNK_TOKEN

__all__ = ["template_tables"]


def template_tables(stmts: Statements, ctx: PlanContext) -> Statements:
    ctx.require("qualify_columns", "place_post")
    if ctx.scope == "single":
        return stmts
    for table in stmts.parallel.find_all(exp.Table):
        ref = ctx.ref(table.alias)
        if ref.table.is_partitioned:
            name = f"{ref.table.name}_{CHUNK_TOKEN}"
            table.set("this", exp.to_identifier(name, quoted=True))
    return stmts

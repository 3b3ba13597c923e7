"""qualify_tables: every table of FROM gets its database and an alias.

``Table`` becomes ``db.Table AS alias``: the database is the one written or the session's
default (``USE``), the alias the user's or the table name. Every table has an alias from here
on, so columns are qualified by alias (``qualify_columns``) and templating ``Table`` ->
``Table_%CC%`` later leaves every column reference valid. The tables are recorded in FROM
order in ``ctx.tables``, which ``check_joins`` judges before any column is resolved, so a
query that cannot run gets that answer first.

Names follow MariaDB on Linux: database and table names, and table aliases, are
case-sensitive. Errors are MariaDB's: 1046 no database selected, 1049 unknown database, 1146
unknown table, 1066 duplicate alias.

Example (``examples.py`` catalog, default database ``demo_dp02``):

>>> from qserv_py.czar.analysis.examples import show, show_plan
>>> show("SELECT objectId FROM Object o JOIN CcdVisit USING (ccdVisitId)",
...      through="qualify_tables")
SELECT `objectId` FROM `demo_dp02`.`Object` AS `o`
    JOIN `demo_dp02`.`CcdVisit` AS `CcdVisit` USING (`ccdVisitId`)
"""

from __future__ import annotations

from sqlglot import exp

from qserv_py.czar.analysis.context import PlanContext, TableRef
from qserv_py.czar.analysis.errors import NoDatabaseSelected, NonUniqueTable

__all__ = ["qualify_tables"]


def qualify_tables(select: exp.Select, ctx: PlanContext) -> exp.Select:
    ctx.require("check_supported")
    ctx.tables = _qualify_tables(select, ctx)
    return select


def _qualify_tables(select: exp.Select, ctx: PlanContext) -> tuple[TableRef, ...]:
    refs: list[TableRef] = []
    seen: set[str] = set()
    from_ = select.args.get("from_")
    tables = [from_.this] if from_ is not None else []
    tables += [join.this for join in select.args.get("joins") or []]
    for table in tables:
        db = table.text("db") or ctx.default_db
        if not db:
            raise NoDatabaseSelected(
                f"No database selected: write {table.name} as <database>.{table.name},"
                " or USE <database> first"
            )
        info = ctx.view.table(db, table.name)
        alias = table.alias or table.name
        if alias in seen:
            raise NonUniqueTable(
                f"Not unique table/alias: '{alias}' (give each table its own alias:"
                f" FROM {table.name} AS a, {table.name} AS b)"
            )
        seen.add(alias)
        table.set("this", exp.to_identifier(info.name, quoted=True))
        table.set("db", exp.to_identifier(info.db, quoted=True))
        table.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
        refs.append(TableRef(alias, info))
    return tuple(refs)

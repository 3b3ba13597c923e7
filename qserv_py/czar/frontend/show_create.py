"""``SHOW CREATE TABLE``, which mysql-mimic lacks and SQLAlchemy's inspector relies on.

The statement is rebuilt from the table's description in the catalog: the user-visible columns
with their definitions, as the user's table would look in a single MariaDB.
"""

from __future__ import annotations

from qserv_py.czar.frontend.errors import mysql_error
from qserv_py.czar.metadata.snapshot import CatalogSnapshot
from qserv_py.sql import quote_ident


def show_create_table(
    snapshot: CatalogSnapshot, database: str | None, table: str
) -> tuple[list[tuple[str, str]], list[str]]:
    if not database:
        raise mysql_error(1046, "No database selected; USE one or write db.table")
    db = snapshot.databases.get(database)
    if db is None:
        raise mysql_error(1049, f"Unknown database '{database}'")
    info = db.tables.get(table)
    if info is None:
        raise mysql_error(1146, f"Table '{database}.{table}' doesn't exist")
    columns = ",\n".join(f"  {quote_ident(c.name)} {c.definition}" for c in info.columns)
    ddl = f"CREATE TABLE {quote_ident(info.name)} (\n{columns}\n) ENGINE=MyISAM"
    return [(info.name, ddl)], ["Table", "Create Table"]

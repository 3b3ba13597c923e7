"""One client connection's session: USE, SHOW, DESCRIBE and information_schema from the
catalog, everything else to the query engine.

mysql-mimic parses each statement and handles SET, SHOW, DESCRIBE, USE, transactions and
SELECTs without FROM itself (its middlewares); ``query()`` receives the rest.
"""

from __future__ import annotations

from typing import Any, Protocol

import sqlglot.errors
from mysql_mimic import ResultSet, Session
from mysql_mimic.connection import Connection
from mysql_mimic.schema import Column, InfoSchema
from sqlglot import exp

from qserv_py import __version__
from qserv_py.czar.frontend.errors import mysql_error
from qserv_py.czar.frontend.streaming import enable_streaming
from qserv_py.czar.metadata.snapshot import CatalogCache, CatalogSnapshot

SERVER_VERSION = f"10.11.19-MariaDB-qserv-py-{__version__}"


class QueryEngine(Protocol):
    async def execute(
        self, expression: exp.Expression, sql: str, database: str | None
    ) -> ResultSet: ...


class CzarSession(Session):
    def __init__(self, catalog: CatalogCache, engine: QueryEngine) -> None:
        super().__init__()
        self._catalog = catalog
        self._engine = engine
        self.variables.set("version", SERVER_VERSION, force=True)
        self.variables.set("version_comment", "qserv-py", force=True)

    async def init(self, connection: Connection) -> None:
        await super().init(connection)
        enable_streaming(connection)

    async def use(self, database: str) -> None:
        snapshot = await self._catalog.get()
        if database not in snapshot.databases:  # maybe ingested a moment ago
            snapshot = await self._catalog.get(max_age=0)
        if database.lower() != "information_schema" and database not in snapshot.databases:
            raise mysql_error(1049, f"Unknown database '{database}'")
        await super().use(database)

    async def schema(self) -> InfoSchema:
        # SHOW/DESCRIBE are rare and cheap: always answer from the current catalog.
        return info_schema(await self._catalog.get(max_age=0))

    def _parse(self, sql: str) -> list[exp.Expression]:
        """mysql-mimic's parse, with sqlglot's errors reported as MariaDB's 1064."""
        try:
            return list(super()._parse(sql))
        except sqlglot.errors.ParseError as exc:
            first = exc.errors[0] if exc.errors else {}
            near = str(first.get("highlight") or "").strip()
            where = f" near '{near}' at line {first.get('line', 1)}" if near else ""
            raise mysql_error(
                1064,
                "You have an error in your SQL syntax; check the manual that corresponds to"
                f" your MariaDB server version for the right syntax to use{where}",
            ) from exc

    async def query(self, expression: exp.Expression, sql: str, attrs: dict[str, Any]) -> Any:
        return await self._engine.execute(expression, sql, self.database)


def info_schema(snapshot: CatalogSnapshot) -> InfoSchema:
    """information_schema tables (and so SHOW/DESCRIBE) built from the catalog."""
    columns = [
        Column(
            name=c.name,
            type=c.sql_type,
            table=t.name,
            is_nullable=c.nullable,
            schema=db.name,
        )
        for db in snapshot.databases.values()
        for t in db.tables.values()
        for c in t.columns
    ]
    return InfoSchema.from_columns(columns)

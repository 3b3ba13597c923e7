"""One client connection's session: USE, SHOW, DESCRIBE and information_schema from the
catalog, everything else to the query engine.

mysql-mimic parses each statement and handles SET, SHOW, DESCRIBE, USE, transactions and
SELECTs without FROM itself (its middlewares); ``query()`` receives the rest.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import sqlglot
import sqlglot.errors
from mysql_mimic import ResultSet, Session
from mysql_mimic.connection import Connection
from mysql_mimic.constants import INFO_SCHEMA
from mysql_mimic.schema import Column, InfoSchema
from mysql_mimic.session import Query
from mysql_mimic.variables import SYSTEM_VARIABLES, GlobalVariables, SessionVariables
from sqlglot import exp
from sqlglot.executor import execute
from sqlglot.executor.table import Table

from qserv_py import __version__
from qserv_py.czar.frontend.errors import mysql_error
from qserv_py.czar.frontend.plain_select import plain_select
from qserv_py.czar.frontend.processes import (
    PROCESSLIST_COLUMNS,
    QUERIES_COLUMNS,
    management_statement,
    processlist_rows,
    queries_rows,
)
from qserv_py.czar.frontend.show_create import show_create_table
from qserv_py.czar.frontend.streaming import cancelled_if_client_leaves, enable_streaming
from qserv_py.czar.metadata.snapshot import CatalogCache, CatalogSnapshot
from qserv_py.czar.query_registry import Client, QueryRegistry

SERVER_VERSION = f"10.11.19-MariaDB-qserv-py-{__version__}"
# Anything but these makes a SELECT more than an expression list (FROM, INTO, WHERE, ...).
_BEYOND_CONSTANT_SELECT = frozenset(exp.Select.arg_types) - {"expressions", "limit", "hint"}


class QueryEngine(Protocol):
    registry: QueryRegistry

    async def execute(
        self,
        expression: exp.Expression | None,
        sql: str,
        database: str | None,
        client: Client | None = None,
    ) -> ResultSet: ...

    async def evaluate(self, sql: str) -> ResultSet:
        """Run a SELECT without FROM on MariaDB itself (exact values, types and headers)."""
        ...


class CzarSession(Session):
    def __init__(self, catalog: CatalogCache, engine: QueryEngine) -> None:
        super().__init__(SessionVariables(GlobalVariables(system_variables())))
        self._catalog = catalog
        self._engine = engine
        self.middlewares.insert(0, self._show_create_middleware)
        static = self.middlewares.index(self._static_query_middleware)
        self.middlewares.insert(static, self._evaluate_middleware)

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
        info = info_schema(await self._catalog.get(max_age=0))
        return with_processes(info, self._engine.registry, self.connection)

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

    async def _evaluate_middleware(self, q: Query) -> Any:
        """SELECT without FROM goes to MariaDB when the client's text can be sent verbatim.

        mysql-mimic evaluates such SELECTs in Python (sqlglot's executor: other values for
        ``1/3``, headers like ``_col_0``). When an earlier middleware replaced session functions
        (``DATABASE()``, ``@@version``) the text no longer matches the tree and mimic answers.
        """
        expression = q.expression
        if (
            isinstance(expression, exp.Select)
            and not any(expression.args.get(arg) for arg in _BEYOND_CONSTANT_SELECT)
            and _single_statement(q.sql) == expression
        ):
            return await self._engine.evaluate(q.sql)
        return await q.next()

    async def _show_create_middleware(self, q: Query) -> Any:
        """``SHOW CREATE TABLE`` (mysql-mimic lacks it), and MariaDB's 1146 for ``SHOW COLUMNS``
        / ``DESCRIBE`` of a table that does not exist (mysql-mimic answers an empty list)."""
        expression = q.expression
        table = _shown_table(expression)
        if table is not None:
            name, db = table
            snapshot = await self._catalog.get(max_age=0)
            database = db or self.database
            if isinstance(expression, exp.Show) and expression.name.upper() == "CREATE TABLE":
                return show_create_table(snapshot, database, name)
            if database and database.lower() != "information_schema":
                known = snapshot.databases.get(database)
                if known is None or name not in known.tables:
                    raise mysql_error(1146, f"Table '{database}.{name}' doesn't exist")
        return await q.next()

    async def handle_query(self, sql: str, attrs: dict[str, str]) -> Any:
        """A plain SELECT from catalog tables goes straight to the engine (one parse, not two);
        query-management statements (SHOW PROCESSLIST, KILL, CANCEL) to ``processes.py``;
        everything else through mysql-mimic's parse and middlewares."""
        if plain_select(sql, self.database):
            with cancelled_if_client_leaves(self.connection):
                return await self._engine.execute(None, sql, self.database, self._client())
        answer = management_statement(
            sql, self._engine.registry, self.connection, str(self.username or "")
        )
        if answer is not None:
            return answer
        return await super().handle_query(sql, attrs)

    async def query(self, expression: exp.Expression, sql: str, attrs: dict[str, Any]) -> Any:
        with cancelled_if_client_leaves(self.connection):
            return await self._engine.execute(expression, sql, self.database, self._client())

    def _client(self) -> Client:
        task = asyncio.current_task()  # the connection's: KILL and CANCEL cancel it
        return Client(self.connection.connection_id, str(self.username or ""), task)


def _shown_table(expression: exp.Expression) -> tuple[str, str | None] | None:
    """(table, database) named by SHOW CREATE TABLE / SHOW COLUMNS / DESCRIBE, else None."""
    if isinstance(expression, exp.Show) and expression.name.upper() in ("CREATE TABLE", "COLUMNS"):
        target, db = expression.args.get("target"), expression.args.get("db")
        if target is not None:
            return target.name, db.name if db is not None else None
    if isinstance(expression, exp.Describe) and isinstance(expression.this, exp.Table):
        table = expression.this
        return table.name, table.db or None
    return None


def _single_statement(sql: str) -> exp.Expression | None:
    try:
        statements = [e for e in sqlglot.parse(sql, read="mysql") if e is not None]
    except sqlglot.errors.ParseError:
        return None
    if len(statements) != 1 or not isinstance(statements[0], exp.Expression):
        return None
    return statements[0]


def system_variables() -> dict[str, Any]:
    """mysql-mimic's variables, with the values MariaDB clients expect from a MariaDB server.

    SQLAlchemy reads ``@@tx_isolation`` from MariaDB servers; mysql-mimic does not know it.
    """
    return {
        **SYSTEM_VARIABLES,
        "version": (str, SERVER_VERSION, False),
        "version_comment": (str, "qserv-py", False),
        "transaction_isolation": (str, "REPEATABLE-READ", True),
        "tx_isolation": (str, "REPEATABLE-READ", True),
        "default_storage_engine": (str, "MyISAM", True),
    }


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


class _CzarInfoSchema(InfoSchema):
    """mysql-mimic's information_schema plus ``processlist`` and ``queries``."""

    async def query(self, expression: exp.Expression) -> Any:
        result = execute(self._preprocess(expression), schema=_SCHEMA, tables=self.tables)
        return result.rows, result.columns


_SCHEMA = {
    **INFO_SCHEMA,
    "information_schema": {
        **INFO_SCHEMA["information_schema"],
        "processlist": {k.lower(): v for k, v in PROCESSLIST_COLUMNS.items()},
        "queries": {k.lower(): v for k, v in QUERIES_COLUMNS.items()},
    },
}


def with_processes(info: InfoSchema, registry: QueryRegistry, connection: Connection) -> InfoSchema:
    """``info`` with the current processlist and the query history as two more tables."""
    tables = dict(info.tables)
    schema = dict(tables["information_schema"])
    current = "SELECT ... FROM information_schema"
    schema["processlist"] = Table(
        tuple(k.lower() for k in PROCESSLIST_COLUMNS),
        processlist_rows(registry, connection, current, full=True),
    )
    schema["queries"] = Table(
        tuple(k.lower() for k in QUERIES_COLUMNS), queries_rows(registry.all())
    )
    tables["information_schema"] = schema
    return _CzarInfoSchema(tables)

"""Statements run on the czar's own MariaDB, their results streamed to the client verbatim.

Used for merge statements and for SELECTs without FROM: MariaDB evaluates them, so types,
values and formatting are MariaDB's own. Values are fetched as the text MariaDB sent (no
decoders) and written to the client unchanged; column types and character sets come from
MariaDB's field metadata. User SQL runs as the restricted ``qserv_query`` account.

A merge (``merge()``) holds one connection from the first chunk's rows to the last merged
row: the per-chunk rows go into a ``TEMPORARY`` table of that connection, and the merge
statement reads it. A temporary table costs 0.9 ms to create, fill and drop where a
persistent one cost 8 ms (CREATE 4.3 ms, first INSERT 1.3, DROP 2.2: files and the data
dictionary); it is private to the connection and disappears with it, so nothing is left
behind even when the czar dies mid-query.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import asyncmy
import asyncmy.converters
import asyncmy.errors
from asyncmy.cursors import SSCursor
from mysql_mimic import ResultColumn, ResultSet

from qserv_py.czar.frontend.columns import result_column
from qserv_py.czar.frontend.errors import mysql_error
from qserv_py.czar.frontend.streaming import RowBatches
from qserv_py.czar.result_table import create_statement, insert_statement
from qserv_py.results.codec import Schema
from qserv_py.sql import qualified

BATCH_ROWS = 2000
INSERT_BATCH = 5000
# Values are written into statements with asyncmy's encoders, and read back as MariaDB's text
# (no decoders: asyncmy takes the int keys of ``conv`` as decoders, the others as encoders).
_ENCODERS_ONLY = {k: v for k, v in asyncmy.converters.conversions.items() if not isinstance(k, int)}


def _columns(fields: Sequence[Any]) -> list[ResultColumn]:
    return [result_column(f.name, f.type_code, f.charsetnr) for f in fields]


def _sql_error(exc: asyncmy.errors.MySQLError) -> Exception:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 1105
    return mysql_error(code, str(exc.args[1] if len(exc.args) > 1 else exc))


class CzarDbQueries:
    """A pool of raw-text connections to the czar db as the query user."""

    def __init__(self, connect_args: dict[str, Any], max_connections: int = 32) -> None:
        self._args = connect_args
        self._max = max_connections
        self._pool: Any = None

    async def open(self) -> None:
        self._pool = await asyncmy.create_pool(
            minsize=1, maxsize=self._max, conv=_ENCODERS_ONLY, autocommit=True, **self._args
        )

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            await self._pool.wait_closed()

    async def stream(self, sql: str) -> ResultSet:
        """Run ``sql``; the result set's rows stream from MariaDB as the client reads them."""
        conn = await self._pool.acquire()
        return await _stream(conn, sql, lambda: self._pool.release(conn))

    def merge(self, database: str, table: str, collations: Mapping[int, str]) -> MergeTable:
        """A temporary ``database.table`` for one query's per-chunk rows (``async with``)."""
        return MergeTable(self._pool, database, table, collations)


class MergeTable:
    """One merge: create the table from the first batch's schema, insert every batch, then
    ``stream()`` the merge statement. Leaving the ``async with`` block without streaming (an
    error, a cancel) closes the connection, which drops the table."""

    def __init__(self, pool: Any, database: str, table: str, collations: Mapping[int, str]) -> None:
        self._pool = pool
        self._name = qualified(database, table)
        self._database = database
        self._table = table
        self._collations = collations
        self._conn: Any = None
        self._schema: Schema | None = None
        self._pending: list[Sequence[Any]] = []

    async def __aenter__(self) -> MergeTable:
        self._conn = await self._pool.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._conn is not None:  # not handed to stream(): drop the table with the connection
            conn, self._conn = self._conn, None
            conn.close()
            self._pool.release(conn)

    async def insert(self, schema: Schema, rows: Sequence[Sequence[Any]]) -> None:
        """Add rows; they are written ``INSERT_BATCH`` at a time (a scan's chunks deliver a
        row or two each: one INSERT per chunk cost a round trip per chunk)."""
        if self._schema is None:
            await self._execute(
                create_statement(
                    self._database, self._table, schema, self._collations, temporary=True
                )
            )
            self._schema = schema
        self._pending.extend(rows)
        if len(self._pending) >= INSERT_BATCH:
            await self._flush()

    async def _flush(self) -> None:
        rows, self._pending = self._pending, []
        if not rows or self._schema is None:
            return
        sql = insert_statement(self._database, self._table, self._schema)
        async with self._conn.cursor() as cur:
            try:
                for start in range(0, len(rows), INSERT_BATCH):
                    await cur.executemany(sql, rows[start : start + INSERT_BATCH])
            except asyncmy.errors.MySQLError as exc:
                raise _sql_error(exc) from exc

    async def _execute(self, sql: str) -> None:
        async with self._conn.cursor() as cur:
            try:
                await cur.execute(sql)
            except asyncmy.errors.MySQLError as exc:
                raise _sql_error(exc) from exc

    async def stream(self, merge_sql: str) -> ResultSet:
        """Run the merge; the connection (and its table) now belong to the result's rows."""
        if self._schema is None:
            raise RuntimeError("merge before any chunk delivered its columns")
        await self._flush()
        conn, self._conn = self._conn, None
        name = self._name

        async def release() -> None:
            try:
                async with conn.cursor() as cur:
                    await cur.execute(f"DROP TEMPORARY TABLE IF EXISTS {name}")
            except (asyncmy.errors.MySQLError, OSError):
                conn.close()
            self._pool.release(conn)

        return await _stream(conn, merge_sql, release)


async def _stream(conn: Any, sql: str, release: Any) -> ResultSet:
    """Run ``sql`` on ``conn``; ``release()`` (maybe a coroutine) runs when the rows end."""
    cursor = conn.cursor(SSCursor)
    try:
        await cursor.execute(sql)
    except asyncmy.errors.MySQLError as exc:
        await cursor.close()
        await _call(release)
        raise _sql_error(exc) from exc
    except BaseException:
        await cursor.close()
        await _call(release)
        raise
    columns = _columns(cursor._result.fields if cursor._result else [])
    return ResultSet(RowBatches(_batches(cursor, release)), columns)


async def _call(release: Any) -> None:
    outcome = release()
    if outcome is not None:
        await outcome


async def _batches(cursor: Any, release: Any) -> AsyncIterator[Sequence[Sequence[Any]]]:
    try:
        while True:
            rows = await cursor.fetchmany(BATCH_ROWS)
            if not rows:
                return
            yield rows
    finally:
        await cursor.close()
        await _call(release)

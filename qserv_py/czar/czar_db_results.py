"""Statements run on the czar's own MariaDB, their results streamed to the client verbatim.

Used for merge statements and for SELECTs without FROM: MariaDB evaluates them, so types,
values and formatting are MariaDB's own. Values are fetched as the text MariaDB sent (no
conversion, ``conv={}``) and written to the client unchanged; column types and character sets
come from MariaDB's field metadata. User SQL runs as the restricted ``qserv_query`` account.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncmy
import asyncmy.errors
from asyncmy.cursors import SSCursor
from mysql_mimic import ResultColumn, ResultSet

from qserv_py.czar.frontend.columns import result_column
from qserv_py.czar.frontend.errors import mysql_error
from qserv_py.czar.frontend.streaming import RowBatches

BATCH_ROWS = 2000


def _columns(fields: Sequence[Any]) -> list[ResultColumn]:
    return [result_column(f.name, f.type_code, f.charsetnr) for f in fields]


class CzarDbQueries:
    """A pool of raw-text connections to the czar db as the query user."""

    def __init__(self, connect_args: dict[str, Any], max_connections: int = 20) -> None:
        self._args = connect_args
        self._max = max_connections
        self._pool: Any = None

    async def open(self) -> None:
        self._pool = await asyncmy.create_pool(
            minsize=1, maxsize=self._max, conv={}, autocommit=True, **self._args
        )

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            await self._pool.wait_closed()

    async def stream(self, sql: str) -> ResultSet:
        """Run ``sql``; the result set's rows stream from MariaDB as the client reads them."""
        conn = await self._pool.acquire()
        cursor = conn.cursor(SSCursor)
        try:
            await cursor.execute(sql)
        except asyncmy.errors.MySQLError as exc:
            await cursor.close()
            self._pool.release(conn)
            code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 1105
            raise mysql_error(code, str(exc.args[1] if len(exc.args) > 1 else exc)) from exc
        except BaseException:
            await cursor.close()
            self._pool.release(conn)
            raise
        columns = _columns(cursor._result.fields if cursor._result else [])
        return ResultSet(RowBatches(self._batches(conn, cursor)), columns)

    async def _batches(self, conn: Any, cursor: Any) -> AsyncIterator[Sequence[Sequence[Any]]]:
        try:
            while True:
                rows = await cursor.fetchmany(BATCH_ROWS)
                if not rows:
                    return
                yield rows
        finally:
            await cursor.close()
            self._pool.release(conn)

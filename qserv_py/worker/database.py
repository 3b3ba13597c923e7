"""The worker's connection pool to its own MariaDB, with MariaDB errors turned into RPC errors."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncmy
import asyncmy.errors

from qserv_py.rpc.errors import RpcError


@dataclass(frozen=True, slots=True)
class DatabaseAddress:
    unix_socket: str
    user: str
    password: str


class WorkerDatabase:
    """A small asyncmy pool; every statement runs with ``STRICT_ALL_TABLES`` so bad data fails."""

    def __init__(self, address: DatabaseAddress, max_connections: int = 8) -> None:
        self._address = address
        self._max = max_connections
        self._pool: Any = None

    async def open(self) -> None:
        self._pool = await asyncmy.create_pool(
            unix_socket=self._address.unix_socket,
            user=self._address.user,
            password=self._address.password,
            minsize=1,
            maxsize=self._max,
            autocommit=True,
            init_command="SET SESSION sql_mode='STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
            echo=False,
        )

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            await self._pool.wait_closed()
            self._pool = None

    @contextlib.asynccontextmanager
    async def cursor(self) -> AsyncIterator[Any]:
        if self._pool is None:
            raise RpcError("internal", "worker database pool is not open", retryable=True)
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            yield cur

    async def execute(self, sql: str, args: Any = None) -> int:
        try:
            async with self.cursor() as cur:
                return int(await cur.execute(sql, args))
        except asyncmy.errors.MySQLError as exc:
            raise sql_error(exc) from exc

    async def fetchall(self, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        try:
            async with self.cursor() as cur:
                await cur.execute(sql, args)
                return list(await cur.fetchall())
        except asyncmy.errors.MySQLError as exc:
            raise sql_error(exc) from exc


def sql_error(exc: Exception) -> RpcError:
    """MariaDB error -> RPC error; the numeric code stays in the message for the caller."""
    args: tuple[object, ...] = tuple(getattr(exc, "args", ()))
    code = args[0] if args and isinstance(args[0], int) else 0
    message = args[1] if len(args) > 1 else str(exc)
    # 2002/2003/2006/2013: the server went away; another replica may succeed.
    retryable = code in (2002, 2003, 2006, 2013)
    details: dict[str, object] = {"mariadb_code": code}
    return RpcError("sql", f"MariaDB error {code}: {message}", retryable=retryable, details=details)

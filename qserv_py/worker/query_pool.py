"""MariaDB connections for chunk queries: a small pool, and ``KILL QUERY`` on a fresh one.

The pool never judges a returned connection: its user says whether the connection is idle and
in step (``release(conn, reusable)``), as only the user knows whether a statement was cut short
(see query_service.py). ``kill_query`` opens a fresh connection each time because every pooled
one may be busy streaming, and kills are rare.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncmy
import asyncmy.errors

from qserv_py.rpc.errors import RpcError
from qserv_py.worker.database import DatabaseAddress, sql_error

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
_UNKNOWN_THREAD = 1094


async def kill_query(address: DatabaseAddress, thread_id: int, deadline: float) -> bool:
    """``KILL QUERY`` on a fresh connection: pooled ones may all be busy streaming."""
    conn: Any = None
    try:
        async with asyncio.timeout_at(deadline):
            conn = await connect(address)
            async with conn.cursor() as cursor:
                await cursor.execute(f"KILL QUERY {int(thread_id)}")
            await conn.ensure_closed()
        return True
    except asyncmy.errors.MySQLError as exc:
        if getattr(exc, "args", (None,))[0] == _UNKNOWN_THREAD:
            return True  # the connection is gone, and its statement with it
        log.warning("KILL QUERY %d failed: %s", thread_id, exc)
        return False
    except (TimeoutError, OSError) as exc:
        log.warning("KILL QUERY %d failed: %r", thread_id, exc)
        return False
    finally:
        if conn is not None:
            conn.close()


async def connect(address: DatabaseAddress) -> Any:
    return await asyncmy.connect(
        unix_socket=address.unix_socket,
        user=address.user,
        password=address.password,
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT,
    )


class ConnectionPool:
    """At most ``size`` MariaDB connections for chunk queries; idle ones are kept for reuse.

    A connection comes back through ``release(conn, reusable)``; the caller decides whether it
    is in step (see `_Execution._stop`), anything else is closed.
    """

    def __init__(self, address: DatabaseAddress, size: int) -> None:
        self._address = address
        self._slots = asyncio.Semaphore(size)
        self._idle: list[Any] = []
        self._closed = False

    @property
    def idle(self) -> int:
        return len(self._idle)

    async def acquire(self, deadline: float) -> Any:
        if self._closed:
            raise RpcError("unavailable", "worker is shutting down", retryable=True)
        try:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise RpcError("timeout", "no MariaDB connection free", retryable=True) from exc
        try:
            while self._idle:
                conn = self._idle.pop()
                if conn.connected and not conn._stream_broken:
                    return conn
                conn.close()
            async with asyncio.timeout_at(deadline):
                return await connect(self._address)
        except asyncmy.errors.MySQLError as exc:
            self._slots.release()
            raise sql_error(exc) from exc
        except TimeoutError as exc:
            self._slots.release()
            raise RpcError("timeout", "cannot connect to MariaDB", retryable=True) from exc
        except BaseException:
            self._slots.release()
            raise

    def release(self, conn: Any, reusable: bool) -> None:
        if reusable and not self._closed and conn.connected:
            self._idle.append(conn)
        else:
            conn.close()
        self._slots.release()

    async def close(self, timeout: float = 5.0) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            try:
                async with asyncio.timeout(timeout):
                    await conn.ensure_closed()
            except (TimeoutError, OSError, asyncmy.errors.MySQLError):
                pass
            finally:
                conn.close()

"""Worker side of the query path: run chunk queries and stream their results to the czar.

``query.run {query_id, chunk_id, sql | chunks, scan?, format?, batch_rows?, batch_bytes?,
timeout?}`` answers with a streaming reply (docs/rpc.md): a ``schema`` batch, then ``rows``
batches, then an end frame with counts and MariaDB's warnings. ``format`` ``typed`` (the
default) sends Python values encoded by :mod:`qserv_py.results.codec` (the czar inserts them
into a result table); ``text`` sends MariaDB's own text-protocol row packets, unparsed
(:mod:`qserv_py.results.text_rows`), which the czar passes to its client. ``query.status``
lists the chunk queries running now.

Every chunk statement is a task of the worker's shared-scan scheduler (``qserv_py.shared_scan``,
docs/shared-scans.md): ``chunks: [[chunk_id, sql], ...]`` makes one task per chunk, run one at
a time on the stream when the scheduler grants them (``chunk_stream.py``); ``sql`` alone is one
task. With ``scan: {"rating": n}`` the tasks are scans (lanes, chunk convoys), otherwise
interactive (their own slots). ``query.cancel {query_id}`` drops a query's tasks from every
queue and kills its running statements.

Text batches are cut from asyncmy's receive buffer: after ``execute`` on the unbuffered cursor
(which reads the column definitions), ``_read_text`` walks the packet headers already in the
buffer (``scan_packets``: length, sequence, end-of-result check; about 0.3 µs a row) and copies
whole runs of packets; only when no complete packet is buffered does it await one through the
driver's ``read_packet`` (which also ends the result, raises MariaDB's errors and joins 16 MiB
rows). The connection's parse position and sequence number are advanced exactly as the driver's
own row reader does, so everything after (warnings, kill and drain, reuse) works unchanged.

Reading: asyncmy's unbuffered ``SSCursor`` over the text protocol, one ``fetchmany`` per batch,
so the worker holds one batch however large the result. Its values are PyMySQL's. Measured
here for 1M rows x 5 numeric columns: 300k rows/s; mariadbd spends 3 CPU-s formatting the
text and the worker 2.3 CPU-s parsing it. The binary protocol (asyncmy ``prepare()``) needs
0.2 and 0.4 CPU-s (stack-measurements.md §3), but asyncmy reads its whole result into memory,
and its values differ from PyMySQL's for FLOAT (the float32 widened, not MariaDB's shortest
text: 1.100000023841858 for 1.1) and zero dates (``None``, not ``'0000-00-00'``): not used.

Cancellation (STYLE.md §4, as asyncpg does it): each driver call runs as a task owned by the
service and is awaited with ``asyncio.wait``, so a cancelled or timed-out stream never
interrupts a read halfway (asyncmy would then drop the connection). On cancel, client
disconnect or deadline, the worker sends ``KILL QUERY <thread id>`` on a separate connection,
waits for the statement to end (MariaDB answers 1317) and drains what was already sent; only
then does the connection go back to the pool. Anything less certain closes it instead. This
cleanup runs shielded, with its own deadline, so a second cancel cannot cut it short.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncGenerator, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import asyncmy
import asyncmy.errors
from asyncmy.cursors import SSCursor

from qserv_py.results.codec import Column, Schema, encode_rows, encode_schema
from qserv_py.results.text_rows import frame_row, scan_packets
from qserv_py.rpc.errors import RpcError
from qserv_py.rpc.server import Handler, StreamReply
from qserv_py.shared_scan.scheduler import SharedScanScheduler
from qserv_py.worker.chunk_stream import ChunkStream, scan_class
from qserv_py.worker.database import DatabaseAddress, sql_error
from qserv_py.worker.join_settings import statement_settings
from qserv_py.worker.query_pool import ConnectionPool, kill_query

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TIMEOUT = 3600.0
MAX_TIMEOUT = 7 * 86400.0
BATCH_BYTES = 128 << 10  # 64 KiB-1 MiB frames measured alike; smaller ones keep memory low
FIRST_BATCH_ROWS = 256  # the first rows go out quickly, then batches grow to BATCH_BYTES
MIN_BATCH_ROWS, MAX_BATCH_ROWS = 16, 65536
STATEMENT_TIME_MARGIN = 30.0  # MariaDB's own max_statement_time, a backstop behind ours
CLEANUP_TIMEOUT = 10.0  # kill + wait + drain after a cancel
MAX_WARNINGS = 20
FORMATS = ("typed", "text")
_READ_STATEMENT = re.compile(  # leading blanks and comments, then SELECT, WITH or "("
    r"\A(?:\s+|/\*.*?\*/|--[^\n]*\n|#[^\n]*\n)*(?:\(|select\b|with\b)", re.I | re.S
)


@dataclass(frozen=True, slots=True)
class ChunkQuery:
    query_id: int
    chunk_id: int
    sql: str
    batch_rows: int | None
    batch_bytes: int
    timeout: float
    format: str = "typed"

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ChunkQuery:
        try:
            query_id, chunk_id = int(params["query_id"]), int(params["chunk_id"])
            sql = params["sql"]
            batch_rows = params.get("batch_rows")
            batch_rows = None if batch_rows is None else int(batch_rows)
            batch_bytes = int(params.get("batch_bytes", BATCH_BYTES))
            timeout = float(params.get("timeout", DEFAULT_TIMEOUT))
            result_format = params.get("format", "typed")
        except (KeyError, TypeError, ValueError) as exc:
            raise RpcError("bad_request", f"query.run: bad or missing parameter: {exc}") from exc
        if not isinstance(sql, str) or not _READ_STATEMENT.match(sql):
            raise RpcError("bad_request", "query.run only runs SELECT statements")
        if batch_rows is not None and not 1 <= batch_rows <= MAX_BATCH_ROWS:
            raise RpcError("bad_request", f"batch_rows must be in 1..{MAX_BATCH_ROWS}")
        if not 1024 <= batch_bytes <= 64 << 20 or not 0 < timeout <= MAX_TIMEOUT:
            raise RpcError("bad_request", "batch_bytes or timeout out of range")
        if result_format not in FORMATS:
            raise RpcError("bad_request", f"format must be one of {', '.join(FORMATS)}")
        return cls(query_id, chunk_id, sql, batch_rows, batch_bytes, timeout, result_format)

    @classmethod
    def list_from_params(cls, params: dict[str, Any]) -> list[ChunkQuery]:
        """One query per chunk: from ``chunks`` (``[[chunk_id, sql], ...]``) or ``sql``."""
        chunks = params.get("chunks")
        if chunks is None:
            return [cls.from_params(params)]
        if not isinstance(chunks, list) or not chunks:
            raise RpcError("bad_request", "query.run: chunks must be a non-empty list")
        queries = []
        for item in chunks:
            if not isinstance(item, list | tuple) or len(item) != 2:
                raise RpcError("bad_request", "query.run: each chunk is [chunk_id, sql]")
            queries.append(cls.from_params({**params, "chunk_id": item[0], "sql": item[1]}))
        return queries

    def statement(self) -> str:
        """The SQL sent to MariaDB, with MariaDB's own time limit as a backstop."""
        limit = self.timeout + STATEMENT_TIME_MARGIN
        extra = "".join(f", {setting}" for setting in statement_settings(self.sql))
        return f"SET STATEMENT max_statement_time={limit:.0f}{extra} FOR {self.sql}"


class QueryService:
    """Runs chunk queries on this worker's MariaDB, each on a pooled connection of its own."""

    def __init__(
        self,
        address: DatabaseAddress,
        max_connections: int = 16,
        scheduler: SharedScanScheduler | None = None,
    ) -> None:
        self._address = address
        self._pool = ConnectionPool(address, max_connections)
        self.max_connections = max_connections  # the scheduler's slots must fit in it
        self.scheduler = scheduler or SharedScanScheduler()
        self._tasks: set[asyncio.Task[Any]] = set()  # driver calls and cleanups in flight
        self._running: set[_Execution] = set()  # from acquire to release

    def handlers(self) -> dict[str, Handler]:
        return {"query.run": self.run, "query.status": self.status, "query.cancel": self.cancel}

    async def cancel(self, params: dict[str, Any], _body: bytes) -> tuple[dict[str, Any], bytes]:
        """Drop a query's tasks from every queue and kill its running statements."""
        try:
            query_id = int(params["query_id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RpcError("bad_request", f"query.cancel: bad query_id: {exc}") from exc
        self.scheduler.cancel_query(query_id)
        return {"query_id": query_id}, b""

    async def status(self, _params: dict[str, Any], _body: bytes) -> tuple[dict[str, Any], bytes]:
        """What this worker runs now: chunk queries (until their connection is released)."""
        running = sorted(
            (e.state() for e in self._running), key=lambda s: (s["query_id"], s["chunk_id"])
        )
        return {"running": running, "idle_connections": self._pool.idle}, b""

    async def close(self, timeout: float = CLEANUP_TIMEOUT + 5) -> None:
        """Wait for cleanups in flight (their queries were cancelled by the RPC server's close),
        then close the idle connections."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                log.warning("query task did not finish: %r", task)
                task.cancel()
        await self._pool.close()

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_retrieve)  # an abandoned call must not log "never retrieved"
        return task

    async def run(self, params: dict[str, Any], _body: bytes) -> StreamReply:
        queries = {q.chunk_id: q for q in ChunkQuery.list_from_params(params)}
        first = next(iter(queries.values()))
        interactive, rating = scan_class(params)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + first.timeout

        def execute(chunk_id: int, _sql: str) -> _Execution:
            return _Execution(
                queries[chunk_id], deadline, self._pool, self._address, self._spawn, self._running
            )

        stream = ChunkStream(
            self.scheduler,
            first.query_id,
            [(q.chunk_id, q.sql) for q in queries.values()],
            interactive,
            rating,
            execute,
            loop.time,
        )
        return StreamReply(stream.batches(), stream.summary, deadline)


class Spawn(Protocol):
    """Starts a task owned by the service (its ``close()`` waits for it)."""

    def __call__(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]: ...


class _Execution:
    """One chunk query from acquire to release; owns the driver call in flight (``_step``)."""

    def __init__(
        self,
        query: ChunkQuery,
        deadline: float,
        pool: ConnectionPool,
        address: DatabaseAddress,
        spawn: Spawn,
        running: set[_Execution],
    ) -> None:
        self._query = query
        self._spawn = spawn
        self._running = running
        self._stopping = False
        self._deadline = deadline
        self._pool = pool
        self._address = address
        self._step: asyncio.Task[Any] | None = None
        self._conn: Any = None  # while a statement may run
        self._rows = 0
        self._batches = 0
        self._bytes = 0
        self._warnings: list[list[Any]] = []
        self._started = asyncio.get_running_loop().time()

    def state(self) -> dict[str, Any]:
        return {
            "query_id": self._query.query_id,
            "chunk_id": self._query.chunk_id,
            "rows": self._rows,
            "state": "stopping" if self._stopping else "running",
        }

    def summary(self) -> dict[str, Any]:
        return {
            "query_id": self._query.query_id,
            "chunk_id": self._query.chunk_id,
            "rows": self._rows,
            "batches": self._batches,
            "bytes": self._bytes,
            "warnings": self._warnings,
            "elapsed_s": round(asyncio.get_running_loop().time() - self._started, 6),
        }

    def kill(self) -> None:
        """Stop the statement from outside (query cancelled): ``KILL QUERY`` on a fresh
        connection; the statement then fails with MariaDB's 1317 and the stream ends."""
        conn = self._conn
        if conn is None or self._stopping:
            return
        deadline = asyncio.get_running_loop().time() + CLEANUP_TIMEOUT
        self._spawn(kill_query(self._address, conn.thread_id(), deadline))

    async def batches(self) -> AsyncGenerator[tuple[dict[str, Any], bytes], None]:
        q = self._query
        conn = await self._pool.acquire(self._deadline)
        self._conn = conn
        self._running.add(self)
        cursor = conn.cursor(SSCursor)
        in_step = False  # True when no statement is in progress on conn
        try:
            try:
                await self._call(cursor.execute(q.statement()))
                schema = _schema(cursor)
                yield {"part": "schema", "columns": len(schema)}, encode_schema(schema)
                size = q.batch_rows or FIRST_BATCH_ROWS
                while q.format == "text":
                    body, count = await self._call(_read_text(conn, cursor, size, q.batch_bytes))
                    if not count:
                        break
                    self._rows += count
                    self._batches += 1
                    self._bytes += len(body)
                    yield {"part": "rows", "rows": count, "format": "text"}, body
                    size = q.batch_rows or MAX_BATCH_ROWS
                while q.format == "typed" and (rows := await self._call(cursor.fetchmany(size))):
                    body = encode_rows(rows, len(schema))
                    self._rows += len(rows)
                    self._batches += 1
                    self._bytes += len(body)
                    yield {"part": "rows", "rows": len(rows)}, body
                    size = q.batch_rows or _next_size(size, len(rows), len(body), q.batch_bytes)
                in_step = True
                await self._collect_warnings(conn, cursor)
            except asyncmy.errors.MySQLError as exc:
                in_step = _server_error(exc)
                err = sql_error(exc)
                err.details.update(query_id=q.query_id, chunk_id=q.chunk_id)
                raise err from exc
        finally:
            await self._release(conn, cursor, in_step)

    async def _release(self, conn: Any, cursor: Any, in_step: bool) -> None:
        """Stop the statement if needed and give the connection back, shielded (as asyncpg's
        ``Pool.release``): a second cancel must neither leak the connection nor leave the
        statement running. The cleanup has its own deadline (CLEANUP_TIMEOUT)."""
        cleanup = self._spawn(self._stop_and_release(conn, cursor, in_step))
        try:
            await asyncio.shield(cleanup)
        except asyncio.CancelledError:
            await asyncio.wait((cleanup,), timeout=CLEANUP_TIMEOUT + 5)
            raise

    async def _stop_and_release(self, conn: Any, cursor: Any, in_step: bool) -> None:
        q = self._query
        reusable = False
        self._stopping = True
        self._conn = None
        try:
            reusable = (in_step and self._step is None) or await self._stop(conn, cursor)
        finally:
            self._running.discard(self)
            if self._step is not None:  # the statement outlived the cleanup deadline
                self._step.cancel()
            self._pool.release(conn, reusable)
            log.debug(
                "query %d chunk %d: %d rows in %d batches, connection %s",
                q.query_id,
                q.chunk_id,
                self._rows,
                self._batches,
                "reused" if reusable else "closed",
            )

    async def _call(self, step: Coroutine[Any, Any, T]) -> T:
        """Await one driver call under the deadline without ever interrupting it.

        If this waiter is cancelled or times out, the call keeps running in ``_step`` and
        `_stop` deals with it (kill, then wait for it to end).
        """
        task = self._spawn(step)
        self._step = task
        remaining = self._deadline - asyncio.get_running_loop().time()
        done, _ = await asyncio.wait((task,), timeout=max(remaining, 0.0))
        if not done:
            raise RpcError(
                "timeout",
                f"query {self._query.query_id} chunk {self._query.chunk_id} passed its "
                f"{self._query.timeout:g} s deadline",
            )
        self._step = None
        return task.result()

    async def _collect_warnings(self, conn: Any, cursor: Any) -> None:
        """MariaDB ends some truncated results with a warning instead of an error (e.g. 1931,
        max_recursive_iterations), so the czar gets them with the counts."""
        result = getattr(cursor, "_result", None)
        if result is None or not result.warning_count:
            return
        async with conn.cursor() as warnings_cursor:
            await self._call(warnings_cursor.execute(f"SHOW WARNINGS LIMIT {MAX_WARNINGS}"))
            rows = await self._call(warnings_cursor.fetchall())
        self._warnings = [[str(level), int(code), str(message)] for level, code, message in rows]

    async def _stop(self, conn: Any, cursor: Any) -> bool:
        """Kill the statement running on ``conn`` and bring the connection back in step.

        Returns True only if the connection is known to be idle and in step, so it may be
        reused: the kill landed (or the statement had already ended) and everything MariaDB
        sent has been read. A statement that ended before the kill arrived leaves nothing
        behind: MariaDB clears a pending KILL QUERY when the connection's next command starts.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLEANUP_TIMEOUT
        q = self._query
        thread_id = conn.thread_id()
        if not await kill_query(self._address, thread_id, deadline):
            log.warning("query %d chunk %d: KILL QUERY failed", q.query_id, q.chunk_id)
            return False  # closing the connection stops the statement at its next write
        step = self._step
        if step is not None:
            done, _ = await asyncio.wait((step,), timeout=max(deadline - loop.time(), 0.0))
            self._step = None
            if not done:  # the statement ignored the kill: asyncmy drops the connection
                step.cancel()
                log.warning("query %d chunk %d: statement did not stop", q.query_id, q.chunk_id)
                return False
            if step.cancelled():
                return False
            exc = step.exception()
            if exc is not None:
                return _server_error(exc)
        try:
            async with asyncio.timeout_at(deadline):
                while await cursor.fetchmany(10000):
                    pass
        except asyncmy.errors.MySQLError as exc:
            return _server_error(exc)
        except TimeoutError:  # asyncmy closed the connection when the read was cancelled
            return False
        return bool(conn.connected)


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _server_error(exc: BaseException) -> bool:
    """True for an error MariaDB reported in an error packet: the connection stays in step."""
    args = getattr(exc, "args", ())
    code = args[0] if args and isinstance(args[0], int) else 0
    return isinstance(exc, asyncmy.errors.MySQLError) and 1000 <= code < 2000


async def _read_text(conn: Any, cursor: Any, max_rows: int, max_bytes: int) -> tuple[bytes, int]:
    """Up to ``max_rows`` rows and about ``max_bytes`` of the result's row packets, as MariaDB
    sent them (``(b"", 0)`` at the end of the result).

    Touches asyncmy's receive state (``_proto.buffer/pos/length``, ``_next_seq_id``) the way
    its own bulk row parser does; with a driver that lacks it, every packet takes the slow path.
    """
    result = cursor._result
    proto = getattr(conn, "_proto", None)
    parts: list[bytes] = []
    rows = size = 0
    while rows < max_rows and size < max_bytes and result is not None and result.unbuffered_active:
        if proto is not None:
            buf, pos = proto.buffer, proto.pos
            end, seq, taken = scan_packets(
                buf,
                pos,
                proto.length,
                conn._next_seq_id,
                conn._deprecate_eof,
                max_rows - rows,
                max_bytes - size,
            )
            if taken:
                with memoryview(buf) as view:
                    parts.append(view[pos:end].tobytes())
                proto.pos = end
                conn._next_seq_id = seq
                rows += taken
                size += end - pos
                continue
        packet = await conn.read_packet()  # waits; raises MariaDB's error packets
        if result._check_packet_is_eof(packet):  # records warning_count and has_next
            result.unbuffered_active = False
            result.connection = None
            break
        payload = packet.get_all_data()
        parts.append(frame_row(payload))
        rows += 1
        size += len(payload) + 4
    return b"".join(parts), rows


def _next_size(size: int, rows: int, body_bytes: int, target: int) -> int:
    """Rows for the next batch so its frame is about ``target`` bytes; grows at most 4x."""
    if rows < size:
        return size  # a short batch says nothing about row width
    wanted = target * rows // max(body_bytes, 1)
    return max(MIN_BATCH_ROWS, min(wanted, size * 4, MAX_BATCH_ROWS))


def _schema(cursor: Any) -> Schema:
    result = getattr(cursor, "_result", None)
    fields = getattr(result, "fields", None) or []
    return Schema(
        tuple(
            Column(str(f.name), f.type_code, f.flags, f.charsetnr, f.length, f.scale)
            for f in fields
        )
    )

"""The asyncio shell around :class:`~qserv_py.shared_scan.state.ScanState` (STYLE.md 2).

It feeds events to the state and carries out the instructions: it grants a stream its next task
(``RunTask``, once the chunk's files were asked in), tells a stream a queued task was dropped
(``DropTask``) or a running one must stop (``KillTask``), and runs ``posix_fadvise`` in a
thread (``LoadChunk``/``ReleaseChunk``). Every task it starts is tracked and drained by
``close()``; a ticker feeds ``Tick`` events so overrunning queries move to the slowest lane.

A worker's query service uses it per ``query.run`` stream::

    ticket = scheduler.open_stream(query_id, [(chunk_id, sql), ...], interactive, rating)
    try:
        while (task := await ticket.next()) is not None:
            ...run task.sql, then ticket.finished(ok)...
    finally:
        ticket.close()
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from qserv_py.rpc.errors import RpcError
from qserv_py.shared_scan.events import (
    BootQuery,
    ChunkTask,
    DropTask,
    Event,
    KillTask,
    LoadChunk,
    QueryCancelled,
    ReleaseChunk,
    RunTask,
    StreamClosed,
    TaskFinished,
    TasksQueued,
    Tick,
)
from qserv_py.shared_scan.lanes import SchedulerConfig
from qserv_py.shared_scan.memory import ChunkFiles
from qserv_py.shared_scan.state import ScanState

log = logging.getLogger(__name__)

T = TypeVar("T")
TICK_SECONDS = 1.0
CLOSE_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class GrantedTask:
    key: int
    chunk_id: int
    sql: str
    lane: str


class StreamTicket:
    """One stream's tasks in the scheduler: ``next()`` waits for the next one to run."""

    def __init__(
        self, scheduler: SharedScanScheduler, stream: int, tasks: dict[int, tuple[int, str]]
    ) -> None:
        self._scheduler = scheduler
        self.stream = stream
        self._tasks = tasks  # key -> (chunk_id, sql)
        self._left = set(tasks)
        self._segments: dict[int, tuple[str, ...]] = {}
        self._granted: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
        self._current: int | None = None
        self._closed = False
        self._dropped = False
        self.on_kill: Callable[[], None] | None = None  # stops the running task's statement

    @property
    def chunk_ids(self) -> list[int]:
        return sorted(chunk for chunk, _ in self._tasks.values())

    async def next(self) -> GrantedTask | None:
        """The next task to run, when the scheduler says so; None once all have run.

        Raises ``RpcError("cancelled")`` if the query was cancelled meanwhile.
        """
        if self._current is not None:
            raise RuntimeError("next() before finished() of the running task")
        if self._dropped:
            raise RpcError("cancelled", "the query was cancelled on the worker")
        if not self._left:
            return None
        key, lane = await self._granted.get()
        if key < 0:
            raise RpcError("cancelled", "the query was cancelled on the worker")
        self._current = key
        chunk_id, sql = self._tasks[key]
        return GrantedTask(key, chunk_id, sql, lane)

    def finished(self, ok: bool) -> None:
        key, self._current = self._current, None
        if key is None:
            return
        self._left.discard(key)
        self._scheduler._feed(TaskFinished(key, ok, self._scheduler.now(), f"finished-{key}"))

    def close(self) -> None:
        """The stream is over (done, failed or gone): its queued tasks leave every queue."""
        if self._closed:
            return
        self._closed = True
        self.finished(False)
        while not self._granted.empty():  # granted, but the stream stopped before taking it
            key, _ = self._granted.get_nowait()
            if key >= 0:
                self._scheduler._feed(TaskFinished(key, False, self._scheduler.now(), "unused"))
        self._scheduler._feed(
            StreamClosed(self.stream, self._scheduler.now(), f"close-{self.stream}")
        )
        self._scheduler._streams.pop(self.stream, None)
        for key in self._tasks:
            self._scheduler._by_key.pop(key, None)

    # --- from the scheduler

    def _grant(self, key: int, lane: str) -> None:
        if self._closed:  # e.g. granted once its chunk's read-ahead was asked, too late
            self._scheduler._feed(TaskFinished(key, False, self._scheduler.now(), "closed"))
        else:
            self._granted.put_nowait((key, lane))

    def _drop(self, key: int) -> None:
        self._left.discard(key)
        self._dropped = True  # the stream must fail, not end as if complete
        if not self._closed:
            self._granted.put_nowait((-1, ""))

    def _kill(self, key: int) -> None:
        if self._current == key and self.on_kill is not None:
            self.on_kill()


class SharedScanScheduler:
    """One worker's scheduler: lanes, convoys and memory for the chunk tasks of every query."""

    def __init__(
        self,
        config: SchedulerConfig | None = None,
        files: ChunkFiles | None = None,
        clock: Callable[[], float] = time.monotonic,
        tick_seconds: float = TICK_SECONDS,
    ) -> None:
        self._state = ScanState(config or SchedulerConfig())
        self.files = files or ChunkFiles(None)
        self._clock = clock
        self._tick_seconds = tick_seconds
        self._streams: dict[int, StreamTicket] = {}
        self._by_key: dict[int, StreamTicket] = {}
        self._keys = itertools.count(1)
        self._stream_ids = itertools.count(1)
        self._owned: set[asyncio.Task[Any]] = set()
        self._loading: dict[str, asyncio.Task[int]] = {}
        self._ticker: asyncio.Task[None] | None = None
        self.counters = {"loaded_bytes": 0, "released_bytes": 0, "loads": 0, "boots": 0}

    @property
    def config(self) -> SchedulerConfig:
        return self._state.config

    def now(self) -> float:
        return self._clock()

    def start(self) -> None:
        if self._ticker is None:
            self._ticker = self._spawn(self._tick())

    def open_stream(
        self, query_id: int, chunks: Sequence[tuple[int, str]], interactive: bool, rating: int
    ) -> StreamTicket:
        """Queue a stream's tasks, one per ``(chunk_id, sql)``."""
        stream = next(self._stream_ids)
        keyed = {next(self._keys): (int(chunk), sql) for chunk, sql in chunks}
        ticket = StreamTicket(self, stream, keyed)
        self._streams[stream] = ticket
        self._by_key.update(dict.fromkeys(keyed, ticket))
        tasks = []
        for key, (chunk, sql) in keyed.items():
            segments = () if interactive else self.files.segments(chunk, sql)
            ticket._segments[key] = tuple(name for name, _ in segments)
            tasks.append(ChunkTask(key, query_id, stream, chunk, interactive, rating, segments))
        self._feed(TasksQueued(tuple(tasks), self.now(), f"queue-{stream}"))
        return ticket

    def cancel_query(self, query_id: int) -> None:
        self._feed(QueryCancelled(query_id, self.now(), f"cancel-{query_id}"))

    def configure(self, config: SchedulerConfig) -> None:
        """Replace the settings; only while nothing is queued or running."""
        if self._state.tasks:
            raise RpcError(
                "busy", "the scheduler has tasks; configure it when idle", retryable=True
            )
        self._state = ScanState(config)

    def status(self) -> dict[str, Any]:
        return {**self._state.status(), **self.counters}

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self._owned:
            _, pending = await asyncio.wait(set(self._owned), timeout=CLOSE_TIMEOUT)
            for task in pending:
                log.warning("scheduler task did not finish: %r", task)
                task.cancel()

    # --- the state's instructions

    def _feed(self, *events: Event) -> None:
        for instruction in self._state.handle(*events):
            if isinstance(instruction, RunTask):
                self._run(instruction)
            elif isinstance(instruction, DropTask | KillTask):
                ticket = self._ticket_of(instruction.key)
                if ticket is not None and isinstance(instruction, DropTask):
                    ticket._drop(instruction.key)
                elif ticket is not None:
                    ticket._kill(instruction.key)
            elif isinstance(instruction, LoadChunk):
                self._load(instruction)
            elif isinstance(instruction, ReleaseChunk):
                self._release(instruction)
            elif isinstance(instruction, BootQuery):
                self.counters["boots"] += 1
                log.info(
                    "query %d moved from lane %s to %s: over the lane's time budget",
                    instruction.query_id,
                    instruction.from_lane,
                    instruction.to_lane,
                )

    def _ticket_of(self, key: int) -> StreamTicket | None:
        return self._by_key.get(key)

    def _run(self, run: RunTask) -> None:
        ticket = self._ticket_of(run.key)
        if ticket is None:  # cannot happen: a closed stream's tasks are dropped first
            log.warning("task %d granted without a stream", run.key)
            self._feed(TaskFinished(run.key, False, self.now(), "orphan"))
            return
        segments = ticket._segments.get(run.key, ())
        loading = {self._loading[name] for name in segments if name in self._loading}
        if not loading:
            ticket._grant(run.key, run.lane)
            return

        async def grant_when_loaded() -> None:
            await asyncio.wait(loading)
            ticket._grant(run.key, run.lane)

        self._spawn(grant_when_loaded())

    def _load(self, load: LoadChunk) -> None:
        self.counters["loads"] += 1
        task = self._spawn(asyncio.to_thread(self.files.load, load.segments))
        for name in load.segments:
            self._loading[name] = task

        def loaded(done: asyncio.Task[int]) -> None:
            for name in load.segments:
                if self._loading.get(name) is done:
                    del self._loading[name]
            if not done.cancelled() and done.exception() is None:
                self.counters["loaded_bytes"] += done.result()

        task.add_done_callback(loaded)

    def _release(self, release: ReleaseChunk) -> None:
        task = self._spawn(asyncio.to_thread(self.files.release, release.segments))

        def released(done: asyncio.Task[int]) -> None:
            if not done.cancelled() and done.exception() is None:
                self.counters["released_bytes"] += done.result()

        task.add_done_callback(released)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._tick_seconds)
            if self._state.tasks:
                self._feed(Tick(self.now(), "tick"))

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(coro)
        self._owned.add(task)
        task.add_done_callback(self._owned.discard)
        task.add_done_callback(_retrieve)
        return task


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("scheduler task failed: %r", task.exception())

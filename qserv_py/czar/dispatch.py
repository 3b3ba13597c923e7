"""Run one query's chunk tasks on the workers and deliver their rows as they arrive.

Each chunk goes to a worker holding a replica; concurrency per worker is bounded by its
channels. A task that fails with a retryable error before any of its rows were delivered is
retried on the next replica; with none left, the query fails with the worker's error. Closing
the iterator (LIMIT satisfied, client gone, KILL) cancels every task, which aborts their
channels, which makes the workers kill their MariaDB statements.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qserv_py.czar.workers import WorkerChannels
from qserv_py.results.codec import Schema, decode_rows, decode_schema
from qserv_py.results.text_rows import Converter, TextRows, value_converters
from qserv_py.rpc.errors import RpcError

MAX_ATTEMPTS = 3
QUEUE_BATCHES = 8  # batches buffered between the tasks and the consumer
TASKS_PER_SLOT = 1  # tasks per worker slot when chunks are grouped (chunk_tasks)
MAX_CHUNKS_PER_TASK = 32
INTERACTIVE_CHUNK_LIMIT = 10  # Qserv's interactiveChunkLimit: more chunks make a scan
DEFAULT_SCAN_RATING = 1  # qservMeta.tables.scan_rating's default (the fast lane)


@dataclass(frozen=True, slots=True)
class ChunkBatch:
    chunk_id: int
    schema: Schema
    rows: Sequence[tuple[Any, ...]]  # a TextRows batch with text=True


class DispatchError(RuntimeError):
    def __init__(self, chunk_ids: Sequence[int], error: RpcError) -> None:
        self.chunk_ids = tuple(chunk_ids)
        self.chunk_id = self.chunk_ids[0]
        self.error = error
        super().__init__(f"{self.where}: {error.message}")

    @property
    def where(self) -> str:
        """``chunk 17``, or ``chunks 17, 18, 20`` for a task that ran several."""
        ids = self.chunk_ids
        if len(ids) == 1:
            return f"chunk {ids[0]}"
        shown = ", ".join(map(str, ids[:5]))
        return f"chunks {shown}{', ...' if len(ids) > 5 else ''}"


def chunk_tasks(
    chunks: Sequence[int], replicas: Mapping[int, Sequence[str]], slots_per_worker: int
) -> list[tuple[int, ...]]:
    """The chunks grouped into tasks, each run as one statement on one worker.

    Each task costs an RPC, a MariaDB statement and a round of result framing on both sides,
    about a millisecond, whatever the chunk holds; a scan of a few hundred small chunks spent
    most of its time on that. So chunks that live on the same workers are grouped: enough
    tasks per worker to keep each of its slots busy (``TASKS_PER_SLOT``), at most
    ``MAX_CHUNKS_PER_TASK`` chunks each. A query touching few chunks keeps one task per chunk.
    (Measured on the 1M-object demo, 2 workers on 2 cores: one task per chunk 198 ms, 8 tasks
    per worker 80 ms, 4 tasks 73 ms, 1 task 70 ms: fewer concurrent scans contend less.)
    Chunks are dealt out in turn (task i gets chunks i, i + n, i + 2n, ... of its group), not
    in runs: a worker's shared-scan convoy goes through chunks in order, so consecutive chunks
    must sit in different tasks to run side by side (in runs, the convoy met one task's chunks
    four at a time and ran them one after the other: 203 ms for the 1M-object scan, 85 ms
    interleaved). Chunks keep their order inside a task.
    """
    groups: dict[tuple[str, ...], list[int]] = {}
    for chunk in chunks:
        groups.setdefault(tuple(sorted(replicas.get(chunk, ()))), []).append(chunk)
    per_worker: Counter[str] = Counter()
    for holders, members in groups.items():
        for worker in holders:
            per_worker[worker] += len(members)
    target = max(1, slots_per_worker * TASKS_PER_SLOT)
    tasks: list[tuple[int, ...]] = []
    for holders, members in groups.items():
        busiest = max((per_worker[w] for w in holders), default=len(members))
        size = min(MAX_CHUNKS_PER_TASK, max(1, -(-busiest // target)))
        count = -(-len(members) // size)
        tasks += [tuple(members[i::count]) for i in range(count)]  # interleaved, see above
    return tasks


def _task_chunks(
    task: Sequence[int], render: Callable[[int], str], one_statement: bool
) -> list[list[Any]]:
    """The task's ``[[chunk_id, sql], ...]`` for the worker's scheduler.

    A scan that runs alone (``alone``: no other scan on the czar) gains nothing from convoys
    and pays a statement per chunk (153 ms for the 1M-object demo scan, against 70 ms as
    ``UNION ALL`` statements): its task goes as one statement under its first chunk, still
    queued in the scan lanes. Concurrent scans are sent chunk by chunk, to share reads.
    """
    if one_statement and len(task) > 1:
        return [[task[0], task_sql(task, render)]]
    return [[c, render(c)] for c in task]


def task_sql(task: Sequence[int], render: Callable[[int], str]) -> str:
    """One statement for the task's chunks: their queries joined by ``UNION ALL``.

    Each chunk's query keeps its own ORDER BY and LIMIT inside its parentheses. MariaDB streams
    a ``UNION ALL`` member by member without a temporary table (EXPLAIN shows no
    ``UNION RESULT``), and all members come from one template, so the column types and names
    are those of a single chunk's query.
    """
    if len(task) == 1:
        return render(task[0])
    return " UNION ALL ".join(f"({render(chunk)})" for chunk in task)


async def run_chunks(
    channels: WorkerChannels,
    query_id: int,
    chunks: Sequence[int],
    render: Callable[[int], str],
    replicas: Mapping[int, Sequence[str]],
    timeout: float,
    *,
    text: bool = False,
    scan_rating: int | None = None,
    interactive: bool | None = None,
    on_done: Callable[[int], None] | None = None,
    alone: bool = False,
) -> AsyncGenerator[ChunkBatch, None]:
    """Yield every chunk's rows, batch by batch, in arrival order.

    With ``text``, rows arrive as MariaDB's text-protocol packets (:class:`TextRows`), to be
    passed to the client as they are; otherwise as Python values (``decode_rows``).

    Each task carries its chunks' statements (``chunks``) for the worker's shared-scan
    scheduler (docs/shared-scans.md). A query of more than ``INTERACTIVE_CHUNK_LIMIT`` chunks
    (unless ``interactive`` says otherwise) is a scan of rating ``scan_rating`` (the highest
    scan rating of its tables in the catalog): its tasks are queued on the workers, which
    bound their concurrency, so they do not take the czar's per-worker channel slots, which
    stay free for interactive tasks.
    """
    is_scan = len(chunks) > INTERACTIVE_CHUNK_LIMIT if interactive is None else not interactive
    scan = {"rating": DEFAULT_SCAN_RATING if scan_rating is None else scan_rating}
    queue: asyncio.Queue[ChunkBatch | BaseException | None] = asyncio.Queue(QUEUE_BATCHES)
    load = dict.fromkeys(channels.workers, 0)

    async def run(task: tuple[int, ...]) -> None:
        chunk = task[0]
        holders = tuple(replicas.get(chunk, ()))  # the same for every chunk of the task
        if not holders:
            raise DispatchError(
                task, RpcError("connection", f"chunk {chunk} has no replica on any worker")
            )
        tried: Counter[str] = Counter()
        last: RpcError | None = None
        for _attempt in range(MAX_ATTEMPTS):
            # reachable first, then replicas tried least, then the least busy
            worker = min(holders, key=lambda w: (channels.is_down(w), tried[w], load.get(w, 0), w))
            tried[worker] += 1
            load[worker] = load.get(worker, 0) + 1
            delivered = False
            try:
                async with channels.channel(worker, bounded=not is_scan) as channel:
                    params: dict[str, Any] = {
                        "query_id": query_id,
                        "chunk_id": chunk,
                        "chunks": _task_chunks(task, render, is_scan and alone),
                    }
                    if is_scan:
                        params["scan"] = scan
                    if text:
                        params["format"] = "text"
                    async with channel.stream("query.run", params, timeout=timeout) as stream:
                        schema: Schema | None = None
                        convert: tuple[Converter, ...] = ()
                        async for header, body in stream:
                            if header.get("part") == "schema":
                                schema = decode_schema(body)
                                convert = value_converters(schema) if text else ()
                                continue
                            assert schema is not None, "rows before schema"
                            delivered = True
                            rows: Sequence[tuple[Any, ...]]
                            if header.get("format") == "text":
                                rows = TextRows(body, int(header["rows"]), convert)
                            else:
                                rows = decode_rows(body)
                            await queue.put(ChunkBatch(chunk, schema, rows))
                        if schema is not None and not delivered:
                            await queue.put(ChunkBatch(chunk, schema, []))
                if on_done is not None:
                    on_done(len(task))
                return
            except RpcError as exc:
                last = exc
                if delivered or not exc.retryable:
                    break
            finally:
                load[worker] -= 1
        assert last is not None
        raise DispatchError(task, last)

    async def supervise() -> None:
        try:
            async with asyncio.TaskGroup() as group:
                for task in chunk_tasks(chunks, replicas, channels.slots_per_worker):
                    group.create_task(run(task), name=f"query {query_id} chunks {task[0]}..")
        except BaseExceptionGroup as group_error:
            await queue.put(group_error.exceptions[0])
            return
        await queue.put(None)

    supervisor = asyncio.ensure_future(supervise())
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        supervisor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await supervisor

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
from qserv_py.rpc.errors import RpcError

MAX_ATTEMPTS = 3
QUEUE_BATCHES = 8  # batches buffered between the tasks and the consumer


@dataclass(frozen=True, slots=True)
class ChunkBatch:
    chunk_id: int
    schema: Schema
    rows: list[tuple[Any, ...]]


class DispatchError(RuntimeError):
    def __init__(self, chunk_id: int, error: RpcError) -> None:
        super().__init__(f"chunk {chunk_id}: {error.message}")
        self.chunk_id = chunk_id
        self.error = error


async def run_chunks(
    channels: WorkerChannels,
    query_id: int,
    chunks: Sequence[int],
    render: Callable[[int], str],
    replicas: Mapping[int, Sequence[str]],
    timeout: float,
) -> AsyncGenerator[ChunkBatch, None]:
    """Yield every chunk's rows, batch by batch, in arrival order."""
    queue: asyncio.Queue[ChunkBatch | BaseException | None] = asyncio.Queue(QUEUE_BATCHES)
    load = dict.fromkeys(channels.workers, 0)

    async def run(chunk: int) -> None:
        holders = tuple(replicas.get(chunk, ()))
        if not holders:
            raise RpcError("connection", f"chunk {chunk} has no replica on any worker")
        tried: Counter[str] = Counter()
        last: RpcError | None = None
        for _attempt in range(MAX_ATTEMPTS):
            # reachable first, then replicas tried least, then the least busy
            worker = min(holders, key=lambda w: (channels.is_down(w), tried[w], load.get(w, 0), w))
            tried[worker] += 1
            load[worker] = load.get(worker, 0) + 1
            delivered = False
            try:
                async with channels.channel(worker) as channel:
                    params = {"query_id": query_id, "chunk_id": chunk, "sql": render(chunk)}
                    async with channel.stream("query.run", params, timeout=timeout) as stream:
                        schema: Schema | None = None
                        async for header, body in stream:
                            if header.get("part") == "schema":
                                schema = decode_schema(body)
                                continue
                            assert schema is not None, "rows before schema"
                            delivered = True
                            await queue.put(ChunkBatch(chunk, schema, decode_rows(body)))
                        if schema is not None and not delivered:
                            await queue.put(ChunkBatch(chunk, schema, []))
                return
            except RpcError as exc:
                last = exc
                if delivered or not exc.retryable:
                    break
            finally:
                load[worker] -= 1
        assert last is not None
        raise DispatchError(chunk, last)

    async def supervise() -> None:
        try:
            async with asyncio.TaskGroup() as group:
                for chunk in chunks:
                    group.create_task(run(chunk), name=f"query {query_id} chunk {chunk}")
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

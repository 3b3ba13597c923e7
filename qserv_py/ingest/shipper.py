"""Buffers per-table rows and ships them to workers, one sender task per worker.

Rows for a chunk table accumulate until a piece is worth a ``LOAD DATA`` (``piece_bytes``), or
total buffered bytes pass ``max_buffered``; each worker has a bounded queue, so partitioning
(in a thread) overlaps with loading on the workers while memory stays bounded. A MariaDB error
comes back with the piece's row number, which maps to the input file and line.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qserv_py.csv_dialect import CsvDialect
from qserv_py.ingest.errors import IngestError
from qserv_py.rpc.client import RpcChannel
from qserv_py.rpc.errors import RpcError

LOAD_TIMEOUT = 600.0


@dataclass(slots=True)
class _Buffer:
    path: Path
    unit: str  # what ``lines`` counts: "line" or "row" (see TextBlock)
    parts: list[bytes] = field(default_factory=list)
    lines: list[np.ndarray] = field(default_factory=list)
    size: int = 0


@dataclass(frozen=True, slots=True)
class _Piece:
    table: str
    data: bytes
    path: Path
    lines: np.ndarray
    unit: str


class Shipper:
    def __init__(
        self,
        txn: int,
        channels: Mapping[str, RpcChannel],
        dialect: CsvDialect,
        piece_bytes: int = 4 << 20,
        max_buffered: int = 256 << 20,
        queue_depth: int = 4,
    ) -> None:
        self._txn = txn
        self._channels = channels
        self._dialect = dialect.to_wire()
        self._piece_bytes = piece_bytes
        self._max_buffered = max_buffered
        self._buffers: dict[tuple[str, tuple[str, ...]], _Buffer] = {}
        self._buffered = 0
        self._queues: dict[str, asyncio.Queue[_Piece | None]] = {
            w: asyncio.Queue(queue_depth) for w in channels
        }
        self._tasks = {
            w: asyncio.create_task(self._send_loop(w), name=f"ingest-sender-{w}") for w in channels
        }
        self._piece_ids = 0
        self.rows_loaded = 0

    async def add(
        self,
        table: str,
        workers: tuple[str, ...],
        data: bytes,
        path: Path,
        lines: np.ndarray,
        unit: str = "line",
    ) -> None:
        key = (table, workers)
        buffer = self._buffers.get(key)
        if buffer is None or buffer.path != path:
            if buffer is not None:
                await self._flush(key)
            buffer = self._buffers[key] = _Buffer(path, unit)
        buffer.parts.append(data)
        buffer.lines.append(lines)
        buffer.size += len(data)
        self._buffered += len(data)
        if buffer.size >= self._piece_bytes:
            await self._flush(key)
        while self._buffered > self._max_buffered and self._buffers:
            largest = max(self._buffers, key=lambda k: self._buffers[k].size)
            await self._flush(largest)

    async def _flush(self, key: tuple[str, tuple[str, ...]]) -> None:
        buffer = self._buffers.pop(key, None)
        if buffer is None or not buffer.parts:
            return
        self._buffered -= buffer.size
        piece = _Piece(
            key[0], b"".join(buffer.parts), buffer.path, np.concatenate(buffer.lines), buffer.unit
        )
        for worker in key[1]:
            await self._put(worker, piece)

    async def finish(self) -> None:
        """Flush everything and wait until every worker has loaded every piece."""
        for key in list(self._buffers):
            await self._flush(key)
        for worker in self._queues:
            await self._put(worker, None)
        await asyncio.gather(*self._tasks.values())

    async def abort(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(BaseException):
                await task

    async def _put(self, worker: str, piece: _Piece | None) -> None:
        """Queue a piece, or raise the sender's error if that worker's sender has stopped.

        Waiting on the put alone would hang forever once a failed sender stops draining.
        """
        sender = self._tasks[worker]
        put = asyncio.ensure_future(self._queues[worker].put(piece))
        try:
            await asyncio.wait({put, sender}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not put.done():
                put.cancel()
        if not put.done() or put.cancelled():
            sender.result()  # raises the sender's error
            raise IngestError(f"the sender for worker {worker} stopped unexpectedly")

    async def _send_loop(self, worker: str) -> None:
        queue = self._queues[worker]
        channel = self._channels[worker]
        while True:
            piece = await queue.get()
            if piece is None:
                return
            self._piece_ids += 1
            params = {
                "txn": self._txn,
                "table": piece.table,
                "dialect": self._dialect,
                "piece": self._piece_ids,
            }
            try:
                result, _ = await channel.call(
                    "ingest.load", params, piece.data, timeout=LOAD_TIMEOUT
                )
            except RpcError as exc:
                raise _explain(worker, piece, exc) from exc
            self.rows_loaded += int(result.get("rows", 0))


def _explain(worker: str, piece: _Piece, exc: RpcError) -> IngestError:
    row = exc.details.get("row")
    if exc.code == "load" and isinstance(row, int) and 1 <= row <= piece.lines.size:
        return IngestError(
            f"rejected by MariaDB while loading {piece.table}: {exc.message}",
            path=piece.path,
            line=int(piece.lines[row - 1]),
            unit=piece.unit,
        )
    if exc.code == "load":
        return IngestError(
            f"rejected by MariaDB while loading {piece.table}: {exc.message}", path=piece.path
        )
    return IngestError(f"worker {worker} failed while loading {piece.table}: {exc}")

"""One ``query.run`` stream as the shared-scan scheduler runs it: its chunks one at a time.

The czar sends a stream's work as ``chunks: [[chunk_id, sql], ...]`` (docs/rpc.md) and, for a
scan, ``scan: {"rating": n}``. Each chunk becomes a task of the worker's scheduler
(:mod:`qserv_py.shared_scan`); the stream waits for the scheduler to grant its next task (in
convoy order, not in list order), runs that chunk's statement as its own execution (pooled
connection, kill on cancel, see query_service.py), and forwards its batches. The schema frame
goes out once, from the first chunk that runs: all chunks of a stream come from one template.

Closing the stream (czar gone, LIMIT satisfied, error) closes the running execution, whose
cleanup kills its statement, then takes the stream's other tasks out of every queue.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any, Protocol

from qserv_py.rpc.errors import RpcError
from qserv_py.shared_scan.lanes import DEFAULT_RATING
from qserv_py.shared_scan.scheduler import SharedScanScheduler

Frame = tuple[dict[str, Any], bytes]


class Execution(Protocol):
    """One chunk statement from acquire to release (query_service's ``_Execution``)."""

    def batches(self) -> AsyncGenerator[Frame, None]: ...

    def summary(self) -> dict[str, Any]: ...

    def kill(self) -> None: ...


def scan_class(params: dict[str, Any]) -> tuple[bool, int]:
    """``(interactive, rating)`` from ``query.run``'s optional ``scan`` parameter."""
    scan = params.get("scan")
    if scan is None:
        return True, DEFAULT_RATING
    try:
        return False, int(scan.get("rating", DEFAULT_RATING))
    except (AttributeError, TypeError, ValueError) as exc:
        raise RpcError("bad_request", f"query.run: bad scan parameter: {scan!r}") from exc


class ChunkStream:
    """The batches of a stream's chunks, each run when the scheduler grants it."""

    def __init__(
        self,
        scheduler: SharedScanScheduler,
        query_id: int,
        chunks: Sequence[tuple[int, str]],
        interactive: bool,
        rating: int,
        execute: Callable[[int, str], Execution],
        clock: Callable[[], float],
    ) -> None:
        self._scheduler = scheduler
        self._query_id = query_id
        self._chunks = list(chunks)
        self._interactive = interactive
        self._rating = rating
        self._execute = execute
        self._clock = clock
        self._started = clock()
        self._totals = {"rows": 0, "batches": 0, "bytes": 0}
        self._warnings: list[list[Any]] = []
        self._order: list[int] = []

    def summary(self) -> dict[str, Any]:
        return {
            "query_id": self._query_id,
            "chunk_id": self._chunks[0][0],
            "chunk_ids": self._order,  # in the order they ran
            **self._totals,
            "warnings": self._warnings,
            "elapsed_s": round(self._clock() - self._started, 6),
        }

    async def batches(self) -> AsyncGenerator[Frame, None]:
        ticket = self._scheduler.open_stream(
            self._query_id, self._chunks, self._interactive, self._rating
        )
        schema_sent = False
        try:
            while (task := await ticket.next()) is not None:
                execution = self._execute(task.chunk_id, task.sql)
                ticket.on_kill = execution.kill
                frames = execution.batches()
                ok = False
                try:
                    async for header, body in frames:
                        if header.get("part") == "schema":
                            if schema_sent:
                                continue
                            schema_sent = True
                        yield header, body
                    ok = True
                finally:
                    await frames.aclose()  # kills and releases, shielded, if cut short
                    ticket.on_kill = None
                    ticket.finished(ok)
                    self._add(task.chunk_id, execution.summary())
        finally:
            ticket.close()

    def _add(self, chunk_id: int, summary: dict[str, Any]) -> None:
        self._order.append(chunk_id)
        for name in self._totals:
            self._totals[name] += int(summary.get(name, 0))
        self._warnings += summary.get("warnings", [])

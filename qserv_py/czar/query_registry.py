"""The czar's queries: the ones running now and the last ones finished, with their progress.

Every SELECT the engine plans gets a ``QueryRecord`` here, from planning until its last row
reached the client (or it failed, or was killed). ``SHOW PROCESSLIST``,
``information_schema.processlist`` and ``information_schema.queries`` are read from it, and
``KILL`` / ``CANCEL`` find the query to stop through it. Finished records stay in memory for
``HISTORY`` queries (a bounded deque), so a user can see how a query ended.

Each record is written once when it ends, as one structured log line (``query_log``): id,
user, duration, chunks, rows and outcome, for operators' log tooling.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["HISTORY", "Client", "QueryRecord", "QueryRegistry", "Status"]

HISTORY = 1000
Status = Literal["EXECUTING", "COMPLETED", "FAILED", "ABORTED"]
query_log = logging.getLogger("qserv_py.czar.queries")


@dataclass(frozen=True, slots=True)
class Client:
    """Who sent a query: the MySQL connection id (``SHOW PROCESSLIST``'s Id) and the user."""

    connection_id: int | None
    user: str
    task: asyncio.Task[Any] | None = None
    """The task serving the client's connection: KILL and CANCEL cancel it."""


@dataclass(slots=True)
class QueryRecord:
    query_id: int
    connection_id: int | None
    user: str
    database: str | None
    sql: str
    submitted: float = field(default_factory=time.time)
    finished: float | None = None
    status: Status = "EXECUTING"
    chunks_total: int = 0
    chunks_done: int = 0
    rows: int = 0
    scan_rating: int | None = None
    """The scan rating of the tables read (the workers' shared-scan lane for a scan)."""
    error: str | None = None
    task: asyncio.Task[Any] | None = field(default=None, repr=False)
    """The task serving the query (the client connection's), cancelled by KILL/CANCEL."""
    killed: bool = False

    def chunks_finished(self, count: int) -> None:
        """Dispatch's callback: a task of ``count`` chunks delivered all its rows."""
        self.chunks_done += count

    @property
    def elapsed(self) -> float:
        return (self.finished or time.time()) - self.submitted

    @property
    def progress(self) -> str:
        """``12/153 chunks`` while it runs; what MariaDB shows in ``State`` for a query."""
        return f"{self.chunks_done}/{self.chunks_total} chunks"


class QueryRegistry:
    def __init__(self, history: int = HISTORY) -> None:
        self._ids = itertools.count(1)
        self._running: dict[int, QueryRecord] = {}
        self._finished: deque[QueryRecord] = deque(maxlen=history)

    def start(
        self,
        connection_id: int | None,
        user: str,
        database: str | None,
        sql: str,
        task: asyncio.Task[Any] | None,
    ) -> QueryRecord:
        record = QueryRecord(next(self._ids), connection_id, user, database, sql)
        record.task = task
        self._running[record.query_id] = record
        return record

    def finish(self, record: QueryRecord, status: Status, error: str | None = None) -> None:
        """Record the outcome, once: later calls (a cleanup after an error) change nothing."""
        if record.finished is not None:
            return
        record.finished = time.time()
        record.status = status
        record.error = error
        record.task = None
        self._running.pop(record.query_id, None)
        self._finished.append(record)
        query_log.info(
            json.dumps(
                {
                    "event": "query",
                    "query_id": record.query_id,
                    "user": record.user,
                    "connection_id": record.connection_id,
                    "database": record.database,
                    "status": status,
                    "seconds": round(record.elapsed, 6),
                    "chunks": record.chunks_total,
                    "chunks_done": record.chunks_done,
                    "rows": record.rows,
                    "error": error,
                    "sql": record.sql,
                },
                separators=(",", ":"),
            )
        )

    def running(self) -> list[QueryRecord]:
        return sorted(self._running.values(), key=lambda r: r.query_id)

    def all(self) -> Iterator[QueryRecord]:
        """Finished queries (oldest first, up to ``HISTORY``), then the running ones."""
        yield from self._finished
        yield from self.running()

    def on_connection(self, connection_id: int) -> QueryRecord | None:
        for record in self._running.values():
            if record.connection_id == connection_id:
                return record
        return None

    def get(self, query_id: int) -> QueryRecord | None:
        found = self._running.get(query_id)
        if found is not None:
            return found
        return next((r for r in self._finished if r.query_id == query_id), None)

    def cancel(self, record: QueryRecord) -> bool:
        """Stop a running query: its task is cancelled, which closes its dispatch (the workers
        kill their statements) and its merge connection (the temporary table goes)."""
        task = record.task
        if record.finished is not None or task is None or task.done():
            return False
        record.killed = True
        task.cancel()
        return True

"""Events :class:`~qserv_py.shared_scan.state.ScanState` accepts and instructions it returns.

Frozen, slotted values (STYLE.md 2). Every event carries the time (the state has no clock) and a
``stimulus_id`` that the state's story keeps, so one can tell how a task got where it is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChunkTask:
    """One query's work on one chunk: one SQL statement on the worker's MariaDB.

    ``stream`` is the RPC stream the task's rows go back on; a stream runs one task at a time.
    ``segments`` are the chunk tables the statement reads, with their file sizes in bytes (the
    memory manager's unit); interactive tasks leave them out.
    """

    key: int
    query_id: int
    stream: int
    chunk_id: int
    interactive: bool
    rating: int = 0
    segments: tuple[tuple[str, int], ...] = ()


# --- events


@dataclass(frozen=True, slots=True)
class TasksQueued:
    """A stream's tasks, queued together (Qserv queues a query's tasks atomically)."""

    tasks: tuple[ChunkTask, ...]
    now: float
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class TaskFinished:
    key: int
    ok: bool
    now: float
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class StreamClosed:
    """The stream ended (its tasks done, an error, or the czar went away)."""

    stream: int
    now: float
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class QueryCancelled:
    query_id: int
    now: float
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passes: lets the state move queries that overran their lane's budget."""

    now: float
    stimulus_id: str = ""


Event = TasksQueued | TaskFinished | StreamClosed | QueryCancelled | Tick


# --- instructions


@dataclass(frozen=True, slots=True)
class RunTask:
    key: int
    query_id: int
    chunk_id: int
    lane: str


@dataclass(frozen=True, slots=True)
class KillTask:
    """Stop a running task (its query or stream was cancelled)."""

    key: int
    query_id: int
    chunk_id: int


@dataclass(frozen=True, slots=True)
class DropTask:
    """A queued task left the queues without running; whoever waits for it must stop."""

    key: int
    query_id: int
    chunk_id: int


@dataclass(frozen=True, slots=True)
class LoadChunk:
    """Bring these chunk tables' files into memory (read-ahead) before tasks run on them."""

    chunk_id: int
    segments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReleaseChunk:
    """Let these chunk tables' files go from memory."""

    chunk_id: int
    segments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BootQuery:
    """A query overran its lane's budget and moved to the slowest lane (informational)."""

    query_id: int
    from_lane: str
    to_lane: str


Instruction = RunTask | KillTask | DropTask | LoadChunk | ReleaseChunk | BootQuery

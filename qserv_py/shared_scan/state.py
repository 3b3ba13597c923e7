"""The shared-scan scheduler's decisions: pure, synchronous, no I/O (STYLE.md 2).

``ScanState.handle(*events) -> list[Instruction]`` is the only way the state changes; the asyncio
shell (``scheduler.py``) carries out the instructions. Time comes in with the events.

The model, after Qserv's BlendScheduler and ScanScheduler (reference/qserv-behaviour.md 4.2):

- A task is one query's statement on one chunk. A *stream* (one ``query.run`` RPC) holds one or
  more tasks of one query and runs them one at a time, so its rows go back in order.
- **Interactive** tasks have their own queue and ``interactive_slots``: they never wait for a
  scan, whatever the scan lanes hold.
- **Scan** tasks go to the lane of their rating. Each lane keeps its tasks by chunk and a set
  of *active* chunks (at most ``max_active_chunks``). A task runs only on an active chunk, so
  every query needing chunk k reads it while k's files are in memory; a query arriving late
  joins the active chunk and later chunks, and picks up the chunks it missed when the convoy
  wraps around. When an active chunk has nothing left queued or running in the lane, it is
  dropped and the lane activates the next chunk in ascending order after the last one it
  activated (the elevator), wrapping to the lowest. A chunk is skipped only while all its
  queued tasks belong to streams busy elsewhere.
- **Memory**: activating a chunk brings its tables' files in (``LoadChunk``) if the bytes of
  the chunks in use plus its own fit ``memory_bytes``, or if nothing is in use (so one chunk
  larger than the budget still runs, as with Qserv's memman). Files stay resident, least
  recently used first out (``ReleaseChunk``), while the total exceeds the budget.
- Lanes take scan slots in priority order (fast first) after each lane with work got one, so
  the slow lanes are never starved. A query whose tasks in a lane ran longer in total than
  the lane's ``max_query_seconds`` moves to the slowest lane (``BootQuery``), running task
  included, so it no longer holds the lane's active chunks.
- **Cancel**: a closed stream or cancelled query leaves every queue (``DropTask``) and its
  running task is stopped (``KillTask``); it counts until the shell reports it finished.
- The ``fifo`` policy, the benchmark's baseline, runs every task in arrival order with
  ``scan_slots``, under the same memory accounting (a page cache of ``memory_bytes``).

Task states move ``queued -> running -> done | failed | cancelled`` or ``queued ->
cancelled`` through ``_TRANSITIONS``; anything else raises :class:`InvalidTransition`.
"""

from __future__ import annotations

import bisect
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Literal

from qserv_py.shared_scan.events import (
    BootQuery,
    ChunkTask,
    DropTask,
    Event,
    Instruction,
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
from qserv_py.shared_scan.lanes import Lane, SchedulerConfig

TaskState = Literal["queued", "running", "done", "failed", "cancelled"]
INTERACTIVE = "interactive"
FIFO = "fifo"
STORY_LENGTH = 10_000

_TRANSITIONS: dict[tuple[TaskState, TaskState], str] = {
    ("queued", "running"): "start",
    ("queued", "cancelled"): "drop",
    ("running", "done"): "finish",
    ("running", "failed"): "finish",
    ("running", "cancelled"): "finish",
}


class InvalidTransition(RuntimeError):
    pass


class InvalidState(AssertionError):
    pass


@dataclass(slots=True)
class _Task:
    spec: ChunkTask
    lane: str  # INTERACTIVE, FIFO or a scan lane's name
    state: TaskState = "queued"
    started: float | None = None
    killed: bool = False


@dataclass(slots=True)
class _Stream:
    query_id: int
    queued: dict[int, None] = field(default_factory=dict)  # keys, in queue order
    running: int | None = None
    closed: bool = False


@dataclass(slots=True)
class _Lane:
    lane: Lane
    queued: dict[int, dict[int, None]] = field(default_factory=dict)  # chunk -> keys
    order: list[int] = field(default_factory=list)  # chunks with queued tasks, ascending
    active: dict[int, None] = field(default_factory=dict)  # in activation order
    running: Counter[int] = field(default_factory=Counter)  # chunk -> running tasks
    segments: dict[int, dict[str, int]] = field(default_factory=dict)  # chunk -> tables
    cursor: int | None = None  # the chunk activated last

    def add(self, task: ChunkTask) -> None:
        chunk = task.chunk_id
        if chunk not in self.queued:
            self.queued[chunk] = {}
            bisect.insort(self.order, chunk)
        self.queued[chunk][task.key] = None
        self.segments.setdefault(chunk, {}).update(task.segments)

    def remove(self, task: ChunkTask) -> None:
        keys = self.queued[task.chunk_id]
        del keys[task.key]
        if not keys:
            del self.queued[task.chunk_id]
            self.order.pop(bisect.bisect_left(self.order, task.chunk_id))
            if task.chunk_id not in self.active and not self.running[task.chunk_id]:
                self.segments.pop(task.chunk_id, None)

    def drained(self, chunk: int) -> bool:
        return chunk not in self.queued and not self.running[chunk]


class ScanState:
    """Every queued and running task of one worker, and the decisions on them."""

    def __init__(self, config: SchedulerConfig) -> None:
        self.config = config
        self.tasks: dict[int, _Task] = {}
        self.streams: dict[int, _Stream] = {}
        self.lanes: dict[str, _Lane] = {lane.name: _Lane(lane) for lane in config.lanes}
        self.interactive: dict[int, None] = {}
        self.fifo: dict[int, None] = {}
        self.interactive_running = 0
        self.scan_running = 0
        self.resident: OrderedDict[str, int] = OrderedDict()  # least recently used first
        self.segment_chunk: dict[str, int] = {}
        self.spent: dict[tuple[int, str], float] = {}  # (query, lane) -> task seconds
        self.live: Counter[int] = Counter()  # query -> tasks queued or running
        self.booted: set[int] = set()
        self.story: deque[tuple[str, int, int, str, str, float]] = deque(maxlen=STORY_LENGTH)

    # --- the one entry point

    def handle(self, *events: Event) -> list[Instruction]:
        out: list[Instruction] = []
        for event in events:
            now = event.now
            if isinstance(event, TasksQueued):
                for task in event.tasks:
                    self._queue(task, event.stimulus_id, now)
            elif isinstance(event, TaskFinished):
                self._finished(event.key, event.ok, event.stimulus_id, now)
            elif isinstance(event, StreamClosed):
                self._close_stream(event.stream, event.stimulus_id, now, out)
            elif isinstance(event, QueryCancelled):
                for stream_id, stream in list(self.streams.items()):
                    if stream.query_id == event.query_id:
                        self._close_stream(stream_id, event.stimulus_id, now, out)
            else:
                assert isinstance(event, Tick)
                self._boot_overrunning(event.stimulus_id, now, out)
            self._schedule(event.stimulus_id, now, out)
        return out

    # --- events

    def _queue(self, spec: ChunkTask, stimulus: str, now: float) -> None:
        if spec.key in self.tasks:
            raise InvalidTransition(f"task {spec.key} queued twice")
        if self.config.policy == "fifo":
            lane = FIFO
            self.fifo[spec.key] = None
        elif spec.interactive:
            lane = INTERACTIVE
            self.interactive[spec.key] = None
        else:
            chosen = self.config.lane_for(spec.rating)
            if spec.query_id in self.booted:
                chosen = self.config.slowest
            lane = chosen.name
            self.lanes[lane].add(spec)
        self.tasks[spec.key] = _Task(spec, lane)
        stream = self.streams.setdefault(spec.stream, _Stream(spec.query_id))
        stream.queued[spec.key] = None
        self.live[spec.query_id] += 1
        for name, _size in spec.segments:
            self.segment_chunk[name] = spec.chunk_id
        self.story.append((stimulus, spec.key, spec.chunk_id, "new", "queued", now))

    def _finished(self, key: int, ok: bool, stimulus: str, now: float) -> None:
        task = self.tasks.get(key)
        if task is None or task.state != "running":
            state = task.state if task else "forgotten"
            raise InvalidTransition(f"task {key} finished while {state}: {self.explain(key)}")
        spec = task.spec
        self._transition(
            task, "cancelled" if task.killed else ("done" if ok else "failed"), stimulus, now
        )
        stream = self.streams[spec.stream]
        stream.running = None
        if task.lane == INTERACTIVE:
            self.interactive_running -= 1
        else:
            self.scan_running -= 1
        if task.lane in self.lanes:
            self.lanes[task.lane].running[spec.chunk_id] -= 1
            spent_key = (spec.query_id, task.lane)
            self.spent[spent_key] = self.spent.get(spent_key, 0.0) + _elapsed(task, now)
        self._forget(task)
        if stream.closed and not stream.queued:
            del self.streams[spec.stream]

    def _close_stream(
        self, stream_id: int, stimulus: str, now: float, out: list[Instruction]
    ) -> None:
        stream = self.streams.get(stream_id)
        if stream is None:
            return
        stream.closed = True
        for key in list(stream.queued):
            task = self.tasks[key]
            self._unqueue(task)
            self._transition(task, "cancelled", stimulus, now)
            self._forget(task)
            out.append(DropTask(key, task.spec.query_id, task.spec.chunk_id))
        if stream.running is not None:
            task = self.tasks[stream.running]
            if not task.killed:
                task.killed = True
                out.append(KillTask(task.spec.key, task.spec.query_id, task.spec.chunk_id))
        else:
            del self.streams[stream_id]

    def _boot_overrunning(self, stimulus: str, now: float, out: list[Instruction]) -> None:
        slowest = self.config.slowest
        running_time: dict[tuple[int, str], float] = {}
        for task in self.tasks.values():
            if task.state == "running" and task.lane in self.lanes:
                key = (task.spec.query_id, task.lane)
                running_time[key] = running_time.get(key, 0.0) + _elapsed(task, now)
        for query_lane in sorted(set(running_time) | set(self.spent)):
            query_id, lane_name = query_lane
            limit = self.lanes[lane_name].lane.max_query_seconds
            if query_id in self.booted or lane_name == slowest.name or limit is None:
                continue
            if self.spent.get(query_lane, 0.0) + running_time.get(query_lane, 0.0) > limit:
                self._boot(query_id, lane_name, stimulus, now, out)

    def _boot(
        self, query_id: int, from_lane: str, stimulus: str, now: float, out: list[Instruction]
    ) -> None:
        slowest = self.lanes[self.config.slowest.name]
        self.booted.add(query_id)
        for task in self.tasks.values():
            spec = task.spec
            if (
                spec.query_id != query_id
                or task.lane not in self.lanes
                or task.lane == slowest.lane.name
            ):
                continue
            source = self.lanes[task.lane]
            if task.state == "queued":
                source.remove(spec)
                slowest.add(spec)
            else:  # running: it no longer holds its lane's chunk
                source.running[spec.chunk_id] -= 1
                slowest.running[spec.chunk_id] += 1
                slowest.segments.setdefault(spec.chunk_id, {}).update(spec.segments)
                slowest.active[spec.chunk_id] = None
            self.story.append(
                (stimulus, spec.key, spec.chunk_id, task.lane, slowest.lane.name, now)
            )
            task.lane = slowest.lane.name
        out.append(BootQuery(query_id, from_lane, slowest.lane.name))

    # --- scheduling

    def _schedule(self, stimulus: str, now: float, out: list[Instruction]) -> None:
        config = self.config
        if config.policy == "fifo":
            self._fill(self.fifo, config.scan_slots, stimulus, now, out)
            return
        self._fill(self.interactive, config.interactive_slots, stimulus, now, out)
        for lane in self.lanes.values():  # each lane with work gets one slot first
            if self.scan_running >= config.scan_slots:
                return
            if not sum(lane.running.values()):
                key = self._next_in_lane(lane, out)
                if key is not None:
                    self._start(self.tasks[key], stimulus, now, out)
        for lane in self.lanes.values():  # then by priority
            while self.scan_running < config.scan_slots:
                key = self._next_in_lane(lane, out)
                if key is None:
                    break
                self._start(self.tasks[key], stimulus, now, out)

    def _fill(
        self, queue: dict[int, None], slots: int, stimulus: str, now: float, out: list[Instruction]
    ) -> None:
        running = self.interactive_running if queue is self.interactive else self.scan_running
        if running >= slots:
            return
        for key in list(queue):
            task = self.tasks[key]
            if self.streams[task.spec.stream].running is None:
                self._start(task, stimulus, now, out)
                running += 1
                if running >= slots:
                    return

    def _next_in_lane(self, lane: _Lane, out: list[Instruction]) -> int | None:
        """A task that may start now in ``lane``: on an active chunk, else on the next chunk."""
        for chunk in [c for c in lane.active if lane.drained(c)]:
            del lane.active[chunk]
            lane.segments.pop(chunk, None)
        for chunk in lane.active:
            key = self._runnable(lane, chunk)
            if key is not None:
                return key
        if len(lane.active) >= lane.lane.max_active_chunks:
            return None
        chosen = self._next_chunk(lane)
        if chosen is None:
            return None
        chunk = chosen
        need = {s: b for s, b in lane.segments.get(chunk, {}).items() if s not in self.resident}
        in_use = self._segments_in_use()
        busy = sum(in_use.values())
        if (
            busy
            and busy + sum(b for s, b in need.items() if s not in in_use) > self.config.memory_bytes
        ):
            return None  # wait for memory: the convoy keeps its order
        lane.active[chunk] = None
        lane.cursor = chunk
        if need:
            self._make_resident(chunk, need, out)
        return self._runnable(lane, chunk)

    def _next_chunk(self, lane: _Lane) -> int | None:
        """The elevator: the first chunk after the cursor with a task that can run, wrapping."""
        order = lane.order
        start = 0 if lane.cursor is None else bisect.bisect_right(order, lane.cursor)
        for i in range(len(order)):
            chunk = order[(start + i) % len(order)]
            if chunk not in lane.active and self._runnable(lane, chunk) is not None:
                return chunk
        return None

    def _runnable(self, lane: _Lane, chunk: int) -> int | None:
        for key in lane.queued.get(chunk, ()):
            if self.streams[self.tasks[key].spec.stream].running is None:
                return key
        return None

    def _start(self, task: _Task, stimulus: str, now: float, out: list[Instruction]) -> None:
        spec = task.spec
        self._unqueue(task)
        self._transition(task, "running", stimulus, now)
        task.started = now
        self.streams[spec.stream].running = spec.key
        if task.lane == INTERACTIVE:
            self.interactive_running += 1
        else:
            self.scan_running += 1
        if task.lane in self.lanes:
            self.lanes[task.lane].running[spec.chunk_id] += 1
        missing = {s: b for s, b in spec.segments if s not in self.resident}
        if missing:
            self._make_resident(spec.chunk_id, missing, out)
        for name, _size in spec.segments:
            self.resident.move_to_end(name)
        out.append(RunTask(spec.key, spec.query_id, spec.chunk_id, task.lane))

    # --- memory

    def _segments_in_use(self) -> dict[str, int]:
        """Tables of running tasks and of active chunks: never let go."""
        used: dict[str, int] = {}
        for task in self.tasks.values():
            if task.state == "running":
                used.update(task.spec.segments)
        for lane in self.lanes.values():
            for chunk in lane.active:
                used.update(lane.segments.get(chunk, {}))
        return used

    def _make_resident(self, chunk: int, segments: dict[str, int], out: list[Instruction]) -> None:
        for name, size in sorted(segments.items()):
            self.resident[name] = size
        out.append(LoadChunk(chunk, tuple(sorted(segments))))
        self._evict(out)

    def _evict(self, out: list[Instruction]) -> None:
        total = sum(self.resident.values())
        if total <= self.config.memory_bytes:
            return
        in_use = self._segments_in_use()
        victims: dict[int, list[str]] = {}
        for name, size in list(self.resident.items()):
            if total <= self.config.memory_bytes:
                break
            if name in in_use:
                continue
            del self.resident[name]
            total -= size
            victims.setdefault(self.segment_chunk.get(name, -1), []).append(name)
        for chunk, names in victims.items():
            out.append(ReleaseChunk(chunk, tuple(names)))

    # --- bookkeeping

    def _unqueue(self, task: _Task) -> None:
        spec = task.spec
        if task.lane == INTERACTIVE:
            del self.interactive[spec.key]
        elif task.lane == FIFO:
            del self.fifo[spec.key]
        else:
            self.lanes[task.lane].remove(spec)
        del self.streams[spec.stream].queued[spec.key]

    def _forget(self, task: _Task) -> None:
        query_id = task.spec.query_id
        del self.tasks[task.spec.key]
        self.live[query_id] -= 1
        if self.live[query_id] <= 0:
            del self.live[query_id]
            self.booted.discard(query_id)
            for lane in self.lanes:
                self.spent.pop((query_id, lane), None)

    def _transition(self, task: _Task, finish: TaskState, stimulus: str, now: float) -> None:
        if (task.state, finish) not in _TRANSITIONS:
            raise InvalidTransition(
                f"task {task.spec.key}: {task.state} -> {finish}: {self.explain(task.spec.key)}"
            )
        self.story.append((stimulus, task.spec.key, task.spec.chunk_id, task.state, finish, now))
        task.state = finish

    def explain(self, key: int) -> list[tuple[str, int, int, str, str, float]]:
        """The story of one task: (stimulus_id, key, chunk, from, to, time) lines."""
        return [line for line in self.story if line[1] == key]

    # --- inspection

    def status(self) -> dict[str, Any]:
        lanes = {
            name: {
                "queued": sum(len(k) for k in lane.queued.values()),
                "running": sum(lane.running.values()),
                "active_chunks": list(lane.active),
            }
            for name, lane in self.lanes.items()
        }
        return {
            "policy": self.config.policy,
            "interactive": {"queued": len(self.interactive), "running": self.interactive_running},
            "fifo": {"queued": len(self.fifo)},
            "scan_running": self.scan_running,
            "lanes": lanes,
            "resident_bytes": sum(self.resident.values()),
            "memory_bytes": self.config.memory_bytes,
            "booted": sorted(self.booted),
        }

    def validate(self) -> None:
        """Raise :class:`InvalidState` if the bookkeeping disagrees with itself."""
        queued_in: Counter[int] = Counter()
        for key in list(self.interactive) + list(self.fifo):
            queued_in[key] += 1
        for lane in self.lanes.values():
            if lane.order != sorted(lane.queued) or any(not k for k in lane.queued.values()):
                raise InvalidState(f"lane {lane.lane.name}: order {lane.order} != queued chunks")
            for chunk, keys in lane.queued.items():
                for key in keys:
                    queued_in[key] += 1
                    if (
                        self.tasks[key].spec.chunk_id != chunk
                        or self.tasks[key].lane != lane.lane.name
                    ):
                        raise InvalidState(f"task {key} queued in the wrong place")
        running = Counter(
            t.lane == INTERACTIVE for t in self.tasks.values() if t.state == "running"
        )
        if running[True] != self.interactive_running or running[False] != self.scan_running:
            raise InvalidState(
                f"running counts {dict(running)} vs {self.interactive_running}, {self.scan_running}"
            )
        for key, task in self.tasks.items():
            stream = self.streams.get(task.spec.stream)
            if stream is None:
                raise InvalidState(f"task {key} has no stream")
            if task.state == "queued" and (queued_in[key] != 1 or key not in stream.queued):
                raise InvalidState(f"queued task {key} is in {queued_in[key]} queues")
            if task.state == "running" and stream.running != key:
                raise InvalidState(f"running task {key} is not its stream's")
            if task.state not in ("queued", "running"):
                raise InvalidState(f"task {key} kept while {task.state}")
        for lane in self.lanes.values():
            counted = Counter(
                t.spec.chunk_id
                for t in self.tasks.values()
                if t.state == "running" and t.lane == lane.lane.name
            )
            if +lane.running != counted:
                raise InvalidState(
                    f"lane {lane.lane.name} running {dict(lane.running)} != {dict(counted)}"
                )
        if (
            self.config.policy == "shared"
            and self.interactive_running > self.config.interactive_slots
        ):
            raise InvalidState("interactive slots exceeded")
        if self.scan_running > self.config.scan_slots:
            raise InvalidState("scan slots exceeded")


def _elapsed(task: _Task, now: float) -> float:
    return 0.0 if task.started is None else now - task.started

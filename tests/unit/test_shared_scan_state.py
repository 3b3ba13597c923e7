"""The shared-scan state machine: events in, instructions out (no I/O, time is an event field).

Every test's state is validated at teardown (``validate()``), as dask's ``ws`` fixture does.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator

import pytest

from qserv_py.shared_scan.events import (
    BootQuery,
    ChunkTask,
    DropTask,
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
from qserv_py.shared_scan.lanes import Lane, SchedulerConfig, default_lanes
from qserv_py.shared_scan.state import InvalidTransition, ScanState

CHUNK_BYTES = 100
MakeState = Callable[..., ScanState]


@pytest.fixture
def make_state() -> Iterator[MakeState]:
    made: list[ScanState] = []

    def make(**settings: object) -> ScanState:
        lanes = settings.pop("lanes", None)
        config = SchedulerConfig(**settings)  # type: ignore[arg-type]
        if lanes is not None:
            config = dataclasses.replace(config, lanes=lanes)  # type: ignore[arg-type]
        state = ScanState(config)
        made.append(state)
        return state

    yield make
    for state in made:
        state.validate()


_keys = itertools.count(1)


def stream_tasks(
    query: int, stream: int, chunks: list[int], *, interactive: bool = False, rating: int = 1
) -> tuple[ChunkTask, ...]:
    return tuple(
        ChunkTask(
            next(_keys),
            query,
            stream,
            chunk,
            interactive,
            rating,
            () if interactive else ((f"db/Object_{chunk}", CHUNK_BYTES),),
        )
        for chunk in chunks
    )


def runs(instructions: list[Instruction]) -> list[tuple[int, int]]:
    """(query, chunk) of the RunTask instructions, in order."""
    return [(i.query_id, i.chunk_id) for i in instructions if isinstance(i, RunTask)]


def loads(instructions: list[Instruction]) -> list[int]:
    return [i.chunk_id for i in instructions if isinstance(i, LoadChunk)]


def finish(state: ScanState, query: int, chunk: int, now: float = 1.0) -> list[Instruction]:
    (key,) = [
        k
        for k, t in state.tasks.items()
        if t.state == "running" and t.spec.query_id == query and t.spec.chunk_id == chunk
    ]
    return state.handle(TaskFinished(key, True, now, f"done-{query}-{chunk}"))


def one_lane(max_active: int) -> tuple[Lane, ...]:
    return (Lane("fast", 0, 100, max_active, None),)


def test_a_stream_runs_its_chunks_one_at_a_time_in_chunk_order(make_state: MakeState) -> None:
    state = make_state()
    out = state.handle(TasksQueued(stream_tasks(1, 1, [5, 3, 9, 1]), 0.0))
    assert runs(out) == [(1, 1)]
    order = [1]
    for _ in range(3):
        out = finish(state, 1, order[-1])
        order += [chunk for _, chunk in runs(out)]
    assert order == [1, 3, 5, 9]
    finish(state, 1, 9)
    assert not state.tasks


def test_queries_on_the_same_chunk_run_together_and_load_it_once(make_state: MakeState) -> None:
    state = make_state(lanes=one_lane(1))
    out = state.handle(
        TasksQueued(stream_tasks(1, 1, [1, 2, 3]), 0.0),
        TasksQueued(stream_tasks(2, 2, [1, 2, 3]), 0.0),
    )
    assert runs(out) == [(1, 1), (2, 1)]
    loaded = loads(out)
    for chunk in (1, 2):
        out = finish(state, 1, chunk)
        assert runs(out) == []  # the convoy waits for query 2 on this chunk
        out = finish(state, 2, chunk)
        assert runs(out) == [(1, chunk + 1), (2, chunk + 1)]
        loaded += loads(out)
    assert loaded == [1, 2, 3]


def test_a_late_query_joins_the_running_convoy_and_wraps_around(make_state: MakeState) -> None:
    state = make_state(lanes=one_lane(1))
    state.handle(TasksQueued(stream_tasks(1, 1, [1, 2, 3, 4]), 0.0))
    finish(state, 1, 1)
    finish(state, 1, 2)  # query 1 now runs on chunk 3
    out = state.handle(TasksQueued(stream_tasks(2, 2, [1, 2, 3, 4]), 2.0))
    assert runs(out) == [(2, 3)]  # joins chunk 3, not chunk 1
    order = [(2, 3)]
    out = finish(state, 1, 3)
    order += runs(out)
    out = finish(state, 2, 3)
    order += runs(out)
    assert order == [(2, 3), (1, 4), (2, 4)]
    finish(state, 1, 4)
    out = finish(state, 2, 4)
    assert runs(out) == [(2, 1)]  # wrapped around
    out = finish(state, 2, 1)
    assert runs(out) == [(2, 2)]
    finish(state, 2, 2)


def test_interactive_tasks_never_wait_for_scans(make_state: MakeState) -> None:
    state = make_state(scan_slots=2, interactive_slots=1)
    state.handle(
        TasksQueued(stream_tasks(1, 1, [1, 2]), 0.0),
        TasksQueued(stream_tasks(1, 2, [3, 4]), 0.0),
        TasksQueued(stream_tasks(2, 3, [1, 2]), 0.0),
    )
    assert state.scan_running == 2
    out = state.handle(TasksQueued(stream_tasks(3, 4, [7], interactive=True), 0.1))
    assert runs(out) == [(3, 7)]
    assert loads(out) == []  # interactive tasks are not the memory manager's business
    # a second interactive task waits for the interactive slot only
    out = state.handle(TasksQueued(stream_tasks(4, 5, [8], interactive=True), 0.1))
    assert runs(out) == []
    out = finish(state, 3, 7)
    assert runs(out) == [(4, 8)]


def test_fifo_puts_interactive_tasks_behind_scans(make_state: MakeState) -> None:
    state = make_state(policy="fifo", scan_slots=1)
    state.handle(TasksQueued(stream_tasks(1, 1, [1, 2]), 0.0))
    out = state.handle(TasksQueued(stream_tasks(2, 2, [7], interactive=True), 0.1))
    assert runs(out) == []
    out = finish(state, 1, 1)
    assert runs(out) == [(1, 2)]  # queued before the interactive task
    out = finish(state, 1, 2)
    assert runs(out) == [(2, 7)]
    finish(state, 2, 7)


def test_each_lane_with_work_gets_a_slot_before_faster_lanes_get_more(
    make_state: MakeState,
) -> None:
    state = make_state(scan_slots=3)
    out = state.handle(
        TasksQueued(stream_tasks(1, 1, [1, 2]), 0.0),
        TasksQueued(stream_tasks(1, 2, [3, 4]), 0.0),
        TasksQueued(stream_tasks(1, 3, [5, 6]), 0.0),
        TasksQueued(stream_tasks(2, 4, [1, 2], rating=100), 0.0),
        TasksQueued(stream_tasks(3, 5, [1, 2], rating=25), 0.0),
    )
    assert {i.lane for i in out if isinstance(i, RunTask)} == {"fast"}  # slots all taken
    out = finish(state, 1, 1)
    assert [(i.lane, i.chunk_id) for i in out if isinstance(i, RunTask)] == [("slow", 1)]
    out = finish(state, 1, 3)
    assert [(i.lane, i.chunk_id) for i in out if isinstance(i, RunTask)] == [("snail", 1)]
    out = finish(state, 1, 5)
    # the elevator goes on from chunk 5
    assert [(i.lane, i.chunk_id) for i in out if isinstance(i, RunTask)] == [("fast", 6)]
    assert {name: lane.lane.max_active_chunks for name, lane in state.lanes.items()} == {
        lane.name: lane.max_active_chunks for lane in default_lanes()
    }


def test_snail_lane_keeps_one_active_chunk(make_state: MakeState) -> None:
    state = make_state(scan_slots=4)
    out = state.handle(
        TasksQueued(stream_tasks(1, 1, [1, 2], rating=50), 0.0),
        TasksQueued(stream_tasks(2, 2, [2, 1], rating=50), 0.0),
    )
    # both streams want a chunk; the snail lane has one active chunk: chunk 1 for both
    assert runs(out) == [(1, 1), (2, 1)]
    assert list(state.lanes["snail"].active) == [1]


def test_a_scan_over_its_lane_budget_moves_to_the_snail_lane(make_state: MakeState) -> None:
    lanes = (Lane("fast", 0, 10, 1, 10.0), Lane("snail", 11, 100, 1, None))
    state = make_state(lanes=lanes, scan_slots=4)
    state.handle(TasksQueued(stream_tasks(1, 1, [1, 2, 3]), 0.0))
    out = state.handle(TasksQueued(stream_tasks(2, 2, [5, 6]), 1.0))
    assert runs(out) == []  # the fast lane's one active chunk is query 1's
    assert state.handle(Tick(9.0)) == []
    out = state.handle(Tick(11.0))
    assert BootQuery(1, "fast", "snail") in out
    assert runs(out) == [(2, 5)]  # the fast lane is free again
    assert {t.lane for t in state.tasks.values() if t.spec.query_id == 1} == {"snail"}
    out = finish(state, 1, 1, 12.0)
    assert runs(out) == [(1, 2)]  # query 1 goes on, in the snail lane
    # new streams of a booted query go to the snail lane too
    state.handle(TasksQueued(stream_tasks(1, 3, [9]), 12.0))
    assert state.tasks[max(state.tasks)].lane == "snail"


def test_closing_a_stream_drops_its_queued_tasks_and_kills_the_running_one(
    make_state: MakeState,
) -> None:
    state = make_state()
    state.handle(TasksQueued(stream_tasks(1, 1, [1, 2, 3]), 0.0))
    (running,) = [k for k, t in state.tasks.items() if t.state == "running"]
    out = state.handle(StreamClosed(1, 0.5))
    assert [type(i) for i in out] == [DropTask, DropTask, KillTask]
    assert [i.chunk_id for i in out] == [2, 3, 1]
    assert state.lanes["fast"].queued == {}
    out = state.handle(TaskFinished(running, False, 0.6))
    assert runs(out) == []
    assert not state.tasks and not state.streams
    assert state.story[-1][3:5] == ("running", "cancelled")


def test_cancelling_a_query_empties_every_queue(make_state: MakeState) -> None:
    state = make_state(scan_slots=2)
    state.handle(
        TasksQueued(stream_tasks(1, 1, [1, 2, 3]), 0.0),
        TasksQueued(stream_tasks(1, 2, [4, 5], rating=30), 0.0),
        TasksQueued(stream_tasks(1, 3, [6], interactive=True), 0.0),
        TasksQueued(stream_tasks(2, 4, [1, 2, 3]), 0.0),
    )
    out = state.handle(QueryCancelled(1, 1.0))
    kills = {(i.query_id, i.chunk_id) for i in out if isinstance(i, KillTask)}
    drops = {(i.query_id, i.chunk_id) for i in out if isinstance(i, DropTask)}
    assert kills == {(1, 1), (1, 4), (1, 6)}
    assert drops == {(1, 2), (1, 3), (1, 5)}
    for chunk in (1, 4, 6):
        (key,) = [
            k for k, t in state.tasks.items() if t.spec.chunk_id == chunk and t.spec.query_id == 1
        ]
        state.handle(TaskFinished(key, False, 1.1))
    assert {t.spec.query_id for t in state.tasks.values()} == {2}
    finish(state, 2, 1)
    finish(state, 2, 2)
    finish(state, 2, 3)
    state.handle(StreamClosed(4, 2.0))
    assert not state.tasks and not state.streams


def test_memory_budget_holds_the_next_chunk_until_one_is_done(make_state: MakeState) -> None:
    state = make_state(memory_bytes=2 * CHUNK_BYTES, scan_slots=8)
    out = state.handle(
        TasksQueued(stream_tasks(1, 1, [1]), 0.0),
        TasksQueued(stream_tasks(1, 2, [2]), 0.0),
        TasksQueued(stream_tasks(1, 3, [3]), 0.0),
    )
    assert runs(out) == [(1, 1), (1, 2)]  # chunk 3 does not fit beside them
    out = finish(state, 1, 1)
    assert runs(out) == [(1, 3)]
    assert [i for i in out if isinstance(i, ReleaseChunk)] == [ReleaseChunk(1, ("db/Object_1",))]
    assert sum(state.resident.values()) <= 2 * CHUNK_BYTES


def test_a_chunk_larger_than_the_budget_still_runs_alone(make_state: MakeState) -> None:
    state = make_state(memory_bytes=CHUNK_BYTES // 2)
    out = state.handle(TasksQueued(stream_tasks(1, 1, [1, 2]), 0.0))
    assert runs(out) == [(1, 1)]
    out = finish(state, 1, 1)
    assert runs(out) == [(1, 2)]
    assert ReleaseChunk(1, ("db/Object_1",)) in out


def test_fifo_reads_each_chunk_once_per_query_shared_once_per_convoy(
    make_state: MakeState,
) -> None:
    def scan_all(state: ScanState) -> list[int]:
        queries = range(1, 5)
        loaded = loads(
            state.handle(*[TasksQueued(stream_tasks(q, q, [1, 2, 3]), 0.0) for q in queries])
        )
        while state.tasks:
            key = next(k for k, t in state.tasks.items() if t.state == "running")
            loaded += loads(state.handle(TaskFinished(key, True, 1.0)))
        return loaded

    budget = CHUNK_BYTES  # one chunk fits
    fifo = scan_all(make_state(policy="fifo", memory_bytes=budget, scan_slots=1))
    shared = scan_all(make_state(memory_bytes=budget, scan_slots=1, lanes=one_lane(1)))
    assert len(fifo) == 4 * 3
    assert sorted(shared) == [1, 2, 3]


def test_unknown_transitions_raise(make_state: MakeState) -> None:
    state = make_state(scan_slots=1)
    tasks = stream_tasks(1, 1, [1, 2])
    state.handle(TasksQueued(tasks, 0.0))
    with pytest.raises(InvalidTransition):
        state.handle(TaskFinished(tasks[1].key, True, 0.1))  # still queued
    with pytest.raises(InvalidTransition):
        state.handle(TasksQueued(tasks[:1], 0.2))  # queued twice
    finish(state, 1, 1)
    finish(state, 1, 2)
    assert [line[3:5] for line in state.explain(tasks[0].key)] == [
        ("new", "queued"),
        ("queued", "running"),
        ("running", "done"),
    ]

"""How dispatch groups chunks into tasks, and the one statement a task runs."""

from __future__ import annotations

import random

import pytest

from qserv_py.czar.dispatch import MAX_CHUNKS_PER_TASK, TASKS_PER_SLOT, chunk_tasks, task_sql


def _replicas(chunks: list[int], holders: dict[int, tuple[str, ...]]) -> dict[int, tuple[str, ...]]:
    return {c: holders.get(c, ("w0",)) for c in chunks}


def test_few_chunks_keep_one_task_each() -> None:
    chunks = [5, 9, 11]
    assert chunk_tasks(chunks, _replicas(chunks, {}), slots_per_worker=4) == [(5,), (9,), (11,)]


def test_many_chunks_fill_each_worker_slot() -> None:
    chunks = list(range(100, 260))  # 160 chunks, alternating between two workers
    replicas = {c: (f"w{c % 2}",) for c in chunks}
    tasks = chunk_tasks(chunks, replicas, slots_per_worker=4)
    per_worker = {w: [t for t in tasks if replicas[t[0]] == (w,)] for w in ("w0", "w1")}
    for worker, mine in per_worker.items():
        assert len(mine) == 4 * TASKS_PER_SLOT, worker
        assert all(replicas[c] == (worker,) for t in mine for c in t)  # one holder set per task


def test_task_size_is_capped() -> None:
    chunks = list(range(10_000))
    tasks = chunk_tasks(chunks, _replicas(chunks, {}), slots_per_worker=1)
    assert max(len(t) for t in tasks) == MAX_CHUNKS_PER_TASK


@pytest.mark.parametrize("seed", range(20))
def test_every_chunk_in_exactly_one_task_with_its_holders(seed: int) -> None:
    rng = random.Random(seed)
    workers = [f"w{i}" for i in range(rng.randint(1, 5))]
    chunks = rng.sample(range(1, 5000), rng.randint(0, 400))
    replicas = {c: tuple(rng.sample(workers, rng.randint(1, len(workers)))) for c in chunks}
    tasks = chunk_tasks(chunks, replicas, slots_per_worker=rng.randint(1, 8))
    assert sorted(c for t in tasks for c in t) == sorted(chunks)
    for task in tasks:
        assert len({tuple(sorted(replicas[c])) for c in task}) == 1  # retry on any holder works
        assert list(task) == [c for c in chunks if c in set(task)]  # order kept


def test_task_sql_joins_parenthesised_chunk_queries() -> None:
    def render(chunk: int) -> str:
        return f"SELECT x FROM T_{chunk} ORDER BY x LIMIT 3"

    assert task_sql((7,), render) == "SELECT x FROM T_7 ORDER BY x LIMIT 3"
    assert task_sql((7, 8), render) == (
        "(SELECT x FROM T_7 ORDER BY x LIMIT 3) UNION ALL (SELECT x FROM T_8 ORDER BY x LIMIT 3)"
    )


def test_a_lone_scan_sends_each_task_as_one_statement() -> None:
    from qserv_py.czar.dispatch import _task_chunks

    def render(chunk: int) -> str:
        return f"SELECT x FROM T_{chunk}"

    assert _task_chunks((7, 8), render, one_statement=False) == [
        [7, "SELECT x FROM T_7"],
        [8, "SELECT x FROM T_8"],
    ]
    assert _task_chunks((7, 8), render, one_statement=True) == [
        [7, "(SELECT x FROM T_7) UNION ALL (SELECT x FROM T_8)"]
    ]
    assert _task_chunks((7,), render, one_statement=True) == [[7, "SELECT x FROM T_7"]]

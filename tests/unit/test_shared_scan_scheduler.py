"""The scheduler's asyncio shell: streams take grants in order, and a stream that stops, even
between a grant and taking it, leaves no task behind."""

from __future__ import annotations

import asyncio

import pytest

from qserv_py.rpc.errors import RpcError
from qserv_py.shared_scan.lanes import SchedulerConfig
from qserv_py.shared_scan.scheduler import SharedScanScheduler


def _chunks(*ids: int) -> list[tuple[int, str]]:
    return [(c, f"SELECT COUNT(*) FROM `db`.`Object_{c}`") for c in ids]


def _idle(scheduler: SharedScanScheduler) -> bool:
    status = scheduler.status()
    lanes = status["lanes"].values()
    return status["scan_running"] == 0 and all(not lane["queued"] for lane in lanes)


def test_a_stream_takes_its_chunks_in_convoy_order() -> None:
    async def scenario() -> list[int]:
        scheduler = SharedScanScheduler(SchedulerConfig())
        ticket = scheduler.open_stream(1, _chunks(9, 3, 5), interactive=False, rating=1)
        order = []
        try:
            while (task := await ticket.next()) is not None:
                order.append(task.chunk_id)
                ticket.finished(True)
        finally:
            ticket.close()
        assert _idle(scheduler)
        await scheduler.close()
        return order

    assert asyncio.run(scenario()) == [3, 5, 9]


def test_a_stream_closed_before_taking_its_grant_leaves_nothing() -> None:
    async def scenario() -> None:
        scheduler = SharedScanScheduler(SchedulerConfig(scan_slots=1))
        first = scheduler.open_stream(1, _chunks(1, 2), interactive=False, rating=1)
        second = scheduler.open_stream(2, _chunks(1, 2), interactive=False, rating=1)
        assert scheduler.status()["scan_running"] == 1  # granted to the first, not yet taken
        first.close()
        task = await second.next()  # the slot went to the second stream
        assert task is not None and task.chunk_id == 1
        second.close()
        assert _idle(scheduler)
        await scheduler.close()

    asyncio.run(scenario())


def test_a_cancelled_query_wakes_its_waiting_stream() -> None:
    async def scenario() -> None:
        scheduler = SharedScanScheduler(SchedulerConfig(scan_slots=1))
        busy = scheduler.open_stream(1, _chunks(1), interactive=False, rating=1)
        waiting = scheduler.open_stream(2, _chunks(2, 3), interactive=False, rating=1)
        killed: list[bool] = []
        running = await busy.next()
        assert running is not None
        busy.on_kill = lambda: killed.append(True)
        scheduler.cancel_query(1)
        scheduler.cancel_query(2)
        assert killed == [True]
        with pytest.raises(RpcError) as error:
            await waiting.next()
        assert error.value.code == "cancelled"
        busy.finished(False)
        busy.close()
        waiting.close()
        assert _idle(scheduler)
        await scheduler.close()

    asyncio.run(scenario())

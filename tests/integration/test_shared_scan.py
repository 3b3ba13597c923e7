"""Shared scans on the local cluster: concurrent scans and interactive queries, each with the
oracle's rows, while the workers' schedulers run scans as chunk convoys under a small memory
budget; a stream closed or a query cancelled leaves no task behind; operators set scan ratings.

Nothing here asserts on time: the figures are benchmarks/bench_shared_scan.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pymysql
import pytest

from qserv_py.cluster.config import HOST
from qserv_py.cluster.local import LocalCluster
from qserv_py.rpc.client import RpcChannel
from qserv_py.rpc.errors import RpcError
from tests.cluster_support import czar_db, query
from tests.conftest import Demo
from tests.integration.test_queries import _comparable, _rows, _sums, oracle_sql
from tests.oracle import Oracle

pytestmark = pytest.mark.cluster
DB = "demo_dp02"
POLL_LIMIT = 30.0  # seconds a closed stream may take to leave the worker's queues

SCANS = [
    "SELECT COUNT(*), SUM(coord_ra), MIN(coord_dec), MAX(coord_dec) FROM Object",
    "SELECT refBand, COUNT(*), AVG(coord_dec) FROM Object GROUP BY refBand ORDER BY refBand",
    "SELECT band, COUNT(*), MAX(psfFlux) FROM ForcedSource GROUP BY band ORDER BY band",
    "SELECT COUNT(*) FROM Object WHERE refExtendedness > 0.5",
    "SELECT objectId, coord_ra FROM Object WHERE r_cModelFlux > 0 ORDER BY r_cModelFlux DESC"
    " LIMIT 7",
    "SELECT COUNT(*), SUM(psfFlux) FROM ForcedSource WHERE band = 'r'",
]
INTERACTIVE = [
    "SELECT objectId, coord_ra, coord_dec FROM Object WHERE objectId = {id}",
    "SELECT objectId, band, psfFlux FROM ForcedSource WHERE objectId = {id}",
    "SELECT objectId FROM Object WHERE qserv_areaspec_circle(62.0, -37.0, 0.2)",
]


def _rpc(cluster: LocalCluster, worker: int, method: str, **params: Any) -> dict[str, Any]:
    async def call() -> dict[str, Any]:
        port = cluster.config.workers[worker].rpc_port
        channel = await RpcChannel.connect(HOST, port, cluster.config.rpc_secret)
        try:
            result, _ = await channel.call(method, params, timeout=30)
            return dict(result)
        finally:
            await channel.close()

    return asyncio.run(call())


def _every_worker(cluster: LocalCluster, method: str, **params: Any) -> list[dict[str, Any]]:
    return [_rpc(cluster, i, method, **params) for i in range(len(cluster.config.workers))]


@pytest.fixture(scope="module")
def small_budget(cluster: LocalCluster, demo_loaded: Demo) -> Iterator[None]:
    """A memory budget far below the demo tables' size, so chunks come and go."""
    before = _rpc(cluster, 0, "scan.status")
    _every_worker(cluster, "scan.configure", memory_bytes=256 << 10, scan_slots=4)
    try:
        yield
    finally:
        _every_worker(
            cluster,
            "scan.configure",
            memory_bytes=before["memory_bytes"],
            scan_slots=before["scan_slots"],
        )


def _oracle_rows(oracle: Oracle, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    conn = oracle.connect(DB)
    try:
        return _rows(conn, oracle_sql(sql))
    finally:
        conn.close()


def _czar_rows(cluster: LocalCluster, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    conn = pymysql.connect(
        host=HOST, port=cluster.config.frontend_port, user="qsmaster", database=DB
    )
    try:
        return _rows(conn, sql)
    finally:
        conn.close()


def _same(
    sql: str, got: tuple[list[str], list[Any]], expected: tuple[list[str], list[Any]]
) -> None:
    assert got[0] == expected[0], sql
    sums = _sums(sql)
    if "ORDER BY" in sql.upper():
        assert _comparable(got[1], sums) == _comparable(expected[1], sums), sql
    else:
        assert Counter(_comparable(got[1], sums)) == Counter(_comparable(expected[1], sums)), sql


def test_scans_are_scans_and_lookups_interactive(cluster: LocalCluster, demo_loaded: Demo) -> None:
    """The demo has enough chunks for a whole-table query to be a scan (> 10 chunks)."""
    conn = czar_db(cluster)
    try:
        (count,) = query(
            conn,
            "SELECT COUNT(DISTINCT chunk_id) FROM qservMeta.chunk_rows WHERE db = %s"
            " AND row_count > 0",
            (DB,),
        )[0]
    finally:
        conn.close()
    assert count > 10


def test_concurrent_scans_and_interactive_queries_match_oracle(
    cluster: LocalCluster, oracle: Oracle, small_budget: None
) -> None:
    ids = [int(r[0]) for r in oracle.query("SELECT objectId FROM Object ORDER BY 1 LIMIT 4", DB)]
    statements = SCANS + SCANS[:3]  # the same scan twice at once, too
    statements += [q.format(id=i) for q in INTERACTIVE for i in ids]
    before = _every_worker(cluster, "scan.status")
    with ThreadPoolExecutor(max_workers=len(statements)) as pool:
        results = list(pool.map(lambda sql: _czar_rows(cluster, sql), statements))
    for sql, got in zip(statements, results, strict=True):
        _same(sql, got, _oracle_rows(oracle, sql))
    after = _every_worker(cluster, "scan.status")
    for old, new in zip(before, after, strict=True):
        assert new["loads"] > old["loads"]  # chunks were brought in for the convoys
        assert new["released_bytes"] > old["released_bytes"]  # and let go: budget is small
        assert new["scan_running"] == 0 and new["interactive"] == {"queued": 0, "running": 0}
        assert all(lane["queued"] == lane["running"] == 0 for lane in new["lanes"].values())


def _worker_chunks(cluster: LocalCluster, worker: int) -> list[int]:
    conn = czar_db(cluster)
    try:
        rows = query(
            conn,
            "SELECT chunk_id FROM qservMeta.chunk_replicas WHERE db = %s AND worker = %s"
            " ORDER BY 1",
            (DB, cluster.config.workers[worker].name),
        )
    finally:
        conn.close()
    return [int(r[0]) for r in rows]


def _scan_request(query_id: int, chunks: list[int], seconds: float) -> dict[str, Any]:
    return {
        "query_id": query_id,
        "chunk_id": chunks[0],
        "chunks": [[c, f"SELECT SLEEP({seconds}), COUNT(*) FROM {DB}.Object_{c}"] for c in chunks],
        "scan": {"rating": 1},
    }


def _wait_for(cluster: LocalCluster, check: Any) -> dict[str, Any]:
    deadline = time.monotonic() + POLL_LIMIT
    while True:
        status = _rpc(cluster, 0, "scan.status")
        if check(status) or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def _queued(status: dict[str, Any]) -> int:
    return sum(lane["queued"] for lane in status["lanes"].values())


def test_closed_stream_and_cancelled_query_leave_no_task(
    cluster: LocalCluster, demo_loaded: Demo
) -> None:
    chunks = _worker_chunks(cluster, 0)[:4]
    before = _rpc(cluster, 0, "scan.status")
    _rpc(cluster, 0, "scan.configure", scan_slots=1)

    async def scenario() -> tuple[str, str]:
        port = cluster.config.workers[0].rpc_port
        first = await RpcChannel.connect(HOST, port, cluster.config.rpc_secret)
        second = await RpcChannel.connect(HOST, port, cluster.config.rpc_secret)
        outcomes = []
        try:

            async def consume(channel: RpcChannel, request: dict[str, Any]) -> str:
                try:
                    async with channel.stream("query.run", request, timeout=120) as stream:
                        async for _ in stream:
                            pass
                    return "done"
                except RpcError as exc:
                    return exc.code

            running = asyncio.ensure_future(consume(first, _scan_request(901, chunks, 30)))
            waiting = asyncio.ensure_future(consume(second, _scan_request(902, chunks, 30)))
            status = await asyncio.to_thread(_wait_for, cluster, lambda s: _queued(s) >= 6)
            assert _queued(status) >= 6 and status["scan_running"] == 1
            waiting.cancel()  # the czar closes query 902's stream: the channel is aborted
            with contextlib.suppress(asyncio.CancelledError):
                await waiting
            status = await asyncio.to_thread(_wait_for, cluster, lambda s: _queued(s) == 3)
            assert _queued(status) == 3  # only query 901's other chunks are left
            await asyncio.to_thread(_rpc, cluster, 0, "query.cancel", query_id=901)
            outcomes.append(await asyncio.wait_for(running, POLL_LIMIT))
            status = await asyncio.to_thread(
                _wait_for, cluster, lambda s: _queued(s) == 0 and s["scan_running"] == 0
            )
            outcomes.append(f"queued={_queued(status)} running={status['scan_running']}")
        finally:
            first.abort()
            second.abort()
        return outcomes[0], outcomes[1]

    try:
        outcome, left = asyncio.run(scenario())
    finally:
        _rpc(cluster, 0, "scan.configure", scan_slots=before["scan_slots"])
    assert outcome in ("sql", "cancelled")  # killed (MariaDB 1317) while running
    assert left == "queued=0 running=0"
    processes = query_processlist(cluster)
    assert not [p for p in processes if "SLEEP(30)" in (p or "")]


def query_processlist(cluster: LocalCluster) -> list[str | None]:
    from tests.cluster_support import worker_db

    deadline = time.monotonic() + POLL_LIMIT
    conn = worker_db(cluster, cluster.config.workers[0].name)
    try:
        while True:
            infos = [r[0] for r in query(conn, "SELECT info FROM information_schema.processlist")]
            if not any("SLEEP(30)" in (i or "") for i in infos) or time.monotonic() > deadline:
                return infos
            time.sleep(0.05)
    finally:
        conn.close()


def test_operators_set_scan_ratings(cluster: LocalCluster, demo_loaded: Demo) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "qserv_py.cli",
                "scan-rating",
                "--data-dir",
                str(cluster.config.data_dir),
                *args,
            ],
            capture_output=True,
            text=True,
            check=False,
        )

    shown = cli(DB)
    assert shown.returncode == 0, shown.stderr
    assert f"{DB}.Object\t1" in shown.stdout.splitlines()
    changed = cli(f"{DB}.ForcedSource", "30")
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.splitlines() == [f"{DB}.ForcedSource\t30"]
    try:
        assert cli(f"{DB}.NoSuchTable", "30").returncode == 1
        assert cli(f"{DB}.ForcedSource", "101").returncode == 2
        conn = czar_db(cluster)
        try:
            rows = query(
                conn,
                "SELECT scan_rating FROM qservMeta.tables WHERE db = %s AND name = %s",
                (DB, "ForcedSource"),
            )
        finally:
            conn.close()
        assert rows == [(30,)]
    finally:
        cli(f"{DB}.ForcedSource", "1")

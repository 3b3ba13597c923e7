"""``up``, ``down``, ``status`` and restarts, on a cluster of its own (the session one stays up)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qserv_py.cluster.config import HOST, ClusterConfig
from qserv_py.cluster.local import LocalCluster
from qserv_py.ingest.description import read_database, read_table
from qserv_py.ingest.errors import IngestError
from qserv_py.ingest.loader import TableInput, ingest
from qserv_py.rpc.client import RpcChannel
from qserv_py.rpc.errors import RpcError
from tests.cluster_support import czar_db, free_base_port, new_cluster, query, worker_db
from tests.integration.synthetic import write_inputs

pytestmark = pytest.mark.cluster


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qserv_py.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    local = new_cluster(tmp_path_factory.mktemp("lifecycle"), num_workers=2)
    try:
        asyncio.run(local.up())
        yield local
    finally:
        asyncio.run(local.down())


def _all_pids(cluster: LocalCluster) -> list[int]:
    return [s.pid for s in asyncio.run(cluster.status()) if s.pid is not None]


def test_status_reports_every_component(own_cluster: LocalCluster) -> None:
    statuses = asyncio.run(own_cluster.status())
    assert [(s.name, s.kind) for s in statuses] == [
        ("czar-db", "mariadbd"),
        ("worker-0", "mariadbd"),
        ("worker-1", "mariadbd"),
        ("worker-0", "worker"),
        ("worker-1", "worker"),
        ("czar", "czar"),
    ]
    assert all(s.healthy and s.pid for s in statuses)
    result = _cli("status", "--data-dir", str(own_cluster.config.data_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ok:") == 6


def test_down_then_up_keeps_data(own_cluster: LocalCluster, tmp_path: Path) -> None:
    files = write_inputs(tmp_path, "restarted")
    tables = [TableInput(read_table(files["Obj.json"]), (files["Obj.csv"],))]
    asyncio.run(ingest(own_cluster.config, read_database(files["database"]), tables))
    pids = _all_pids(own_cluster)
    result = _cli("down", "--data-dir", str(own_cluster.config.data_dir))
    assert result.returncode == 0, result.stderr
    statuses = asyncio.run(own_cluster.status())
    assert not any(s.healthy or s.pid for s in statuses)
    assert not any(_alive(p) for p in pids)
    down_status = _cli("status", "--data-dir", str(own_cluster.config.data_dir))
    assert down_status.returncode == 1 and "DOWN" in down_status.stdout
    result = _cli("up", "--data-dir", str(own_cluster.config.data_dir))
    assert result.returncode == 0, result.stderr
    conn = czar_db(own_cluster)
    try:
        assert query(conn, "SELECT row_count FROM qservMeta.`tables` WHERE db = 'restarted'") == [
            (61,)
        ]
    finally:
        conn.close()
    total = 0
    for worker in own_cluster.config.workers:
        conn = worker_db(own_cluster, worker.name)
        try:
            for (name,) in query(conn, "SHOW TABLES FROM restarted LIKE 'Obj\\_%'"):
                total += query(conn, f"SELECT COUNT(*) FROM restarted.`{name}`")[0][0]
        finally:
            conn.close()
    assert total == 61


def test_up_is_idempotent_and_restarts_a_dead_worker(own_cluster: LocalCluster) -> None:
    worker = own_cluster.config.workers[1]
    process = own_cluster.worker_process(worker)
    pid = process.running_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    _wait_gone(pid)
    statuses = {(s.name, s.kind): s for s in asyncio.run(own_cluster.status())}
    assert not statuses[(worker.name, "worker")].healthy
    assert process.pid_file.exists()  # stale now
    asyncio.run(own_cluster.up())
    statuses = {(s.name, s.kind): s for s in asyncio.run(own_cluster.status())}
    assert all(s.healthy for s in statuses.values())
    assert statuses[(worker.name, "worker")].pid != pid


def test_worker_refuses_a_wrong_secret(own_cluster: LocalCluster) -> None:
    port = own_cluster.config.workers[0].rpc_port

    async def attempt() -> None:
        channel = await RpcChannel.connect(HOST, port, "not-the-cluster-secret", timeout=5)
        await channel.close()

    with pytest.raises(RpcError, match="secret"):
        asyncio.run(attempt())


def test_worker_dying_mid_ingest_leaves_nothing(own_cluster: LocalCluster, tmp_path: Path) -> None:
    files = write_inputs(tmp_path, "killed")
    tables = [
        TableInput(read_table(files["Obj.json"]), (files["Obj.csv"],)),
        TableInput(read_table(files["Src.json"]), (files["Src.csv"],)),
    ]
    victim = own_cluster.worker_process(own_cluster.config.workers[0])

    def kill_on_child_table(table: str, _rows: int, _bytes: int) -> None:
        pid = victim.running_pid()
        if table == "Src" and pid is not None:
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid)

    with pytest.raises(IngestError, match="worker-0"):
        asyncio.run(
            ingest(
                own_cluster.config,
                read_database(files["database"]),
                tables,
                progress=kill_on_child_table,
            )
        )
    asyncio.run(own_cluster.up())  # restarts the dead worker
    conn = czar_db(own_cluster)
    try:
        assert query(conn, "SELECT * FROM qservMeta.`tables` WHERE db = 'killed'") == []
        assert query(
            conn, "SELECT state FROM qservMeta.ingest_transactions WHERE db = 'killed'"
        ) == [("ABORTED",)]
    finally:
        conn.close()
    # The next run clears what the dead worker could not abort, then succeeds.
    asyncio.run(ingest(own_cluster.config, read_database(files["database"]), tables))
    for worker in own_cluster.config.workers:
        conn = worker_db(own_cluster, worker.name)
        try:
            dbs = {r[0] for r in query(conn, "SHOW DATABASES")}
        finally:
            conn.close()
        assert not any(d.startswith("qserv_txn_") for d in dbs)


def test_busy_port_fails_cleanly(tmp_path: Path) -> None:
    config = ClusterConfig.new(tmp_path / "busy", 1, base_port=free_base_port(1))
    config.save()
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind((HOST, config.workers[0].mariadb_port))
    blocker.listen()
    try:
        result = _cli("up", "--data-dir", str(config.data_dir))
    finally:
        blocker.close()
    assert result.returncode == 1
    assert str(config.workers[0].mariadb_port) in result.stderr and "in use" in result.stderr
    cluster = LocalCluster(config)
    assert not any(s.pid for s in asyncio.run(cluster.status()))
    assert not list((config.mariadb_dir).glob("*/mariadbd.pid"))
    assert not list(config.run_dir.glob("*.pid")) if config.run_dir.exists() else True


def test_up_refuses_another_shape_for_an_existing_cluster(own_cluster: LocalCluster) -> None:
    result = _cli("up", "--data-dir", str(own_cluster.config.data_dir), "--workers", "5")
    assert result.returncode == 1 and "has 2 workers" in result.stderr


def test_commands_on_a_missing_cluster_say_how_to_start_one(tmp_path: Path) -> None:
    result = _cli("status", "--data-dir", str(tmp_path / "nothing"))
    assert result.returncode == 1 and "qserv-py up" in result.stderr


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int) -> None:
    for _ in range(200):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not _alive(pid):
            return
        time.sleep(0.02)  # polling a process we just killed: there is no event to wait on
    raise AssertionError(f"process {pid} did not exit")


def test_queries_survive_a_dead_worker_with_replicas(
    own_cluster: LocalCluster, tmp_path: Path
) -> None:
    import pymysql

    files = write_inputs(tmp_path, "replicated", objects=80)
    tables = [
        TableInput(read_table(files["Obj.json"]), (files["Obj.csv"],)),
        TableInput(read_table(files["Src.json"]), (files["Src.csv"],)),
    ]
    asyncio.run(ingest(own_cluster.config, read_database(files["database"]), tables, replicas=2))

    def count() -> tuple[int, int]:
        conn = pymysql.connect(
            host="127.0.0.1",
            port=own_cluster.config.frontend_port,
            user="qsmaster",
            database="replicated",
        )
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT COUNT(*), SUM(objectId) FROM Src")
                n, total = cur.fetchone()
                return int(n), int(total)
        finally:
            conn.close()

    before = count()
    victim = own_cluster.worker_process(own_cluster.config.workers[0])
    pid = victim.running_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    _wait_gone(pid)
    try:
        assert count() == before == (243, sum(1000 + o for o in range(81)) * 3)
    finally:
        asyncio.run(own_cluster.up())

"""Through port 4040: rows reach the client while other chunks still run, and a LIMIT without
ORDER BY stops the chunks still running once enough rows went out.

One chunk is made slow with ``SLEEP`` on its rows only (the chunk with the fewest Object rows),
and the workers' own processlists show whether its statement is still running. The checks are
about order of events, observed on the servers, never about durations.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pymysql
import pymysql.cursors
import pytest

from qserv_py.cluster.local import LocalCluster
from tests.cluster_support import worker_db
from tests.conftest import Demo

pytestmark = pytest.mark.cluster
DB = "demo_dp02"
SLEEP_PER_ROW = 30  # seconds per row of the slow chunk: far longer than STOP_WITHIN
STOP_WITHIN = 10.0  # a cancelled chunk statement must be gone by then (left alone: 30 s)


@pytest.fixture(scope="module")
def slow_chunk(cluster: LocalCluster, demo_loaded: Demo) -> int:
    conn = _czar(cluster)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT chunkId, COUNT(*) AS n FROM Object GROUP BY chunkId ORDER BY n, chunkId"
            )
            rows = cur.fetchall()
        assert len(rows) > 10
        return int(rows[0][0])
    finally:
        conn.close()


@pytest.fixture()
def workers(cluster: LocalCluster) -> Iterator[list[pymysql.connections.Connection[Any]]]:
    conns = [worker_db(cluster, w.name) for w in cluster.config.workers]
    try:
        yield conns
    finally:
        for conn in conns:
            conn.close()


def _czar(cluster: LocalCluster, **extra: Any) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(
        host="127.0.0.1", port=cluster.config.frontend_port, user="qsmaster", database=DB, **extra
    )


def _sleeping(workers: list[pymysql.connections.Connection[Any]], marker: str) -> bool:
    """Whether a chunk statement carrying ``marker`` runs on any worker now."""
    for conn in workers:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST"
                " WHERE INFO LIKE %s AND INFO NOT LIKE '%%PROCESSLIST%%'",
                (f"%{marker}%",),
            )
            if cur.fetchone()[0]:  # type: ignore[index]
                return True
    return False


def _wait_until(condition: Any, what: str, deadline_s: float = STOP_WITHIN) -> None:
    end = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < end, f"gave up waiting: {what}"
        time.sleep(0.05)


def test_first_rows_arrive_while_a_chunk_still_runs(
    cluster: LocalCluster, slow_chunk: int, workers: list[pymysql.connections.Connection[Any]]
) -> None:
    marker = "qs_stream_first_rows"
    sql = (
        f"SELECT objectId, '{marker}' AS m FROM Object"
        f" WHERE chunkId <> {slow_chunk} OR SLEEP({SLEEP_PER_ROW}) = 0"
    )
    conn = _czar(cluster, cursorclass=pymysql.cursors.SSCursor)
    cur = conn.cursor()
    try:
        cur.execute(sql)
        first = cur.fetchone()
        assert first is not None and first[1] == marker
        # The slow chunk's statement runs (or is queued to run) for SLEEP_PER_ROW seconds per
        # row: seeing it sleep now proves the first row came before that chunk could end.
        _wait_until(lambda: _sleeping(workers, marker), "the slow chunk's statement to run")
    finally:
        # The client goes away mid-result (the czar then cancels the rest); PyMySQL must not
        # try to read the unfinished result from the closed connection when freeing it.
        if cur._result is not None:
            cur._result.unbuffered_active = False
        cur.connection = None
        conn.close()
    _wait_until(lambda: not _sleeping(workers, marker), "the slow chunk's statement to be killed")


def test_limit_without_order_by_stops_the_chunks_still_running(
    cluster: LocalCluster, slow_chunk: int, workers: list[pymysql.connections.Connection[Any]]
) -> None:
    marker = "qs_limit_stops"
    sql = (
        f"SELECT objectId, '{marker}' AS m FROM Object"
        f" WHERE chunkId <> {slow_chunk} OR SLEEP({SLEEP_PER_ROW}) = 0 LIMIT 25"
    )
    conn = _czar(cluster)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            rows = cur.fetchall()
        assert len(rows) == 25
        # the complete answer came back although the slow chunk could not have finished...
        _wait_until(lambda: not _sleeping(workers, marker), "the slow chunk's statement to stop")
        with conn.cursor() as cur:  # ...and the session goes on
            cur.execute("SELECT COUNT(*) FROM Object WHERE objectId < 0")
            assert cur.fetchone() == (0,)
    finally:
        conn.close()

"""SHOW PROCESSLIST, information_schema.processlist/queries, KILL and CANCEL through port 4040.

A query is kept running by one slow chunk (``SLEEP`` on the rows of the chunk with the fewest
Object rows, as in test_streaming_results.py); a second connection watches and stops it.
Checks are on observed states (the processlist, the error the client gets, the workers' own
processlists), with generous deadlines, never on durations.
"""

from __future__ import annotations

import threading
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
SLEEP_PER_ROW = 30
DEADLINE = 10.0


@pytest.fixture(scope="module")
def slow_chunk(cluster: LocalCluster, demo_loaded: Demo) -> int:
    conn = _czar(cluster)
    try:
        rows = _rows(conn, "SELECT chunkId, COUNT(*) AS n FROM Object GROUP BY chunkId ORDER BY n")
        return int(rows[0][0])
    finally:
        conn.close()


@pytest.fixture()
def watcher(cluster: LocalCluster) -> Iterator[pymysql.connections.Connection[Any]]:
    conn = _czar(cluster)
    try:
        yield conn
    finally:
        conn.close()


def _czar(cluster: LocalCluster) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(
        host="127.0.0.1", port=cluster.config.frontend_port, user="qsmaster", database=DB
    )


def _rows(conn: pymysql.connections.Connection[Any], sql: str) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


def _until(condition: Any, what: str) -> Any:
    end = time.monotonic() + DEADLINE
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < end, f"gave up waiting: {what}"
        time.sleep(0.05)


def _slow_query(slow_chunk: int, marker: str) -> str:
    return (  # the marker is in WHERE, so it reaches the workers' statements too
        f"SELECT COUNT(*) FROM Object"
        f" WHERE (chunkId <> {slow_chunk} OR SLEEP({SLEEP_PER_ROW}) = 0) AND '{marker}' <> ''"
    )


class Running:
    """A query run in a thread on its own connection; ``outcome`` is its rows or its error."""

    def __init__(self, cluster: LocalCluster, sql: str) -> None:
        self.conn = _czar(cluster)
        self.connection_id = self.conn.thread_id()
        self.outcome: Any = None
        self._thread = threading.Thread(target=self._run, args=(sql,))
        self._thread.start()

    def _run(self, sql: str) -> None:
        try:
            self.outcome = _rows(self.conn, sql)
        except pymysql.MySQLError as exc:
            self.outcome = exc

    def join(self) -> Any:
        self._thread.join(DEADLINE)
        assert not self._thread.is_alive(), "the query did not stop"
        return self.outcome

    def close(self) -> None:
        self._thread.join(SLEEP_PER_ROW * 2)
        self.conn.close()


def _workers_running(cluster: LocalCluster, marker: str) -> bool:
    for worker in cluster.config.workers:
        conn = worker_db(cluster, worker.name)
        try:
            found = _rows(
                conn,
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST"
                f" WHERE INFO LIKE '%{marker}%' AND INFO NOT LIKE '%PROCESSLIST%'",
            )[0][0]
        finally:
            conn.close()
        if found:
            return True
    return False


def _process(watcher: Any, connection_id: int) -> tuple[Any, ...] | None:
    for row in _rows(watcher, "SHOW FULL PROCESSLIST"):
        if row[0] == connection_id:
            return tuple(row)
    return None


def test_processlist_shows_a_running_query_with_its_chunk_progress(
    cluster: LocalCluster, slow_chunk: int, watcher: Any
) -> None:
    marker = "qs_mgmt_progress"
    running = Running(cluster, _slow_query(slow_chunk, marker))
    try:
        row = _until(
            lambda: (p := _process(watcher, running.connection_id)) and p[4] == "Query" and p,
            "the query in SHOW PROCESSLIST",
        )
        assert row[1] == "qsmaster" and row[3] == DB and marker in row[7]
        done, total = (int(n) for n in row[6].split()[0].split("/"))
        assert total > 1 and done < total  # the slow chunk has not finished
        queries = _rows(
            watcher,
            "SELECT query_id, status, chunks_total, query FROM information_schema.queries"
            " WHERE status = 'EXECUTING'",
        )
        assert any(marker in q[3] and q[2] == total for q in queries)
        _rows(watcher, f"KILL QUERY {running.connection_id}")
        error = running.join()
        assert isinstance(error, pymysql.MySQLError) and error.args[0] == 1317
    finally:
        running.close()


def test_kill_query_stops_the_query_and_keeps_the_connection(
    cluster: LocalCluster, slow_chunk: int, watcher: Any
) -> None:
    marker = "qs_mgmt_kill_query"
    running = Running(cluster, _slow_query(slow_chunk, marker))
    try:
        _until(lambda: _workers_running(cluster, marker), "the slow chunk to start")
        _rows(watcher, f"KILL QUERY {running.connection_id}")
        error = running.join()
        assert isinstance(error, pymysql.MySQLError), error
        assert error.args == (1317, "Query execution was interrupted")
        _until(lambda: not _workers_running(cluster, marker), "the workers' statements to go")
        assert _rows(running.conn, "SELECT COUNT(*) FROM Object WHERE objectId < 0") == [(0,)]
        ended = _rows(
            watcher,
            f"SELECT status, error FROM information_schema.queries WHERE query LIKE '%{marker}%'",
        )
        assert ended == [("ABORTED", "killed")]
    finally:
        running.close()


def test_cancel_by_query_id(cluster: LocalCluster, slow_chunk: int, watcher: Any) -> None:
    marker = "qs_mgmt_cancel"
    running = Running(cluster, _slow_query(slow_chunk, marker))
    try:
        row = _until(
            lambda: (p := _process(watcher, running.connection_id)) and p[4] == "Query" and p,
            "the query in SHOW PROCESSLIST",
        )
        query_id = _rows(
            watcher,
            f"SELECT query_id FROM information_schema.processlist WHERE id = {row[0]}",
        )[0][0]
        _rows(watcher, f"CANCEL {query_id}")
        error = running.join()
        assert isinstance(error, pymysql.MySQLError) and error.args[0] == 1317
        with pytest.raises(pymysql.MySQLError) as again:
            _rows(watcher, f"CANCEL {query_id}")
        assert again.value.args[0] == 1094 and "ABORTED" in again.value.args[1]
    finally:
        running.close()


def test_kill_connection_ends_the_connection_and_its_query(
    cluster: LocalCluster, slow_chunk: int, watcher: Any
) -> None:
    marker = "qs_mgmt_kill_conn"
    running = Running(cluster, _slow_query(slow_chunk, marker))
    try:
        _until(lambda: _workers_running(cluster, marker), "the slow chunk to start")
        _rows(watcher, f"KILL {running.connection_id}")
        error = running.join()
        assert isinstance(error, pymysql.MySQLError)  # the connection was closed under it
        _until(lambda: not _workers_running(cluster, marker), "the workers' statements to go")
        _until(
            lambda: _process(watcher, running.connection_id) is None,
            "the connection to leave the processlist",
        )
    finally:
        running.close()


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("KILL 4294967295", 1094),
        ("KILL QUERY 4294967295", 1094),
        ("CANCEL 987654321", 1094),
    ],
)
def test_unknown_ids_are_errors(sql: str, code: int, watcher: Any) -> None:
    with pytest.raises(pymysql.MySQLError) as raised:
        _rows(watcher, sql)
    assert raised.value.args[0] == code
    assert _rows(watcher, "SELECT 1") == [(1,)]  # the session goes on


def test_kill_query_while_the_client_reads_slowly(
    cluster: LocalCluster, watcher: Any, demo_loaded: Demo
) -> None:
    """The czar is blocked writing to a client that stopped reading when the KILL comes: the
    client gets the rows already sent, then 1317, and its connection still works."""
    total = _rows(watcher, "SELECT COUNT(*) FROM ForcedSource WHERE 1 = 1")[0][0]
    conn = pymysql.connect(
        host="127.0.0.1",
        port=cluster.config.frontend_port,
        user="qsmaster",
        database=DB,
        cursorclass=pymysql.cursors.SSCursor,
    )
    try:
        cur = conn.cursor()
        cur.execute("SELECT *, REPEAT('x', 200) AS pad FROM ForcedSource")
        assert cur.fetchone() is not None  # then stop reading: the czar's writes block
        time.sleep(0.5)
        _rows(watcher, f"KILL QUERY {conn.thread_id()}")
        got = 1
        with pytest.raises(pymysql.MySQLError) as raised:
            while cur.fetchone() is not None:
                got += 1
        assert raised.value.args[0] == 1317
        assert got < total
        cur.close()
        with conn.cursor() as again:
            again.execute("SELECT COUNT(*) FROM Object WHERE objectId < 0")
            assert again.fetchone() == (0,)
    finally:
        conn.close()

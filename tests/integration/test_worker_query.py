"""``query.run`` on a real worker: typed rows equal PyMySQL's, text rows are MariaDB's own bytes,
errors carry MariaDB codes, and a stream the czar stops reading kills its statement on the
worker's MariaDB."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import struct
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pymysql
import pytest

from qserv_py.cluster.config import HOST
from qserv_py.cluster.local import LocalCluster
from qserv_py.results.codec import Schema, decode_rows, decode_schema
from qserv_py.results.text_rows import TextRows, split_row, value_converters
from qserv_py.rpc.client import RpcChannel
from qserv_py.rpc.errors import RpcError
from qserv_py.rpc.framing import read_frame, write_frame
from tests.cluster_support import query, worker_db

pytestmark = pytest.mark.cluster

DB = "wq_query_test"
WORKER = 0
POLL_LIMIT = 15.0  # seconds a killed statement may take to leave SHOW PROCESSLIST
_markers = itertools.count()

TYPES_TABLE = f"""
CREATE TABLE {DB}.types (
  id INT PRIMARY KEY,
  i TINYINT, iu TINYINT UNSIGNED, s SMALLINT, m MEDIUMINT, n INT, bu BIGINT UNSIGNED, b BIGINT,
  f FLOAT, d DOUBLE, dec1 DECIMAL(65,30), dec2 DECIMAL(10,0) UNSIGNED,
  c CHAR(5), v VARCHAR(40) CHARACTER SET utf8mb4, l1 VARCHAR(10) CHARACTER SET latin1,
  vb VARBINARY(20), bl BLOB, tx TEXT CHARACTER SET utf8mb4,
  dt DATE, dtm DATETIME(6), ts TIMESTAMP NULL, tm TIME(3), y YEAR, bt BIT(10),
  e ENUM('a','b'), st SET('x','y'), j JSON, g POINT NULL
) ENGINE=MyISAM
"""
TYPES_ROWS = [
    """(1, -128, 255, -32768, 8388607, -2147483648, 18446744073709551615, -9223372036854775808,
      1.1, 1.7976931348623157e308,
      '-12345678901234567890123456789012345.123456789012345678901234567890', 4294967295,
      'ab', 'héllo ☃ 𝄞', 'café', X'00FF0001', X'000000', 'tëxt\\0nul',
      '2024-02-29', '2024-02-29 23:59:59.123456', '2024-01-01 00:00:00', '-838:59:59.5',
      2155, b'1010101010', 'b', 'x,y', '{"a": [1, 2.5, "☃"]}', ST_GeomFromText('POINT(1 2)'))""",
    "(2, " + ", ".join(["NULL"] * 27) + ")",
    """(3, 127, 0, 0, -8388608, 2147483647, 0, 9223372036854775807, -3.4e38, 5e-324,
      '0.000000000000000000000000000001', 0, '', '', '', '', '', '',
      '0000-00-00', '0000-00-00 00:00:00', NULL, '00:00:00', 1901, b'0', 'a', '', 'null', NULL)""",
    """(4, 1, 1, 1, 1, 1, 1, 1, 0.1, 0.1, 1.5, 1, 'x', 'x', 'x', 'x', 'x', 'x',
      '1000-01-01', '1000-01-01 00:00:00.000001', '2038-01-19 03:14:07', '838:59:59',
      2000, b'1111111111', NULL, 'y', '[]', NULL)""",
]

QUERIES = [
    f"SELECT * FROM {DB}.types ORDER BY id",
    f"SELECT id, d / 3, f + 0, i / 7, b DIV 3, dec1 * 2, CONCAT(v, l1), HEX(vb), LENGTH(bl),"
    f" dt + INTERVAL 1 DAY, TIMEDIFF(tm, '01:00:00'), NULL, 1.5e0, CAST(bu AS CHAR),"
    f" CAST(b AS DECIMAL(30,2)), st + 0, e + 0, bt + 0 FROM {DB}.types ORDER BY id",
    f"SELECT COUNT(*), SUM(b), AVG(d), MIN(v), MAX(dtm), SUM(dec1), STD(n), BIT_OR(iu),"
    f" GROUP_CONCAT(id ORDER BY id) FROM {DB}.types",
    f"SELECT id, SUM(n) OVER (ORDER BY id), ROW_NUMBER() OVER (ORDER BY id DESC)"
    f" FROM {DB}.types ORDER BY id",
    f"SELECT * FROM {DB}.types WHERE id > 100",
    "SELECT 1/3, 2e0/3, CAST(1 AS UNSIGNED), -0.0e0, 'a' = 'A', NOW() IS NOT NULL",
]


@pytest.fixture(scope="module")
def worker_conn(cluster: LocalCluster) -> Iterator[pymysql.connections.Connection[Any]]:
    conn = worker_db(cluster, cluster.config.workers[WORKER].name)
    try:
        query(conn, f"DROP DATABASE IF EXISTS {DB}")
        query(conn, f"CREATE DATABASE {DB}")
        query(conn, TYPES_TABLE)
        # A session without strict mode and zero-date checks, so zero dates can be stored.
        query(conn, "SET SESSION sql_mode = ''")
        query(conn, f"INSERT INTO {DB}.types VALUES " + ",".join(TYPES_ROWS))
        query(conn, "SET SESSION sql_mode = DEFAULT")  # the same mode as the worker's session
        yield conn
    finally:
        with contextlib.suppress(pymysql.MySQLError):
            query(conn, f"DROP DATABASE IF EXISTS {DB}")
        conn.close()


def _channel_args(cluster: LocalCluster) -> tuple[str, int, str]:
    return HOST, cluster.config.workers[WORKER].rpc_port, cluster.config.rpc_secret


async def _run(
    cluster: LocalCluster, sql: str, **params: Any
) -> tuple[Schema, list[tuple[Any, ...]], dict[str, Any], list[int]]:
    """Run ``sql`` through ``query.run``; the schema, the rows, the end result, body sizes.

    With ``format="text"``, the rows are the raw values of each text row (bytes or None)."""
    channel = await RpcChannel.connect(*_channel_args(cluster))
    try:
        schema, rows, sizes = None, [], []
        request = {"query_id": 7, "chunk_id": 1234, "sql": sql, **params}
        async with channel.stream("query.run", request, timeout=60) as stream:
            async for header, body in stream:
                if header["part"] == "schema":
                    schema = decode_schema(body)
                elif params.get("format") == "text":
                    assert header["format"] == "text" and schema is not None
                    text = TextRows(body, header["rows"], value_converters(schema))
                    payloads = [text[i : i + 1].data[4:] for i in range(len(text))]
                    rows.extend(tuple(split_row(p, len(schema))) for p in payloads)
                    sizes.append(len(body))
                else:
                    batch = decode_rows(body)
                    assert len(batch) == header["rows"]
                    rows.extend(batch)
                    sizes.append(len(body))
        assert schema is not None and stream.result is not None
        return schema, rows, stream.result, sizes
    finally:
        await channel.close()


def _identical(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, Decimal):
        return a.as_tuple() == b.as_tuple()
    return bool(a == b)


@pytest.mark.parametrize("sql", QUERIES)
def test_rows_equal_pymysql(
    cluster: LocalCluster, worker_conn: pymysql.connections.Connection[Any], sql: str
) -> None:
    with worker_conn.cursor() as cur:
        cur.execute(sql)
        expected = list(cur.fetchall())
        description = cur.description
    schema, rows, result, _ = asyncio.run(_run(cluster, sql))
    assert schema.names == tuple(d[0] for d in description)
    assert [c.type_code for c in schema.columns] == [d[1] for d in description]
    assert len(rows) == len(expected) == result["rows"]
    for got, want in zip(rows, expected, strict=True):
        bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want, strict=True))]
        assert all(_identical(g, w) for _, g, w in bad), [b for b in bad if not _identical(*b[1:])]


def _raw_connection(cluster: LocalCluster) -> pymysql.connections.Connection[Any]:
    """A PyMySQL connection that returns every value as the bytes MariaDB sent."""
    name = cluster.config.workers[WORKER].name
    args = cluster.mariadb(name).connect_args(cluster.config.mariadb_password)
    return pymysql.connect(**args, autocommit=True, conv={}, use_unicode=False)


@pytest.mark.parametrize("sql", QUERIES)
def test_text_rows_are_mariadbs_bytes(
    cluster: LocalCluster, worker_conn: pymysql.connections.Connection[Any], sql: str
) -> None:
    raw = _raw_connection(cluster)
    try:
        expected_raw = query(raw, sql)
    finally:
        raw.close()
    with worker_conn.cursor() as cur:
        cur.execute(sql)
        expected = list(cur.fetchall())
    schema, rows, result, _ = asyncio.run(_run(cluster, sql, format="text"))
    assert rows == expected_raw and result["rows"] == len(rows)
    # As row tuples (prepared statements, LIMIT slices), text rows give PyMySQL's values.
    convert = value_converters(schema)
    for got_raw, want in zip(rows, expected, strict=True):
        got = [None if v is None else c(v) for v, c in zip(got_raw, convert, strict=True)]
        bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want, strict=True))]
        assert all(_identical(g, w) for _, g, w in bad), [b for b in bad if not _identical(*b[1:])]


def test_text_format_batches_warnings_and_bad_format(
    cluster: LocalCluster, worker_conn: pymysql.connections.Connection[Any]
) -> None:
    sql = f"SELECT id, v FROM {DB}.types ORDER BY id"
    _, rows, result, sizes = asyncio.run(_run(cluster, sql, batch_rows=1, format="text"))
    assert [r[0] for r in rows] == [b"1", b"2", b"3", b"4"] and len(sizes) == 4
    cte = "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 5000) "
    _, rows, result, _ = asyncio.run(_run(cluster, cte + "SELECT n FROM s", format="text"))
    assert len(rows) == 1001 and rows[-1] == (b"1001",)
    assert [w[1] for w in result["warnings"]] == [1931]
    with pytest.raises(RpcError) as err:
        asyncio.run(_run(cluster, sql, format="csv"))
    assert err.value.code == "bad_request"


def test_a_million_text_rows_stream_in_bounded_batches(cluster: LocalCluster) -> None:
    sql = f"SELECT seq, seq * 1.5e0, -seq, seq / 4, NULL FROM {DB}.seq_1_to_1000000"
    _, rows, result, sizes = asyncio.run(_run(cluster, sql, format="text"))
    assert result["rows"] == len(rows) == 1_000_000
    assert rows[0] == (b"1", b"1.5", b"-1", b"0.2500", None)
    assert rows[-1] == (b"1000000", b"1500000", b"-1000000", b"250000.0000", None)
    assert sum(int(r[0]) for r in rows) == 1_000_000 * 1_000_001 // 2
    assert len(sizes) > 20 and max(sizes) < 1 << 20


def test_schema_carries_flags_charset_and_precision(
    cluster: LocalCluster, worker_conn: pymysql.connections.Connection[Any]
) -> None:
    schema, _, _, _ = asyncio.run(_run(cluster, f"SELECT * FROM {DB}.types"))
    col = {c.name: c for c in schema.columns}
    assert not col["id"].nullable and col["b"].nullable
    assert col["bu"].unsigned and not col["b"].unsigned
    assert col["dec1"].precision == 65 and col["dec1"].scale == 30
    assert col["dec2"].precision == 10 and col["dec2"].unsigned
    assert col["vb"].binary and col["bl"].binary and not col["v"].binary and not col["tx"].binary


def test_one_row_batches_and_warnings(
    cluster: LocalCluster, worker_conn: pymysql.connections.Connection[Any]
) -> None:
    sql = f"SELECT id, v FROM {DB}.types ORDER BY id"
    _, rows, result, sizes = asyncio.run(_run(cluster, sql, batch_rows=1))
    assert [r[0] for r in rows] == [1, 2, 3, 4] and len(sizes) == 4 == result["batches"]
    # MariaDB ends a recursive CTE at max_recursive_iterations with a warning, not an error.
    cte = "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 5000) "
    _, rows, result, _ = asyncio.run(_run(cluster, cte + "SELECT n FROM s"))
    assert len(rows) == 1001
    assert [w[1] for w in result["warnings"]] == [1931]


def test_a_million_rows_stream_in_bounded_batches(cluster: LocalCluster) -> None:
    sql = f"SELECT seq, seq * 1.5e0, -seq, seq / 4 FROM {DB}.seq_1_to_1000000"
    _, rows, result, sizes = asyncio.run(_run(cluster, sql))
    assert result["rows"] == len(rows) == 1_000_000
    assert rows[0] == (1, 1.5, -1, Decimal("0.2500"))
    assert rows[-1] == (1_000_000, 1_500_000.0, -1_000_000, Decimal("250000.0000"))
    assert sum(r[0] for r in rows) == 1_000_000 * 1_000_001 // 2
    assert len(sizes) > 20 and max(sizes) < 1 << 20


def _pooled_connection_id(cluster: LocalCluster) -> int:
    """The MariaDB thread of the connection the worker's pool hands out next (the pool reuses
    the connection released last, and this module runs one query at a time)."""
    asyncio.run(_until_settled(cluster))
    _, rows, _, _ = asyncio.run(_run(cluster, "SELECT CONNECTION_ID()"))
    return int(rows[0][0])


async def _call(cluster: LocalCluster, method: str) -> tuple[dict[str, Any], bytes]:
    channel = await RpcChannel.connect(*_channel_args(cluster))
    try:
        return await channel.call(method)
    finally:
        await channel.close()


async def _until_settled(cluster: LocalCluster) -> None:
    """Poll ``query.status`` until the worker runs nothing (a cancelled query's cleanup, kill
    and release included), within a bound."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + POLL_LIMIT
    while (status := (await _call(cluster, "query.status"))[0])["running"]:
        assert loop.time() < deadline, f"worker still busy: {status}"
        await asyncio.sleep(0.01)


def _marker() -> str:
    return f"wq_marker_{next(_markers)}_x"


def _statements_with(conn: pymysql.connections.Connection[Any], marker: str) -> list[Any]:
    return query(
        conn,
        "SELECT ID, INFO FROM information_schema.PROCESSLIST "
        "WHERE INFO LIKE %s AND ID <> CONNECTION_ID()",
        (f"%{marker}%",),
    )


async def _until_gone(conn: pymysql.connections.Connection[Any], marker: str) -> None:
    """Poll the worker's processlist until no statement carries ``marker`` (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + POLL_LIMIT
    delay = 0.01
    while running := _statements_with(conn, marker):
        assert loop.time() < deadline, f"statement still running: {running}"
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)


async def _until_running(conn: pymysql.connections.Connection[Any], marker: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + POLL_LIMIT
    while not _statements_with(conn, marker):
        assert loop.time() < deadline, "statement never showed up"
        await asyncio.sleep(0.01)


LONG_STREAM = f"SELECT seq, '{{m}}' FROM {DB}.seq_1_to_1000000000"
LONG_SILENCE = "SELECT SLEEP(600), '{m}'"


@pytest.mark.parametrize("result_format", ["typed", "text"])
def test_closing_the_stream_early_kills_the_statement(
    cluster: LocalCluster, worker_conn: pymysql.connections.Connection[Any], result_format: str
) -> None:
    marker = _marker()
    before = _pooled_connection_id(cluster)

    async def scenario() -> None:
        channel = await RpcChannel.connect(*_channel_args(cluster))
        try:
            request = {
                "query_id": 8,
                "chunk_id": 1,
                "sql": LONG_STREAM.format(m=marker),
                "format": result_format,
            }
            async with channel.stream("query.run", request) as stream:
                async for header, _ in stream:
                    if header["part"] == "rows":
                        break  # LIMIT satisfied
            assert channel.broken
            await _until_gone(worker_conn, marker)
        finally:
            await channel.close()

    asyncio.run(scenario())
    # The connection went back to the pool once the kill had landed, and still works.
    assert _pooled_connection_id(cluster) == before


@pytest.mark.parametrize("template", [LONG_STREAM, LONG_SILENCE], ids=["streaming", "computing"])
def test_cancelling_the_consumer_kills_the_statement(
    cluster: LocalCluster, worker_conn: pymysql.connections.Connection[Any], template: str
) -> None:
    """The czar's task is cancelled while it waits for a batch (a computing statement has sent
    nothing yet; a streaming one is held back by a full socket)."""
    marker = _marker()
    before = _pooled_connection_id(cluster)

    async def scenario() -> None:
        channel = await RpcChannel.connect(*_channel_args(cluster))

        async def consume() -> None:
            request = {"query_id": 9, "chunk_id": 1, "sql": template.format(m=marker)}
            async with channel.stream("query.run", request) as stream:
                async for _ in stream:
                    await asyncio.Event().wait()  # a czar that stops reading

        task = asyncio.ensure_future(consume())
        try:
            await _until_running(worker_conn, marker)
            status, _ = await _call(cluster, "query.status")
            assert {"query_id": 9, "chunk_id": 1} in [
                {k: r[k] for k in ("query_id", "chunk_id")} for r in status["running"]
            ]
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await channel.close()
        await _until_gone(worker_conn, marker)

    asyncio.run(scenario())
    assert _pooled_connection_id(cluster) == before


def test_the_timeout_parameter_kills_the_statement(
    cluster: LocalCluster, worker_conn: pymysql.connections.Connection[Any]
) -> None:
    marker = _marker()
    before = _pooled_connection_id(cluster)
    with pytest.raises(RpcError) as err:
        asyncio.run(_run(cluster, LONG_SILENCE.format(m=marker), timeout=0.5))
    assert err.value.code == "timeout"
    asyncio.run(_until_gone(worker_conn, marker))
    assert _pooled_connection_id(cluster) == before


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        (f"SELECT * FROM {DB}.no_such_table", 1146),
        (f"SELECT no_such_column FROM {DB}.types", 1054),
        ("SELECT FROM WHERE", 1064),
        ("SELECT * FROM no_such_db.t", 1146),
    ],
)
def test_sql_errors_carry_the_mariadb_code(
    cluster: LocalCluster, worker_conn: pymysql.connections.Connection[Any], sql: str, code: int
) -> None:
    async def scenario() -> None:
        channel = await RpcChannel.connect(*_channel_args(cluster))
        try:
            for _ in range(2):  # the same channel, twice: an error leaves it in step
                with pytest.raises(RpcError) as err:
                    request = {"query_id": 10, "chunk_id": 5, "sql": sql}
                    async with channel.stream("query.run", request) as stream:
                        async for _ in stream:
                            pass
                assert err.value.code == "sql" and not err.value.retryable
                assert err.value.details["mariadb_code"] == code
                assert err.value.details["chunk_id"] == 5
                assert not channel.broken
        finally:
            await channel.close()

    asyncio.run(scenario())


def test_only_select_statements_run(cluster: LocalCluster) -> None:
    with pytest.raises(RpcError) as err:
        asyncio.run(_run(cluster, f"DROP DATABASE {DB}"))
    assert err.value.code == "bad_request"
    with pytest.raises(RpcError) as err:
        asyncio.run(_run(cluster, "SELECT 1", batch_rows=0))
    assert err.value.code == "bad_request"


def test_a_wrong_secret_cannot_run_queries(
    cluster: LocalCluster, worker_conn: pymysql.connections.Connection[Any]
) -> None:
    host, port, _ = _channel_args(cluster)
    marker = _marker()
    sql = LONG_SILENCE.format(m=marker)

    async def scenario() -> None:
        with pytest.raises(RpcError) as err:
            await RpcChannel.connect(host, port, "not-the-cluster-secret")
        assert err.value.code == "auth"
        # A client that skips the handshake and sends the request straight away.
        reader, writer = await asyncio.open_connection(host, port)
        try:
            async with asyncio.timeout(POLL_LIMIT):
                hello, _ = await read_frame(reader)
                assert "hello" in hello
                request = {"query_id": 1, "chunk_id": 1, "sql": sql}
                await write_frame(writer, {"id": 1, "method": "query.run", "params": request})
                answer, _ = await read_frame(reader)
                assert answer["error"]["code"] == "auth"
                assert await reader.read() == b""  # and the worker hung up
        finally:
            writer.close()
            await writer.wait_closed()
        assert _statements_with(worker_conn, marker) == []

    asyncio.run(scenario())

"""The czar's MySQL front end with real clients: the mariadb CLI and PyMySQL."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from qserv_py.cluster.local import LocalCluster
from qserv_py.ingest.description import read_database, read_table
from qserv_py.ingest.loader import TableInput, ingest
from tests.integration.synthetic import write_inputs

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def frontdb(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> str:
    files = write_inputs(tmp_path_factory.mktemp("front"), "frontdb")
    tables = [
        TableInput(read_table(files["Obj.json"]), (files["Obj.csv"],)),
        TableInput(read_table(files["Src.json"]), (files["Src.csv"],)),
    ]
    asyncio.run(ingest(cluster.config, read_database(files["database"]), tables))
    return "frontdb"


def _connect(cluster: LocalCluster, **kwargs: Any) -> pymysql.connections.Connection[Any]:
    options: dict[str, Any] = {"user": "qsmaster", **kwargs}
    return pymysql.connect(host="127.0.0.1", port=cluster.config.frontend_port, **options)


@pytest.fixture
def conn(cluster: LocalCluster) -> Iterator[pymysql.connections.Connection[Any]]:
    connection = _connect(cluster)
    try:
        yield connection
    finally:
        connection.close()


def _all(conn: pymysql.connections.Connection[Any], sql: str) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


def test_mariadb_cli_browses_the_catalog(cluster: LocalCluster, frontdb: str) -> None:
    result = subprocess.run(
        [
            "mariadb",
            "-h",
            "127.0.0.1",
            "-P",
            str(cluster.config.frontend_port),
            "-u",
            "qsmaster",
            "--skip-ssl",
            "--batch",
            "-e",
            f"SELECT 1; SHOW DATABASES; USE {frontdb}; SHOW TABLES; DESCRIBE Obj;",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert frontdb in lines and "Obj" in lines and "Src" in lines
    assert any(line.startswith("objectId\tbigint(20)\tNO") for line in lines)
    assert any(line.startswith("mag\tfloat\tYES") for line in lines)


def test_pymysql_session_statements(
    conn: pymysql.connections.Connection[Any], frontdb: str
) -> None:
    conn.select_db(frontdb)
    assert _all(conn, "SELECT DATABASE()") == [(frontdb,)]
    assert "qserv-py" in _all(conn, "SELECT @@version")[0][0]
    _all(conn, "SET NAMES utf8mb4")
    conn.autocommit(True)
    tables = _all(
        conn,
        "SELECT table_name FROM information_schema.tables"
        f" WHERE table_schema = '{frontdb}' ORDER BY table_name",
    )
    assert tables == [("Obj",), ("Src",)]
    columns = _all(
        conn,
        "SELECT column_name FROM information_schema.columns"
        f" WHERE table_schema = '{frontdb}' AND table_name = 'Src' ORDER BY ordinal_position",
    )
    assert [c[0] for c in columns] == ["sourceId", "objectId", "flux", "chunkId", "subChunkId"]


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("USE no_such_db", 1049),
        ("INSERT INTO frontdb.Obj (objectId) VALUES (1)", 1290),
        ("DROP TABLE frontdb.Obj", 1290),
        ("SELEKT 1", 1064),
    ],
)
def test_errors_carry_mariadb_codes(
    conn: pymysql.connections.Connection[Any], frontdb: str, sql: str, code: int
) -> None:
    with pytest.raises(pymysql.err.MySQLError) as err:
        _all(conn, sql)
    assert err.value.args[0] == code
    assert _all(conn, "SELECT 7") == [(7,)]  # the session survives


def test_wrong_password_and_unknown_user_are_refused(cluster: LocalCluster) -> None:
    for kwargs in ({"password": "wrong"}, {"user": "nobody"}):
        with pytest.raises(pymysql.err.OperationalError) as err:
            _connect(cluster, **kwargs).close()
        assert err.value.args[0] == 1045


def test_tables_stay_readable_after_a_new_ingest(
    cluster: LocalCluster, conn: pymysql.connections.Connection[Any], tmp_path: Path
) -> None:
    files = write_inputs(tmp_path, "fresh_after_start", objects=5)
    tables = [TableInput(read_table(files["Obj.json"]), (files["Obj.csv"],))]
    asyncio.run(ingest(cluster.config, read_database(files["database"]), tables))
    conn.select_db("fresh_after_start")
    assert _all(conn, "SHOW TABLES") == [("Obj",)]


def test_mysql_connector_python(cluster: LocalCluster, frontdb: str) -> None:
    import mysql.connector

    conn = mysql.connector.connect(
        host="127.0.0.1",
        port=cluster.config.frontend_port,
        user="qsmaster",
        password="",
        database=frontdb,
        ssl_disabled=True,
    )
    try:
        cur = conn.cursor()
        cur.execute("SELECT 1 + 1 AS two")
        assert cur.fetchall() == [(2,)]
        cur.execute("SHOW TABLES")
        assert sorted(r[0] for r in cur.fetchall()) == ["Obj", "Src"]
    finally:
        conn.close()


def test_sqlalchemy_and_pandas(cluster: LocalCluster, frontdb: str) -> None:
    import pandas as pd
    import sqlalchemy as sa

    engine = sa.create_engine(
        f"mysql+pymysql://qsmaster@127.0.0.1:{cluster.config.frontend_port}/{frontdb}"
    )
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 42")).scalar() == 42
            inspector = sa.inspect(conn)
            assert frontdb in inspector.get_schema_names()
            assert sorted(inspector.get_table_names()) == ["Obj", "Src"]
            names = [c["name"] for c in inspector.get_columns("Obj")]
            assert names[:4] == ["objectId", "ra", "decl", "mag"]
        frame = pd.read_sql("SELECT 3 AS n, 'x' AS s", engine)
        assert frame.to_dict("records") == [{"n": 3, "s": "x"}]
    finally:
        engine.dispose()


def test_select_without_from_is_evaluated_by_mariadb(
    conn: pymysql.connections.Connection[Any], oracle: Any
) -> None:
    sql = "SELECT 1+1, 1/3, 0.1+0.2, CAST(3.14159265 AS FLOAT) AS f, NULL AS n, POW(2, 0.5)"
    with conn.cursor() as cur:
        cur.execute(sql)
        names = [d[0] for d in cur.description]
        got = cur.fetchall()
    reference = oracle.connect()
    try:
        with reference.cursor() as cur:
            cur.execute(sql)
            assert names == [d[0] for d in cur.description]
            assert got == cur.fetchall()
    finally:
        reference.close()


def test_select_without_from_cannot_read_files(conn: pymysql.connections.Connection[Any]) -> None:
    assert _all(conn, "SELECT LOAD_FILE('/etc/passwd')") == [(None,)]


def test_session_functions_in_table_queries_are_the_sessions(
    conn: pymysql.connections.Connection[Any], frontdb: str
) -> None:
    conn.select_db(frontdb)
    assert _all(conn, "SELECT DATABASE() AS d, COUNT(*) FROM Obj") == [(frontdb, 61)]

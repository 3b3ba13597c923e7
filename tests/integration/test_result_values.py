"""Rows of queries without a merge pass MariaDB's text through to the client unchanged: the
``mariadb`` CLI's output and PyMySQL's values equal the oracle's, for NULLs, binary strings,
FLOAT/DOUBLE/DECIMAL, dates (zero dates too), times and utf8 text; prepared statements (the
binary protocol, which converts the text rows back to values) give the oracle's values too.

Row order across chunks is arrival order, so rows are compared as multisets (CLI lines sorted).
"""

from __future__ import annotations

import subprocess
from collections import Counter
from typing import Any

import pymysql
import pytest

from qserv_py.cluster.local import LocalCluster
from tests.conftest import Demo
from tests.oracle import Oracle

pytestmark = pytest.mark.cluster

DB = "demo_dp02"

VALUES = (
    "SELECT objectId AS id, NULL AS n, IF(objectId % 3 = 0, NULL, coord_ra) AS maybe,"
    " coord_ra / 7 AS dbl, coord_ra * 1e300 AS huge, coord_dec * 1e-300 AS tiny,"
    " CAST(coord_dec AS FLOAT) AS flt, CAST(coord_ra AS DECIMAL(30,12)) AS dec1,"
    " objectId * 1.5 AS exact, -0.0e0 AS neg_zero,"
    " CAST(objectId AS BINARY) AS bin, UNHEX(CONCAT('00FF0A09', HEX(objectId % 256))) AS raw,"
    " CONCAT('héllo ☃ 𝄞 \\t', objectId) AS utf,"
    " DATE('0000-00-00') AS zero_date, CAST('0000-00-00 00:00:00' AS DATETIME) AS zero_dt,"
    " FROM_DAYS(700000 + objectId % 1000) AS day,"
    " SEC_TO_TIME(objectId % 100000 - 50000) AS tm,"
    " TIMESTAMP('2024-02-29 23:59:59.123456') AS ts"
    " FROM Object"
)
CHILD = (
    "SELECT forcedSourceId, objectId, ccdVisitId, band, psfFlux, psfFluxErr, psfFlux_flag,"
    " psfDiffFlux, psfDiffFluxErr FROM ForcedSource"
)
QUERIES = [VALUES, CHILD, f"{CHILD} WHERE objectId < 0", "SELECT * FROM CcdVisit"]


def _cli(port: int, user: str, password: str, sql: str) -> bytes:
    argv = ["mariadb", "-h", "127.0.0.1", "-P", str(port), "-u", user, "--skip-ssl", "--batch"]
    if password:
        argv.append(f"-p{password}")
    result = subprocess.run(
        [*argv, "--default-character-set=utf8mb4", DB, "-e", sql],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _header_and_sorted_lines(output: bytes) -> tuple[bytes, list[bytes]]:
    header, _, body = output.partition(b"\n")
    return header, sorted(body.split(b"\n"))


@pytest.mark.parametrize("sql", QUERIES, ids=["values", "child", "empty", "replicated"])
def test_mariadb_cli_gets_the_oracles_bytes(
    sql: str, cluster: LocalCluster, oracle: Oracle, demo_loaded: Demo
) -> None:
    ours = _cli(cluster.config.frontend_port, "qsmaster", "", sql)
    theirs = _cli(oracle.server.port, "root", "oracle-password", sql)
    assert len(ours) == len(theirs)
    assert _header_and_sorted_lines(ours) == _header_and_sorted_lines(theirs)


def _pymysql_rows(conn: pymysql.connections.Connection[Any], sql: str) -> Counter[Any]:
    with conn.cursor() as cur:
        cur.execute(sql)
        return Counter(cur.fetchall())


@pytest.mark.parametrize("sql", QUERIES[:2], ids=["values", "child"])
def test_pymysql_gets_the_oracles_values(
    sql: str, cluster: LocalCluster, oracle: Oracle, demo_loaded: Demo
) -> None:
    ours = pymysql.connect(
        host="127.0.0.1", port=cluster.config.frontend_port, user="qsmaster", database=DB
    )
    theirs = oracle.connect(DB)
    try:
        got, expected = _pymysql_rows(ours, sql), _pymysql_rows(theirs, sql)
        assert sum(got.values()) > 1000
        assert got == expected
        # no decoders: every value as the bytes the server sent
        raw = {"conv": dict(pymysql.converters.encoders), "use_unicode": False}
        ours_raw = pymysql.connect(
            host="127.0.0.1",
            port=cluster.config.frontend_port,
            user="qsmaster",
            database=DB,
            **raw,  # type: ignore[arg-type]
        )
        theirs_raw = pymysql.connect(
            **oracle.server.connect_args("oracle-password", DB),
            **raw,  # type: ignore[arg-type]
        )
        try:
            assert _pymysql_rows(ours_raw, sql) == _pymysql_rows(theirs_raw, sql)
        finally:
            ours_raw.close()
            theirs_raw.close()
    finally:
        ours.close()
        theirs.close()


def test_prepared_statements_get_the_oracles_values(
    cluster: LocalCluster, oracle: Oracle, demo_loaded: Demo
) -> None:
    import mysql.connector

    sql = (
        "SELECT objectId, coord_ra / 7, CAST(coord_ra AS DECIMAL(30,12)), NULL,"
        " CONCAT('héllo ☃ ', objectId), FROM_DAYS(700000 + objectId % 1000)"
        " FROM Object WHERE objectId > %s"
    )

    def rows(port: int, user: str, password: str) -> Counter[Any]:
        conn = mysql.connector.connect(
            host="127.0.0.1",
            port=port,
            user=user,
            password=password,
            database=DB,
            ssl_disabled=True,
        )
        try:
            cur = conn.cursor(prepared=True)
            cur.execute(sql, (0,))
            return Counter(tuple(r) for r in cur.fetchall())
        finally:
            conn.close()

    ours = rows(cluster.config.frontend_port, "qsmaster", "")
    theirs = rows(oracle.server.port, "root", "oracle-password")
    assert sum(ours.values()) > 1000
    assert ours == theirs


MERGED = [
    "SELECT band, COUNT(*) AS n FROM ForcedSource GROUP BY band ORDER BY band",
    "SELECT DISTINCT band FROM ForcedSource ORDER BY band",
    "SELECT objectId, refBand, CONCAT(refBand, '-x') AS label, CAST(objectId AS BINARY) AS bin"
    " FROM Object ORDER BY objectId LIMIT 5",
]


@pytest.mark.parametrize("sql", MERGED, ids=["group", "distinct", "order-limit"])
def test_merged_columns_have_the_oracles_types(
    sql: str, cluster: LocalCluster, oracle: Oracle, demo_loaded: Demo
) -> None:
    """A merged string column is CHAR/VARCHAR as in MariaDB (the result table keeps the
    workers' sizes), not a BLOB; values as the oracle's."""
    ours = pymysql.connect(
        host="127.0.0.1", port=cluster.config.frontend_port, user="qsmaster", database=DB
    )
    theirs = oracle.connect(DB)
    try:
        with ours.cursor() as a, theirs.cursor() as b:
            a.execute(sql)
            b.execute(sql)
            assert [d[:2] for d in a.description] == [d[:2] for d in b.description]
            assert a.fetchall() == b.fetchall()
    finally:
        ours.close()
        theirs.close()

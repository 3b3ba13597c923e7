"""Queries Qserv refuses or scans, which qserv-py supports or prunes (issue 3), against the oracle.

Each query runs through the czar (port 4040) on the demo catalog and on the same data in one
plain MariaDB; names, types and values must match:

- COUNT/SUM/AVG(DISTINCT ...) on partitioned tables, alone or mixed, with GROUP BY/HAVING;
- range comparisons on the position columns (chunk pruning must never lose a row, so the
  bounds sit exactly on rows' coordinates and on chunk edges), and ORs of areas;
- director key ranges (``objectId BETWEEN a AND b``, ``>``, ``<=`` ...) through the index;
- COUNT(*) of a whole table from the catalog's row counts;
- ORDER BY expressions that are not selected.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pymysql
import pytest

from qserv_py.cluster.local import LocalCluster
from qserv_py.demo.catalog import _STRIPE_BOUNDARY_DEC
from qserv_py.ingest.description import read_database, read_table
from qserv_py.ingest.drop import drop
from qserv_py.ingest.loader import TableInput, ingest
from qserv_py.sphgeom.chunker import Chunker
from tests.integration.synthetic import write_inputs
from tests.integration.test_queries import (  # the fixtures are shared with that module
    DB,
    _comparable,
    _rows,
    czar,  # noqa: F401
    ids,  # noqa: F401
    oracle_sql,
)
from tests.oracle import Oracle

pytestmark = pytest.mark.cluster
LONGLONG = 8  # MySQL field type of COUNT(*)


def _oracle_rows(oracle: Oracle, sql: str) -> tuple[list[str], list[tuple[Any, ...]], list[int]]:
    conn = oracle.connect(DB)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return (
                [d[0] for d in cur.description],
                list(cur.fetchall()),
                [d[1] for d in cur.description],
            )
    finally:
        conn.close()


def _czar_types(conn: Any, sql: str) -> list[int]:
    with conn.cursor() as cur:
        cur.execute(sql)
        cur.fetchall()
        return [d[1] for d in cur.description]


def _check(conn: Any, oracle: Oracle, sql: str, oracle_text: str | None = None) -> list[Any]:
    """The czar's rows equal the oracle's (in order with ORDER BY, else as multisets)."""
    names, got = _rows(conn, sql)
    expected_names, expected, _ = _oracle_rows(oracle, oracle_text or sql)
    if oracle_text is None:
        assert names == expected_names, sql
    upper = sql.upper()
    sums = "SUM(" in upper or "AVG(" in upper
    if "ORDER BY" in upper:
        assert _comparable(got, sums) == _comparable(expected, sums), sql
    else:
        assert Counter(_comparable(got, sums)) == Counter(_comparable(expected, sums)), sql
    return got


# ---------------------------------------------------------------------------------------------
# 1. DISTINCT aggregates

DISTINCT_QUERIES = [
    "SELECT COUNT(DISTINCT band) FROM ForcedSource",
    "SELECT COUNT(DISTINCT objectId), COUNT(*), COUNT(DISTINCT ccdVisitId) FROM ForcedSource",
    "SELECT band, COUNT(DISTINCT objectId) AS n, SUM(DISTINCT ccdVisitId),"
    " AVG(DISTINCT ccdVisitId), MIN(DISTINCT psfFlux), MAX(psfFlux), COUNT(*)"
    " FROM ForcedSource GROUP BY band ORDER BY band",
    "SELECT COUNT(DISTINCT objectId, band) AS pairs FROM ForcedSource",
    "SELECT COUNT(DISTINCT refBand), COUNT(DISTINCT tract, patch) FROM Object",
    "SELECT tract, COUNT(DISTINCT detect_isPrimary) AS k, COUNT(*) FROM Object"
    " GROUP BY tract HAVING COUNT(DISTINCT detect_isPrimary) > 1 ORDER BY tract",
    "SELECT SUM(DISTINCT tract), AVG(DISTINCT tract), SUM(tract) FROM Object",
    "SELECT SUM(DISTINCT coord_dec), AVG(DISTINCT coord_dec) FROM Object WHERE coord_dec < -40",
    "SELECT COUNT(DISTINCT 1), COUNT(*) FROM Object",
    "SELECT COUNT(DISTINCT 1), COUNT(DISTINCT band), SUM(DISTINCT psfFlux) FROM ForcedSource"
    " WHERE psfFlux > 1e300",
    "SELECT band FROM ForcedSource GROUP BY band ORDER BY COUNT(DISTINCT objectId) DESC, band",
    "SELECT COUNT(DISTINCT band), COUNT(DISTINCT ccdVisitId) FROM ForcedSource"
    " WHERE objectId IN (SELECT_IDS)",
    "SELECT COUNT(DISTINCT UPPER(band)), COUNT(DISTINCT ccdVisitId DIV 100) FROM ForcedSource",
]


@pytest.mark.parametrize("sql", DISTINCT_QUERIES)
def test_distinct_aggregates_match_oracle(
    sql: str,
    czar: Any,  # noqa: F811
    oracle: Oracle,
    ids: list[int],  # noqa: F811
) -> None:
    sql = sql.replace("SELECT_IDS", ", ".join(map(str, ids[1:6])))
    _check(czar, oracle, sql)
    # every column's type, merged strings included (CHAR/VARCHAR as in MariaDB)
    ours, theirs = _czar_types(czar, sql), _oracle_rows(oracle, sql)[2]
    assert ours == theirs, sql


def test_unsupported_distinct_aggregate_is_a_clear_error(czar: Any) -> None:  # noqa: F811
    with pytest.raises(pymysql.err.MySQLError) as raised:
        _rows(czar, "SELECT GROUP_CONCAT(DISTINCT band) FROM ForcedSource")
    code, message = raised.value.args
    assert code == 1235 and "GROUP_CONCAT" in message


# ---------------------------------------------------------------------------------------------
# 2 and 4. Ranges on the position columns, ORs of areas

RANGE_QUERIES = [
    "SELECT objectId, coord_ra, coord_dec FROM Object"
    " WHERE coord_ra BETWEEN 61.5 AND 62.5 AND coord_dec BETWEEN -37.5 AND -36.5",
    "SELECT COUNT(*) FROM Object WHERE coord_dec > 85",
    "SELECT COUNT(*) FROM Object WHERE coord_dec >= 89.5 AND coord_ra < 180",
    "SELECT objectId FROM Object WHERE coord_ra >= 359.5 AND coord_dec BETWEEN -6 AND 6",
    "SELECT COUNT(*) FROM Object WHERE coord_ra <= 0.5 AND -6 <= coord_dec",
    "SELECT COUNT(*) FROM Object WHERE coord_ra BETWEEN 350 AND 10",
    "SELECT COUNT(*), MIN(coord_ra) FROM Object WHERE coord_dec > 100",
    "SELECT COUNT(*) FROM Object WHERE coord_ra BETWEEN 359 AND 365 AND coord_dec > -10",
    "SELECT COUNT(*) FROM Object WHERE coord_ra > 359.9 OR coord_ra < 0.1",
    "SELECT COUNT(*) FROM Object WHERE (coord_dec > 89 OR coord_dec < -43.9) AND tract IS NOT NULL",
    "SELECT objectId FROM Object WHERE (coord_ra BETWEEN 0 AND 0.5 AND coord_dec BETWEEN 0 AND 2)"
    " OR scisql_s2PtInCircle(coord_ra, coord_dec, 62, -37, 0.2) = 1"
    " OR scisql_s2PtInCircle(coord_ra, coord_dec, 55, -30, 0.3) = 1",
    "SELECT COUNT(*) FROM Object WHERE scisql_s2PtInCircle(coord_ra, coord_dec, 0, 90, 1) = 1"
    " OR scisql_s2PtInBox(coord_ra, coord_dec, 359, -1, 1, 1) = 1",
    "SELECT COUNT(*) FROM ForcedSource WHERE objectId BETWEEN FIRST_ID AND LAST_ID",
]


@pytest.mark.parametrize("sql", RANGE_QUERIES)
def test_position_ranges_match_oracle(
    sql: str,
    czar: Any,  # noqa: F811
    oracle: Oracle,
    ids: list[int],  # noqa: F811
) -> None:
    sql = sql.replace("FIRST_ID", str(ids[0])).replace("LAST_ID", str(ids[-1]))
    text = oracle_sql(sql) if "scisql_" in sql else None
    _check(czar, oracle, sql, text)


def _boundary_values(oracle: Oracle) -> tuple[np.ndarray, np.ndarray]:
    rows = oracle.query("SELECT coord_ra, coord_dec FROM Object ORDER BY objectId", DB)
    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows])


def test_range_edges_on_rows_and_chunk_edges_lose_no_row(
    czar: Any,  # noqa: F811
    oracle: Oracle,
) -> None:
    """Boxes whose edges are rows' exact coordinates or chunk edges (and an ulp off them),
    with strict and non-strict comparisons: the czar counts what the oracle counts."""
    ra, dec = _boundary_values(oracle)
    chunker = Chunker(85, 12)
    located, _ = chunker.locate(ra, dec)
    rng = np.random.default_rng(3)
    edges_lon = [
        b.lon_min for b in (chunker.chunk_bounds(int(c)) for c in sorted(set(located.tolist())))
    ]
    edges_lat = [
        b.lat_min for b in (chunker.chunk_bounds(int(c)) for c in sorted(set(located.tolist())))
    ]
    edges_lat.append(_STRIPE_BOUNDARY_DEC)
    for _ in range(30):
        i, j = (int(k) for k in rng.integers(0, len(ra), 2))
        if rng.random() < 0.5:  # edges on two rows' coordinates
            lon_lo, lon_hi = sorted((float(ra[i]), float(ra[j])))
            lat_lo, lat_hi = sorted((float(dec[i]), float(dec[j])))
        else:  # edges on chunk edges, maybe an ulp off
            lon_lo = float(rng.choice(edges_lon))
            lat_lo = float(rng.choice(edges_lat))
            lon_lo = float(np.nextafter(lon_lo, rng.choice([-np.inf, np.inf])))
            lon_hi, lat_hi = lon_lo + float(rng.uniform(0, 8)), lat_lo + float(rng.uniform(0, 3))
        low, high = rng.choice([">", ">="]), rng.choice(["<", "<="])
        sql = (
            f"SELECT COUNT(*) FROM Object WHERE coord_ra {low} {lon_lo!r}"
            f" AND coord_ra {high} {lon_hi!r} AND coord_dec BETWEEN {lat_lo!r} AND {lat_hi!r}"
        )
        _check(czar, oracle, sql)


# ---------------------------------------------------------------------------------------------
# 3. Director key ranges


def test_director_key_ranges_match_oracle(
    czar: Any,  # noqa: F811
    oracle: Oracle,
    ids: list[int],  # noqa: F811
) -> None:
    a, b, c = ids[1], ids[3], ids[5]
    queries = [
        f"SELECT objectId, coord_ra FROM Object WHERE objectId BETWEEN {a} AND {c}",
        f"SELECT objectId FROM Object WHERE objectId > {a} AND objectId <= {c} ORDER BY objectId",
        f"SELECT objectId FROM Object WHERE {b} >= objectId",
        f"SELECT COUNT(*), COUNT(DISTINCT objectId) FROM ForcedSource WHERE objectId >= {b}",
        f"SELECT forcedSourceId FROM ForcedSource WHERE objectId < {b} AND band = 'r'",
        f"SELECT objectId FROM Object WHERE objectId IN ({a}, {b}, {c}) AND objectId > {a}",
        f"SELECT objectId FROM Object WHERE objectId BETWEEN {c} AND {a}",
        f"SELECT COUNT(*) FROM Object WHERE objectId > {a} AND objectId < {a}",
        f"SELECT COUNT(*) FROM Object WHERE objectId >= {b} AND coord_dec > -40",
    ]
    for sql in queries:
        _check(czar, oracle, sql)


# ---------------------------------------------------------------------------------------------
# 5. COUNT(*) from the catalog


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT COUNT(*) FROM Object",
        "SELECT count(*) AS n FROM ForcedSource",
        "SELECT COUNT(*), COUNT(*) AS again FROM Object AS o",
        "SELECT COUNT(*) FROM Object LIMIT 1",
        "SELECT COUNT(*) FROM Object LIMIT 0",
        "SELECT COUNT(*) FROM ForcedSource LIMIT 1 OFFSET 1",
    ],
)
def test_count_star_from_the_catalog_matches_oracle(
    sql: str,
    czar: Any,  # noqa: F811
    oracle: Oracle,
) -> None:
    _check(czar, oracle, sql)
    types = _czar_types(czar, sql)
    assert types == _oracle_rows(oracle, sql)[2] and set(types) == {LONGLONG}


def test_count_star_follows_ingest_and_drop(
    cluster: LocalCluster, tmp_path: Path, demo_loaded: Any
) -> None:
    """The catalog's count is checked against the czar db before it is used: a table dropped
    (or loaded again) after the czar's catalog snapshot never gets the old count."""
    database = "count_fresh"
    files = write_inputs(tmp_path / "first", database, objects=60)
    tables = [
        TableInput(read_table(files[f"{name}.json"]), (files[f"{name}.csv"],))
        for name in ("Obj", "Src")
    ]
    asyncio.run(ingest(cluster.config, read_database(files["database"]), tables))
    conn = pymysql.connect(
        host="127.0.0.1", port=cluster.config.frontend_port, user="qsmaster", database=None
    )
    try:
        time.sleep(2.5)  # older than the czar's catalog cache: the next query sees the tables
        for name in ("Obj", "Src"):
            scanned = _rows(conn, f"SELECT COUNT(*) FROM {database}.{name} WHERE 1 = 1")[1]
            counted = _rows(conn, f"SELECT COUNT(*) FROM {database}.{name}")[1]
            assert counted == scanned and counted[0][0] > 0
        asyncio.run(drop(cluster.config, database, "Src"))  # within the cache's 2 s, usually
        with pytest.raises(pymysql.err.MySQLError) as raised:
            _rows(conn, f"SELECT COUNT(*) FROM {database}.Src")
        assert raised.value.args[0] == 1146
        asyncio.run(drop(cluster.config, database))
        again = write_inputs(tmp_path / "second", database, objects=20)
        tables = [TableInput(read_table(again["Obj.json"]), (again["Obj.csv"],))]
        asyncio.run(ingest(cluster.config, read_database(again["database"]), tables))
        assert _rows(conn, f"SELECT COUNT(*) FROM {database}.Obj")[1] == [(21,)]
    finally:
        conn.close()
        with contextlib.suppress(Exception):  # already gone unless the test failed early
            asyncio.run(drop(cluster.config, database))


def test_a_table_ingested_a_moment_ago_is_queryable_at_once(
    cluster: LocalCluster, tmp_path: Path, demo_loaded: Any
) -> None:
    """The czar's catalog snapshot is refreshed before it answers "unknown table/database":
    a query right after an ingest sees the new tables, however young the snapshot is."""
    database = "fresh_at_once"
    conn = pymysql.connect(
        host="127.0.0.1", port=cluster.config.frontend_port, user="qsmaster", database=None
    )
    try:
        _rows(conn, "SELECT COUNT(*) FROM demo_dp02.Object WHERE 1 = 1")  # a snapshot exists
        files = write_inputs(tmp_path, database, objects=30)
        tables = [TableInput(read_table(files["Obj.json"]), (files["Obj.csv"],))]
        asyncio.run(ingest(cluster.config, read_database(files["database"]), tables))
        rows = _rows(conn, f"SELECT COUNT(*) FROM {database}.Obj WHERE 1 = 1")[1]
        assert rows == [(31,)]
    finally:
        conn.close()
        with contextlib.suppress(Exception):
            asyncio.run(drop(cluster.config, database))


# ---------------------------------------------------------------------------------------------
# 6. ORDER BY what is not selected

ORDER_QUERIES = [
    "SELECT objectId FROM Object ORDER BY coord_dec, objectId",
    "SELECT objectId FROM Object ORDER BY coord_ra DESC, objectId LIMIT 7",
    "SELECT forcedSourceId FROM ForcedSource WHERE psfFlux IS NOT NULL"
    " ORDER BY ABS(psfFlux) DESC, forcedSourceId LIMIT 5 OFFSET 2",
    "SELECT objectId AS id FROM Object ORDER BY tract IS NULL, tract, id LIMIT 20",
    "SELECT band, COUNT(*) FROM ForcedSource GROUP BY band ORDER BY AVG(psfFlux) DESC, band",
    "SELECT tract FROM Object GROUP BY tract ORDER BY COUNT(*) DESC, MAX(coord_dec), tract",
]


@pytest.mark.parametrize("sql", ORDER_QUERIES)
def test_order_by_unselected_expressions_matches_oracle(
    sql: str,
    czar: Any,  # noqa: F811
    oracle: Oracle,
) -> None:
    _check(czar, oracle, sql)

"""Joins of partitioned tables (issue 4) through the czar, compared with the oracle.

- director-child joins on the director key in every spelling, with director-index lookups,
  areas, aggregates, ORDER BY/LIMIT, regular tables, three-way, LEFT JOIN (demo catalog);
- near-neighbour self-joins, evaluated per sub-chunk against sub-chunk plus overlap: on the
  demo catalog (its clusters straddle RA 0, the pole and a stripe boundary) and on a small
  catalog of groups of points placed across chunk and sub-chunk edges, RA 0/360 and both
  poles. The oracle finds the pairs by brute force (every pair of rows, with a declination
  band as a cheap first filter that ``angSep < r`` implies);
- joins that cannot run chunk by chunk get error 1235 naming the reason and the limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pymysql
import pytest

from qserv_py.cluster.local import LocalCluster
from qserv_py.ingest.description import read_database, read_table
from qserv_py.ingest.drop import drop
from qserv_py.ingest.loader import TableInput, ingest
from qserv_py.sphgeom.chunker import Chunker
from tests.integration.test_queries import (  # the fixtures are shared with that module
    DB,
    _comparable,
    _rows,
    czar,  # noqa: F401
    ids,  # noqa: F401
    oracle_sql,
)
from tests.oracle import Oracle, schema_from_ingest_json

pytestmark = pytest.mark.cluster

OVERLAP = 0.01667  # the demo's and the edge catalog's overlap (deg)


ORACLE_DB = "demo_dp02_indexed"
"""The demo tables, copied in the oracle with indexes on the join keys (same rows, same
values; without them the oracle's nested loops take minutes on three-way joins)."""
ORACLE_INDEXES = {
    "Object": ["objectId"],
    "ForcedSource": ["objectId", "ccdVisitId"],
    "CcdVisit": ["ccdVisitId"],
}


@pytest.fixture(scope="module")
def indexed_oracle(demo_loaded: Any, oracle: Oracle) -> str:
    conn = oracle.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {ORACLE_DB}")
            for table, columns in sorted(ORACLE_INDEXES.items()):
                target = f"{ORACLE_DB}.{table}"
                cur.execute(f"DROP TABLE IF EXISTS {target}")
                cur.execute(f"CREATE TABLE {target} LIKE {DB}.{table}")
                for column in columns:
                    cur.execute(f"ALTER TABLE {target} ADD INDEX ({column})")
                cur.execute(f"INSERT INTO {target} SELECT * FROM {DB}.{table}")
    finally:
        conn.close()
    return ORACLE_DB


def _oracle_rows(oracle: Oracle, sql: str, db: str = DB) -> tuple[list[str], list[Any]]:
    conn = oracle.connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return [d[0] for d in cur.description], list(cur.fetchall())
    finally:
        conn.close()


def _check(conn: Any, oracle: Oracle, sql: str, reference: str, db: str = DB) -> int:
    """The czar's rows equal the oracle's (in order with ORDER BY, else as multisets)."""
    names, got = _rows(conn, sql)
    expected_names, expected = _oracle_rows(oracle, oracle_sql(reference), db)
    assert names == expected_names, sql
    sums = "SUM(" in sql.upper() or "AVG(" in sql.upper()
    if "ORDER BY" in sql.upper():
        assert _comparable(got, sums) == _comparable(expected, sums), sql
    else:
        assert Counter(_comparable(got, sums)) == Counter(_comparable(expected, sums)), sql
    return len(got)


# ---------------------------------------------------------------------------------------------
# 1. Director-child joins (demo: ForcedSource follows Object through objectId)

CIRCLE = "62.0, -37.0, 0.4"
KEY_JOINS: list[tuple[str, str | None]] = [
    # (czar SQL, oracle SQL when it differs); IDS is replaced by some objectIds
    (
        "SELECT o.objectId, f.forcedSourceId, f.psfFlux FROM Object o"
        " JOIN ForcedSource f USING (objectId) WHERE o.objectId IN (IDS)",
        None,
    ),
    (
        "SELECT o.objectId, o.coord_ra, f.band FROM Object o"
        " JOIN ForcedSource f ON o.objectId = f.objectId WHERE f.objectId IN (IDS)",
        None,
    ),
    (
        "SELECT o.objectId, f.forcedSourceId FROM Object o, ForcedSource f"
        " WHERE o.objectId = f.objectId AND o.objectId = FIRST_ID",
        None,
    ),
    ("SELECT COUNT(*) FROM Object o JOIN ForcedSource f USING (objectId)", None),
    (
        "SELECT f.band, COUNT(*) AS n, SUM(f.psfFlux), MIN(o.coord_dec) FROM ForcedSource f"
        " JOIN Object o ON f.objectId = o.objectId GROUP BY f.band ORDER BY f.band",
        None,
    ),
    (
        "SELECT o.objectId, f.forcedSourceId, f.psfFlux FROM Object o"
        f" JOIN ForcedSource f USING (objectId) WHERE qserv_areaspec_circle({CIRCLE})",
        "SELECT o.objectId, f.forcedSourceId, f.psfFlux FROM Object o"
        " JOIN ForcedSource f USING (objectId)"
        f" WHERE scisql_s2PtInCircle(o.coord_ra, o.coord_dec, {CIRCLE}) = 1",
    ),
    (
        "SELECT o.objectId, f.forcedSourceId FROM Object o, ForcedSource f"
        " WHERE f.objectId = o.objectId AND o.coord_ra BETWEEN 355 AND 360"
        " ORDER BY f.forcedSourceId LIMIT 17",
        None,
    ),
    (
        "SELECT f.forcedSourceId, v.band, v.expMidptMJD, o.tract FROM Object o"
        " JOIN ForcedSource f ON f.objectId = o.objectId"
        " JOIN CcdVisit v ON v.ccdVisitId = f.ccdVisitId"
        " WHERE v.band = 'g' AND o.coord_dec > 85 ORDER BY f.forcedSourceId",
        None,
    ),
    (
        "SELECT v.band, COUNT(DISTINCT o.objectId) AS objects, AVG(f.psfFlux)"
        " FROM ForcedSource f JOIN CcdVisit v USING (ccdVisitId)"
        " JOIN Object o ON o.objectId = f.objectId WHERE o.detect_isPrimary = 1"
        " AND o.coord_dec > 84"
        " GROUP BY v.band HAVING COUNT(*) > 10 ORDER BY v.band",
        None,
    ),
    (  # child x child through the director, on two aliases of one table
        "SELECT f1.forcedSourceId AS g, f2.forcedSourceId AS r FROM ForcedSource f1,"
        " Object o, ForcedSource f2 WHERE f1.objectId = o.objectId"
        " AND f2.objectId = o.objectId AND f1.band = 'g' AND f2.band = 'r'"
        " AND o.objectId IN (IDS)",
        None,
    ),
    (  # LEFT JOIN director -> child (beyond Qserv): objects without any u-band source too
        "SELECT o.objectId, COUNT(f.forcedSourceId) AS n FROM Object o"
        " LEFT JOIN ForcedSource f ON f.objectId = o.objectId AND f.band = 'u'"
        " AND f.psfFlux > 0 GROUP BY o.objectId ORDER BY n, o.objectId LIMIT 40",
        None,
    ),
    (
        "SELECT o.objectId, f.forcedSourceId FROM Object o"
        " LEFT JOIN ForcedSource f USING (objectId) WHERE o.objectId IN (IDS)",
        None,
    ),
    (
        "SELECT DISTINCT o.tract FROM Object o JOIN ForcedSource f USING (objectId)"
        " WHERE f.psfFlux > 1000 ORDER BY o.tract",
        None,
    ),
]


def _fill(sql: str, keys: list[int]) -> str:
    return sql.replace("IDS", ", ".join(map(str, keys[1:6]))).replace("FIRST_ID", str(keys[0]))


@pytest.mark.parametrize(("sql", "reference"), KEY_JOINS, ids=range(len(KEY_JOINS)))
def test_director_child_join_matches_oracle(
    sql: str,
    reference: str | None,
    czar: Any,  # noqa: F811
    oracle: Oracle,
    indexed_oracle: str,
    ids: list[int],  # noqa: F811
) -> None:
    sql = _fill(sql, ids)
    _check(czar, oracle, sql, _fill(reference or sql, ids), indexed_oracle)


# ---------------------------------------------------------------------------------------------
# 2. Near-neighbour joins on the demo catalog

ANGSEP = "scisql_angSep(o1.coord_ra, o1.coord_dec, o2.coord_ra, o2.coord_dec)"


def _band(r: float, a: str = "o1", b: str = "o2", dec: str = "coord_dec") -> str:
    """What ``angSep < r`` implies, for the oracle's brute force: a cheap filter first."""
    return f"{b}.{dec} BETWEEN {a}.{dec} - {r} AND {a}.{dec} + {r}"


NN_QUERIES: list[tuple[str, str]] = [
    (
        f"SELECT o1.objectId AS a, o2.objectId AS b, {ANGSEP} AS d FROM Object o1, Object o2"
        f" WHERE {ANGSEP} < 0.005 AND o1.objectId <> o2.objectId",
        f"SELECT o1.objectId AS a, o2.objectId AS b, {ANGSEP} AS d FROM Object o1, Object o2"
        f" WHERE {_band(0.005)} AND {ANGSEP} < 0.005 AND o1.objectId <> o2.objectId",
    ),
    (
        f"SELECT COUNT(*) AS n FROM Object o1 JOIN Object o2 ON {ANGSEP} < {OVERLAP}",
        f"SELECT COUNT(*) AS n FROM Object o1 JOIN Object o2 ON {_band(OVERLAP)}"
        f" AND {ANGSEP} < {OVERLAP}",
    ),
    (  # the home side is o2 here (its key is given): o1 comes from the overlap
        f"SELECT o1.objectId, {ANGSEP} AS d FROM Object o1, Object o2 WHERE o2.objectId"
        f" IN (IDS) AND {ANGSEP} <= 0.0166 ORDER BY d, o1.objectId",
        f"SELECT o1.objectId, {ANGSEP} AS d FROM Object o1, Object o2 WHERE o2.objectId"
        f" IN (IDS) AND {_band(0.0166)} AND {ANGSEP} <= 0.0166 ORDER BY d, o1.objectId",
    ),
    (  # an area restricts both sides, as in Qserv
        f"SELECT o1.objectId AS a, o2.objectId AS b FROM Object o1, Object o2"
        f" WHERE qserv_areaspec_box(359.5, -6, 360, 6) AND {ANGSEP} < 0.01",
        f"SELECT o1.objectId AS a, o2.objectId AS b FROM Object o1, Object o2"
        " WHERE scisql_s2PtInBox(o1.coord_ra, o1.coord_dec, 359.5, -6, 360, 6) = 1"
        " AND scisql_s2PtInBox(o2.coord_ra, o2.coord_dec, 359.5, -6, 360, 6) = 1"
        f" AND {_band(0.01)} AND {ANGSEP} < 0.01",
    ),
    (  # pairs across RA 0, near the pole: grouped, with a child of the home side
        f"SELECT o1.objectId, COUNT(*) AS n FROM Object o1 JOIN ForcedSource f USING"
        f" (objectId) JOIN Object o2 ON {ANGSEP} < 0.003 WHERE o1.coord_dec > 84"
        " AND f.band = 'r' GROUP BY o1.objectId ORDER BY n DESC, o1.objectId LIMIT 25",
        f"SELECT o1.objectId, COUNT(*) AS n FROM Object o1 JOIN ForcedSource f USING"
        f" (objectId) JOIN Object o2 ON {_band(0.003)} AND {ANGSEP} < 0.003"
        " WHERE o1.coord_dec > 84 AND f.band = 'r' GROUP BY o1.objectId"
        " ORDER BY n DESC, o1.objectId LIMIT 25",
    ),
]


@pytest.mark.parametrize(("sql", "reference"), NN_QUERIES, ids=range(len(NN_QUERIES)))
def test_near_neighbour_matches_oracle(
    sql: str,
    reference: str,
    czar: Any,  # noqa: F811
    oracle: Oracle,
    indexed_oracle: str,
    ids: list[int],  # noqa: F811
) -> None:
    _check(czar, oracle, _fill(sql, ids), _fill(reference, ids), indexed_oracle)


def _home_crossings(
    conn: Any, pairs: list[tuple[Any, ...]], table: str, key: str
) -> tuple[int, int]:
    """How many pairs have their rows in different home chunks, and in different sub-chunks
    (an overlap row carries the chunk it was copied to, so homes come from the table)."""
    homes = {
        int(k): (int(c), int(s))
        for k, c, s in _rows(conn, f"SELECT {key}, chunkId, subChunkId FROM {table}")[1]
    }
    chunks = sum(homes[int(a)][0] != homes[int(b)][0] for a, b, *_ in pairs)
    subs = sum(homes[int(a)] != homes[int(b)] for a, b, *_ in pairs)
    return chunks, subs


def test_near_neighbour_pairs_exist_across_edges(czar: Any) -> None:  # noqa: F811
    """The demo's clusters give pairs whose rows sit in different sub-chunks, so the overlap
    tables are really read (the comparison above would pass without them otherwise)."""
    pairs = _rows(
        czar,
        f"SELECT o1.objectId, o2.objectId AS b FROM Object o1, Object o2"
        f" WHERE {ANGSEP} < {OVERLAP}",
    )[1]
    _, across_sub_chunks = _home_crossings(czar, pairs, "Object", "objectId")
    assert across_sub_chunks > 0


# ---------------------------------------------------------------------------------------------
# 3. Near-neighbour joins on points placed across edges, RA 0/360 and the poles

EDGE_DB = "nn_edges"
EDGE_SCHEMA = [
    {"name": "id", "type": "bigint(20) NOT NULL"},
    {"name": "ra", "type": "double NOT NULL"},
    {"name": "decl", "type": "double NOT NULL"},
    {"name": "chunkId", "type": "int(11) NOT NULL"},
    {"name": "subChunkId", "type": "int(11) NOT NULL"},
]


def edge_positions(seed: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Groups of points within about the overlap of chunk corners, sub-chunk edges, RA 0
    and both poles, so that many pairs closer than the overlap lie in different sub-chunks
    and chunks."""
    rng = np.random.default_rng(seed)
    chunker = Chunker(85, 12)
    centres: list[tuple[float, float]] = [(0.0, 0.0), (0.0, 1.2), (359.999, -3.0), (0.001, 45.0)]
    centres += [(lon, 89.995) for lon in (0.0, 90.0, 200.0)] + [(17.0, -89.99), (0.0, 90.0)]
    for chunk in (7140, 7141, 7309, 4273, 4102, 14100, 140, 300):
        if not chunker.valid_chunk(chunk):
            continue
        box = chunker.chunk_bounds(chunk)
        centres += [(box.lon_min, box.lat_min), (box.lon_max, box.lat_max)]
        subs = chunker.all_sub_chunks(chunk)
        sub = chunker.sub_chunk_bounds(chunk, int(subs[len(subs) // 2]))
        centres += [(sub.lon_min, (sub.lat_min + sub.lat_max) / 2), (sub.lon_max, sub.lat_min)]
    lon: list[float] = []
    lat: list[float] = []
    for c_lon, c_lat in centres:
        n = 40
        d_lat = rng.uniform(-0.02, 0.02, n)
        scale = 1.0 / max(np.cos(np.radians(min(abs(c_lat), 89.9))), 1e-3)
        d_lon = rng.uniform(-0.02, 0.02, n) * min(scale, 180.0)
        lat += list(np.clip(c_lat + d_lat, -90.0, 90.0))
        lon += list(np.mod(c_lon + d_lon, 360.0))
    # exact edge coordinates too (a row on a sub-chunk edge belongs to one side only)
    lon += [0.0, 0.0, 359.99999, 0.00001]
    lat += [0.0, 0.005, 0.0, 0.0]
    return np.array(lon), np.array(lat)


def _write_edges(directory: Path) -> tuple[Path, Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    database = directory / "database.json"
    database.write_text(
        json.dumps(
            {"database": EDGE_DB, "num_stripes": 85, "num_sub_stripes": 12, "overlap": OVERLAP}
        )
    )
    table = directory / "Pt.json"
    table.write_text(
        json.dumps(
            {
                "database": EDGE_DB,
                "table": "Pt",
                "is_partitioned": 1,
                "director_table": "",
                "director_key": "id",
                "longitude_key": "ra",
                "latitude_key": "decl",
                "fields_terminated_by": ",",
                "schema": EDGE_SCHEMA,
            }
        )
    )
    lon, lat = edge_positions()
    data = directory / "Pt.csv"
    data.write_text(
        "".join(
            f"{i + 1},{float(x)!r},{float(y)!r}\n"
            for i, (x, y) in enumerate(zip(lon, lat, strict=True))
        )
    )
    return database, table, data


@pytest.fixture(scope="module")
def edges(
    cluster: LocalCluster, oracle: Oracle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[pymysql.connections.Connection[Any]]:
    directory = tmp_path_factory.mktemp("nn-edges")
    database, table, data = _write_edges(directory)
    asyncio.run(
        ingest(cluster.config, read_database(database), [TableInput(read_table(table), (data,))])
    )
    name, create = schema_from_ingest_json(table)
    oracle.load_table(EDGE_DB, create, name, data, table, directory)
    time.sleep(2.5)  # older than the czar's catalog cache: the next query sees the table
    conn = pymysql.connect(
        host="127.0.0.1", port=cluster.config.frontend_port, user="qsmaster", database=EDGE_DB
    )
    try:
        yield conn
    finally:
        conn.close()
        with contextlib.suppress(Exception):
            asyncio.run(drop(cluster.config, EDGE_DB))


EDGE_ANGSEP = "scisql_angSep(a.ra, a.decl, b.ra, b.decl)"


@pytest.mark.parametrize("radius", [0.001, 0.005, 0.016, OVERLAP])
def test_near_neighbour_pairs_across_edges_match_brute_force(
    radius: float, edges: Any, oracle: Oracle
) -> None:
    sql = (
        f"SELECT a.id AS a, b.id AS b, {EDGE_ANGSEP} AS d FROM Pt a, Pt b"
        f" WHERE {EDGE_ANGSEP} < {radius} AND a.id <> b.id"
    )
    reference = (
        f"SELECT a.id AS a, b.id AS b, {EDGE_ANGSEP} AS d FROM Pt a, Pt b"
        f" WHERE {_band(radius, 'a', 'b', 'decl')} AND {EDGE_ANGSEP} < {radius}"
        " AND a.id <> b.id"
    )
    assert _check(edges, oracle, sql, reference, EDGE_DB) > 0
    if radius >= 0.005:  # many pairs straddle sub-chunk and chunk edges
        pairs = _rows(edges, sql)[1]
        across_chunks, across_sub_chunks = _home_crossings(edges, pairs, "Pt", "id")
        assert across_chunks > 10 and across_sub_chunks > across_chunks


def test_near_neighbour_aggregates_across_edges(edges: Any, oracle: Oracle) -> None:
    sql = (
        f"SELECT a.id, COUNT(*) AS n, MAX({EDGE_ANGSEP}) AS far FROM Pt a JOIN Pt b"
        f" ON {EDGE_ANGSEP} < 0.01 GROUP BY a.id HAVING n > 2 ORDER BY n DESC, a.id LIMIT 30"
    )
    reference = (
        f"SELECT a.id, COUNT(*) AS n, MAX({EDGE_ANGSEP}) AS far FROM Pt a JOIN Pt b"
        f" ON {_band(0.01, 'a', 'b', 'decl')} AND {EDGE_ANGSEP} < 0.01 GROUP BY a.id"
        " HAVING n > 2 ORDER BY n DESC, a.id LIMIT 30"
    )
    _check(edges, oracle, sql, reference, EDGE_DB)


def test_near_neighbour_limit_stops_early(edges: Any) -> None:
    """A LIMIT without ORDER BY cancels the remaining chunks; the session goes on."""
    rows = _rows(edges, f"SELECT a.id FROM Pt a, Pt b WHERE {EDGE_ANGSEP} < 0.01 LIMIT 3")[1]
    assert len(rows) == 3
    assert _rows(edges, "SELECT COUNT(*) FROM Pt")[1][0][0] > 0


# ---------------------------------------------------------------------------------------------
# 4. Joins that cannot run chunk by chunk

REFUSED = [
    (
        "SELECT o1.objectId FROM Object o1, Object o2 WHERE o1.tract = o2.tract",
        "o1.tract = o2.tract is not on the director key",
    ),
    (
        f"SELECT o1.objectId FROM Object o1, Object o2 WHERE {ANGSEP} < 0.05",
        "larger than the overlap of demo_dp02, 0.01667 deg (60.012 arcsec)",
    ),
    (
        f"SELECT o1.objectId FROM Object o1 LEFT JOIN Object o2 ON {ANGSEP} < 0.01",
        "outer near-neighbour joins are not",
    ),
    (
        "SELECT o.objectId FROM Object o, nn_edges.Pt p WHERE o.objectId = p.id",
        "different databases",
    ),
]


@pytest.mark.parametrize(("sql", "reason"), REFUSED, ids=range(len(REFUSED)))
def test_non_local_join_is_refused_with_reason(
    sql: str,
    reason: str,
    czar: Any,  # noqa: F811
    edges: Any,
) -> None:
    with pytest.raises(pymysql.err.MySQLError) as raised:
        _rows(czar, sql)
    code, message = raised.value.args
    assert code == 1235 and reason in message, message
    assert _rows(czar, "SELECT 1")[1] == [(1,)]

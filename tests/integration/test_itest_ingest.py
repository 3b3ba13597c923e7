"""Qserv's own integration-test datasets ingest unchanged and round-trip against the oracle.

Checks, per table: the union of all chunk tables equals the oracle's table row for row (so each
row sits in exactly one home chunk and counts match); every row's chunkId/subChunkId is where
the chunker puts it (or, for children without a position, where its director is); every
director's overlap tables hold exactly the overlap locations of Qserv's partitioner; regular
tables are complete on every worker; the director index in the czar db matches.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from qserv_py.cluster.local import LocalCluster
from qserv_py.ingest.description import TableDescription, read_database
from qserv_py.ingest.errors import IngestError
from qserv_py.sphgeom.chunker import Chunker
from qserv_py.sql import quote_ident
from tests.cluster_support import czar_db, query, worker_db
from tests.integration.itest_cases import ItestCase, load_case
from tests.oracle import Oracle, fingerprint_sql

pytestmark = pytest.mark.cluster
CASES = ("case01", "case02", "case03", "case04")


def _worker_rows(cluster: LocalCluster, database: str, tables: list[str]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for worker in cluster.config.workers:
        conn = worker_db(cluster, worker.name)
        try:
            present = {r[0] for r in query(conn, f"SHOW TABLES FROM {quote_ident(database)}")}
            for table in tables:
                if table in present:
                    rows += query(
                        conn, f"SELECT * FROM {quote_ident(database)}.{quote_ident(table)}"
                    )
        finally:
            conn.close()
    return rows


def _chunk_tables(cluster: LocalCluster, database: str, table: str, overlap: bool) -> list[str]:
    conn = czar_db(cluster)
    try:
        chunks = query(
            conn,
            "SELECT chunk_id FROM qservMeta.chunk_rows WHERE db = %s AND table_name = %s",
            (database, table),
        )
    finally:
        conn.close()
    middle = "FullOverlap_" if overlap else "_"
    return [f"{table}{middle}{c[0]}" for c in chunks]


def _multiset(rows: list[tuple[Any, ...]]) -> Counter[tuple[Any, ...]]:
    return Counter(rows)


@pytest.mark.parametrize("case_name", CASES)
def test_partitioned_tables_round_trip(
    case_name: str, itest_loaded: dict[str, ItestCase], cluster: LocalCluster, oracle: Oracle
) -> None:
    case = itest_loaded[case_name]
    database = read_database(case.database_json)
    chunker = Chunker(database.num_stripes, database.num_sub_stripes)
    partitioned = [i.description for i in case.inputs if i.description.is_partitioned]
    assert partitioned, case_name
    for table in partitioned:
        stored = _worker_rows(
            cluster, database.name, _chunk_tables(cluster, database.name, table.name, False)
        )
        names = [c for c, _ in table.columns]
        chunk_at, sub_at = names.index("chunkId"), names.index("subChunkId")
        without_chunks = [
            tuple(v for k, v in enumerate(r) if k not in (chunk_at, sub_at)) for r in stored
        ]
        expected = oracle.query(f"SELECT * FROM {quote_ident(table.name)}", database.name)
        assert len(stored) == len(expected), table.name
        assert _multiset(without_chunks) == _multiset(expected), table.name
        if table.has_position:
            lon = np.array([r[names.index(table.longitude_key)] for r in stored], dtype=float)
            lat = np.array([r[names.index(table.latitude_key)] for r in stored], dtype=float)
            chunks, subs = chunker.locate(lon, lat)
            assert [r[chunk_at] for r in stored] == chunks.tolist(), table.name
            assert [r[sub_at] for r in stored] == subs.tolist(), table.name
        if table.kind == "director":
            _check_overlap(cluster, database.name, table, chunker, database.overlap, stored, names)
            _check_director_index(cluster, database.name, table, stored, names)


def _check_overlap(
    cluster: LocalCluster,
    database: str,
    table: TableDescription,
    chunker: Chunker,
    overlap: float,
    home_rows: list[tuple[Any, ...]],
    names: list[str],
) -> None:
    key_at = names.index(table.director_key)
    lon = np.array([r[names.index(table.longitude_key)] for r in home_rows], dtype=float)
    lat = np.array([r[names.index(table.latitude_key)] for r in home_rows], dtype=float)
    rows, chunks, subs = chunker.locate_overlap(lon, lat, overlap)
    expected = Counter(
        (home_rows[r][key_at], int(c), int(s))
        for r, c, s in zip(rows.tolist(), chunks.tolist(), subs.tolist(), strict=True)
    )
    stored = _worker_rows(cluster, database, _chunk_tables(cluster, database, table.name, True))
    got = Counter(
        (r[key_at], r[names.index("chunkId")], r[names.index("subChunkId")]) for r in stored
    )
    assert got == expected, table.name
    assert sum(expected.values()) > 0 or overlap == 0 or len(home_rows) < 10


def _check_director_index(
    cluster: LocalCluster,
    database: str,
    table: TableDescription,
    home_rows: list[tuple[Any, ...]],
    names: list[str],
) -> None:
    key_at = names.index(table.director_key)
    expected = Counter(
        (r[key_at], r[names.index("chunkId")], r[names.index("subChunkId")]) for r in home_rows
    )
    conn = czar_db(cluster)
    try:
        got = Counter(
            query(conn, f"SELECT * FROM qservMeta.{quote_ident(database + '__' + table.name)}")
        )
    finally:
        conn.close()
    assert got == expected


@pytest.mark.parametrize("case_name", CASES)
def test_regular_tables_are_on_every_worker(
    case_name: str, itest_loaded: dict[str, ItestCase], cluster: LocalCluster, oracle: Oracle
) -> None:
    case = itest_loaded[case_name]
    database = read_database(case.database_json)
    for item in case.inputs:
        table = item.description
        if table.is_partitioned:
            continue
        sql = fingerprint_sql(database.name, table.name, [c for c, _ in table.columns])
        expected = oracle.query(sql)
        assert expected[0][0] > 0, table.name
        for worker in cluster.config.workers:
            conn = worker_db(cluster, worker.name)
            try:
                assert query(conn, sql) == expected, (worker.name, table.name)
            finally:
                conn.close()


def test_catalog_records_every_table(
    itest_loaded: dict[str, ItestCase], cluster: LocalCluster
) -> None:
    conn = czar_db(cluster)
    try:
        for case in itest_loaded.values():
            database = read_database(case.database_json)
            rows = dict(
                query(
                    conn,
                    "SELECT name, kind FROM qservMeta.`tables` WHERE db = %s",
                    (database.name,),
                )
            )
            assert rows == {i.description.name: i.description.kind for i in case.inputs}
            counts = query(
                conn,
                "SELECT table_name, SUM(row_count) FROM qservMeta.chunk_rows WHERE db = %s"
                " GROUP BY 1",
                (database.name,),
            )
            for table, total in counts:
                recorded = query(
                    conn,
                    "SELECT row_count FROM qservMeta.`tables` WHERE db = %s AND name = %s",
                    (database.name, table),
                )
                assert recorded[0][0] == total
    finally:
        conn.close()


def test_match_tables_are_refused_with_a_clear_error() -> None:
    case = load_case("case03")
    assert case.match_tables
    from qserv_py.ingest.description import read_table

    with pytest.raises(IngestError, match="match tables"):
        read_table(case.match_tables[0])


def test_case01_placement_matches_qserv_metadata(
    itest_loaded: dict[str, ItestCase], cluster: LocalCluster
) -> None:
    """Qserv's own metadata.json lists the chunks (and overlap chunks) its partitioner made."""
    import json

    metadata = json.loads(
        (itest_loaded["case01"].root / "data" / "ingest" / "metadata.json").read_text()
    )
    conn = czar_db(cluster)
    try:
        for entry in metadata["tables"]:
            if entry["schema"] not in ("Object.json", "Source.json"):
                continue
            table = entry["schema"].removesuffix(".json")
            data = entry["data"][0]
            rows = query(
                conn,
                "SELECT chunk_id, row_count, overlap_row_count FROM qservMeta.chunk_rows"
                " WHERE db = 'qcase01' AND table_name = %s",
                (table,),
            )
            assert sorted(c for c, n, _ in rows if n > 0) == sorted(data["chunks"])
            if "overlaps" in data:
                assert sorted(c for c, _, o in rows if o > 0) == sorted(data["overlaps"])
    finally:
        conn.close()

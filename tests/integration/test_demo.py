"""The demo catalog ingests; ForcedSource rows follow their Object row's chunk."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from qserv_py.cluster.local import LocalCluster
from qserv_py.demo.loading import load_demo
from qserv_py.ingest.description import read_database
from tests.cluster_support import czar_db, query, worker_db
from tests.conftest import DEMO_OBJECTS as OBJECTS
from tests.conftest import Demo
from tests.oracle import Oracle

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def demo(demo_loaded: Demo) -> Demo:
    return demo_loaded


def _union(cluster: LocalCluster, database: str, pattern: str) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for worker in cluster.config.workers:
        conn = worker_db(cluster, worker.name)
        try:
            for (name,) in query(conn, f"SHOW TABLES FROM {database} LIKE %s", (pattern,)):
                rows += query(conn, f"SELECT * FROM {database}.`{name}`")
        finally:
            conn.close()
    return rows


def test_demo_tables_equal_the_oracle(demo: Demo, cluster: LocalCluster, oracle: Oracle) -> None:
    catalog, _ = demo
    database = read_database(catalog.database_json).name
    counts = {t.name: t.row_count for t in catalog.tables}
    objects = _union(cluster, database, "Object\\_%")
    sources = _union(cluster, database, "ForcedSource\\_%")
    assert len(objects) == counts["Object"]
    assert len(sources) == counts["ForcedSource"]
    expected_objects = Counter(oracle.query("SELECT * FROM Object", database))
    assert Counter(r[:-2] for r in objects) == expected_objects
    expected_sources = Counter(oracle.query("SELECT * FROM ForcedSource", database))
    assert Counter(r[:-2] for r in sources) == expected_sources
    object_chunk = {r[0]: (r[-2], r[-1]) for r in objects}
    for row in sources:
        assert object_chunk[row[1]] == (row[-2], row[-1])


def test_demo_regular_table_everywhere_and_overlap_present(
    demo: Demo, cluster: LocalCluster
) -> None:
    catalog, _ = demo
    database = read_database(catalog.database_json).name
    for worker in cluster.config.workers:
        conn = worker_db(cluster, worker.name)
        try:
            assert query(conn, f"SELECT COUNT(*) FROM {database}.CcdVisit")[0][0] == 3200
        finally:
            conn.close()
    assert _union(cluster, database, "ObjectFullOverlap\\_%")
    conn = czar_db(cluster)
    try:
        placed = query(
            conn,
            "SELECT worker, COUNT(*) FROM qservMeta.chunk_replicas WHERE db = %s GROUP BY 1",
            (database,),
        )
    finally:
        conn.close()
    counts = sorted(n for _, n in placed)
    assert len(counts) == 2 and counts[1] - counts[0] <= 1  # balanced placement


def test_demo_loads_once(demo: Demo, cluster: LocalCluster) -> None:
    messages: list[str] = []
    asyncio.run(load_demo(cluster.config, OBJECTS, 7, 1, messages.append))
    assert any("already loaded" in m for m in messages)

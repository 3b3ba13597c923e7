"""Replicas and placement: each chunk on R workers, balanced, children with their directors."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from qserv_py.cluster.local import LocalCluster
from qserv_py.czar.analysis.plan import DUMMY_CHUNK
from qserv_py.ingest.description import read_database, read_table
from qserv_py.ingest.loader import TableInput, ingest
from tests.cluster_support import czar_db, query, worker_db
from tests.integration.synthetic import write_inputs

pytestmark = pytest.mark.cluster


def _chunk_tables_by_worker(
    cluster: LocalCluster, database: str, dummy: bool = False
) -> dict[str, set[str]]:
    """Tables of ``database`` on each worker; the dummy chunk's (on every worker) only if asked."""
    found: dict[str, set[str]] = {}
    for worker in cluster.config.workers:
        conn = worker_db(cluster, worker.name)
        try:
            names = {r[0] for r in query(conn, f"SHOW TABLES FROM `{database}`")}
            found[worker.name] = {n for n in names if dummy or not n.endswith(f"_{DUMMY_CHUNK}")}
        finally:
            conn.close()
    return found


def test_two_replicas_put_every_chunk_on_both_workers(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    files = write_inputs(tmp_path, "replicated2")
    tables = [
        TableInput(read_table(files["Obj.json"]), (files["Obj.csv"],)),
        TableInput(read_table(files["Src.json"]), (files["Src.csv"],)),
    ]
    asyncio.run(ingest(cluster.config, read_database(files["database"]), tables, replicas=2))
    conn = czar_db(cluster)
    try:
        placement = query(
            conn,
            "SELECT chunk_id, COUNT(*) FROM qservMeta.chunk_replicas WHERE db = %s GROUP BY 1",
            ("replicated2",),
        )
        chunks = query(
            conn,
            "SELECT chunk_id FROM qservMeta.chunk_rows WHERE db = %s AND table_name = 'Obj'",
            ("replicated2",),
        )
    finally:
        conn.close()
    assert placement and all(n == 2 for _, n in placement)
    by_worker = _chunk_tables_by_worker(cluster, "replicated2")
    for (chunk,) in chunks:
        for tables_here in by_worker.values():
            assert {f"Obj_{chunk}", f"ObjFullOverlap_{chunk}", f"Src_{chunk}"} <= tables_here


def test_single_replica_is_balanced_and_children_follow(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    files = write_inputs(tmp_path, "balanced1", objects=150)
    tables = [
        TableInput(read_table(files["Obj.json"]), (files["Obj.csv"],)),
        TableInput(read_table(files["Src.json"]), (files["Src.csv"],)),
    ]
    asyncio.run(ingest(cluster.config, read_database(files["database"]), tables))
    by_worker = _chunk_tables_by_worker(cluster, "balanced1")
    per_worker = {w: {t for t in names if t.startswith("Obj_")} for w, names in by_worker.items()}
    sizes = sorted(len(v) for v in per_worker.values())
    assert sizes[0] > 0 and sizes[1] - sizes[0] <= 1
    placed: dict[str, set[str]] = defaultdict(set)
    for worker, names in by_worker.items():
        for name in names:
            placed[name].add(worker)
    for name, workers in placed.items():
        assert len(workers) == 1, name
        if name.startswith("Src_"):
            assert placed["Obj_" + name.removeprefix("Src_")] == workers


def test_cli_ingest_reports_rows_and_errors(cluster: LocalCluster, tmp_path: Path) -> None:
    files = write_inputs(tmp_path, "clitest")
    base = [
        sys.executable,
        "-m",
        "qserv_py.cli",
        "ingest",
        "--data-dir",
        str(cluster.config.data_dir),
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text(files["Obj.csv"].read_text().replace("1002,", "1002,oops,", 1))
    result = subprocess.run(
        [*base, "--database", str(files["database"]), "--table", str(files["Obj.json"]), str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert f"{bad}, line 3: expected 4 fields, found 5" in result.stderr
    result = subprocess.run(
        [
            *base,
            "--database",
            str(files["database"]),
            "--table",
            str(files["Obj.json"]),
            str(files["Obj.csv"]),
            "--table",
            str(files["Src.json"]),
            str(files["Src.csv"]),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "clitest.Obj: 61 rows in" in result.stderr and "clitest.Src: 183 rows" in result.stderr


def test_every_partitioned_table_has_every_chunk_of_its_database(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    first = write_inputs(tmp_path / "first", "chunksets", objects=30)
    tables = [
        TableInput(read_table(first["Obj.json"]), (first["Obj.csv"],)),
        TableInput(read_table(first["Src.json"]), (first["Src.csv"],)),
    ]
    database = read_database(first["database"])
    asyncio.run(ingest(cluster.config, database, tables))
    # A second director in the same database, far from the first one's chunks.
    other = tmp_path / "Far.json"
    other.write_text(first["Obj.json"].read_text().replace('"Obj"', '"Far"'))
    far_rows = tmp_path / "Far.csv"
    far_rows.write_text(
        "".join(f"{5000 + i},{100.0 + i * 0.01!r},{45.0 + i * 0.01!r},1\n" for i in range(20))
    )
    asyncio.run(ingest(cluster.config, database, [TableInput(read_table(other), (far_rows,))]))
    conn = czar_db(cluster)
    try:
        chunk_sets = defaultdict(set)
        for table, chunk in query(
            conn, "SELECT table_name, chunk_id FROM qservMeta.chunk_rows WHERE db = 'chunksets'"
        ):
            chunk_sets[table].add(chunk)
        placed = {
            c
            for (c,) in query(
                conn, "SELECT chunk_id FROM qservMeta.chunk_replicas WHERE db = 'chunksets'"
            )
        }
    finally:
        conn.close()
    assert chunk_sets["Obj"] == chunk_sets["Src"] == chunk_sets["Far"] == placed
    by_worker = _chunk_tables_by_worker(cluster, "chunksets")
    everywhere = set().union(*by_worker.values())
    for chunk in placed:
        assert {
            f"Obj_{chunk}",
            f"Src_{chunk}",
            f"Far_{chunk}",
            f"FarFullOverlap_{chunk}",
        } <= everywhere


def test_dummy_chunk_tables_are_on_every_worker(cluster: LocalCluster, tmp_path: Path) -> None:
    files = write_inputs(tmp_path, "dummies", objects=10)
    tables = [
        TableInput(read_table(files["Obj.json"]), (files["Obj.csv"],)),
        TableInput(read_table(files["Src.json"]), (files["Src.csv"],)),
    ]
    asyncio.run(ingest(cluster.config, read_database(files["database"]), tables))
    wanted = {f"Obj_{DUMMY_CHUNK}", f"ObjFullOverlap_{DUMMY_CHUNK}", f"Src_{DUMMY_CHUNK}"}
    for names in _chunk_tables_by_worker(cluster, "dummies", dummy=True).values():
        assert wanted <= names

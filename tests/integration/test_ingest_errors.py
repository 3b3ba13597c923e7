"""Bad input ends an ingest with an error naming file and line, and leaves nothing behind."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from qserv_py.cluster.local import LocalCluster
from qserv_py.ingest.description import read_database, read_table
from qserv_py.ingest.errors import IngestError
from qserv_py.ingest.loader import TableInput, ingest
from tests.cluster_support import czar_db, query, worker_db
from tests.integration.synthetic import write_inputs

pytestmark = pytest.mark.cluster
_names = itertools.count()


def _run(cluster: LocalCluster, files: dict[str, Path], child: bool = True) -> None:
    tables = [TableInput(read_table(files["Obj.json"]), (files["Obj.csv"],))]
    if child:
        tables.append(TableInput(read_table(files["Src.json"]), (files["Src.csv"],)))
    asyncio.run(ingest(cluster.config, read_database(files["database"]), tables))


def _assert_nothing_left(cluster: LocalCluster, database: str) -> None:
    conn = czar_db(cluster)
    try:
        assert query(conn, "SELECT name FROM qservMeta.`tables` WHERE db = %s", (database,)) == []
        assert query(conn, "SELECT * FROM qservMeta.chunk_rows WHERE db = %s", (database,)) == []
        leftovers = query(conn, "SHOW TABLES FROM qservMeta LIKE %s", (f"{database}%",))
        assert leftovers == []
        states = query(
            conn, "SELECT state FROM qservMeta.ingest_transactions WHERE db = %s", (database,)
        )
        assert states and all(s == ("ABORTED",) for s in states)
    finally:
        conn.close()
    for worker in cluster.config.workers:
        conn = worker_db(cluster, worker.name)
        try:
            dbs = {r[0] for r in query(conn, "SHOW DATABASES")}
            assert not any(d.startswith("qserv_txn_") for d in dbs), dbs
            if database in dbs:
                assert query(conn, f"SHOW TABLES FROM `{database}`") == []
        finally:
            conn.close()
        assert not any(cluster.config.worker_dir(worker.name).glob("staging/*/*"))


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    return write_inputs(tmp_path, f"errtest{next(_names)}")


def _database(files: dict[str, Path]) -> str:
    return read_database(files["database"]).name


def _replace_line(path: Path, line: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n")


def test_wrong_field_count_names_file_and_line_and_rerun_works(
    cluster: LocalCluster, inputs: dict[str, Path]
) -> None:
    original = inputs["Obj.csv"].read_text()
    _replace_line(inputs["Obj.csv"], 17, "1016,10.5,-20.25")
    with pytest.raises(IngestError) as err:
        _run(cluster, inputs)
    assert err.value.path == inputs["Obj.csv"] and err.value.line == 17
    assert "expected 4 fields, found 3" in str(err.value)
    _assert_nothing_left(cluster, _database(inputs))
    inputs["Obj.csv"].write_text(original)
    _run(cluster, inputs)
    conn = czar_db(cluster)
    try:
        rows = query(
            conn,
            "SELECT name, row_count FROM qservMeta.`tables` WHERE db = %s ORDER BY name",
            (_database(inputs),),
        )
    finally:
        conn.close()
    assert rows == [("Obj", 61), ("Src", 183)]


def test_bad_number_is_rejected_by_mariadb_with_the_line(
    cluster: LocalCluster, inputs: dict[str, Path]
) -> None:
    _replace_line(inputs["Obj.csv"], 9, "1008,58.4,-35.2,not-a-magnitude")
    with pytest.raises(IngestError) as err:
        _run(cluster, inputs)
    assert err.value.path == inputs["Obj.csv"] and err.value.line == 9
    assert "Incorrect" in str(err.value) and "mag" in str(err.value)
    _assert_nothing_left(cluster, _database(inputs))


def test_bad_number_in_a_position_column(cluster: LocalCluster, inputs: dict[str, Path]) -> None:
    _replace_line(inputs["Obj.csv"], 5, "1004,29.2,minus-ten,20.0")
    with pytest.raises(IngestError) as err:
        _run(cluster, inputs)
    assert err.value.line == 5 and "decl" in str(err.value)
    _assert_nothing_left(cluster, _database(inputs))


@pytest.mark.parametrize("row", ["1003,360.5,10.0,20.0", "1003,-0.1,10.0,20.0", "1003,10.0,90.5,1"])
def test_position_out_of_range(cluster: LocalCluster, inputs: dict[str, Path], row: str) -> None:
    _replace_line(inputs["Obj.csv"], 4, row)
    with pytest.raises(IngestError, match="position out of range") as err:
        _run(cluster, inputs)
    assert err.value.line == 4
    _assert_nothing_left(cluster, _database(inputs))


def test_null_position(cluster: LocalCluster, inputs: dict[str, Path]) -> None:
    _replace_line(inputs["Obj.csv"], 6, "1005,\\N,10.0,20.0")
    with pytest.raises(IngestError, match="NULL") as err:
        _run(cluster, inputs)
    assert err.value.line == 6
    _assert_nothing_left(cluster, _database(inputs))


def test_child_without_director_row(cluster: LocalCluster, inputs: dict[str, Path]) -> None:
    _replace_line(inputs["Src.csv"], 11, "999999,424242,1.0")
    with pytest.raises(IngestError, match="needs its director row") as err:
        _run(cluster, inputs)
    assert err.value.path == inputs["Src.csv"] and err.value.line == 11
    _assert_nothing_left(cluster, _database(inputs))


def test_duplicate_director_key(cluster: LocalCluster, inputs: dict[str, Path]) -> None:
    _replace_line(inputs["Obj.csv"], 30, "1003,200.0,45.0,21.0")
    with pytest.raises(IngestError, match="duplicate director key") as err:
        _run(cluster, inputs)
    assert err.value.line == 30 and "line 4" in str(err.value)
    _assert_nothing_left(cluster, _database(inputs))


def test_existing_table_is_refused_and_left_untouched(
    cluster: LocalCluster, inputs: dict[str, Path]
) -> None:
    _run(cluster, inputs, child=False)
    with pytest.raises(IngestError, match="already exists"):
        _run(cluster, inputs, child=False)
    conn = czar_db(cluster)
    try:
        rows = query(
            conn, "SELECT row_count FROM qservMeta.`tables` WHERE db = %s", (_database(inputs),)
        )
    finally:
        conn.close()
    assert rows == [(61,)]

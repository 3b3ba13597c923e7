"""Parquet input: MariaDB reads the rendered text back exactly, and ingest stores every value.

The first tests load `PARQUET_DIALECT` text straight into the oracle mariadbd, under the
workers' ``STRICT_ALL_TABLES``, and compare value by value (doubles bit for bit) with the
Parquet file. The others ingest Parquet director, child and regular tables into the cluster
and compare the union of the chunk tables on the workers with the Parquet content, chunk
placement included; bad rows must fail the run with an error naming the Parquet row.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import json
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pymysql
import pytest

from qserv_py.cluster.local import LocalCluster
from qserv_py.ingest.description import DatabaseDescription, TableDescription, read_table
from qserv_py.ingest.errors import IngestError
from qserv_py.ingest.loader import TableInput, ingest
from qserv_py.ingest.parquet_blocks import PARQUET_DIALECT, read_parquet_blocks
from qserv_py.sphgeom.chunker import Chunker
from qserv_py.sql import quote_ident, quote_string
from tests.cluster_support import czar_db, query, worker_db
from tests.oracle import Oracle
from tests.unit.test_parquet_blocks import TRICKY

pytestmark = pytest.mark.cluster
_names = itertools.count()
WORKER_SQL_MODE = "STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION"  # qserv_py/worker/database.py
EXTREME_DOUBLES = [
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    0.1,
    1 / 3,
    123456789.12345679,
    1e-300,
]


def _exact(value: Any) -> Any:
    """Floats by their bits (``-0.0 != 0.0``), everything else as is."""
    return value.hex() if isinstance(value, float) else value


def _exact_rows(rows: list[tuple[Any, ...]] | list[list[Any]]) -> list[tuple[Any, ...]]:
    return [tuple(_exact(v) for v in row) for row in rows]


def _utc(value: datetime.datetime | None) -> datetime.datetime | None:
    if value is None:
        return None
    return value.astimezone(datetime.UTC).replace(tzinfo=None)


def _load_into_oracle(
    oracle: Oracle, tmp_path: Path, source: pa.Table, create: str
) -> pymysql.connections.Connection[Any]:
    """Render ``source`` through read_parquet_blocks and LOAD DATA it into table ``t``."""
    path = tmp_path / "source.parquet"
    pq.write_table(source, path, row_group_size=4096)
    columns = tuple((name, "TEXT") for name in source.column_names)
    table = TableDescription(database="db", name="t", kind="regular", columns=columns)
    text = tmp_path / "piece.load"
    text.write_bytes(b"".join(block.data for block in read_parquet_blocks(path, table)))
    database = f"pqload{next(_names)}"
    conn = oracle.connect()
    with conn.cursor() as cur:
        cur.execute(f"SET SESSION sql_mode = {quote_string(WORKER_SQL_MODE)}")
        cur.execute(f"CREATE DATABASE {quote_ident(database)}")
        cur.execute(f"USE {quote_ident(database)}")
        cur.execute(f"CREATE TABLE t ({create}) ENGINE=MyISAM")
        cur.execute(
            f"LOAD DATA INFILE {quote_string(str(text))} INTO TABLE t"
            f" {PARQUET_DIALECT.load_data_clause()}"
        )
        cur.execute("SHOW WARNINGS")
        assert cur.fetchall() == ()  # no silent truncation or conversion
    return conn


def test_mariadb_reads_parquet_text_back_exactly(oracle: Oracle, tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    n = 20_000
    doubles = rng.integers(0, 2**64, size=n, dtype=np.uint64).view(np.float64)
    doubles = np.where(np.isfinite(doubles) & (doubles != 0), doubles, 1.5)
    doubles[: len(EXTREME_DOUBLES)] = EXTREME_DOUBLES
    floats = rng.integers(0, 2**32, size=n, dtype=np.uint32).view(np.float32)
    floats = np.where(np.isfinite(floats) & (floats != 0), floats, np.float32(0.5))
    floats[:3] = [np.finfo(np.float32).max, np.finfo(np.float32).tiny, np.float32(1e-45)]
    nulls = np.arange(n) % 13 == 5
    when = datetime.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=datetime.UTC)
    source = pa.table(
        {
            "id": pa.array(np.arange(n)),
            "s": pa.array([TRICKY[i % len(TRICKY)] for i in range(n)], pa.string()),
            "d": pa.array(doubles, mask=nulls),
            "f": pa.array(floats, mask=nulls),
            "fd": pa.array(floats),  # float32 into a DOUBLE column
            "b": pa.array([None if i % 7 == 3 else i % 2 == 0 for i in range(n)]),
            "ts": pa.array(
                [None if i % 5 == 1 else when + datetime.timedelta(seconds=i) for i in range(n)],
                pa.timestamp("us", tz="America/Chicago"),
            ),
            "day": pa.array([datetime.date(1, 1, 1) + datetime.timedelta(i) for i in range(n)]),
            "tm": pa.array([datetime.time(i % 24, i % 60, 0, i % 1000) for i in range(n)]),
            "n": pa.array([Decimal(i).scaleb(-4) - 1 for i in range(n)], pa.decimal128(12, 4)),
            "u": pa.array([2**64 - 1 - i for i in range(n)], pa.uint64()),
            "k": pa.array([None if i % 3 else "xy"[i % 2] for i in range(n)]).dictionary_encode(),
        }
    )
    create = (
        "id BIGINT NOT NULL, s VARCHAR(64), d DOUBLE, f FLOAT, fd DOUBLE, b BOOLEAN,"
        " ts DATETIME(6), day DATE, tm TIME(6), n DECIMAL(12,4), u BIGINT UNSIGNED, k VARCHAR(4)"
    )
    conn = _load_into_oracle(oracle, tmp_path, source, create)
    try:
        got = query(
            conn,
            "SELECT id, s, d, CAST(f AS DOUBLE), fd, b, ts, day, tm, n, u, k FROM t ORDER BY id",
        )
    finally:
        conn.close()
    expected = [
        (
            r["id"],
            r["s"],
            r["d"],
            r["f"],  # the float32 value, widened exactly
            r["fd"],
            None if r["b"] is None else int(r["b"]),
            _utc(r["ts"]),
            r["day"],
            None
            if r["tm"] is None
            else datetime.datetime.combine(datetime.date.min, r["tm"]) - datetime.datetime.min,
            r["n"],
            r["u"],
            r["k"],
        )
        for r in source.to_pylist()
    ]
    assert len(got) == n
    assert _exact_rows(got) == _exact_rows(expected)


def test_what_mariadb_cannot_store(oracle: Oracle, tmp_path: Path) -> None:
    """Negative zero comes back as +0; NaN is refused with its row, like any bad value."""
    conn = _load_into_oracle(oracle, tmp_path, pa.table({"d": [-0.0]}), "d DOUBLE NOT NULL")
    try:
        assert _exact_rows(query(conn, "SELECT d FROM t")) == [((0.0).hex(),)]
    finally:
        conn.close()
    with pytest.raises(pymysql.err.DataError, match=r"'nan' for column .* at row 2") as err:
        _load_into_oracle(oracle, tmp_path, pa.table({"d": [1.0, float("nan")]}), "d DOUBLE")
    assert err.value.args[0] == 1366


def test_non_ascii_strings(oracle: Oracle, tmp_path: Path) -> None:
    words = ["café", "€", "Москва", "𝛼"]
    conn = _load_into_oracle(
        oracle, tmp_path, pa.table({"s": words}), "s VARCHAR(16) CHARACTER SET utf8mb4"
    )
    try:
        assert [r[0] for r in query(conn, "SELECT s FROM t")] == words
    finally:
        conn.close()


# --- ingest into the cluster ---------------------------------------------------------------

OBJ_SCHEMA = [
    ("objectId", "bigint(20) NOT NULL"),
    ("ra", "double NOT NULL"),
    ("decl", "double NOT NULL"),
    ("mag", "float DEFAULT NULL"),
    ("flux", "double DEFAULT NULL"),
    ("name", "varchar(64) DEFAULT NULL"),
    ("flag", "tinyint(1) DEFAULT NULL"),
    ("seen", "datetime(6) DEFAULT NULL"),
    ("price", "decimal(12,4) DEFAULT NULL"),
]
SRC_SCHEMA = [
    ("sourceId", "bigint(20) NOT NULL"),
    ("objectId", "bigint(20) NOT NULL"),
    ("flux", "double DEFAULT NULL"),
    ("note", "text"),
]
FILT_SCHEMA = [("id", "int NOT NULL"), ("label", "varchar(32) DEFAULT NULL"), ("w", "double")]
OBJ_SELECT = "objectId, ra, decl, CAST(mag AS DOUBLE), flux, name, flag, seen, price"


def _database(tmp_path: Path) -> DatabaseDescription:
    name = f"pqtest{next(_names)}"
    return DatabaseDescription(name, num_stripes=85, num_sub_stripes=12, overlap=0.01667)


def _describe(
    tmp_path: Path, database: str, table: str, schema: list[tuple[str, str]], **extra: Any
) -> TableDescription:
    """A description as a Qserv user writes it; its fields_* options do not apply to Parquet."""
    path = tmp_path / f"{table}.json"
    record = {
        "database": database,
        "table": table,
        "schema": [{"name": n, "type": t} for n, t in schema],
        "fields_terminated_by": "|",
        **extra,
    }
    path.write_text(json.dumps(record))
    return read_table(path)


def _director(tmp_path: Path, database: str) -> TableDescription:
    return _describe(
        tmp_path,
        database,
        "PObj",
        OBJ_SCHEMA,
        is_partitioned=1,
        director_table="",
        director_key="objectId",
        longitude_key="ra",
        latitude_key="decl",
    )


def _objects(n: int, seed: int) -> pa.Table:
    """Director rows with NULLs, tricky strings and extreme doubles; columns out of order."""
    rng = np.random.default_rng(seed)
    flux = rng.integers(0, 2**64, size=n, dtype=np.uint64).view(np.float64)
    flux = np.where(np.isfinite(flux) & (flux != 0), flux, 2.5)
    flux[: len(EXTREME_DOUBLES)] = EXTREME_DOUBLES
    ra = rng.uniform(10.0, 20.0, n)  # a few dozen chunks: fewer tables to create
    ra[:3] = [0.0, 360.0, 359.99999999]
    decl = rng.uniform(0.0, 10.0, n)
    decl[:3] = [0.0, -90.0, 90.0]
    mag = rng.uniform(15, 25, n).astype(np.float32)
    start = datetime.datetime(2023, 1, 1, tzinfo=datetime.UTC)
    return pa.table(
        {
            "ignored": pa.array(np.zeros(n)),
            "name": pa.array([TRICKY[i % len(TRICKY)] for i in range(n)], pa.string()),
            "decl": decl,
            "objectId": pa.array(1000 + np.arange(n)),
            "ra": ra,
            "mag": pa.array(mag, mask=np.arange(n) % 9 == 4),
            "flux": pa.array(flux, mask=np.arange(n) % 17 == 8),
            "flag": pa.array([None if i % 4 == 3 else i % 3 == 0 for i in range(n)]),
            "seen": pa.array(
                [None if i % 6 == 2 else start + datetime.timedelta(microseconds=7 * i * i)
                 for i in range(n)],
                pa.timestamp("us", tz="UTC"),
            ),
            "price": pa.array([Decimal(i * 37).scaleb(-4) for i in range(n)], pa.decimal128(12, 4)),
        }
    )  # fmt: skip


def _expected_objects(source: pa.Table) -> list[tuple[Any, ...]]:
    return [
        (
            r["objectId"],
            r["ra"],
            r["decl"],
            r["mag"],
            r["flux"],
            r["name"],
            None if r["flag"] is None else int(r["flag"]),
            _utc(r["seen"]),
            r["price"],
        )
        for r in source.to_pylist()
    ]


def _worker_tables(cluster: LocalCluster, database: str, pattern: str, select: str) -> list[Any]:
    """Rows of every table named like ``pattern`` on every worker, with the worker's name."""
    rows: list[tuple[Any, ...]] = []
    for worker in cluster.config.workers:
        conn = worker_db(cluster, worker.name)
        try:
            tables = [r[0] for r in query(conn, f"SHOW TABLES FROM {quote_ident(database)}")]
            for table in sorted(t for t in tables if re.fullmatch(pattern, t)):
                sql = f"SELECT {select} FROM {quote_ident(database)}.{quote_ident(table)}"
                rows += [(worker.name, *r) for r in query(conn, sql)]
        finally:
            conn.close()
    return rows


def _run(cluster: LocalCluster, database: DatabaseDescription, *tables: TableInput) -> None:
    asyncio.run(ingest(cluster.config, database, list(tables)))


def _published(cluster: LocalCluster, database: str) -> list[tuple[Any, ...]]:
    conn = czar_db(cluster)
    try:
        return query(
            conn,
            "SELECT name, row_count FROM qservMeta.`tables` WHERE db = %s ORDER BY name",
            (database,),
        )
    finally:
        conn.close()


def test_parquet_tables_ingest_exactly(cluster: LocalCluster, tmp_path: Path) -> None:
    database = _database(tmp_path)
    director = _director(tmp_path, database.name)
    child = _describe(
        tmp_path, database.name, "PSrc", SRC_SCHEMA,
        is_partitioned=1, director_table="PObj", director_key="objectId",
    )  # fmt: skip
    regular = _describe(tmp_path, database.name, "PFilt", FILT_SCHEMA, is_partitioned=0)
    objects = _objects(400, seed=3)
    obj_files = (tmp_path / "obj1.parquet", tmp_path / "obj2.pq")
    pq.write_table(objects.slice(0, 250), obj_files[0], row_group_size=64)
    pq.write_table(objects.slice(250), obj_files[1], row_group_size=64)
    sources = pa.table(
        {
            "note": pa.array([TRICKY[(i * 5) % len(TRICKY)] for i in range(1200)], pa.string()),
            "sourceId": pa.array(np.arange(1200) + 500_000),
            "objectId": pa.array(1000 + np.arange(1200) // 3),
            "flux": pa.array(
                [EXTREME_DOUBLES[i % len(EXTREME_DOUBLES)] for i in range(1200)],
                mask=np.arange(1200) % 10 == 0,
            ),
        }
    )
    pq.write_table(sources, tmp_path / "src.parq", row_group_size=500)
    filters = pa.table(
        {
            "w": pa.array(EXTREME_DOUBLES * 2 + [None] * 3),
            "label": pa.array(TRICKY, pa.string()),
            "id": pa.array(range(len(TRICKY)), pa.int32()),
        }
    )
    pq.write_table(filters, tmp_path / "filt.parquet")
    _run(
        cluster,
        database,
        TableInput(director, obj_files),
        TableInput(child, (tmp_path / "src.parq",)),
        TableInput(regular, (tmp_path / "filt.parquet",)),
    )
    assert _published(cluster, database.name) == [("PFilt", 21), ("PObj", 400), ("PSrc", 1200)]

    chunker = Chunker(database.num_stripes, database.num_sub_stripes)
    ra, decl = objects["ra"].to_numpy(), objects["decl"].to_numpy()
    chunks, subs = chunker.locate(ra, decl)
    expected = [
        (*row, int(c), int(s))
        for row, c, s in zip(_expected_objects(objects), chunks, subs, strict=True)
    ]
    home = _worker_tables(cluster, database.name, r"PObj_\d+", f"{OBJ_SELECT}, chunkId, subChunkId")
    assert _exact_rows(sorted(r[1:] for r in home)) == _exact_rows(expected)

    rows, ochunks, osubs = chunker.locate_overlap(ra, decl, database.overlap)
    overlap = _worker_tables(
        cluster, database.name, r"PObjFullOverlap_\d+", f"{OBJ_SELECT}, chunkId, subChunkId"
    )
    assert rows.size > 0
    expected_overlap = [
        (*expected[r][:-2], int(c), int(s))
        for r, c, s in zip(rows.tolist(), ochunks, osubs, strict=True)
    ]
    assert Counter(_exact_rows([r[1:] for r in overlap])) == Counter(_exact_rows(expected_overlap))

    by_object = {r[0]: r[-2:] for r in expected}
    expected_src = [
        (r["sourceId"], r["objectId"], r["flux"], r["note"], *by_object[r["objectId"]])
        for r in sources.to_pylist()
    ]
    stored_src = _worker_tables(
        cluster, database.name, r"PSrc_\d+", "sourceId, objectId, flux, note, chunkId, subChunkId"
    )
    assert _exact_rows(sorted(r[1:] for r in stored_src)) == _exact_rows(expected_src)

    stored_filt = _worker_tables(cluster, database.name, "PFilt", "id, label, w")
    expected_filt = [(r["id"], r["label"], r["w"]) for r in filters.to_pylist()]
    for worker in cluster.config.workers:
        mine = sorted(r[1:] for r in stored_filt if r[0] == worker.name)
        assert _exact_rows(mine) == _exact_rows(expected_filt), worker.name


def _bad_director(
    cluster: LocalCluster, tmp_path: Path, column: str, row: int, value: Any
) -> tuple[IngestError, Path, str]:
    """Ingest 60 objects whose ``column`` at 1-based ``row`` holds ``value``; return the error."""
    database = _database(tmp_path)
    objects = _objects(60, seed=5)
    values = objects[column].to_pylist()
    values[row - 1] = value
    index = objects.schema.get_field_index(column)
    objects = objects.set_column(index, column, pa.array(values, objects[column].type))
    path = tmp_path / f"bad_{column}.parquet"
    pq.write_table(objects, path, row_group_size=20)
    with pytest.raises(IngestError) as err:
        _run(cluster, database, TableInput(_director(tmp_path, database.name), (path,)))
    assert _published(cluster, database.name) == []
    return err.value, path, database.name


def test_bad_position_names_the_parquet_row(cluster: LocalCluster, tmp_path: Path) -> None:
    error, path, _ = _bad_director(cluster, tmp_path, "ra", 57, 400.0)
    assert "position out of range: ra=400.0" in str(error)
    assert (error.path, error.line, error.unit) == (path, 57, "row")
    assert str(error).startswith(f"{path}, row 57: ")


def test_null_position_names_the_parquet_row(cluster: LocalCluster, tmp_path: Path) -> None:
    error, path, _ = _bad_director(cluster, tmp_path, "decl", 23, None)
    assert str(error).startswith(f"{path}, row 23: position column decl is NULL")


def test_value_mariadb_rejects_names_the_parquet_row(cluster: LocalCluster, tmp_path: Path) -> None:
    error, path, _ = _bad_director(cluster, tmp_path, "flux", 41, float("nan"))
    assert str(error).startswith(f"{path}, row 41: rejected by MariaDB while loading PObj_")
    assert "Incorrect double value: 'nan'" in str(error)


def test_missing_parquet_column(cluster: LocalCluster, tmp_path: Path) -> None:
    database = _database(tmp_path)
    path = tmp_path / "obj.parquet"
    pq.write_table(_objects(10, seed=1).drop_columns(["mag", "price"]), path)
    with pytest.raises(IngestError, match="missing columns mag, price") as err:
        _run(cluster, database, TableInput(_director(tmp_path, database.name), (path,)))
    assert err.value.path == path
    assert _published(cluster, database.name) == []


def test_parquet_and_text_files_do_not_mix(cluster: LocalCluster, tmp_path: Path) -> None:
    database = _database(tmp_path)
    files = (tmp_path / "a.parquet", tmp_path / "b.csv")
    pq.write_table(_objects(10, seed=2), files[0])
    files[1].write_text("1|2.0|3.0|\\N|\\N|\\N|\\N|\\N|\\N\n")
    with pytest.raises(IngestError, match="PObj mix Parquet and text"):
        _run(cluster, database, TableInput(_director(tmp_path, database.name), files))

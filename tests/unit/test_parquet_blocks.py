"""Parquet batches rendered as `PARQUET_DIALECT` text, without a server.

Each test reads the text back with an independent parser configured as MariaDB reads the
dialect (``"`` enclosure with doubled quotes, no escape, unquoted NULL is NULL); what MariaDB
itself makes of the text is checked in tests/integration/test_parquet_ingest.py.
"""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from qserv_py.ingest.description import TableDescription
from qserv_py.ingest.errors import IngestError
from qserv_py.ingest.parquet_blocks import PARQUET_DIALECT, is_parquet, read_parquet_blocks
from qserv_py.ingest.partitioner import BlockPartitioner
from qserv_py.ingest.text_blocks import TextBlock
from qserv_py.sphgeom.chunker import Chunker

TRICKY = [
    "plain",
    "a,b",
    'q"x',
    '"',
    '""',
    'ends"',
    '"starts',
    '","',
    "l1\nl2",
    "\n",
    "\r\n",
    'x"\n"y',
    "back\\slash",
    "\\",
    "\\N",
    "N",
    "NULL",
    "",
    " ",
    "tab\there",
    None,
]


def _table(columns: list[tuple[str, str]], kind: str = "regular") -> TableDescription:
    if kind == "director":
        return TableDescription(
            database="db",
            name="Obj",
            kind="director",
            columns=(*columns, ("chunkId", "int(11) NOT NULL"), ("subChunkId", "int(11) NOT NULL")),
            director_key="id",
            longitude_key="ra",
            latitude_key="decl",
        )
    return TableDescription(database="db", name="T", kind="regular", columns=tuple(columns))


def _write(path: Path, table: pa.Table, row_group_size: int | None = None) -> Path:
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def _read_back(data: bytes, schema: pa.Schema) -> pa.Table:
    """Parse rendered text the way MariaDB reads PARQUET_DIALECT."""
    return pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=schema.names),
        parse_options=pacsv.ParseOptions(
            delimiter=",", quote_char='"', double_quote=True, escape_char=False,
            newlines_in_values=True,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=schema, null_values=["NULL"], strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )  # fmt: skip


def _blocks(path: Path, table: TableDescription, batch_rows: int = 100_000) -> list[TextBlock]:
    return list(read_parquet_blocks(path, table, batch_rows))


def test_tricky_strings_and_nulls_survive(tmp_path: Path) -> None:
    ids = pa.array(range(len(TRICKY)), pa.int64())
    source = pa.table({"id": ids, "s": pa.array(TRICKY, pa.string())})
    path = _write(tmp_path / "t.parquet", source)
    table = _table([("id", "BIGINT"), ("s", "VARCHAR(20)")])
    (block,) = _blocks(path, table)
    assert block.unit == "row" and len(block) == len(TRICKY)
    assert block.lines.tolist() == list(range(1, len(TRICKY) + 1))
    assert _read_back(block.data, source.schema).to_pylist() == source.to_pylist()
    for i, value in enumerate(TRICKY):  # each record alone holds its row
        row = _read_back(block.record(i) + b"\n", source.schema).to_pylist()
        assert row == [{"id": i, "s": value}]
    assert block.record(TRICKY.index(None)) == b"20,NULL"
    assert block.record(TRICKY.index("NULL")) == b'16,"NULL"'
    assert block.record(TRICKY.index("")) == b'17,""'


def test_strings_without_newlines_take_the_fast_path(tmp_path: Path) -> None:
    values = [v for v in TRICKY if v is None or "\n" not in v]
    path = _write(tmp_path / "t.parquet", pa.table({"s": pa.array(values, pa.string())}))
    (block,) = _blocks(path, _table([("s", "TEXT")]))
    newlines = np.flatnonzero(np.frombuffer(block.data, dtype=np.uint8) == ord("\n"))
    assert block.ends.tolist() == newlines.tolist() and len(block) == len(values)


def test_doubles_are_written_in_a_form_that_parses_to_the_same_bits(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**64, size=50_000, dtype=np.uint64).view(np.float64)
    extremes = [5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 1 / 3]
    values = np.concatenate([bits[np.isfinite(bits)], extremes])
    path = _write(tmp_path / "d.parquet", pa.table({"d": values}))
    blocks = _blocks(path, _table([("d", "DOUBLE")]), batch_rows=7_000)
    assert len(blocks) == -(-values.size // 7_000)
    text = b"".join(b.data for b in blocks).split(b"\n")[:-1]
    parsed = np.array([float(t) for t in text])
    assert np.array_equal(parsed.view(np.uint64), values.view(np.uint64))


def test_float32_is_widened_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    bits = rng.integers(0, 2**32, size=20_000, dtype=np.uint32).view(np.float32)
    extremes = np.array([np.finfo(np.float32).max, np.finfo(np.float32).tiny, 1e-45], np.float32)
    values = np.concatenate([bits[np.isfinite(bits)], extremes])
    path = _write(tmp_path / "f.parquet", pa.table({"f": values}))
    (block,) = _blocks(path, _table([("f", "FLOAT")]))
    parsed = np.array([float(t) for t in block.data.split(b"\n")[:-1]])
    assert np.array_equal(parsed, values.astype(np.float64))
    assert b"3.4028234663852886e+38" in block.data  # FLT_MAX stays in MariaDB's FLOAT range


def test_other_types_render_as_mariadb_reads_them(tmp_path: Path) -> None:
    utc = datetime.datetime(2024, 2, 29, 23, 59, 58, 123456)
    source = pa.table(
        {
            "b": pa.array([True, False, None]),
            "i": pa.array([-(2**63), 2**63 - 1, None], pa.int64()),
            "u": pa.array([2**64 - 1, 0, None], pa.uint64()),
            "ts": pa.array([utc, None, datetime.datetime(1970, 1, 1)], pa.timestamp("us")),
            "tz": pa.array([utc, None, utc], pa.timestamp("us", tz="UTC")).cast(
                pa.timestamp("us", tz="America/New_York")
            ),
            "d": pa.array([datetime.date(2024, 2, 29), None, datetime.date(1, 1, 1)]),
            "t": pa.array([datetime.time(1, 2, 3, 4), None, datetime.time(23, 59)]),
            "n": pa.array([Decimal("1.2300"), None, Decimal("-0.0001")], pa.decimal128(10, 4)),
            "k": pa.array(["x", None, "x"]).dictionary_encode(),
            "h": pa.array([0.5, None, -2.0], pa.float16()),
        }
    )
    path = _write(tmp_path / "o.parquet", source)
    (block,) = _blocks(path, _table([(c, "TEXT") for c in source.column_names]))
    assert block.record(0) == (
        b"1,-9223372036854775808,18446744073709551615,2024-02-29 23:59:58.123456,"
        b'2024-02-29 23:59:58.123456,2024-02-29,01:02:03.000004,1.2300,"x",0.5'
    )
    assert block.record(1) == b"0,9223372036854775807,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL"
    assert block.record(2).startswith(b"NULL,NULL,NULL,1970-01-01 00:00:00.000000,2024-02-29 23:")


def test_columns_are_selected_by_name_in_table_order(tmp_path: Path) -> None:
    source = pa.table({"extra": [9, 9], "b": ["p", "q"], "a": [1, 2]})
    path = _write(tmp_path / "c.parquet", source)
    (block,) = _blocks(path, _table([("a", "INT"), ("b", "TEXT")]))
    assert block.data == b'1,"p"\n2,"q"\n'


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.parquet", pa.table({"a": [1], "c": [2]}))
    table = _table([("a", "INT"), ("b", "INT"), ("d", "INT")])
    with pytest.raises(IngestError, match="missing columns b, d") as err:
        _blocks(path, table)
    assert err.value.path == path and err.value.line is None
    assert "the file has a, c" in str(err.value)


def test_binary_columns_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.parquet", pa.table({"a": [1], "blob": pa.array([b"\x00"])}))
    with pytest.raises(IngestError, match="column blob has Parquet type binary"):
        _blocks(path, _table([("a", "INT"), ("blob", "BLOB")]))


def test_not_a_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_text("1,2\n")
    with pytest.raises(IngestError, match="cannot read as Parquet") as err:
        _blocks(path, _table([("a", "INT")]))
    assert err.value.path == path


def test_rows_are_numbered_over_row_groups_and_batches(tmp_path: Path) -> None:
    source = pa.table({"a": list(range(100)), "s": ["l\n"] * 100})
    path = _write(tmp_path / "r.parquet", source, row_group_size=30)
    blocks = _blocks(path, _table([("a", "INT"), ("s", "TEXT")]), batch_rows=16)
    assert np.concatenate([b.lines for b in blocks]).tolist() == list(range(1, 101))
    assert [int(a) for b in blocks for a in _read_back(b.data, source.schema)["a"].to_pylist()] == (
        list(range(100))
    )
    assert all(b.unit == "row" for b in blocks)


def test_empty_file_yields_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.parquet", pa.table({"a": pa.array([], pa.int64())}))
    assert _blocks(path, _table([("a", "INT")])) == []


def test_suffixes() -> None:
    assert all(is_parquet(Path(f"x{s}")) for s in (".parquet", ".parq", ".pq", ".PARQUET"))
    assert not any(is_parquet(Path(f"x{s}")) for s in (".csv", ".tsv", ".gz", ".parquet.gz"))


def _director_file(tmp_path: Path, ra: list[float | None]) -> tuple[Path, TableDescription]:
    n = len(ra)
    source = pa.table(
        {
            "id": pa.array(range(1, n + 1), pa.int64()),
            "ra": pa.array(ra, pa.float64()),
            "decl": pa.array([10.0] * n),
            "s": pa.array([TRICKY[i % len(TRICKY)] for i in range(n)], pa.string()),
        }
    )
    path = _write(tmp_path / "obj.parquet", source, row_group_size=7)
    columns = [("id", "BIGINT"), ("ra", "DOUBLE"), ("decl", "DOUBLE"), ("s", "TEXT")]
    return path, _table(columns, kind="director")


def test_partitioner_appends_chunk_columns_to_parquet_records(tmp_path: Path) -> None:
    ra = [float(i * 11 % 360) for i in range(40)]
    path, table = _director_file(tmp_path, list(ra))
    chunker = Chunker(85, 12)
    partitioner = BlockPartitioner(table, chunker, 0.0, dialect=PARQUET_DIALECT)
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("ra", pa.float64()),
            ("decl", pa.float64()),
            ("s", pa.string()),
            ("chunkId", pa.int64()),
            ("subChunkId", pa.int64()),
        ]
    )
    rows = []
    for block in read_parquet_blocks(path, table, batch_rows=9):
        part = partitioner.partition(block)
        for piece in part.pieces:
            got = _read_back(piece.data, schema).to_pylist()
            assert {r["chunkId"] for r in got} == {piece.chunk_id}
            assert [r["id"] for r in got] == piece.lines.tolist()  # id == row number here
            rows += got
    chunks, subs = chunker.locate(np.array(ra), np.full(len(ra), 10.0))
    rows.sort(key=lambda r: r["id"])
    assert [r["s"] for r in rows] == [TRICKY[i % len(TRICKY)] for i in range(40)]
    assert [r["chunkId"] for r in rows] == chunks.tolist()
    assert [r["subChunkId"] for r in rows] == subs.tolist()


def test_partitioner_errors_name_the_row(tmp_path: Path) -> None:
    ra: list[float | None] = [10.0] * 30
    ra[22] = 400.0
    path, table = _director_file(tmp_path, ra)
    partitioner = BlockPartitioner(table, Chunker(85, 12), 0.0, dialect=PARQUET_DIALECT)
    with pytest.raises(IngestError, match="position out of range") as err:
        for block in read_parquet_blocks(path, table, batch_rows=8):
            partitioner.partition(block)
    assert err.value.line == 23 and err.value.unit == "row"
    assert f"{path}, row 23: " in str(err.value)
    ra[22] = None
    path, table = _director_file(tmp_path, ra)
    with pytest.raises(IngestError, match="position column ra is NULL") as err:
        for block in read_parquet_blocks(path, table, batch_rows=8):
            partitioner.partition(block)
    assert err.value.line == 23 and f"{path}, row 23: " in str(err.value)


def test_error_message_unit() -> None:
    assert str(IngestError("bad", path=Path("f.pq"), line=3, unit="row")) == "f.pq, row 3: bad"
    assert str(IngestError("bad", path=Path("f.csv"), line=3)) == "f.csv, line 3: bad"

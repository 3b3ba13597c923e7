"""Read Parquet files as text blocks in a fixed dialect that LOAD DATA reads back exactly.

The rest of the pipeline (partitioner, shipper, worker ``LOAD DATA INFILE``) works on text
records, so each Parquet batch is rendered once, by pyarrow's CSV writer, in
`PARQUET_DIALECT`: ``FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' ESCAPED BY ''
LINES TERMINATED BY '\\n'``. The choice rests on how MariaDB 10.11 reads that dialect, checked
against a real mariadbd under ``STRICT_ALL_TABLES`` (tests/integration/test_parquet_ingest.py):

- every string is enclosed in quotes (pyarrow's ``quoting_style="needed"`` quotes all string
  values, whatever they hold) and a quote inside is doubled; with ``ESCAPED BY ''`` MariaDB
  reads ``""`` back as one quote and keeps everything else (``,``, ``\\``, ``\\r``, ``\\n``,
  ``\\N``) as written, so no escaping is needed;
- NULL is the unquoted word ``NULL``, which MariaDB reads as SQL NULL whenever an enclosure is
  set, while the string ``"NULL"`` stays a string; an empty string is ``""``;
- numbers are unquoted. pyarrow prints doubles in the shortest form that parses back to the
  same bits, and MariaDB parses them exactly (denormals and ±DBL_MAX included). float16/float32
  columns are widened to float64 first: the widened value is exact, so a FLOAT column stores
  the original bits and a DOUBLE column the exact value (FLT_MAX's shortest float32 form,
  ``3.4028235e+38``, would be out of range for MariaDB's FLOAT). NaN and ±inf are written as
  ``nan``/``inf``, which MariaDB rejects (it cannot store them), naming the row;
- booleans become 1/0 (MariaDB rejects ``true``); timestamps are written as
  ``YYYY-MM-DD HH:MM:SS[.fraction]`` in UTC without a zone suffix (MariaDB rejects ``Z``);
  MariaDB truncates fractions beyond the column's precision, as it does for text input;
- binary columns are refused: with ``ESCAPED BY ''`` raw bytes would pass only if they happen to
  form valid text in the load character set, and LOAD DATA cannot decode an encoding such as hex.

Limits MariaDB sets: negative zero is stored as +0, and strings are read in the worker session's
``character_set_database`` (latin1 on a private instance), so non-ASCII text needs LOAD DATA's
``CHARACTER SET utf8mb4``, which `CsvDialect` cannot express yet.

Record ends are exact: if the rendered batch has one newline per row, every newline ends a
record; otherwise some string holds a newline and the quote-aware scan finds the ends. Blocks
count in Parquet rows (1-based, over the whole file), so errors say "row N".
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from qserv_py.csv_dialect import CsvDialect
from qserv_py.ingest.description import TableDescription
from qserv_py.ingest.errors import IngestError
from qserv_py.ingest.text_blocks import NEWLINE, TextBlock, record_ends

PARQUET_DIALECT = CsvDialect(
    fields_terminated_by=",",
    fields_enclosed_by='"',
    fields_escaped_by="",
    lines_terminated_by="\n",
    character_set="utf8mb4",  # Arrow strings are UTF-8
)
PARQUET_SUFFIXES = frozenset({".parquet", ".parq", ".pq"})
DEFAULT_BATCH_ROWS = 100_000
_WRITE_OPTIONS = pacsv.WriteOptions(
    include_header=False,
    delimiter=PARQUET_DIALECT.fields_terminated_by,
    quoting_style="needed",
    null_string="NULL",
)


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in PARQUET_SUFFIXES


def read_parquet_blocks(
    path: Path, table: TableDescription, batch_rows: int = DEFAULT_BATCH_ROWS
) -> Iterator[TextBlock]:
    """Yield the table's input columns, ``batch_rows`` rows at a time, as `PARQUET_DIALECT` text."""
    columns = list(table.input_columns)
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise IngestError(f"cannot read as Parquet: {exc}", path=path) from exc
    with parquet:
        _check_schema(path, parquet.schema_arrow, columns)
        next_row = 1
        try:
            for batch in parquet.iter_batches(batch_size=batch_rows, columns=columns):
                if batch.num_rows == 0:
                    continue
                yield render_batch(path, batch, next_row)
                next_row += batch.num_rows
        except pa.ArrowException as exc:
            raise IngestError(
                f"cannot read as Parquet after row {next_row - 1}: {exc}", path=path
            ) from exc


def render_batch(path: Path, batch: pa.RecordBatch, first_row: int) -> TextBlock:
    """One batch as `PARQUET_DIALECT` records; ``first_row`` is the 1-based row of its first."""
    buffer = io.BytesIO()
    pacsv.write_csv(_textual(batch), buffer, _WRITE_OPTIONS)
    data = buffer.getvalue()
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == NEWLINE).astype(np.int64)
    if ends.size != batch.num_rows:  # a string holds a newline
        ends = record_ends(data, PARQUET_DIALECT)
    if ends.size != batch.num_rows:
        raise IngestError(
            f"rendered {ends.size} records for {batch.num_rows} rows (a bug: please report it)",
            path=path,
            line=first_row,
            unit="row",
        )
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lines = np.arange(first_row, first_row + batch.num_rows, dtype=np.int64)
    return TextBlock(path, data, starts, ends, lines, unit="row")


def _check_schema(path: Path, schema: pa.Schema, columns: list[str]) -> None:
    names = set(schema.names)
    missing = [c for c in columns if c not in names]
    if missing:
        raise IngestError(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
            f" (the table's input columns are {', '.join(columns)};"
            f" the file has {', '.join(schema.names)})",
            path=path,
        )
    for name in columns:
        problem = _unsupported(schema.field(name).type)
        if problem:
            raise IngestError(f"column {name} has Parquet type {problem}", path=path)


def _unsupported(arrow_type: pa.DataType) -> str:
    """Why a column of this type cannot be rendered, or ``""`` if it can."""
    if pa.types.is_dictionary(arrow_type):
        return _unsupported(arrow_type.value_type)
    if (
        pa.types.is_binary(arrow_type)
        or pa.types.is_large_binary(arrow_type)
        or pa.types.is_fixed_size_binary(arrow_type)
        or pa.types.is_binary_view(arrow_type)
    ):
        return (
            f"{arrow_type}: binary values have no text form LOAD DATA reads back exactly;"
            " store them as strings (e.g. hex) in the Parquet file"
        )
    supported = (
        pa.types.is_null(arrow_type)
        or pa.types.is_boolean(arrow_type)
        or pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_decimal(arrow_type)
        or pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_string_view(arrow_type)
        or pa.types.is_date(arrow_type)
        or pa.types.is_time(arrow_type)
        or pa.types.is_timestamp(arrow_type)
    )
    return "" if supported else f"{arrow_type}, which has no MariaDB column to load into"


def _textual(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Cast the columns whose CSV form MariaDB would misread (see the module docstring)."""
    arrays = []
    for column in batch.columns:
        arrow_type = column.type
        if pa.types.is_dictionary(arrow_type):
            column = column.dictionary_decode()
            arrow_type = column.type
        if pa.types.is_boolean(arrow_type):
            column = column.cast(pa.int8())
        elif pa.types.is_floating(arrow_type) and arrow_type != pa.float64():
            column = column.cast(pa.float64())
        elif pa.types.is_timestamp(arrow_type) and arrow_type.tz is not None:
            column = column.cast(pa.timestamp(arrow_type.unit))  # same instants, UTC wall clock
        elif pa.types.is_string_view(arrow_type):
            column = column.cast(pa.string())
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)

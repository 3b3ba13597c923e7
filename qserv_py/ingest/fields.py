"""Parse the few columns the partitioner needs (position, director key) out of a text block.

pyarrow's multithreaded CSV reader converts only the included columns; a failure is explained
by a slow scan that finds the first offending record, so the error names the input line.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from qserv_py.csv_dialect import CsvDialect
from qserv_py.ingest.errors import IngestError
from qserv_py.ingest.text_blocks import TextBlock

_INTEGER_TYPE = re.compile(r"^\s*(tiny|small|medium|big)?int\b", re.IGNORECASE)
NULLS = ["\\N", "N"]  # with escaping on, pyarrow has already turned \N into N
NULL_WORD = "NULL"  # unquoted, MariaDB reads it as NULL when the dialect has an enclosure


def arrow_type(sql_type: str) -> pa.DataType:
    """Arrow type used to read a key column: integers as int64, anything else as string."""
    if _INTEGER_TYPE.match(sql_type) and "unsigned" not in sql_type.lower():
        return pa.int64()
    if _INTEGER_TYPE.match(sql_type):
        return pa.uint64()
    return pa.string()


def parse_columns(
    block: TextBlock,
    dialect: CsvDialect,
    input_columns: tuple[str, ...],
    wanted: dict[str, pa.DataType],
) -> dict[str, pa.ChunkedArray]:
    """The wanted columns as Arrow arrays; callers check NULLs (see ``first_null``)."""
    nulls = [*NULLS, NULL_WORD] if dialect.fields_enclosed_by else NULLS
    try:
        table = pacsv.read_csv(
            io.BytesIO(block.data),
            read_options=pacsv.ReadOptions(
                column_names=list(input_columns), block_size=max(1 << 20, len(block.data) + 1)
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=dialect.fields_terminated_by,
                quote_char=dialect.fields_enclosed_by or False,
                escape_char=dialect.fields_escaped_by or False,
                newlines_in_values=True,
            ),
            convert_options=pacsv.ConvertOptions(
                include_columns=list(wanted),
                column_types=wanted,
                null_values=nulls,
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise _explain(block, dialect, input_columns, wanted, exc) from exc
    if table.num_rows != len(block):
        raise IngestError(
            f"could not split records consistently ({table.num_rows} parsed, {len(block)} found);"
            " check fields_enclosed_by / fields_escaped_by",
            path=block.path,
            line=int(block.lines[0]),
            unit=block.unit,
        )
    return {name: table.column(name) for name in wanted}


def _explain(
    block: TextBlock,
    dialect: CsvDialect,
    input_columns: tuple[str, ...],
    wanted: dict[str, pa.DataType],
    exc: Exception,
) -> IngestError:
    """Find the first record with the wrong field count or an unparsable wanted value."""
    expected = len(input_columns)
    positions = {name: input_columns.index(name) for name in wanted}
    nulls = {n.encode() for n in NULLS} | (
        {NULL_WORD.encode()} if dialect.fields_enclosed_by else set()
    )
    for i in range(len(block)):
        fields = split_record(block.record(i), dialect)
        line = int(block.lines[i])
        if len(fields) != expected:
            return IngestError(
                f"expected {expected} fields, found {len(fields)}",
                path=block.path,
                line=line,
                unit=block.unit,
            )
        for name, index in positions.items():
            value = fields[index]
            if value in nulls or pa.types.is_string(wanted[name]):
                continue
            try:
                float(value) if pa.types.is_floating(wanted[name]) else int(value)
            except ValueError:
                return IngestError(
                    f"column {name}: {value.decode(errors='replace')!r} is not a number",
                    path=block.path,
                    line=line,
                    unit=block.unit,
                )
    return IngestError(
        f"cannot parse: {exc}", path=block.path, line=int(block.lines[0]), unit=block.unit
    )


def split_record(record: bytes, dialect: CsvDialect) -> list[bytes]:
    """Split one record into raw fields (escapes removed), for diagnostics only."""
    sep = dialect.fields_terminated_by.encode()
    esc = dialect.fields_escaped_by.encode()
    quote = dialect.fields_enclosed_by.encode()
    fields: list[bytes] = []
    current = bytearray()
    in_quotes = False
    i = 0
    while i < len(record):
        byte = record[i : i + 1]
        if esc and byte == esc and i + 1 < len(record):
            current += record[i : i + 2]
            i += 2
            continue
        if quote and byte == quote:
            in_quotes = not in_quotes
        elif byte == sep and not in_quotes:
            fields.append(bytes(current))
            current = bytearray()
        else:
            current += byte
        i += 1
    fields.append(bytes(current))
    return fields


def first_null(column: pa.ChunkedArray) -> int | None:
    """Index of the first NULL in ``column``, or None."""
    if not column.null_count:
        return None
    return int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])

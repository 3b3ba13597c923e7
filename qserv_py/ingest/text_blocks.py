"""Read delimited text files as blocks of whole records, with the input line of every record.

Rows are passed to MariaDB as the user wrote them (no re-serialisation), so the splitter only has
to find record ends: a ``\\n`` that is neither escaped (preceded by an odd run of the escape
character) nor inside an enclosure. The common case, no escape before any newline and no
enclosure character, is found with numpy; the rest takes a slow exact scan. Each block keeps
the first input line of every record so that errors name the line.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from qserv_py.csv_dialect import CsvDialect
from qserv_py.ingest.errors import IngestError

NEWLINE = 10
DEFAULT_BLOCK_BYTES = 8 << 20


@dataclass(frozen=True, slots=True)
class TextBlock:
    """Whole records; record ``i`` is ``data[starts[i]:ends[i]]`` (without its newline)."""

    path: Path
    data: bytes
    starts: np.ndarray
    ends: np.ndarray
    lines: np.ndarray  # 1-based input line number where each record starts
    unit: str = "line"  # what ``lines`` counts: "line" (text files) or "row" (Parquet files)

    def __len__(self) -> int:
        return int(self.starts.size)

    def record(self, i: int) -> bytes:
        return self.data[int(self.starts[i]) : int(self.ends[i])]

    def error_at(self, i: int, message: str) -> IngestError:
        """An error about record ``i``, naming the file and its line (or row)."""
        return IngestError(message, path=self.path, line=int(self.lines[i]), unit=self.unit)


def open_input(path: Path) -> BinaryIO:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def read_blocks(
    path: Path, dialect: CsvDialect, block_bytes: int = DEFAULT_BLOCK_BYTES
) -> Iterator[TextBlock]:
    """Yield blocks of complete records; a missing final newline is tolerated."""
    escape = ord(dialect.fields_escaped_by) if dialect.fields_escaped_by else -1
    quote = ord(dialect.fields_enclosed_by) if dialect.fields_enclosed_by else -1
    separator = ord(dialect.fields_terminated_by)
    next_line = 1
    carry = b""
    with open_input(path) as stream:
        while True:
            chunk = stream.read(block_bytes)
            at_eof = not chunk
            data = carry + chunk
            if at_eof:
                if not data:
                    return
                if not data.endswith(b"\n"):
                    data += b"\n"
            ends = _record_ends(data, escape, quote, separator)
            if ends.size == 0:
                carry = data
                continue
            cut = int(ends[-1]) + 1
            block_data, carry = data[:cut], data[cut:]
            starts = np.empty_like(ends)
            starts[0] = 0
            starts[1:] = ends[:-1] + 1
            lines = _first_lines(block_data, starts, next_line)
            next_line += block_data.count(b"\n")
            yield TextBlock(path, block_data, starts, ends, lines)
            if at_eof:
                return


def record_ends(data: bytes, dialect: CsvDialect) -> np.ndarray:
    """Offsets of the newlines that end the records of ``data`` written in ``dialect`` (int64)."""
    escape = ord(dialect.fields_escaped_by) if dialect.fields_escaped_by else -1
    quote = ord(dialect.fields_enclosed_by) if dialect.fields_enclosed_by else -1
    return _record_ends(data, escape, quote, ord(dialect.fields_terminated_by))


def _record_ends(data: bytes, escape: int, quote: int, separator: int) -> np.ndarray:
    """Offsets of the newlines that end records (int64)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == NEWLINE)
    if quote >= 0 and data.find(bytes([quote])) >= 0:
        return _record_ends_slow(data, escape, quote, separator)
    if escape < 0 or newlines.size == 0:
        return newlines.astype(np.int64)
    suspicious = newlines[(newlines > 0) & (buf[np.maximum(newlines - 1, 0)] == escape)]
    if suspicious.size == 0:
        return newlines.astype(np.int64)
    escaped = {int(n) for n in suspicious if _escaped(buf, int(n), escape)}
    keep = np.array([int(n) not in escaped for n in newlines], dtype=bool)
    ends: np.ndarray = newlines[keep].astype(np.int64)
    return ends


def _escaped(buf: np.ndarray, pos: int, escape: int) -> bool:
    run = 0
    i = pos - 1
    while i >= 0 and buf[i] == escape:
        run += 1
        i -= 1
    return run % 2 == 1


def _record_ends_slow(data: bytes, escape: int, quote: int, separator: int) -> np.ndarray:
    """Exact scan honouring enclosures and escapes (small regular tables use quotes)."""
    ends: list[int] = []
    in_quotes = False
    field_start = True
    i = 0
    n = len(data)
    while i < n:
        byte = data[i]
        if byte == escape:
            i += 2
            field_start = False
            continue
        if in_quotes:
            if byte == quote:
                if i + 1 < n and data[i + 1] == quote:
                    i += 2
                    continue
                in_quotes = False
        elif byte == quote and field_start:
            in_quotes = True
        elif byte == NEWLINE:
            ends.append(i)
            field_start = True
            i += 1
            continue
        field_start = byte == separator and not in_quotes  # a field may open after a separator
        i += 1
    return np.asarray(ends, dtype=np.int64)


def _first_lines(data: bytes, starts: np.ndarray, first: int) -> np.ndarray:
    """1-based input line of each record start (records may contain escaped newlines)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    newline_positions = np.flatnonzero(buf == NEWLINE)
    return first + np.searchsorted(newline_positions, starts, side="left").astype(np.int64)

"""Turn a block of input records into per-chunk pieces, as Qserv's ``sph-partition`` does.

Each record goes to its home chunk with ``chunkId`` and ``subChunkId`` appended (the columns
Qserv's partitioner adds). Director records also go, as overlap rows, to every neighbouring
sub-chunk within the table's overlap (reference/sphgeom-and-scisql.md 2.3). A child record goes
where its position puts it, or, with no position columns, where its director row lives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from qserv_py.csv_dialect import CsvDialect
from qserv_py.ingest.description import TableDescription
from qserv_py.ingest.director_index import DirectorLookup
from qserv_py.ingest.errors import IngestError
from qserv_py.ingest.fields import arrow_type, first_null, parse_columns
from qserv_py.ingest.text_blocks import TextBlock
from qserv_py.sphgeom.chunker import Chunker


@dataclass(slots=True)
class ChunkPiece:
    """Rows for one chunk table (home) or its ``FullOverlap`` table, ready for LOAD DATA."""

    chunk_id: int
    overlap: bool
    data: bytes
    lines: np.ndarray  # input line of each row, to explain a MariaDB error at row N


@dataclass(slots=True)
class PartitionedBlock:
    pieces: list[ChunkPiece]
    home_chunks: np.ndarray  # chunkId per input record
    home_sub_chunks: np.ndarray
    keys: pa.ChunkedArray | None = None  # director key per record (directors only)
    lines: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))


class BlockPartitioner:
    def __init__(
        self,
        table: TableDescription,
        chunker: Chunker,
        overlap: float,
        director: DirectorLookup | None = None,
        dialect: CsvDialect | None = None,
    ) -> None:
        """``dialect`` is the blocks' text format: the table's own unless the input is Parquet."""
        self._table = table
        self._dialect = dialect or table.dialect
        self._chunker = chunker
        self._overlap = overlap if table.kind == "director" else 0.0
        self._director = director
        if table.kind == "child" and not table.has_position and director is None:
            raise IngestError(
                f"{table.name} has no position columns: its director {table.director_table}"
                " must be ingested first so its rows can follow the director's chunks"
            )
        self._separator = self._dialect.fields_terminated_by.encode()

    def partition(self, block: TextBlock) -> PartitionedBlock:
        table = self._table
        wanted: dict[str, pa.DataType] = {}
        if table.has_position:
            wanted[table.longitude_key] = pa.float64()
            wanted[table.latitude_key] = pa.float64()
        if table.kind == "director" or not table.has_position:
            wanted[table.director_key] = arrow_type(table.column_type(table.director_key))
        columns = parse_columns(block, self._dialect, table.input_columns, wanted)
        keys = columns.get(table.director_key)
        if table.kind == "director" and keys is not None:
            bad = first_null(keys)
            if bad is not None:
                raise block.error_at(bad, f"director key {table.director_key} is NULL")
        if table.has_position:
            lon, lat = self._positions(block, columns)
            chunks, subs = self._chunker.locate(lon, lat)
        else:
            assert keys is not None
            chunks, subs = self._follow_director(block, keys)
        pieces = self._pieces(block, chunks, subs, np.arange(len(block)), overlap=False)
        if self._overlap > 0.0:
            rows, ochunks, osubs = self._chunker.locate_overlap(lon, lat, self._overlap)
            pieces += self._pieces(block, ochunks, osubs, rows, overlap=True)
        return PartitionedBlock(
            pieces, chunks, subs, keys if table.kind == "director" else None, block.lines
        )

    def _positions(
        self, block: TextBlock, columns: dict[str, pa.ChunkedArray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Longitudes and latitudes, checked as Qserv's partitioner requires."""
        for name in (self._table.longitude_key, self._table.latitude_key):
            bad = first_null(columns[name])
            if bad is not None:
                raise block.error_at(bad, f"position column {name} is NULL")
        lon = columns[self._table.longitude_key].to_numpy()
        lat = columns[self._table.latitude_key].to_numpy()
        invalid = self._chunker.invalid_positions(lon, lat)
        if invalid.any():
            bad = int(np.flatnonzero(invalid)[0])
            raise block.error_at(
                bad,
                f"position out of range: {self._table.longitude_key}={float(lon[bad])!r},"
                f" {self._table.latitude_key}={float(lat[bad])!r}"
                " (longitude must be in [0, 360], latitude in [-90, 90])",
            )
        return lon, lat

    def _follow_director(
        self, block: TextBlock, keys: pa.ChunkedArray
    ) -> tuple[np.ndarray, np.ndarray]:
        assert self._director is not None
        bad = first_null(keys)
        if bad is not None:
            raise block.error_at(
                bad, f"{self._table.director_key} is NULL: the row cannot follow a director row"
            )
        chunks, subs, found = self._director.lookup(keys)
        if not found.all():
            bad = int(np.flatnonzero(~found)[0])
            raise block.error_at(
                bad,
                f"no {self._table.director_table} row with {self._table.director_key}="
                f"{keys[bad].as_py()!r} (a child row needs its director row)",
            )
        return chunks, subs

    def _pieces(
        self,
        block: TextBlock,
        chunks: np.ndarray,
        subs: np.ndarray,
        rows: np.ndarray,
        *,
        overlap: bool,
    ) -> list[ChunkPiece]:
        if rows.size == 0:
            return []
        order = np.argsort(chunks, kind="stable")
        sorted_chunks = chunks[order]
        bounds = np.flatnonzero(np.diff(sorted_chunks)) + 1
        starts = block.starts[rows[order]].tolist()
        ends = block.ends[rows[order]].tolist()
        sub_list = subs[order].tolist()
        lines = block.lines[rows[order]]
        data = block.data
        sep = self._separator
        pieces = []
        for lo, hi in zip(
            [0, *bounds.tolist()], [*bounds.tolist(), sorted_chunks.size], strict=True
        ):
            chunk = int(sorted_chunks[lo])
            prefix = sep + str(chunk).encode() + sep
            suffix = {s: prefix + str(s).encode() + b"\n" for s in set(sub_list[lo:hi])}
            body = b"".join(
                [
                    data[a:b] + suffix[s]
                    for a, b, s in zip(starts[lo:hi], ends[lo:hi], sub_list[lo:hi], strict=True)
                ]
            )
            pieces.append(ChunkPiece(chunk, overlap, body, lines[lo:hi]))
        return pieces

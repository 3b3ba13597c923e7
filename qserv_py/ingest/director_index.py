"""The director index of one ingest run: director key -> (chunkId, subChunkId), in memory.

It serves two purposes while ingesting: child rows without position columns look up their
director's chunk here, and a unique director key is checked across the whole input (per-chunk
primary keys only see their own chunk). Keys are kept as sorted numpy arrays; lookups are
vectorised ``searchsorted``. The czar db keeps the persistent copy (``qservMeta.<db>__<table>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from qserv_py.ingest.errors import IngestError


def _as_numpy(keys: pa.ChunkedArray | pa.Array | np.ndarray) -> np.ndarray:
    if isinstance(keys, np.ndarray):
        return keys
    if pa.types.is_string(keys.type) or pa.types.is_large_string(keys.type):
        return np.asarray(keys.to_pylist(), dtype=object).astype(str)
    values: np.ndarray = keys.to_numpy()
    return values


@dataclass(frozen=True, slots=True)
class DirectorLookup:
    """Sorted keys with their chunk and sub-chunk."""

    keys: np.ndarray
    chunks: np.ndarray
    sub_chunks: np.ndarray

    def __len__(self) -> int:
        return int(self.keys.size)

    def lookup(
        self, keys: pa.ChunkedArray | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(chunk, subChunk, found) for each key; not-found entries hold -1."""
        wanted = _as_numpy(keys)
        if self.keys.size == 0:
            missing = np.full(wanted.shape, -1, dtype=np.int32)
            return missing, missing.copy(), np.zeros(wanted.shape, dtype=bool)
        pos = np.searchsorted(self.keys, wanted)
        pos_clipped = np.minimum(pos, self.keys.size - 1)
        found = self.keys[pos_clipped] == wanted
        chunks = np.where(found, self.chunks[pos_clipped], -1).astype(np.int32)
        subs = np.where(found, self.sub_chunks[pos_clipped], -1).astype(np.int32)
        return chunks, subs, found


class DirectorIndexBuilder:
    """Accumulates a director table's keys block by block, then sorts and checks uniqueness."""

    def __init__(self, table: str, key: str) -> None:
        self._table = table
        self._key = key
        self._keys: list[np.ndarray] = []
        self._chunks: list[np.ndarray] = []
        self._subs: list[np.ndarray] = []
        self._lines: list[np.ndarray] = []
        self._files: list[np.ndarray] = []
        self._paths: list[Path] = []
        self._units: list[str] = []  # "line" (text) or "row" (Parquet), per path

    def add(
        self,
        path: Path,
        keys: pa.ChunkedArray,
        chunks: np.ndarray,
        sub_chunks: np.ndarray,
        lines: np.ndarray,
        unit: str = "line",
    ) -> None:
        if not self._paths or self._paths[-1] != path:
            self._paths.append(path)
            self._units.append(unit)
        self._keys.append(_as_numpy(keys))
        self._chunks.append(chunks.astype(np.int32))
        self._subs.append(sub_chunks.astype(np.int32))
        self._lines.append(lines.astype(np.int64))
        self._files.append(np.full(lines.shape, len(self._paths) - 1, dtype=np.int32))

    def build(self, *, unique: bool) -> DirectorLookup:
        if not self._keys:
            empty = np.empty(0, dtype=np.int64)
            return DirectorLookup(empty, empty.astype(np.int32), empty.astype(np.int32))
        keys = np.concatenate(self._keys)
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        chunks = np.concatenate(self._chunks)[order]
        subs = np.concatenate(self._subs)[order]
        if unique and keys.size > 1:
            dup = np.flatnonzero(keys[1:] == keys[:-1])
            if dup.size:
                first, second = int(order[dup[0]]), int(order[dup[0] + 1])
                lines = np.concatenate(self._lines)
                files = np.concatenate(self._files)
                raise IngestError(
                    f"duplicate director key {self._key}={keys[dup[0]]!r} in {self._table}: also"
                    f" at {self._paths[files[first]]}, {self._units[files[first]]} {lines[first]}"
                    " (set unique_primary_key to 0 if duplicates are intended)",
                    path=self._paths[files[second]],
                    line=int(lines[second]),
                    unit=self._units[files[second]],
                )
        return DirectorLookup(keys, chunks, subs)

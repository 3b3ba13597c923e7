"""Chunk placement: which workers hold a replica of each chunk of a database.

Placement is per database, not per table, so a child's chunk lands where its director's chunk
is and chunk-local joins stay local. A new chunk goes to the ``replicas`` workers holding the
fewest chunks (ties broken by name), which keeps workers balanced and placement deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from qserv_py.ingest.errors import IngestError


class Placement:
    def __init__(
        self,
        workers: Sequence[str],
        replicas: int,
        existing: Mapping[int, Sequence[str]] | None = None,
        load: Mapping[str, int] | None = None,
    ) -> None:
        if replicas < 1:
            raise IngestError("--replicas must be at least 1")
        if replicas > len(workers):
            raise IngestError(
                f"--replicas {replicas} needs at least {replicas} workers; the cluster has"
                f" {len(workers)}"
            )
        self._workers = sorted(workers)
        self._replicas = replicas
        self._chunks: dict[int, tuple[str, ...]] = {
            c: tuple(sorted(ws)) for c, ws in (existing or {}).items()
        }
        self._load = {w: 0 for w in self._workers}
        for name, count in (load or {}).items():
            if name in self._load:
                self._load[name] = count
        self._new: dict[int, tuple[str, ...]] = {}

    def workers_for(self, chunk_id: int) -> tuple[str, ...]:
        found = self._chunks.get(chunk_id)
        if found is not None:
            return found
        chosen = tuple(
            sorted(sorted(self._workers, key=lambda w: (self._load[w], w))[: self._replicas])
        )
        for worker in chosen:
            self._load[worker] += 1
        self._chunks[chunk_id] = chosen
        self._new[chunk_id] = chosen
        return chosen

    def place(self, chunk_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
        return {c: self.workers_for(c) for c in sorted(set(chunk_ids))}

    @property
    def all_chunks(self) -> list[int]:
        """Every chunk of the database, placed before or by this run."""
        return sorted(self._chunks)

    @property
    def new_chunks(self) -> dict[int, tuple[str, ...]]:
        """Chunks first placed by this run, to record in the czar db at commit."""
        return dict(self._new)

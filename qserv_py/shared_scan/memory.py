"""Chunk table files in and out of memory, and how many bytes came from disk.

Qserv's memman ``mmap``+``mlock``ed the MyISAM files of scan tables (removed in 2025: Qserv now
relies on the page cache plus chunk order, reference/qserv-behaviour.md 4.2). Here the scheduler
tells the kernel: ``posix_fadvise(WILLNEED)`` starts read-ahead of a chunk table's ``.MYD`` and
``.MYI`` before its convoy runs, ``posix_fadvise(DONTNEED)`` drops its clean pages once the
scheduler lets it go. Together with the state's budget this keeps at most ``memory_bytes`` of
scan tables cached per worker, so a table larger than the budget is read from disk once per
convoy instead of once per query, and the effect is measurable on a machine with plenty of RAM.

A segment is one chunk table, named ``"<db>/<table>"`` as its files are under the worker
MariaDB's ``datadir`` (plain names only: MariaDB's ``@XXXX`` file-name encoding of other
characters is not applied, and such tables are simply not managed).

Bytes read from disk: ``read_bytes`` of ``/proc/<pid>/io`` (the storage layer's count for the
process, page cache hits excluded), for the worker's ``mariadbd`` and for the worker itself,
since read-ahead started by ``fadvise`` is charged to the process that asked for it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

TABLE_FILES = (".MYD", ".MYI")  # MyISAM data and index
_NAME = r"[A-Za-z0-9_$]+"
_QUALIFIED = re.compile(rf"`?({_NAME})`?\s*\.\s*`?({_NAME}_(\d+))`?(?![A-Za-z0-9_$])")


def chunk_tables(sql: str, chunk_id: int) -> list[tuple[str, str]]:
    """``(db, table)`` of the chunk tables ``sql`` names for ``chunk_id`` (``Object_1234``,
    ``ObjectFullOverlap_1234``), sorted, without duplicates.

    >>> chunk_tables("SELECT 1 FROM `d`.`Object_12` AS o JOIN d.Source_12 s JOIN d.R", 12)
    [('d', 'Object_12'), ('d', 'Source_12')]
    """
    found = {
        (m.group(1), m.group(2)) for m in _QUALIFIED.finditer(sql) if int(m.group(3)) == chunk_id
    }
    return sorted(found)


class ChunkFiles:
    """The chunk tables' files under one MariaDB datadir; ``None`` manages nothing."""

    def __init__(self, datadir: Path | None) -> None:
        self.datadir = datadir

    def segments(self, chunk_id: int, sql: str) -> tuple[tuple[str, int], ...]:
        """``(segment, bytes)`` of the chunk tables ``sql`` reads that exist on disk."""
        if self.datadir is None:
            return ()
        out = []
        for db, table in chunk_tables(sql, chunk_id):
            size = 0
            for suffix in TABLE_FILES:
                try:
                    size += (self.datadir / db / f"{table}{suffix}").stat().st_size
                except OSError:
                    continue
            if size:
                out.append((f"{db}/{table}", size))
        return tuple(out)

    def load(self, segments: Iterable[str]) -> int:
        """Start read-ahead of the segments' files; the bytes asked for."""
        return self._advise(segments, os.POSIX_FADV_WILLNEED)

    def release(self, segments: Iterable[str], sync: bool = False) -> int:
        """Drop the segments' clean pages from the page cache; the bytes let go. ``sync``
        writes dirty pages first (freshly loaded tables), so that they can go too."""
        return self._advise(segments, os.POSIX_FADV_DONTNEED, sync)

    def _advise(self, segments: Iterable[str], advice: int, sync: bool = False) -> int:
        if self.datadir is None:
            return 0
        total = 0
        for segment in segments:
            for suffix in TABLE_FILES:
                path = self.datadir / f"{segment}{suffix}"
                try:
                    fd = os.open(path, os.O_RDONLY)
                except OSError:
                    continue
                try:
                    if sync:
                        os.fdatasync(fd)
                    os.posix_fadvise(fd, 0, 0, advice)
                    total += os.fstat(fd).st_size
                except OSError as exc:
                    log.debug("posix_fadvise(%s) failed: %s", path, exc)
                finally:
                    os.close(fd)
        return total


def read_bytes(pid: int | None) -> int | None:
    """Bytes the process has caused to be read from storage (``/proc/<pid>/io``), or None."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/io") as io:
            for line in io:
                if line.startswith("read_bytes:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None

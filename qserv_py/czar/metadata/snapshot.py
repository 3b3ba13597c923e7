"""An immutable snapshot of the czar db catalog, as the czar's query path reads it.

Loaded in a few small queries and replaced as a whole (``CatalogCache``), so a query sees one
consistent catalog even while an ingest commits.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from qserv_py.czar.analysis.catalog_view import columns_from_schema_json
from qserv_py.czar.metadata import catalog
from qserv_py.czar.metadata.schema import DEFAULT_SCAN_RATING, MAX_SCAN_RATING, META_DB

_TYPE_END = re.compile(
    r"\s+(NOT\s+NULL|NULL|DEFAULT|COMMENT|AUTO_INCREMENT|PRIMARY|UNIQUE)\b", re.I
)


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    name: str
    sql_type: str  # the type alone, e.g. "bigint(20)"
    nullable: bool
    definition: str  # the full definition from the description, e.g. "bigint(20) NOT NULL"


@dataclass(frozen=True, slots=True)
class TableInfo:
    db: str
    name: str
    kind: str  # director | child | regular
    columns: tuple[ColumnInfo, ...]
    director_table: str
    director_key: str
    longitude_key: str
    latitude_key: str
    row_count: int
    scan_rating: int = DEFAULT_SCAN_RATING  # operators set it: `qserv-py scan-rating`


@dataclass(frozen=True, slots=True)
class DatabaseInfo:
    name: str
    num_stripes: int
    num_sub_stripes: int
    overlap: float
    tables: dict[str, TableInfo]
    chunks: tuple[int, ...]  # chunks holding rows of any table, ascending
    replicas: dict[int, tuple[str, ...]]  # chunk -> workers holding it


@dataclass(frozen=True, slots=True)
class CatalogSnapshot:
    databases: dict[str, DatabaseInfo] = field(default_factory=dict)
    loaded_at: float = 0.0

    def scan_rating(self, tables: Iterable[tuple[str, str]]) -> int:
        """A query's scan rating: the highest of its ``(db, table)``s', capped at Qserv's
        SLOWEST (100), as Qserv's ScanTablePlugin computes it; unknown tables count as the
        default. dispatch's ``run_chunks(scan_rating=...)`` takes it."""
        ratings = []
        for db, table in tables:
            info = self.databases.get(db)
            found = info.tables.get(table) if info is not None else None
            ratings.append(DEFAULT_SCAN_RATING if found is None else found.scan_rating)
        return min(max(ratings, default=DEFAULT_SCAN_RATING), MAX_SCAN_RATING)

    def schema_mapping(self) -> dict[str, dict[str, dict[str, str]]]:
        """``{db: {table: {column: type}}}`` for SHOW and information_schema."""
        return {
            db.name: {t.name: {c.name: c.sql_type for c in t.columns} for t in db.tables.values()}
            for db in self.databases.values()
        }


def split_definition(definition: str) -> tuple[str, bool]:
    """("bigint(20) NOT NULL") -> ("bigint(20)", False)."""
    text = definition.strip()
    match = _TYPE_END.search(text)
    sql_type = text[: match.start()] if match else text
    nullable = not re.search(r"\bNOT\s+NULL\b", text, re.I)
    return sql_type.strip(), nullable


def _columns(description: str) -> tuple[ColumnInfo, ...]:
    """The user-visible columns, chunk columns included (ingest appends them when missing)."""
    out = []
    for column in columns_from_schema_json(description):
        sql_type, nullable = split_definition(column.sql_type)
        out.append(ColumnInfo(column.name, sql_type, nullable, column.sql_type.strip()))
    return tuple(out)


async def load_snapshot(conn: Any) -> CatalogSnapshot:
    databases = {}
    db_rows = await catalog.fetchall(
        conn, f"SELECT name, num_stripes, num_sub_stripes, overlap FROM {META_DB}.`databases`"
    )
    chunk_rows = await catalog.fetchall(
        conn,
        f"SELECT db, chunk_id FROM {META_DB}.chunk_rows WHERE row_count > 0"
        " GROUP BY db, chunk_id ORDER BY db, chunk_id",
    )
    replica_rows = await catalog.fetchall(
        conn, f"SELECT db, chunk_id, worker FROM {META_DB}.chunk_replicas ORDER BY 1, 2, 3"
    )
    for name, stripes, sub_stripes, overlap in db_rows:
        records = await catalog.get_tables(conn, str(name))
        tables = {
            r.name: TableInfo(
                r.db,
                r.name,
                r.kind,
                _columns(r.description),
                r.director_table,
                r.director_key,
                r.longitude_key,
                r.latitude_key,
                r.row_count,
                r.scan_rating,
            )
            for r in records.values()
        }
        replicas: dict[int, list[str]] = {}
        for db, chunk, worker in replica_rows:
            if db == name:
                replicas.setdefault(int(chunk), []).append(str(worker))
        databases[str(name)] = DatabaseInfo(
            str(name),
            int(stripes),
            int(sub_stripes),
            float(overlap),
            tables,
            tuple(int(c) for db, c in chunk_rows if db == name),
            {c: tuple(ws) for c, ws in replicas.items()},
        )
    return CatalogSnapshot(databases, time.monotonic())


class CatalogCache:
    """The latest snapshot, reloaded when older than ``max_age`` seconds (one load at a time)."""

    def __init__(
        self, load: Callable[[], Awaitable[CatalogSnapshot]], max_age: float = 2.0
    ) -> None:
        self._load = load
        self._max_age = max_age
        self._snapshot = CatalogSnapshot()
        self._lock = asyncio.Lock()

    async def get(self, max_age: float | None = None) -> CatalogSnapshot:
        """The snapshot, reloaded first if older than ``max_age`` (default: the cache's)."""
        limit = self._max_age if max_age is None else max_age
        if time.monotonic() - self._snapshot.loaded_at < limit:
            return self._snapshot
        async with self._lock:
            if time.monotonic() - self._snapshot.loaded_at >= limit:
                self._snapshot = await self._load()
        return self._snapshot

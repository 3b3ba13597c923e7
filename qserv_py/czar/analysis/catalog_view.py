"""The catalog as query analysis sees it: immutable, in memory, no I/O.

The czar builds one ``CatalogView`` from its db (``qservMeta.databases``, ``tables`` with their
JSON description, ``chunk_rows``) and hands it to ``analyse()`` with each query, so a query is
planned against one consistent catalog even while an ingest commits. Tests build views inline
with ``CatalogView.from_dicts``.

Name rules follow MariaDB on Linux (``lower_case_table_names=0``): database and table names are
case-sensitive, column names are not. ``chunkId`` and ``subChunkId`` are ordinary, user-visible
columns of partitioned tables, as in Qserv (reference/qserv-behaviour.md 1.7, "Magic columns").
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, cast

from qserv_py.czar.analysis.errors import UnknownDatabase, UnknownTable
from qserv_py.sphgeom.regions import RegionIndex

__all__ = [
    "CHUNK_COLUMN",
    "SUB_CHUNK_COLUMN",
    "CatalogView",
    "Column",
    "DatabaseInfo",
    "TableInfo",
    "TableKind",
    "columns_from_schema_json",
]

TableKind = Literal["director", "child", "regular"]
CHUNK_COLUMN = "chunkId"
SUB_CHUNK_COLUMN = "subChunkId"
_PARTITION_COLUMN_TYPE = "int(11) NOT NULL"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    sql_type: str
    """The MariaDB column definition from the table's schema, e.g. ``bigint(20) NOT NULL``."""

    @property
    def is_integer(self) -> bool:
        head = self.sql_type.strip().split("(")[0].split()[0].lower() if self.sql_type else ""
        return head in {"tinyint", "smallint", "mediumint", "int", "integer", "bigint"}


@dataclass(frozen=True, slots=True)
class TableInfo:
    db: str
    name: str
    kind: TableKind
    columns: tuple[Column, ...]
    director_table: str = ""
    """For a child: the director it follows (same database); empty otherwise."""
    director_key: str = ""
    """For a director: its unique key. For a child: its column holding the director's key."""
    longitude_key: str = ""
    latitude_key: str = ""
    row_count: int | None = None
    """Rows of the table (home rows of a partitioned one, overlap copies excluded), as the
    ingest that loaded it counted them; None when the view was built without counts."""

    @property
    def is_partitioned(self) -> bool:
        return self.kind != "regular"

    @property
    def has_position(self) -> bool:
        return bool(self.longitude_key and self.latitude_key)

    @property
    def qualified_name(self) -> str:
        return f"{self.db}.{self.name}"

    def column(self, name: str) -> Column | None:
        """The column called ``name``, compared case-insensitively as MariaDB does."""
        folded = name.lower()
        for column in self.columns:
            if column.name.lower() == folded:
                return column
        return None

    def suggest(self, name: str) -> str | None:
        """The closest column name, for "did you mean" advice; deterministic."""
        names = [c.name for c in self.columns]
        lowered = {n.lower(): n for n in names}
        match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
        return lowered[match[0]] if match else None


@dataclass(frozen=True, slots=True)
class DatabaseInfo:
    name: str
    num_stripes: int
    num_sub_stripes: int
    overlap: float
    chunks: tuple[int, ...]
    """Chunks holding rows of at least one table of the database, ascending."""


class CatalogView:
    """Databases and tables, looked up by name; lookups raise the MariaDB errors.

    Immutable after construction: its mappings are read-only proxies, its records frozen. It
    also keeps one ``RegionIndex`` per partitioning (about 0.1 ms each to build), so planning a
    query with an area restrictor builds no chunker.
    """

    __slots__ = ("_databases", "_region_indexes", "_tables")

    def __init__(self, databases: Iterable[DatabaseInfo], tables: Iterable[TableInfo]) -> None:
        dbs = {d.name: d for d in databases}
        by_db: dict[str, dict[str, TableInfo]] = {name: {} for name in dbs}
        for table in tables:
            if table.db not in dbs:
                raise ValueError(f"table {table.qualified_name}: database {table.db!r} not given")
            by_db[table.db][table.name] = table
        for db_tables in by_db.values():
            for table in db_tables.values():
                _check_table(table, db_tables)
        self._databases: Mapping[str, DatabaseInfo] = MappingProxyType(dbs)
        self._tables: Mapping[str, Mapping[str, TableInfo]] = MappingProxyType(
            {db: MappingProxyType(ts) for db, ts in by_db.items()}
        )
        indexes: dict[tuple[int, int], RegionIndex] = {}
        for d in dbs.values():
            key = (d.num_stripes, d.num_sub_stripes)
            if key not in indexes and any(t.is_partitioned for t in by_db[d.name].values()):
                indexes[key] = RegionIndex(*key)
        self._region_indexes: Mapping[tuple[int, int], RegionIndex] = MappingProxyType(indexes)

    def __repr__(self) -> str:
        counts = ", ".join(f"{db}: {len(ts)} tables" for db, ts in sorted(self._tables.items()))
        return f"CatalogView({counts})"

    @classmethod
    def from_dicts(
        cls, databases: Iterable[Mapping[str, Any]], tables: Iterable[Mapping[str, Any]]
    ) -> CatalogView:
        """A view from plain dicts, for tests and examples.

        Database keys: ``name, num_stripes, num_sub_stripes, overlap, chunks`` (chunk ids that
        have rows). Table keys: ``db, name, kind`` and ``columns`` (a list of ``[name, type]``
        pairs or ``{"name", "type"}`` objects), optionally ``director_table, director_key,
        longitude_key, latitude_key, row_count``. Partitioned tables get ``chunkId`` and
        ``subChunkId`` appended when their columns lack them, as ingest does.
        """
        dbs = [
            DatabaseInfo(
                name=str(d["name"]),
                num_stripes=int(d.get("num_stripes", 0)),
                num_sub_stripes=int(d.get("num_sub_stripes", 0)),
                overlap=float(d.get("overlap", 0.0)),
                chunks=tuple(sorted({int(c) for c in d.get("chunks", ())})),
            )
            for d in databases
        ]
        infos = []
        for t in tables:
            kind = str(t["kind"])
            if kind not in ("director", "child", "regular"):
                raise ValueError(
                    f"table {t['name']!r}: kind {kind!r} is not director/child/regular"
                )
            columns = _columns(t["columns"], partitioned=kind != "regular")
            infos.append(
                TableInfo(
                    db=str(t["db"]),
                    name=str(t["name"]),
                    kind=cast(TableKind, kind),
                    columns=columns,
                    director_table=str(t.get("director_table") or ""),
                    director_key=str(t.get("director_key") or ""),
                    longitude_key=str(t.get("longitude_key") or ""),
                    latitude_key=str(t.get("latitude_key") or ""),
                    row_count=None if t.get("row_count") is None else int(t["row_count"]),
                )
            )
        return cls(dbs, infos)

    def database_names(self) -> tuple[str, ...]:
        return tuple(sorted(self._databases))

    def database(self, name: str) -> DatabaseInfo:
        try:
            return self._databases[name]
        except KeyError:
            raise UnknownDatabase(
                f"Unknown database '{name}' (SHOW DATABASES lists the databases;"
                " names are case-sensitive)"
            ) from None

    def table(self, db: str, name: str) -> TableInfo:
        self.database(db)
        table = self._tables[db].get(name)
        if table is None:
            raise UnknownTable(f"Table '{db}.{name}' doesn't exist{self._table_hint(db, name)}")
        return table

    def tables(self, db: str) -> tuple[TableInfo, ...]:
        self.database(db)
        return tuple(t for _, t in sorted(self._tables[db].items()))

    def director_of(self, table: TableInfo) -> TableInfo:
        """The director a partitioned table follows (a director is its own)."""
        if table.kind == "director":
            return table
        if table.kind == "child":
            return self.table(table.db, table.director_table)
        raise ValueError(f"{table.qualified_name} is a regular table and has no director")

    def region_index(self, db: str) -> RegionIndex:
        d = self.database(db)
        index = self._region_indexes.get((d.num_stripes, d.num_sub_stripes))
        if index is None:
            raise ValueError(f"database {db} has no partitioned table, so no chunk geometry")
        return index

    def _table_hint(self, db: str, name: str) -> str:
        names = list(self._tables[db])
        folded = [n for n in names if n.lower() == name.lower()]
        if folded:
            return f" (table names are case-sensitive: did you mean {db}.{folded[0]}?)"
        close = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.6)
        if close:
            return f" (did you mean {db}.{close[0]}?)"
        return f" (SHOW TABLES FROM {db} lists its tables)"


def _columns(value: Any, *, partitioned: bool) -> tuple[Column, ...]:
    columns: list[Column] = []
    for entry in value:
        if isinstance(entry, Mapping):
            columns.append(Column(str(entry["name"]).strip(), str(entry["type"]).strip()))
        else:
            name, sql_type = entry
            columns.append(Column(str(name).strip(), str(sql_type).strip()))
    if partitioned:
        names = {c.name.lower() for c in columns}
        for extra in (CHUNK_COLUMN, SUB_CHUNK_COLUMN):
            if extra.lower() not in names:
                columns.append(Column(extra, _PARTITION_COLUMN_TYPE))
    if len({c.name.lower() for c in columns}) != len(columns):
        raise ValueError("duplicate column names: " + ", ".join(c.name for c in columns))
    return tuple(columns)


def columns_from_schema_json(description_json: str) -> tuple[Column, ...]:
    """The ordered columns of a table from its ingest description (``qservMeta.tables``).

    The description is the ``POST /ingest/table`` body stored at ingest: ``schema`` is a list of
    ``{"name", "type"}``; a partitioned table (``is_partitioned`` = 1) gets ``chunkId`` and
    ``subChunkId`` appended when its schema does not list them, as the partitioner adds them.
    Raises ``ValueError`` on a malformed description (a czar db problem, not a user error).
    """
    record = json.loads(description_json)
    if not isinstance(record, dict):
        raise ValueError("table description is not a JSON object")
    schema = record.get("schema")
    if not isinstance(schema, list) or not schema:
        raise ValueError("table description has no 'schema' list")
    for entry in schema:
        if not isinstance(entry, dict) or "name" not in entry or "type" not in entry:
            raise ValueError(f"bad schema entry {entry!r}: needs name and type")
    partitioned = bool(int(record.get("is_partitioned", 0) or 0))
    return _columns(schema, partitioned=partitioned)


def _check_table(table: TableInfo, siblings: Mapping[str, TableInfo]) -> None:
    """The invariants passes rely on: keys name real columns, a child's director exists."""

    def need(option: str, column: str, owner: TableInfo = table) -> None:
        if not column:
            raise ValueError(f"{table.qualified_name}: a {table.kind} table needs {option}")
        if owner.column(column) is None:
            raise ValueError(f"{table.qualified_name}: {option} {column!r} is not a column")

    if table.kind == "director":
        need("director_key", table.director_key)
        need("longitude_key", table.longitude_key)
        need("latitude_key", table.latitude_key)
    elif table.kind == "child":
        need("director_key", table.director_key)
        director = siblings.get(table.director_table)
        if director is None or director.kind != "director":
            raise ValueError(
                f"{table.qualified_name}: director_table {table.director_table!r} is not a"
                " director table of the same database"
            )
        if bool(table.longitude_key) != bool(table.latitude_key):
            raise ValueError(f"{table.qualified_name}: give both longitude_key and latitude_key")
        if table.has_position:
            need("longitude_key", table.longitude_key)
            need("latitude_key", table.latitude_key)

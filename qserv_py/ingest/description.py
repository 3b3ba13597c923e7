"""Database and table descriptions in the JSON shape of Qserv's ingest REST API.

``POST /ingest/database`` takes ``database, num_stripes, num_sub_stripes, overlap``;
``POST /ingest/table`` takes ``table, is_partitioned, director_table, director_key,
longitude_key, latitude_key, unique_primary_key, charset_name, collation_name, schema`` and the
``fields_*`` options of the data files (reference/qserv-behaviour.md 5.2). A Qserv user's files
load unchanged: input rows carry the schema's columns minus ``chunkId``/``subChunkId``, in order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from qserv_py.csv_dialect import CsvDialect
from qserv_py.ingest.errors import IngestError
from qserv_py.sphgeom.chunker import Chunker
from qserv_py.sql import is_plain_identifier

TableKind = Literal["director", "child", "regular"]
CHUNK_COLUMN = "chunkId"
SUB_CHUNK_COLUMN = "subChunkId"


@dataclass(frozen=True, slots=True)
class DatabaseDescription:
    name: str
    num_stripes: int
    num_sub_stripes: int
    overlap: float


@dataclass(frozen=True, slots=True)
class TableDescription:
    database: str
    name: str
    kind: TableKind
    columns: tuple[tuple[str, str], ...]
    director_table: str = ""
    director_key: str = ""
    longitude_key: str = ""
    latitude_key: str = ""
    unique_primary_key: bool = True
    charset: str = ""
    collation: str = ""
    dialect: CsvDialect = field(default_factory=CsvDialect)
    raw: str = "{}"

    @property
    def is_partitioned(self) -> bool:
        return self.kind != "regular"

    @property
    def has_position(self) -> bool:
        return bool(self.longitude_key and self.latitude_key)

    @property
    def input_columns(self) -> tuple[str, ...]:
        """Columns in the data files: all but the chunk columns the partitioner adds."""
        skip = {CHUNK_COLUMN, SUB_CHUNK_COLUMN} if self.is_partitioned else set()
        return tuple(name for name, _ in self.columns if name not in skip)

    def column_type(self, name: str) -> str:
        for column, sql_type in self.columns:
            if column == name:
                return sql_type
        raise KeyError(name)


def _load_json(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise IngestError("description file not found", path=path) from exc
    except ValueError as exc:
        raise IngestError(f"not valid JSON: {exc}", path=path) from exc
    if not isinstance(record, dict):
        raise IngestError("expected a JSON object", path=path)
    return record


def _identifier(value: Any, what: str, path: Path) -> str:
    name = str(value or "")
    if not is_plain_identifier(name):
        raise IngestError(f"{what} {name!r} must be letters, digits, '_' or '$'", path=path)
    return name


def read_database(path: Path) -> DatabaseDescription:
    record = _load_json(path)
    try:
        description = DatabaseDescription(
            name=_identifier(record.get("database"), "database name", path),
            num_stripes=int(record["num_stripes"]),
            num_sub_stripes=int(record["num_sub_stripes"]),
            overlap=float(record["overlap"]),
        )
    except KeyError as exc:
        raise IngestError(f"missing field {exc.args[0]!r}", path=path) from exc
    except (TypeError, ValueError) as exc:
        raise IngestError(f"bad value: {exc}", path=path) from exc
    try:  # Qserv's partitioner rules for stripes and overlap
        Chunker(description.num_stripes, description.num_sub_stripes).check_overlap(
            description.overlap
        )
    except ValueError as exc:
        raise IngestError(str(exc), path=path) from exc
    return description


def read_table(path: Path) -> TableDescription:
    return parse_table(_load_json(path), path)


def parse_table(record: dict[str, Any], path: Path) -> TableDescription:
    """A table description from its JSON object; ``path`` names its source in errors."""
    name = _identifier(record.get("table"), "table name", path)
    database = _identifier(record.get("database"), "database name", path)
    if record.get("director_table2") or record.get("director_key2"):
        raise IngestError(
            "match tables (director_table2) are not supported by this ingest yet", path=path
        )
    columns = _schema(record.get("schema"), path)
    partitioned = bool(int(record.get("is_partitioned", 0)))
    kind: TableKind = "regular"
    if partitioned:
        kind = "child" if record.get("director_table") else "director"
        names = [c for c, _ in columns]
        for extra in (CHUNK_COLUMN, SUB_CHUNK_COLUMN):
            if extra not in names:
                columns = (*columns, (extra, "int(11) NOT NULL"))
    description = TableDescription(
        database=database,
        name=name,
        kind=kind,
        columns=columns,
        director_table=str(record.get("director_table") or ""),
        director_key=str(record.get("director_key") or ""),
        longitude_key=str(record.get("longitude_key") or ""),
        latitude_key=str(record.get("latitude_key") or ""),
        unique_primary_key=bool(int(record.get("unique_primary_key", 1))),
        charset=str(record.get("charset_name") or ""),
        collation=str(record.get("collation_name") or ""),
        dialect=CsvDialect(
            fields_terminated_by=str(record.get("fields_terminated_by") or "\t"),
            fields_enclosed_by=str(record.get("fields_enclosed_by") or ""),
            fields_escaped_by=str(record.get("fields_escaped_by") or "\\"),
            lines_terminated_by=str(record.get("lines_terminated_by") or "\n"),
            character_set=str(record.get("charset_name") or ""),  # of the data and the table
        ),
        raw=json.dumps(record),
    )
    _check_table(description, path)
    return description


def _schema(value: Any, path: Path) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list) or not value:
        raise IngestError("'schema' must be a non-empty list of {name, type}", path=path)
    columns = []
    for entry in value:
        if not isinstance(entry, dict) or "name" not in entry or "type" not in entry:
            raise IngestError(f"bad schema entry {entry!r}: needs name and type", path=path)
        columns.append((str(entry["name"]).strip(), str(entry["type"]).strip()))
    names = [c for c, _ in columns]
    if len(set(names)) != len(names):
        raise IngestError("schema has duplicate column names", path=path)
    return tuple(columns)


def _check_table(table: TableDescription, path: Path) -> None:
    names = {c for c, _ in table.columns}
    needed: list[tuple[str, str]] = []
    if table.kind == "director":
        needed = [
            ("director_key", table.director_key),
            ("longitude_key", table.longitude_key),
            ("latitude_key", table.latitude_key),
        ]
    elif table.kind == "child":
        needed = [("director_key", table.director_key)]
        if bool(table.longitude_key) != bool(table.latitude_key):
            raise IngestError("give both longitude_key and latitude_key, or neither", path=path)
        if table.has_position:
            needed += [("longitude_key", table.longitude_key), ("latitude_key", table.latitude_key)]
    for option, column in needed:
        if not column:
            raise IngestError(f"a {table.kind} table needs '{option}'", path=path)
        if column not in names:
            raise IngestError(f"{option} {column!r} is not a column of the schema", path=path)
    for option, value in (("charset_name", table.charset), ("collation_name", table.collation)):
        if value and not is_plain_identifier(value):
            raise IngestError(
                f"{option} {value!r} is not a character set or collation name", path=path
            )
    dialect = table.dialect
    if len(dialect.fields_terminated_by) != 1 or dialect.lines_terminated_by != "\n":
        raise IngestError(
            "only single-character field separators and '\\n' line ends are supported", path=path
        )
    if len(dialect.fields_enclosed_by) > 1 or len(dialect.fields_escaped_by) > 1:
        raise IngestError(
            "fields_enclosed_by and fields_escaped_by are single characters", path=path
        )

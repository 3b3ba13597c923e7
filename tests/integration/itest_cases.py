"""Qserv's integration-test datasets (../shared/qserv-itest) as ingest inputs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from qserv_py.ingest.description import read_database, read_table
from qserv_py.ingest.loader import TableInput
from tests.cluster_support import QSERV_ITEST

KIND_ORDER = {"director": 0, "child": 1, "regular": 2}


@dataclass(frozen=True)
class ItestCase:
    name: str
    root: Path
    database_json: Path
    inputs: tuple[TableInput, ...]  # tables whose data is present, directors first
    match_tables: tuple[Path, ...]  # match-table descriptions (their own issue)
    absent: tuple[str, ...]  # tables whose data was not copied


def data_file(root: Path, table: str) -> Path | None:
    for ext in ("tsv.gz", "csv.gz"):
        path = root / "data" / f"{table}.{ext}"
        if path.exists():
            return path
    return None


def load_case(name: str) -> ItestCase:
    root = QSERV_ITEST / name
    ingest_dir = root / "data" / "ingest"
    inputs: list[TableInput] = []
    matches: list[Path] = []
    absent: list[str] = []
    for path in sorted(ingest_dir.glob("*.json")):
        if path.name in ("database.json", "metadata.json"):
            continue
        if json.loads(path.read_text()).get("director_table2"):
            matches.append(path)
            continue
        description = read_table(path)
        data = data_file(root, description.name)
        if data is None:
            absent.append(description.name)
            continue
        inputs.append(TableInput(description, (data,)))
    inputs.sort(key=lambda t: (KIND_ORDER[t.description.kind], t.description.name))
    read_database(ingest_dir / "database.json")
    return ItestCase(
        name, root, ingest_dir / "database.json", tuple(inputs), tuple(matches), tuple(absent)
    )

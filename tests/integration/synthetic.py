"""Small hand-made director/child/regular inputs for ingest error tests."""

from __future__ import annotations

import json
from pathlib import Path

DIRECTOR_SCHEMA = [
    {"name": "objectId", "type": "bigint(20) NOT NULL"},
    {"name": "ra", "type": "double NOT NULL"},
    {"name": "decl", "type": "double NOT NULL"},
    {"name": "mag", "type": "float DEFAULT NULL"},
    {"name": "chunkId", "type": "int(11) NOT NULL"},
    {"name": "subChunkId", "type": "int(11) NOT NULL"},
]
CHILD_SCHEMA = [
    {"name": "sourceId", "type": "bigint(20) NOT NULL"},
    {"name": "objectId", "type": "bigint(20) NOT NULL"},
    {"name": "flux", "type": "double DEFAULT NULL"},
    {"name": "chunkId", "type": "int(11) NOT NULL"},
    {"name": "subChunkId", "type": "int(11) NOT NULL"},
]


def director_rows(n: int) -> list[str]:
    """Objects spread over several chunks, including RA 0 and a near-polar one."""
    rows = []
    for i in range(n):
        ra = (i * 7.3) % 360.0
        decl = -60.0 + (i * 3.1) % 120.0
        rows.append(f"{1000 + i},{ra!r},{decl!r},{20.0 + i % 7}")
    rows.append(f"{1000 + n},0.0,89.999,\\N")
    return rows


def child_rows(n_objects: int, per_object: int = 3) -> list[str]:
    return [
        f"{100000 + o * per_object + k},{1000 + o},{float(k) * 1.5!r}"
        for o in range(n_objects + 1)
        for k in range(per_object)
    ]


def write_inputs(directory: Path, database: str, objects: int = 60) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "database": directory / "database.json",
        "Obj.json": directory / "Obj.json",
        "Src.json": directory / "Src.json",
        "Obj.csv": directory / "Obj.csv",
        "Src.csv": directory / "Src.csv",
    }
    files["database"].write_text(
        json.dumps(
            {"database": database, "num_stripes": 85, "num_sub_stripes": 12, "overlap": 0.01667}
        )
    )
    common = {"database": database, "is_partitioned": 1, "fields_terminated_by": ","}
    files["Obj.json"].write_text(
        json.dumps(
            {
                **common,
                "table": "Obj",
                "director_table": "",
                "director_key": "objectId",
                "longitude_key": "ra",
                "latitude_key": "decl",
                "schema": DIRECTOR_SCHEMA,
            }
        )
    )
    files["Src.json"].write_text(
        json.dumps(
            {
                **common,
                "table": "Src",
                "director_table": "Obj",
                "director_key": "objectId",
                "schema": CHILD_SCHEMA,
            }
        )
    )
    files["Obj.csv"].write_text("\n".join(director_rows(objects)) + "\n")
    files["Src.csv"].write_text("\n".join(child_rows(objects)) + "\n")
    return files

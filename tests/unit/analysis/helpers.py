"""Catalog views for the analysis tests, and the golden-file reader (STYLE 1).

Golden files live in ``tests/fixtures/analysis/<pass or topic>.sql``. A file is a sequence of
cases separated by blank lines. Lines starting with ``#`` are comments, except directives:

    # catalog: demo | qcase01 | counted   which catalog view the following cases use (default
                                          demo; counted: demo with row counts)
    # db: <name> | none            the session's default database (default: the catalog's)

A case is the input SQL (one or more lines) followed by ``key: value`` lines:

    chunk: <chunk template>        the chunk token is written %CC%, the merge table %RR%
    merge: <merge SQL> | none
    columns: ["name", ...]         result column names as JSON
    chunks: all <db> (<n>) | list <db> [ids] | director <db>.<table>.<key> [values] within
            all|[ids] | director <db>.<table>.<key> >= a AND < b within all|[ids]
            | single [dbs] | catalog count <db>.<table> <n>
    limit: <n> offset <m>          only when the plan carries early-stop hints

In ``<topic>__invalid.sql`` a case is the input followed by ``error: <code> <message>``.

Set ``QSERV_PY_REGEN_GOLDEN=1`` to rewrite the expected lines from the current output; then
read the diff line by line before committing it.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qserv_py.czar.analysis import (
    AllChunks,
    AnalysisFailure,
    CatalogCount,
    CatalogView,
    ChunkList,
    DirectorLookup,
    QueryPlan,
    SingleRun,
    analyse,
)
from qserv_py.czar.analysis.plan import display_sql

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "analysis"
REGENERATE = os.environ.get("QSERV_PY_REGEN_GOLDEN") == "1"
KEYS = ("chunk", "merge", "columns", "chunks", "sub-chunks", "limit", "error")

# ---------------------------------------------------------------------------------------------
# Catalogs

_FLUX = "double DEFAULT NULL"


def _demo_tables() -> list[dict[str, Any]]:
    object_columns = [
        ["objectId", "bigint(20) NOT NULL"],
        ["coord_ra", "double NOT NULL"],
        ["coord_dec", "double NOT NULL"],
        ["detect_isPrimary", "tinyint(1) NOT NULL"],
        ["tract", "int(11) DEFAULT NULL"],
        ["patch", "int(11) DEFAULT NULL"],
        ["refExtendedness", _FLUX],
        *([f"{b}_cModelFlux", _FLUX] for b in "ugrizy"),
        ["g_cModelFluxErr", _FLUX],
        ["ebv", "float DEFAULT NULL"],
        ["chunkId", "int(11) NOT NULL"],
        ["subChunkId", "int(11) NOT NULL"],
    ]
    forced_columns = [
        ["forcedSourceId", "bigint(20) NOT NULL"],
        ["objectId", "bigint(20) NOT NULL"],
        ["ccdVisitId", "bigint(20) NOT NULL"],
        ["band", "char(1) NOT NULL"],
        ["psfFlux", _FLUX],
        ["psfFluxErr", _FLUX],
        ["psfFlux_flag", "tinyint(1) DEFAULT NULL"],
    ]
    visit_columns = [
        ["ccdVisitId", "bigint(20) NOT NULL"],
        ["visitId", "bigint(20) DEFAULT NULL"],
        ["detector", "int(11) NOT NULL"],
        ["band", "char(1) NOT NULL"],
        ["expMidptMJD", "double NOT NULL"],
        ["seeing", "float DEFAULT NULL"],
    ]
    return [
        {
            "db": "demo_dp02",
            "name": "Object",
            "kind": "director",
            "columns": object_columns,
            "director_key": "objectId",
            "longitude_key": "coord_ra",
            "latitude_key": "coord_dec",
        },
        {
            "db": "demo_dp02",
            "name": "ForcedSource",
            "kind": "child",
            "columns": forced_columns,  # chunkId/subChunkId appended by the view
            "director_table": "Object",
            "director_key": "objectId",
        },
        {"db": "demo_dp02", "name": "CcdVisit", "kind": "regular", "columns": visit_columns},
    ]


def _qcase01_tables() -> list[dict[str, Any]]:
    object_columns = [
        ["objectId", "bigint(20) NOT NULL"],
        ["ra_PS", "double NOT NULL"],
        ["decl_PS", "double NOT NULL"],
        ["raRange", "float DEFAULT NULL"],
        ["declRange", "float DEFAULT NULL"],
        ["latestObsTime", "double DEFAULT NULL"],
        ["rFlux_PS", _FLUX],
        ["rFlux_PS_Sigma", "float DEFAULT NULL"],
        ["gFlux_PS", _FLUX],
        ["iFlux_PS", _FLUX],
        ["zFlux_PS", _FLUX],
    ]
    source_columns = [
        ["sourceId", "bigint(20) NOT NULL"],
        ["objectId", "bigint(20) DEFAULT NULL"],
        ["scienceCcdExposureId", "bigint(20) DEFAULT NULL"],
        ["filterId", "tinyint(4) NOT NULL"],
        ["ra", "double NOT NULL"],
        ["decl", "double NOT NULL"],
        ["raObject", "double NOT NULL"],
        ["declObject", "double NOT NULL"],
        ["taiMidPoint", "double NOT NULL"],
        ["psfFlux", _FLUX],
        ["psfFluxSigma", _FLUX],
        ["raFlux", _FLUX],
    ]
    return [
        {
            "db": "qcase01",
            "name": "Object",
            "kind": "director",
            "columns": object_columns,
            "director_key": "objectId",
            "longitude_key": "ra_PS",
            "latitude_key": "decl_PS",
        },
        {
            "db": "qcase01",
            "name": "Source",
            "kind": "child",
            "columns": source_columns,
            "director_table": "Object",
            "director_key": "objectId",
            "longitude_key": "raObject",
            "latitude_key": "declObject",
        },
        {
            "db": "qcase01",
            "name": "Filter",
            "kind": "regular",
            "columns": [["filterId", "tinyint(4) NOT NULL"], ["filterName", "char(3) NOT NULL"]],
        },
        {
            "db": "qcase01",
            "name": "LeapSeconds",
            "kind": "regular",
            "columns": [
                ["whenJd", "float NOT NULL"],
                ["offset", "float NOT NULL"],
                ["mjdRef", "float NOT NULL"],
                ["drift", "float NOT NULL"],
                ["whenUtc", "bigint(20) NOT NULL"],
            ],
        },
        {
            "db": "qcase01",
            "name": "Science_Ccd_Exposure",
            "kind": "regular",
            "columns": [
                ["scienceCcdExposureId", "bigint(20) NOT NULL"],
                ["visit", "int(11) NOT NULL"],
                ["raftName", "char(3) NOT NULL"],
                ["ccdName", "char(3) NOT NULL"],
                ["filterId", "tinyint(4) NOT NULL"],
                ["filterName", "char(3) NOT NULL"],
            ],
        },
    ]


QCASE01_CHUNKS = (6630, 6631, 6800, 6801, 6970, 6971, 7140, 7141, 7310, 7311, 7480)
"""Chunks "holding rows" of qcase01: part of RA 0..4, Dec -6..6 at 85 stripes, 12 sub-stripes
(the chunks of qserv_areaspec_box(0.1, -6, 4, 6) minus 7481, 7650 and 7651)."""


def all_chunks(num_stripes: int, num_sub_stripes: int) -> list[int]:
    from qserv_py.sphgeom.regions import RegionIndex

    return sorted(int(c) for c in RegionIndex(num_stripes, num_sub_stripes).chunker.getAllChunks())


@functools.cache  # views are immutable; one per test session saves building chunkers
def demo_view() -> CatalogView:
    """demo_dp02 (every chunk holds rows) and an unpartitioned database ``other``."""
    return CatalogView.from_dicts(
        [
            {
                "name": "demo_dp02",
                "num_stripes": 85,
                "num_sub_stripes": 12,
                "overlap": 0.01667,
                "chunks": all_chunks(85, 12),
            },
            {"name": "other", "chunks": []},
        ],
        [
            *_demo_tables(),
            {
                "db": "other",
                "name": "Filter",
                "kind": "regular",
                "columns": [["band", "char(1) NOT NULL"], ["lambdaEff", "double NOT NULL"]],
            },
        ],
    )


@functools.cache
def qcase01_view() -> CatalogView:
    return CatalogView.from_dicts(
        [
            {
                "name": "qcase01",
                "num_stripes": 85,
                "num_sub_stripes": 12,
                "overlap": 0.01667,
                "chunks": QCASE01_CHUNKS,
            }
        ],
        _qcase01_tables(),
    )


COUNTED_ROWS = {"Object": 3000, "ForcedSource": 41234, "CcdVisit": 120}


@functools.cache
def counted_view() -> CatalogView:
    """demo_dp02 with the row counts ingest records (``COUNTED_ROWS``), as the czar sees it."""
    tables = [{**t, "row_count": COUNTED_ROWS[t["name"]]} for t in _demo_tables()]
    return CatalogView.from_dicts(
        [
            {
                "name": "demo_dp02",
                "num_stripes": 85,
                "num_sub_stripes": 12,
                "overlap": 0.01667,
                "chunks": all_chunks(85, 12),
            }
        ],
        tables,
    )


CATALOGS = {
    "demo": (demo_view, "demo_dp02"),
    "qcase01": (qcase01_view, "qcase01"),
    "counted": (counted_view, "demo_dp02"),
}

# ---------------------------------------------------------------------------------------------
# Plans as golden-file text


def describe_chunks(plan: QueryPlan) -> str:
    c = plan.chunks
    if isinstance(c, AllChunks):
        return f"all {c.database} ({len(c.chunk_ids)})"
    if isinstance(c, ChunkList):
        return f"list {c.database} {json.dumps(list(c.chunk_ids))}"
    if isinstance(c, DirectorLookup):
        within = "all" if c.within is None else json.dumps(list(c.within))
        if c.values is not None:
            keys = json.dumps(list(c.values))
        else:
            bounds = [(">", c.lower), ("<", c.upper)]
            keys = " AND ".join(
                f"{op}{'=' if b.inclusive else ''} {b.value}" for op, b in bounds if b is not None
            )
        return f"director {c.database}.{c.director_table}.{c.key_column} {keys} within {within}"
    if isinstance(c, CatalogCount):
        return f"catalog count {c.database}.{c.table} {c.row_count}"
    assert isinstance(c, SingleRun)
    return f"single {json.dumps(list(c.databases))}"


def describe(result: QueryPlan | AnalysisFailure) -> dict[str, str]:
    """The golden-file lines for one analysis result."""
    if isinstance(result, AnalysisFailure):
        return {"error": f"{result.mysql_code} {result.message}"}
    lines = {
        "chunk": display_sql(result.chunk_template),
        "merge": display_sql(result.merge_sql) if result.merge_sql is not None else "none",
        "columns": json.dumps(list(result.result_columns)),
        "chunks": describe_chunks(result),
    }
    if result.sub_chunk_column is not None:
        lists = result.sub_chunks or {}
        lines["sub-chunks"] = f"{result.sub_chunk_column} " + (
            json.dumps({str(c): list(s) for c, s in lists.items()}) if lists else "whole chunks"
        )
    if result.limit is not None:
        lines["limit"] = f"{result.limit} offset {result.offset}"
    return lines


# ---------------------------------------------------------------------------------------------
# Reading and rewriting golden files


@dataclass
class Case:
    sql: str
    catalog: str
    db: str | None
    line: int
    expected: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"line {self.line}: {self.sql[:60]}"

    def run(self) -> QueryPlan | AnalysisFailure:
        make_view, _ = CATALOGS[self.catalog]
        return analyse(self.sql, make_view(), self.db)


def _key(line: str) -> str | None:
    head, sep, _ = line.partition(": ")
    return head if sep and head in KEYS else None


def read_cases(path: Path) -> list[Case]:
    cases: list[Case] = []
    catalog = "demo"
    db: str | None = CATALOGS[catalog][1]
    current: Case | None = None
    sql_lines: list[str] = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.rstrip()
        if not line:
            current, sql_lines = None, []
            continue
        if line.startswith("#"):
            directive, _, value = line[1:].strip().partition(":")
            if directive == "catalog":
                catalog = value.strip()
                db = CATALOGS[catalog][1]
            elif directive == "db":
                db = None if value.strip() == "none" else value.strip()
            continue
        key = _key(line)
        if key is None:
            if current is not None and current.expected:
                raise ValueError(f"{path.name}:{number}: SQL after the expected lines")
            sql_lines.append(line)
            if current is None:
                current = Case("", catalog, db, number)
                cases.append(current)
            current.sql = "\n".join(sql_lines)
            continue
        if current is None:
            raise ValueError(f"{path.name}:{number}: {key}: line without input SQL")
        current.expected[key] = line.partition(": ")[2]
    return cases


def rewrite(path: Path) -> None:
    """Replace each case's expected lines by the current output (QSERV_PY_REGEN_GOLDEN=1)."""
    cases = iter(read_cases(path))
    out: list[str] = []
    lines = path.read_text().splitlines()
    pending: Case | None = None
    for line in [*lines, ""]:
        if _key(line) is not None:
            continue
        if not line.strip() or line.startswith("#"):
            if pending is not None:
                out.extend(f"{k}: {v}" for k, v in describe(pending.run()).items())
                pending = None
            out.append(line)
            continue
        if pending is None:
            pending = next(cases)
        out.append(line)
    path.write_text("\n".join(out).rstrip("\n") + "\n")


def golden_files(invalid: bool) -> Iterator[Path]:
    for path in sorted(FIXTURES.glob("*.sql")):
        if path.stem.endswith("__invalid") == invalid:
            yield path

"""The small catalog the passes' docstring examples run against, and how they print.

The examples in each pass's docstring are doctests (``tests/unit/analysis/test_doctests.py``
runs them with ``NORMALIZE_WHITESPACE``), so they stay true as the passes change. The catalog
is a slice of the demo catalog (``qserv_py/demo/schema.py``): database ``demo_dp02`` with the
director ``Object``, its child ``ForcedSource`` (no position columns) and the regular
``CcdVisit``; 85 stripes, 12 sub-stripes; every chunk holds rows; ``Object`` has 123456
rows (the other tables' counts are unknown to the view).

>>> show("SELECT objectId FROM Object WHERE objectId = 5", through="parse")
SELECT `objectId` FROM `Object` WHERE `objectId` = 5
"""

from __future__ import annotations

import functools

from qserv_py.czar.analysis.catalog_view import CatalogView
from qserv_py.czar.analysis.errors import AnalysisError
from qserv_py.czar.analysis.pipeline import plan_query
from qserv_py.czar.analysis.plan import (
    AllChunks,
    CatalogCount,
    ChunkList,
    DirectorLookup,
    display_sql,
)
from qserv_py.sphgeom.regions import RegionIndex

__all__ = ["example_view", "show", "show_plan"]

_OBJECT = [
    ("objectId", "bigint(20) NOT NULL"),
    ("coord_ra", "double NOT NULL"),
    ("coord_dec", "double NOT NULL"),
    ("detect_isPrimary", "tinyint(1) NOT NULL"),
    ("tract", "int(11) DEFAULT NULL"),
    ("g_cModelFlux", "double DEFAULT NULL"),
    ("r_cModelFlux", "double DEFAULT NULL"),
]
_FORCED_SOURCE = [
    ("forcedSourceId", "bigint(20) NOT NULL"),
    ("objectId", "bigint(20) NOT NULL"),
    ("ccdVisitId", "bigint(20) NOT NULL"),
    ("band", "char(1) NOT NULL"),
    ("psfFlux", "double DEFAULT NULL"),
]
_CCD_VISIT = [
    ("ccdVisitId", "bigint(20) NOT NULL"),
    ("band", "char(1) NOT NULL"),
    ("expMidptMJD", "double NOT NULL"),
    ("seeing", "float DEFAULT NULL"),
]


@functools.cache  # immutable; built once per process for the doctests
def example_view() -> CatalogView:
    chunks = RegionIndex(85, 12).chunker.getAllChunks()
    return CatalogView.from_dicts(
        [
            {
                "name": "demo_dp02",
                "num_stripes": 85,
                "num_sub_stripes": 12,
                "overlap": 0.01667,
                "chunks": [int(c) for c in chunks],
            }
        ],
        [
            {
                "db": "demo_dp02",
                "name": "Object",
                "kind": "director",
                "columns": _OBJECT,
                "director_key": "objectId",
                "longitude_key": "coord_ra",
                "latitude_key": "coord_dec",
                "row_count": 123456,
            },
            {
                "db": "demo_dp02",
                "name": "ForcedSource",
                "kind": "child",
                "columns": _FORCED_SOURCE,
                "director_table": "Object",
                "director_key": "objectId",
            },
            {"db": "demo_dp02", "name": "CcdVisit", "kind": "regular", "columns": _CCD_VISIT},
        ],
    )


def show(sql: str, through: str, db: str | None = "demo_dp02") -> None:
    """Print the query after the pass ``through`` (``merge:`` too once there is one).

    Raised errors print as ``ERROR <code>: <message>``, unless the pass ran before them.
    """
    steps: dict[str, tuple[str, str | None]] = {}

    def trace(name: str, parallel: str, merge: str | None) -> None:
        steps[name] = (parallel, merge)

    try:
        plan_query(sql, example_view(), db, trace=trace)
    except AnalysisError as error:
        if through not in steps:
            print(f"ERROR {error.mysql_code}: {error.message}")
            return
    parallel, merge = steps[through]
    print(parallel if merge is None else f"chunk: {parallel}\nmerge: {merge}")


def show_plan(sql: str, db: str | None = "demo_dp02") -> None:
    """Print the finished plan: chunk template, merge, result columns and chunks."""
    plan = plan_query(sql, example_view(), db)
    print(f"chunk: {display_sql(plan.chunk_template)}")
    if plan.merge_sql is not None:
        print(f"merge: {display_sql(plan.merge_sql)}")
    print(f"columns: {', '.join(plan.result_columns)}")
    chunks = plan.chunks
    if isinstance(chunks, AllChunks):
        print(f"chunks: all {len(chunks.chunk_ids)} of {chunks.database}")
    elif isinstance(chunks, ChunkList):
        print(f"chunks: {list(chunks.chunk_ids)} of {chunks.database}")
    elif isinstance(chunks, DirectorLookup):
        within = "any chunk" if chunks.within is None else list(chunks.within)
        key = f"{chunks.director_table}.{chunks.key_column}"
        print(f"chunks: {key} {_keys(chunks)} within {within}")
    elif isinstance(chunks, CatalogCount):
        print(
            f"chunks: the catalog's row count of {chunks.database}.{chunks.table}"
            f" ({chunks.row_count})"
        )
    else:
        print(f"chunks: run once ({', '.join(chunks.databases)})")
    if plan.sub_chunk_column is not None:
        lists = plan.sub_chunks or {}
        shown = "; ".join(f"{c}: {list(s)}" for c, s in list(lists.items())[:3])
        more = f"; ... ({len(lists)} chunks)" if len(lists) > 3 else ""
        print(f"sub-chunks: {shown or 'whole chunks'}{more}")
    if plan.limit is not None:
        print(f"stop after: {plan.limit} rows, skipping {plan.offset}")


def _keys(lookup: DirectorLookup) -> str:
    """``in [1, 2]`` or ``>= 10 AND < 15``: what the director index is asked for."""
    if lookup.values is not None:
        return f"in {list(lookup.values)}"
    parts = []
    if lookup.lower is not None:
        parts.append(f">{'=' if lookup.lower.inclusive else ''} {lookup.lower.value}")
    if lookup.upper is not None:
        parts.append(f"<{'=' if lookup.upper.inclusive else ''} {lookup.upper.value}")
    return " AND ".join(parts)

"""``QueryPlan``: what analysis hands to dispatch and merge. Plain values, no AST.

The per-chunk SQL is rendered ONCE per query as a template in which partitioned table names
carry ``CHUNK_TOKEN`` (``Object`` -> ``Object_%C\\x07C%``); ``render(chunk_id)`` is one
``str.replace``, about 0.5 us against 500 us for copying and regenerating the AST per chunk
(reference/stack-measurements.md 2.3: 30k chunks cost 15 ms instead of 20 s).

The tokens are Qserv's (``%C\\007C%`` in C++, reference/qserv-behaviour.md 2.2): the BEL
character in them cannot come from a user, because ``parse`` refuses queries containing it and
no MariaDB escape sequence produces it, so the template holds the token exactly where analysis
put it.
Golden files and logs show them as ``%CC%`` and ``%RR%`` (``display_sql``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

from qserv_py.sql import qualified

__all__ = [
    "CHUNK_TOKEN",
    "DUMMY_CHUNK",
    "MERGE_TABLE_TOKEN",
    "OVERLAP_TOKEN",
    "SUB_CHUNK_TOKEN",
    "AllChunks",
    "CatalogCount",
    "ChunkList",
    "ChunkSelection",
    "DirectorLookup",
    "KeyBound",
    "QueryPlan",
    "Scope",
    "SingleRun",
    "display_sql",
]

CHUNK_TOKEN = "%C\x07C%"
"""Stands for the chunk id inside partitioned table names of ``chunk_template``."""

SUB_CHUNK_TOKEN = "%S\x07S%"
"""Names the placeholder column ``restrict_sub_chunks`` puts in WHERE (see ``render``)."""

OVERLAP_TOKEN = "%O\x07O%"
"""In a near-neighbour join, sits between the overlap table's name and ``_``: ``render`` runs
the statement twice, once with it removed (``Object_<chunk>``) and once as ``FullOverlap``."""

MERGE_TABLE_TOKEN = "%R\x07R%"
"""Stands for the name of the table holding the per-chunk results, in ``merge_sql``."""

DUMMY_CHUNK = 1234567890
"""Qserv's chunk id for queries that read only regular tables (``global/constants.h``)."""

Scope = Literal["chunked", "single"]


@dataclass(frozen=True, slots=True)
class AllChunks:
    """No restrictor: every chunk of ``database`` that has rows."""

    database: str
    chunk_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ChunkList:
    """Area restrictors chose these chunks (already intersected with the chunks that have rows).

    May be empty: the area holds no data, and the query has no rows (an aggregate without
    GROUP BY still returns its one row, which the merge computes from zero partial rows).
    """

    database: str
    chunk_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class KeyBound:
    """One end of a director-key range: ``key > value`` (``inclusive``: ``key >= value``)."""

    value: int
    inclusive: bool

    def sql(self, column: str, side: str) -> str:
        """``column >= %s`` and the like; ``side`` is ``"lower"`` or ``"upper"``."""
        op = {"lower": ">", "upper": "<"}[side] + ("=" if self.inclusive else "")
        return f"{column} {op} %s"


@dataclass(frozen=True, slots=True)
class DirectorLookup:
    """Director-index restrictors: dispatch looks the keys up, then runs only those chunks.

    ``SELECT DISTINCT chunkId FROM qservMeta.<database>__<director_table> WHERE <key_column>
    IN (<values>)`` when ``values`` is given (already limited to the range, if any), else
    ``WHERE <key_column> >= <lower> AND <key_column> <= <upper>`` with the bounds given (the
    index table has an index on the key, so both are index lookups). The chunks found are
    intersected with ``within`` (the area restrictors' chunks, or every chunk with rows when
    ``within`` is None).
    """

    database: str
    director_table: str
    key_column: str
    values: tuple[int, ...] | None
    within: tuple[int, ...] | None
    lower: KeyBound | None = None
    upper: KeyBound | None = None


@dataclass(frozen=True, slots=True)
class CatalogCount:
    """No chunk at all: the answer is ``database.table``'s row count from the catalog.

    ``chunk_template`` is then a SELECT without FROM that the czar evaluates on its own
    MariaDB: ``SELECT CAST(CAST(<n> AS DECIMAL(20, 0)) AS SIGNED) AS `COUNT(*)```. It is right
    only while the catalog still says ``row_count``: the engine checks that before answering
    and plans again from a fresh catalog when it does not (a table dropped or loaded again
    since the snapshot).
    """

    database: str
    table: str
    row_count: int


@dataclass(frozen=True, slots=True)
class SingleRun:
    """Only regular (fully replicated) tables: run the template once, on any worker."""

    databases: tuple[str, ...]


ChunkSelection: TypeAlias = AllChunks | ChunkList | DirectorLookup | SingleRun | CatalogCount


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """One user SELECT, planned.

    ``chunk_template`` runs on every selected chunk (``render(chunk_id)``), or once when
    ``scope`` is ``"single"`` (on a worker, or on the czar's own db for ``CatalogCount``).
    When ``needs_merge``, the czar loads all per-chunk rows into one table and runs
    ``merge_sql`` over it (``render_merge``); otherwise rows stream to the client as they
    come, and ``limit``/``offset`` say when to stop: skip ``offset`` rows, pass ``limit``
    rows, then cancel the remaining chunks. ``result_columns`` are the column names
    the user sees, in order, whatever aliases the generated SQL uses.
    """

    sql: str
    chunk_template: str
    merge_sql: str | None
    result_columns: tuple[str, ...]
    chunks: ChunkSelection
    scope: Scope
    needs_merge: bool
    limit: int | None = None
    offset: int = 0
    sub_chunk_column: str | None = None
    """``alias.subChunkId`` when the template holds the sub-chunk placeholder."""
    sub_chunks: Mapping[int, tuple[int, ...]] | None = None
    """Per chunk, the sub-chunks that may hold rows of the area (``select_chunks``)."""
    overlap: bool = False
    """A near-neighbour join: the template names one table with ``OVERLAP_TOKEN``."""
    tables: tuple[tuple[str, str], ...] = ()
    """The ``(database, table)``s the query reads (their scan ratings rate a scan)."""

    def render(self, chunk_id: int) -> str:
        """The SQL for one chunk: plain string substitution (microseconds).

        The sub-chunk placeholder becomes ``alias.subChunkId IN (...)`` for chunks with a list,
        and ``1`` (no restriction) for the others. A near-neighbour join becomes
        ``(<home x home>) UNION ALL (<home x overlap>)`` (``relation_graph``).
        """
        sql = self.chunk_template.replace(CHUNK_TOKEN, str(chunk_id))
        if self.overlap:
            home = sql.replace(OVERLAP_TOKEN, "")
            return f"({home}) UNION ALL ({sql.replace(OVERLAP_TOKEN, 'FullOverlap')})"
        if self.sub_chunk_column is None:
            return sql
        subs = self.sub_chunks.get(chunk_id) if self.sub_chunks is not None else None
        condition = "1"
        if subs:
            condition = f"{self.sub_chunk_column} IN ({', '.join(map(str, subs))})"
        return sql.replace(f"`{SUB_CHUNK_TOKEN}`", condition)

    def render_merge(self, database: str, table: str) -> str:
        """``merge_sql`` reading the per-chunk results from ``database.table``."""
        if self.merge_sql is None:
            raise ValueError("this plan has no merge statement")
        return self.merge_sql.replace(f"`{MERGE_TABLE_TOKEN}`", qualified(database, table))


def display_sql(sql: str) -> str:
    """The SQL with its tokens written ``%CC%`` / ``%SS%`` / ``%OO%`` / ``%RR%``, for golden
    files and logs."""
    return (
        sql.replace(CHUNK_TOKEN, "%CC%")
        .replace(OVERLAP_TOKEN, "%OO%")
        .replace(SUB_CHUNK_TOKEN, "%SS%")
        .replace(MERGE_TABLE_TOKEN, "%RR%")
    )

"""``PlanContext``: what the passes learn about one query and hand to later passes.

Like Qserv's ``QueryContext``: one per ``analyse()`` call, created there, passed explicitly to
every pass, never shared between queries. Passes record facts (the tables, the restrictors,
the result names) here instead of in the AST, and check here that the passes they rely on have
run (``require``), so a reordered ``PASSES`` fails loudly instead of producing wrong SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import lsst.sphgeom
from sqlglot import exp

from qserv_py.czar.analysis.catalog_view import CatalogView, TableInfo
from qserv_py.czar.analysis.errors import AnalysisBug
from qserv_py.czar.analysis.plan import CatalogCount, KeyBound, Scope

if TYPE_CHECKING:
    from qserv_py.czar.analysis.merge_columns import MergeColumns
    from qserv_py.czar.analysis.relation_graph import JoinPlan

__all__ = [
    "AreaRestriction",
    "DirectorRestriction",
    "PlanContext",
    "Statements",
    "TableRef",
]


@dataclass(frozen=True, slots=True)
class TableRef:
    """One table of the FROM clause: the alias every column of it is qualified with."""

    alias: str
    table: TableInfo


@dataclass(frozen=True, slots=True)
class AreaRestriction:
    """A region the rows must lie in: from ``qserv_areaspec_*``, a ``scisql_s2PtIn*`` term,
    range comparisons on the position columns, or an OR of such terms."""

    kind: str
    """``box``, ``circle``, ``ellipse`` or ``poly`` (``qserv_py.sphgeom.regions`` names);
    ``union`` for an OR of areas (``args`` is then empty)."""
    args: tuple[float, ...]
    region: lsst.sphgeom.Region
    source: Literal["areaspec", "scisql", "range", "or"]


@dataclass(frozen=True, slots=True)
class DirectorRestriction:
    """The director keys rows must have, looked up in the director index: ``key IN (values)``
    (``values`` None: no key list), and a range when ``lower`` or ``upper`` is set."""

    db: str
    director_table: str
    key_column: str
    values: tuple[int, ...] | None
    lower: KeyBound | None = None
    upper: KeyBound | None = None


@dataclass(frozen=True, slots=True)
class Statements:
    """The physical phase's work: the per-chunk statement, and the merge when there is one."""

    parallel: exp.Select
    items: tuple[exp.Expr, ...]
    """The user's select items at the end of the logical phase (aliases removed)."""
    merge: exp.Select | None = None
    columns: MergeColumns | None = None
    """The per-chunk columns the merge reads, once a pass has built a merge."""


@dataclass(slots=True)
class PlanContext:
    view: CatalogView
    default_db: str | None
    sql: str
    item_texts: tuple[str, ...] = ()
    """The text of each select item as the user wrote it (MariaDB names columns by it)."""
    tables: tuple[TableRef, ...] = ()
    result_columns: tuple[str, ...] = ()
    scope: Scope = "chunked"
    areas: list[AreaRestriction] = field(default_factory=list)
    director: DirectorRestriction | None = None
    catalog_count: CatalogCount | None = None
    """Set by ``count_from_catalog`` when the catalog's row count answers the query."""
    sub_chunk_column: str | None = None
    """Set by ``restrict_sub_chunks`` when the chunk query reads only some sub-chunks."""
    join: JoinPlan | None = None
    """Set by ``classify_joins`` when two or more partitioned tables are joined."""
    limit: int | None = None
    offset: int = 0
    done: list[str] = field(default_factory=list)
    """Names of the passes run so far, in order (the pipeline appends)."""
    _counter: int = 0

    def next_alias(self, kind: str) -> str:
        """``QS<n>_<KIND>``: Qserv's generated column names, numbered per query from 1."""
        self._counter += 1
        return f"QS{self._counter}_{kind}"

    def require(self, *passes: str) -> None:
        """Raise ``AnalysisBug`` unless each of ``passes`` has already run."""
        missing = [p for p in passes if p not in self.done]
        if missing:
            raise AnalysisBug(
                f"query analysis ran out of order: {', '.join(missing)} must run first"
                f" (ran: {', '.join(self.done) or 'nothing'})"
            )

    def partitioned(self) -> tuple[TableRef, ...]:
        return tuple(ref for ref in self.tables if ref.table.is_partitioned)

    def selects_chunks(self, alias: str) -> bool:
        """Whether restrictions on ``alias`` (areas, director keys) may choose the chunks: any
        table of a chunk-local query, only the home group of a near-neighbour join."""
        return self.join is None or alias in self.join.chunk_aliases

    def ref(self, alias: str) -> TableRef:
        for ref in self.tables:
            if ref.alias == alias:
                return ref
        raise AnalysisBug(f"no table with alias {alias!r} in the FROM clause")

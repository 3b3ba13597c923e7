"""template_tables: partitioned tables in the per-chunk statement get the chunk token.

``db.Table AS alias`` becomes ``db.Table_%CC% AS alias`` for each director or child table
(Qserv's chunk-level name template, reference/qserv-behaviour.md 2.2); regular tables keep
their names, since every worker holds all of them. ``qualify_tables`` gave every table an alias, so
column references (``alias.column``) stay valid whatever the table is called, and the plan's
``render(chunk_id)`` is a plain string substitution. Runs last among the physical passes: it
only renames tables of the statement the other passes finished.

In a near-neighbour join (``ctx.join``, see ``relation_graph``) the overlap table is named
``Table%OO%_%CC%``, and ``home.subChunkId = overlap.subChunkId`` and a declination band are
ANDed to WHERE: the plan's
``render`` runs the statement once on the chunk table and once on its overlap table, each
pairing rows of one sub-chunk only.

Example (``examples.py`` catalog):

>>> from qserv_py.czar.analysis.examples import show, show_plan
>>> show("SELECT f.psfFlux FROM ForcedSource f JOIN CcdVisit v USING (ccdVisitId)",
...      through="template_tables")
SELECT `f`.`psfFlux` FROM `demo_dp02`.`ForcedSource_%CC%` AS `f`
    JOIN `demo_dp02`.`CcdVisit` AS `v` USING (`ccdVisitId`)
"""

from __future__ import annotations

from sqlglot import exp

from qserv_py.czar.analysis.catalog_view import SUB_CHUNK_COLUMN
from qserv_py.czar.analysis.context import PlanContext, Statements
from qserv_py.czar.analysis.plan import CHUNK_TOKEN, OVERLAP_TOKEN

__all__ = ["BAND_MARGIN_DEG", "template_tables"]

BAND_MARGIN_DEG = 1e-6
"""How much wider than the near-neighbour distance the declination band is (3.6 mas)."""


def template_tables(stmts: Statements, ctx: PlanContext) -> Statements:
    ctx.require("qualify_columns", "place_post")
    if ctx.scope == "single":
        return stmts
    join = ctx.join
    overlap = join.overlap_alias if join is not None else None
    for table in stmts.parallel.find_all(exp.Table):
        ref = ctx.ref(table.alias)
        if ref.table.is_partitioned:
            infix = OVERLAP_TOKEN if ref.alias == overlap else ""
            name = f"{ref.table.name}{infix}_{CHUNK_TOKEN}"
            table.set("this", exp.to_identifier(name, quoted=True))
    if join is not None and join.home_alias is not None and overlap is not None:
        terms = [_same_sub_chunk(join.home_alias, overlap), *_band(ctx, join.home_alias, overlap)]
        where = stmts.parallel.args.get("where")
        condition = exp.and_(*terms, *([where.this] if where is not None else []), copy=False)
        stmts.parallel.set("where", exp.Where(this=condition))
    return stmts


def _same_sub_chunk(home: str, overlap: str) -> exp.Expr:
    return exp.EQ(
        this=exp.column(SUB_CHUNK_COLUMN, table=home, quoted=True),
        expression=exp.column(SUB_CHUNK_COLUMN, table=overlap, quoted=True),
    )


def _band(ctx: PlanContext, home: str, overlap: str) -> list[exp.Expr]:
    """``overlap.lat BETWEEN home.lat - w AND home.lat + w``: implied by ``angSep < r`` (two
    points differ in latitude by at most their distance), with ``w = r + BAND_MARGIN_DEG``
    against rounding. A cheap test MariaDB evaluates before the distance (2x faster)."""
    assert ctx.join is not None and ctx.join.radius is not None
    lat = ctx.ref(home).table.latitude_key
    other = ctx.ref(overlap).table.latitude_key
    width = exp.Literal.number(repr(ctx.join.radius + BAND_MARGIN_DEG))
    centre = exp.column(lat, table=home, quoted=True)
    return [
        exp.Between(
            this=exp.column(other, table=overlap, quoted=True),
            low=exp.Sub(this=centre.copy(), expression=width.copy()),
            high=exp.Add(this=centre, expression=width),
        )
    ]

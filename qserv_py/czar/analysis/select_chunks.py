"""select_chunks: the plan's chunk selection, from the restrictors the logical passes found.

Qserv's ``UserQuerySelect::_setupChunking`` / ``IndexMap::getChunks`` (reference/
qserv-behaviour.md 1.3, sphgeom-and-scisql.md 5), run in the final phase once the plan exists:

- regular tables only: ``SingleRun`` (Qserv's dummy chunk);
- ``count_from_catalog`` found the answer in the catalog: ``CatalogCount``, no chunk;
- each area restriction gives the chunks ``RegionIndex.sub_chunks_intersecting`` lists (a
  chunk counts when one of its sub-chunks may meet the region, as in Qserv). Rows must lie
  in every area, so the lists are intersected; Qserv concatenates them, which is only
  looser. The result is intersected with the chunks that hold rows. A region meeting more
  than ``FINE_CHUNKS_LIMIT`` chunks (``dec > -80`` is a large box) keeps the chunk-level
  answer: looking at its sub-chunks would cost 0.2 s for the whole sky and drop only a few
  chunks along its edge;
- director keys (values, a range or both): a ``DirectorLookup`` for dispatch, carrying the
  area's chunks (if any) to intersect with what the index returns;
- areas only: ``ChunkList``; nothing: ``AllChunks``, every chunk that holds rows.

Example (``examples.py`` catalog; the circle touches one chunk):

>>> from qserv_py.czar.analysis.examples import show, show_plan
>>> show_plan("SELECT COUNT(*) FROM Object WHERE qserv_areaspec_circle(62, -37, 0.05)")
chunk: SELECT COUNT(*) AS `QS1_COUNT` FROM `demo_dp02`.`Object_%CC%` AS `Object`
    WHERE `%SS%` AND CASE WHEN CAST(`Object`.`coord_ra` AS DOUBLE) IS NULL ... END = 1
merge: SELECT CAST(COALESCE(SUM(`QS1_COUNT`), 0) AS SIGNED) AS `COUNT(*)` FROM `%RR%`
columns: COUNT(*)
chunks: [4273] of demo_dp02
sub-chunks: 4273: [2, 3]
"""

from __future__ import annotations

import dataclasses

import lsst.sphgeom

from qserv_py.czar.analysis.context import PlanContext
from qserv_py.czar.analysis.plan import (
    AllChunks,
    ChunkList,
    ChunkSelection,
    DirectorLookup,
    QueryPlan,
    SingleRun,
)

__all__ = ["FINE_CHUNKS_LIMIT", "select_chunks"]

FINE_CHUNKS_LIMIT = 1000
SUB_CHUNK_MARGIN_DEG = 1e-6
"""How far (3.6 mas) beyond a region sub-chunks are still read (see ``_sub_chunks``)."""
"""Above this many chunks, a region's chunks are not narrowed down by their sub-chunks."""


def select_chunks(plan: QueryPlan, ctx: PlanContext) -> QueryPlan:
    ctx.require("restrict_area", "infer_area", "restrict_director")
    chunks = _selection(ctx)
    if plan.sub_chunk_column is None or isinstance(chunks, SingleRun):
        return dataclasses.replace(plan, chunks=chunks)
    return dataclasses.replace(plan, chunks=chunks, sub_chunks=_sub_chunks(ctx))


def _sub_chunks(ctx: PlanContext) -> dict[int, tuple[int, ...]]:
    """Per chunk, the sub-chunks that may meet every area, when that narrows the chunk down.

    Computed from each region dilated by ``SUB_CHUNK_MARGIN_DEG`` (ellipses, polygons and
    unions by their dilated bounding circle), so that a row on the region's edge whose
    sub-chunk sphgeom rounds the other way is still read. A chunk is left out (read whole)
    when its list would cover more than half of its sub-chunks: an index read of most of a
    table costs more than a scan. Regions meeting more than ``FINE_CHUNKS_LIMIT`` chunks give
    no lists at all.
    """
    db = ctx.partitioned()[0].table.db
    index = ctx.view.region_index(db)
    chunker = index.chunker
    margin = lsst.sphgeom.Angle.fromDegrees(SUB_CHUNK_MARGIN_DEG)
    common: dict[int, set[int]] | None = None
    for restriction in ctx.areas:
        region = _dilated(restriction.region, margin)
        if len(index.chunks_intersecting(region)) > FINE_CHUNKS_LIMIT:
            return {}
        found = {c: set(s) for c, s in index.sub_chunks_intersecting(region).items()}
        if common is None:
            common = found
        else:
            common = {c: s & found[c] for c, s in common.items() if c in found}
    lists: dict[int, tuple[int, ...]] = {}
    for chunk, subs in (common or {}).items():
        if subs and 2 * len(subs) <= len(chunker.getAllSubChunks(chunk)):
            lists[chunk] = tuple(sorted(subs))
    return lists


def _dilated(region: lsst.sphgeom.Region, margin: lsst.sphgeom.Angle) -> lsst.sphgeom.Region:
    if isinstance(region, lsst.sphgeom.Box | lsst.sphgeom.Circle):
        return region.dilatedBy(margin)
    return region.getBoundingCircle().dilatedBy(margin)


def _selection(ctx: PlanContext) -> ChunkSelection:
    if ctx.catalog_count is not None:
        return ctx.catalog_count
    partitioned = ctx.partitioned()
    if ctx.scope == "single" or not partitioned:
        return SingleRun(tuple(sorted({ref.table.db for ref in ctx.tables})))
    db = partitioned[0].table.db
    populated = ctx.view.database(db).chunks
    area: tuple[int, ...] | None = None
    if ctx.areas:
        index = ctx.view.region_index(db)
        chosen = set(populated)
        for restriction in ctx.areas:
            coarse = index.chunks_intersecting(restriction.region)
            if len(coarse) <= FINE_CHUNKS_LIMIT:
                chosen &= set(index.sub_chunks_intersecting(restriction.region))
            else:
                chosen &= set(coarse)
        area = tuple(sorted(chosen))
    if ctx.director is not None:
        d = ctx.director
        return DirectorLookup(
            d.db, d.director_table, d.key_column, d.values, area, d.lower, d.upper
        )
    if area is not None:
        return ChunkList(db, area)
    return AllChunks(db, populated)

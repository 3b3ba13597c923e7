"""restrict_sub_chunks: an area query reads only the sub-chunks its region meets.

Beyond Qserv, which uses sub-chunks for near-neighbour joins only. Every chunk table carries
``subChunkId`` with an index on it (ingest), and a chunk has ``num_sub_stripes``² or so
sub-chunks (144 in the demo's 85/12 layout): a 0.05 deg cone meets one to four of them, so
reading those through the index touches about 1% of the chunk's rows instead of all of them.

This pass only marks the place: for a query whose one partitioned table has position columns
and an area restriction, it puts ``SUB_CHUNK_PREDICATE`` in front of WHERE. ``select_chunks``
computes, per chosen chunk, the sub-chunks that may meet every area, and
``QueryPlan.render`` replaces the placeholder with ``<alias>.subChunkId IN (...)`` for that
chunk, or with ``1`` when the list would not help (too many sub-chunks, or none known).

The row filter is unchanged: the exact sciSQL predicate still decides which rows match, the
sub-chunk list only skips rows that cannot. So the list must never miss a sub-chunk holding a
matching row; ``select_chunks`` computes it from a slightly dilated region for that reason.

Example (``examples.py`` catalog):

>>> from qserv_py.czar.analysis.examples import show
>>> show("SELECT objectId FROM Object WHERE qserv_areaspec_circle(62, -37, 0.05)",
...      through="restrict_sub_chunks")
SELECT `Object`.`objectId` FROM `demo_dp02`.`Object` AS `Object` WHERE `%SS%`
    AND scisql_s2PtInCircle(`Object`.`coord_ra`, `Object`.`coord_dec`, 62, -37, 0.05) = 1
"""

from __future__ import annotations

from sqlglot import exp

from qserv_py.czar.analysis.catalog_view import SUB_CHUNK_COLUMN
from qserv_py.czar.analysis.context import PlanContext
from qserv_py.czar.analysis.plan import SUB_CHUNK_TOKEN
from qserv_py.sql import quote_ident

__all__ = ["restrict_sub_chunks"]


def restrict_sub_chunks(select: exp.Select, ctx: PlanContext) -> exp.Select:
    ctx.require("restrict_area", "infer_area")
    partitioned = ctx.partitioned()
    if ctx.scope != "chunked" or not ctx.areas or len(partitioned) != 1:
        return select
    ref = partitioned[0]
    if not (ref.table.longitude_key and ref.table.latitude_key):
        return select
    marker = exp.column(SUB_CHUNK_TOKEN, quoted=True)
    where = select.args.get("where")
    condition = marker if where is None else exp.and_(marker, where.this, copy=False)
    select.set("where", exp.Where(this=condition))
    ctx.sub_chunk_column = f"{quote_ident(ref.alias)}.{quote_ident(SUB_CHUNK_COLUMN)}"
    return select

"""split_aggregates: per-chunk partial aggregates, and the merge statement that combines them.

Qserv's AggregatePlugin (reference/qserv-behaviour.md 1.5, STYLE 3). For a chunked query that
aggregates or groups (an aggregate anywhere in the select list, HAVING or ORDER BY, or a
GROUP BY), each chunk computes partial results per group and the czar merges them:

- per chunk: the GROUP BY keys and every aggregate's parts (``MergeColumns``), grouped by
  the same GROUP BY plus the arguments of DISTINCT aggregates; no HAVING (a group's partial
  count says nothing about its total);
- merge: the user's select list rewritten over those columns, ``GROUP BY`` the keys'
  columns, and HAVING rewritten the same way. ORDER BY, LIMIT and DISTINCT are placed by
  ``place_post``.

Precondition: ``qualify_columns`` ran (aliases and positions in GROUP BY/HAVING/ORDER BY are already
expressions, so text equality finds the GROUP BY keys). "Single" queries (regular tables
only) run whole on one worker and are not split.

Example (``examples.py`` catalog):

>>> from qserv_py.czar.analysis.examples import show, show_plan
>>> show("SELECT band, COUNT(*) AS n, AVG(psfFlux) FROM ForcedSource"
...      " GROUP BY band HAVING n > 5", through="split_aggregates")
chunk: SELECT `ForcedSource`.`band` AS `QS1_PASS`, COUNT(*) AS `QS2_COUNT`,
    COUNT(`ForcedSource`.`psfFlux`) AS `QS3_COUNT`, SUM(`ForcedSource`.`psfFlux`) AS `QS4_SUM`
    FROM `demo_dp02`.`ForcedSource` AS `ForcedSource` GROUP BY `ForcedSource`.`band`
merge: SELECT `QS1_PASS` AS `band`, CAST(COALESCE(SUM(`QS2_COUNT`), 0) AS SIGNED) AS `n`,
    (SUM(`QS4_SUM`) / SUM(`QS3_COUNT`)) AS `AVG(psfFlux)` FROM `%RR%` GROUP BY `QS1_PASS`
    HAVING CAST(COALESCE(SUM(`QS2_COUNT`), 0) AS SIGNED) > 5

Results stay the same: COUNT, SUM, MIN and MAX are associative over a partition of the rows
into chunks, and AVG is carried as its sum and count. ``COUNT(DISTINCT x)`` (and SUM, AVG)
group each chunk by ``x`` too, so the merge sees every distinct value of each group and
applies the same DISTINCT aggregate (``merge_columns``):

>>> show("SELECT band, COUNT(DISTINCT ccdVisitId), COUNT(*) FROM ForcedSource GROUP BY band",
...      through="split_aggregates")
chunk: SELECT `ForcedSource`.`band` AS `QS1_PASS`, `ForcedSource`.`ccdVisitId` AS `QS2_PASS`,
    COUNT(*) AS `QS3_COUNT` FROM `demo_dp02`.`ForcedSource` AS `ForcedSource`
    GROUP BY `ForcedSource`.`band`, `ForcedSource`.`ccdVisitId`
merge: SELECT `QS1_PASS` AS `band`, COUNT(DISTINCT `QS2_PASS`) AS `COUNT(DISTINCT ccdVisitId)`,
    CAST(COALESCE(SUM(`QS3_COUNT`), 0) AS SIGNED) AS `COUNT(*)` FROM `%RR%` GROUP BY `QS1_PASS`
"""

from __future__ import annotations

import dataclasses

from sqlglot import exp

from qserv_py.czar.analysis.aggregates import contains_aggregate
from qserv_py.czar.analysis.context import PlanContext, Statements
from qserv_py.czar.analysis.merge_columns import MergeColumns, merge_table

__all__ = ["aggregates_or_groups", "split_aggregates"]


def aggregates_or_groups(select: exp.Select) -> bool:
    """GROUP BY, or an aggregate anywhere. HAVING without either is a row filter per chunk."""
    if select.args.get("group") is not None:
        return True
    order = select.args.get("order")
    places = [*select.expressions, *(order.expressions if order is not None else [])]
    having = select.args.get("having")
    places += [having] if having is not None else []
    return any(contains_aggregate(node) for node in places)


def split_aggregates(stmts: Statements, ctx: PlanContext) -> Statements:
    ctx.require("qualify_columns", "check_joins")
    select = stmts.parallel
    if ctx.scope == "single" or not aggregates_or_groups(select):
        return stmts
    columns = MergeColumns(ctx)
    group = select.args.get("group")
    keys = [columns.group_key(e) for e in group.expressions] if group is not None else []
    items = [
        exp.alias_(columns.to_merge(item), name, quoted=True)
        for item, name in zip(stmts.items, ctx.result_columns, strict=True)
    ]
    merge = exp.Select(expressions=items).from_(merge_table(), copy=False)
    if keys:
        merge.set("group", exp.Group(expressions=keys))
    having = select.args.get("having")
    if having is not None:
        merge.set("having", exp.Having(this=columns.to_merge(having.this)))
        select.set("having", None)
    select.set("expressions", list(columns.parallel))
    columns.group_chunks(select)
    return dataclasses.replace(stmts, merge=merge, columns=columns)

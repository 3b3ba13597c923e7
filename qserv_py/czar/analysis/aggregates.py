"""Which calls are aggregates, and which of them the czar can split per chunk.

Qserv splits ``COUNT, SUM, MIN, MAX, AVG`` and refuses the others in chunked queries
(``AggOp.cc``, ``ParseAdapters.h``; reference/qserv-behaviour.md 1.5). sciSQL's aggregate UDFs
(``scisql_median``, ``scisql_percentile``) look like ordinary calls to the parser, so they are
listed by name: a per-chunk median merged by anything would be wrong.
"""

from __future__ import annotations

from sqlglot import exp

__all__ = ["AGGREGATE_UDFS", "SPLITTABLE", "contains_aggregate", "is_aggregate"]

AGGREGATE_UDFS = frozenset({"scisql_median", "scisql_percentile"})
SPLITTABLE: tuple[type[exp.Expr], ...] = (exp.Count, exp.Sum, exp.Min, exp.Max, exp.Avg)


def is_aggregate(node: exp.Expr) -> bool:
    if isinstance(node, exp.AggFunc):
        return True
    return isinstance(node, exp.Anonymous) and node.name.lower() in AGGREGATE_UDFS


def contains_aggregate(node: exp.Expr) -> bool:
    return any(is_aggregate(n) for n in node.walk())

"""The per-chunk select list of a query with a merge, and the merge expressions that read it.

When the czar merges, each chunk returns intermediate columns named ``QS<n>_<KIND>`` (Qserv's
``AggOp::Mgr`` names; numbered per query from a counter in ``ctx``, never from ids or hashes),
and the merge statement computes the user's columns from them over the table of all chunks'
rows. ``MergeColumns`` hands out those columns, each computed once however often it is used:

- ``PASS``: an aggregate-free expression computed per chunk and read as is (a group key, a
  column, ``scisql_fluxToAbMag(x)``);
- ``COUNT``, ``SUM``, ``MIN``, ``MAX``: per-chunk partial aggregates, merged by SUM (counts,
  sums), MIN or MAX; AVG is ``SUM(sums) / SUM(counts)``.

``to_merge(expression)`` rewrites an expression of the user's query into its merge form,
top-down: a GROUP BY key becomes its column; an aggregate becomes its merge formula; a
maximal aggregate-free subexpression that reads columns becomes a PASS column, unless it
reads a GROUP BY key (then it is rebuilt around the key's column, so the merge groups
cleanly); anything else (literals, functions over aggregates) is evaluated by the merge.
"""

from __future__ import annotations

from sqlglot import exp

from qserv_py.czar.analysis.aggregates import SPLITTABLE, contains_aggregate, is_aggregate
from qserv_py.czar.analysis.context import PlanContext
from qserv_py.czar.analysis.errors import UnsupportedQuery
from qserv_py.czar.analysis.plan import MERGE_TABLE_TOKEN
from qserv_py.czar.analysis.sql_text import to_sql, written

__all__ = ["MergeColumns", "merge_table"]


def merge_table() -> exp.Table:
    """The merge statement's FROM: the token the czar replaces with its result table."""
    return exp.Table(this=exp.to_identifier(MERGE_TABLE_TOKEN, quoted=True))


def _ref(alias: str) -> exp.Column:
    return exp.column(alias, quoted=True)


class MergeColumns:
    __slots__ = ("_by_key", "_ctx", "group_keys", "parallel")

    def __init__(self, ctx: PlanContext) -> None:
        self._ctx = ctx
        self.parallel: list[exp.Expr] = []
        """The per-chunk select list, ``expression AS QS<n>_<KIND>``, in creation order."""
        self.group_keys: dict[exp.Expr, str] = {}
        """Each GROUP BY expression -> its PASS column (sqlglot trees compare structurally)."""
        self._by_key: dict[str, str] = {}
        """``KIND:sql`` -> column: by text, as built nodes differ from parsed ones in flags."""

    def column(self, expression: exp.Expr, kind: str) -> str:
        """The per-chunk column computing ``expression``; created on first use."""
        key = f"{kind}:{to_sql(expression)}"
        alias = self._by_key.get(key)
        if alias is None:
            alias = self._ctx.next_alias(kind)
            self.parallel.append(exp.alias_(expression.copy(), alias, quoted=True))
            self._by_key[key] = alias
        return alias

    def group_key(self, expression: exp.Expr) -> exp.Column:
        alias = self.column(expression, "PASS")
        self.group_keys[expression.copy()] = alias
        return _ref(alias)

    def to_merge(self, expression: exp.Expr) -> exp.Expr:
        def visit(node: exp.Expr) -> exp.Expr:
            key = self.group_keys.get(node) if self.group_keys else None
            if key is not None:
                return _ref(key)
            if is_aggregate(node):
                return self._split(node)
            if node.find(exp.Column) is None or contains_aggregate(node):
                return node
            if self.group_keys and self._mentions_group_key(node):
                return node  # UPPER(band) with band grouped: UPPER(<band's column>)
            return _ref(self.column(node, "PASS"))

        result: exp.Expr = expression.copy().transform(visit, copy=False)
        return result

    def _mentions_group_key(self, node: exp.Expr) -> bool:
        return any(n in self.group_keys for n in node.walk() if n is not node)

    def _split(self, node: exp.Expr) -> exp.Expr:
        """The merge formula of one aggregate, creating its per-chunk parts."""
        if not isinstance(node, SPLITTABLE):
            raise UnsupportedQuery(
                f"{written(node, self._ctx.sql)} is not supported on partitioned tables; the"
                " aggregates that"
                " work per chunk are COUNT, SUM, MIN, MAX and AVG"
            )
        arg = node.this
        if isinstance(arg, exp.Distinct) or node.expressions:
            raise UnsupportedQuery(
                f"{written(node, self._ctx.sql)} is not supported on partitioned tables;"
                " GROUP BY the column instead and count or sum the groups in the client"
            )
        if isinstance(node, exp.Count):
            counts = _ref(self.column(node, "COUNT"))
            total = exp.Coalesce(this=exp.Sum(this=counts), expressions=[exp.Literal.number(0)])
            # SUM of counts is DECIMAL and NULL over no rows: give COUNT's BIGINT and 0 back.
            return exp.Cast(this=total, to=exp.DataType(this=exp.DataType.Type.BIGINT))
        if isinstance(node, exp.Avg):
            counts = _ref(self.column(exp.Count(this=arg.copy()), "COUNT"))
            sums = _ref(self.column(exp.Sum(this=arg.copy()), "SUM"))
            return exp.Paren(this=exp.Div(this=exp.Sum(this=sums), expression=exp.Sum(this=counts)))
        kind = type(node).__name__.upper()
        merged = type(node)(this=_ref(self.column(node, kind)))
        return merged

"""The per-chunk select list of a query with a merge, and the merge expressions that read it.

When the czar merges, each chunk returns intermediate columns named ``QS<n>_<KIND>`` (Qserv's
``AggOp::Mgr`` names; numbered per query from a counter in ``ctx``, never from ids or hashes),
and the merge statement computes the user's columns from them over the table of all chunks'
rows. ``MergeColumns`` hands out those columns, each computed once however often it is used:

- ``PASS``: an aggregate-free expression computed per chunk and read as is (a group key, a
  column, ``scisql_fluxToAbMag(x)``);
- ``COUNT``, ``SUM``, ``MIN``, ``MAX``: per-chunk partial aggregates, merged by SUM (counts,
  sums), MIN or MAX; AVG is ``SUM(sums) / SUM(counts)``.
- ``COUNT(DISTINCT x, ...)``, ``SUM(DISTINCT x)``, ``AVG(DISTINCT x)``: each argument becomes a
  PASS column and an extra per-chunk GROUP BY key (``distinct_keys``), so a chunk returns each
  distinct value once per group; the merge applies the same aggregate, DISTINCT included, to
  the PASS columns, grouped by the user's keys only. The other aggregates stay right: their
  partial values are now per (group, distinct value), still a partition of the rows.
  ``MIN``/``MAX(DISTINCT x)`` are ``MIN``/``MAX(x)``.

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
    __slots__ = ("_by_key", "_ctx", "distinct_keys", "group_keys", "parallel")

    def __init__(self, ctx: PlanContext) -> None:
        self._ctx = ctx
        self.parallel: list[exp.Expr] = []
        """The per-chunk select list, ``expression AS QS<n>_<KIND>``, in creation order."""
        self.group_keys: dict[exp.Expr, str] = {}
        """Each GROUP BY expression -> its PASS column (sqlglot trees compare structurally)."""
        self._by_key: dict[str, str] = {}
        """``KIND:sql`` -> column: by text, as built nodes differ from parsed ones in flags."""
        self.distinct_keys: list[tuple[exp.Expr, str]] = []
        """Arguments of DISTINCT aggregates and their PASS columns: extra per-chunk GROUP BY
        keys (``group_chunks``)."""

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

    def group_chunks(self, select: exp.Select) -> None:
        """Add the DISTINCT aggregates' arguments to the per-chunk GROUP BY (once each).

        An argument without a column (``COUNT(DISTINCT 1)``) is grouped by its PASS column's
        name: a literal in GROUP BY would be read as a position, and without any GROUP BY a
        chunk without rows would still return the constant (counted as one value).
        """
        group = select.args.get("group")
        keys = list(group.expressions) if group is not None else []
        seen = {to_sql(k) for k in keys}
        for arg, alias in self.distinct_keys:
            key = arg.copy() if arg.find(exp.Column) is not None else _ref(alias)
            if to_sql(key) not in seen:
                seen.add(to_sql(key))
                keys.append(key)
        if keys:
            select.set("group", exp.Group(expressions=keys))

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
        if node.expressions:  # SUM(a, b) and the like: MariaDB refuses them too
            raise UnsupportedQuery(
                f"{written(node, self._ctx.sql)} is not supported on partitioned tables;"
                " give the aggregate one argument"
            )
        if isinstance(arg, exp.Distinct):
            args = arg.expressions
            if isinstance(node, (exp.Min, exp.Max)) and len(args) == 1:
                return self._split(type(node)(this=args[0].copy()))
            return self._split_distinct(node, args)
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

    def _split_distinct(self, node: exp.Expr, args: list[exp.Expr]) -> exp.Expr:
        """``COUNT(DISTINCT a, b)`` -> ``COUNT(DISTINCT <a's column>, <b's column>)``."""
        if not isinstance(node, exp.Count) and len(args) != 1:
            raise UnsupportedQuery(
                f"{written(node, self._ctx.sql)} is not supported; only COUNT(DISTINCT ...)"
                " takes several arguments"
            )
        columns: list[exp.Expr] = []
        for arg in args:
            inner = arg.this if isinstance(arg, exp.Paren) else arg
            alias = self.column(inner, "PASS")
            columns.append(_ref(alias))
            self.distinct_keys.append((inner.copy(), alias))
        merged: exp.Expr = type(node)(this=exp.Distinct(expressions=columns))
        return merged

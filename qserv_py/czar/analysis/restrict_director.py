"""restrict_director: the director key compared with integers selects chunks by director index.

Qserv's secondary-index restrictors (reference/qserv-behaviour.md 1.3), with ranges: among the
top-level AND terms of WHERE, a comparison ``col = <integer>`` (either side),
``col IN (<integers>)``, ``col BETWEEN <integer> AND <integer>`` or ``col <, <=, >, >=
<integer>`` (either side) on a director table's key, or on a child table's column holding its
director's key (``ForcedSource.objectId``), means only the chunks holding those keys can
contribute (in a join, only the tables ``ctx.selects_chunks`` names). Dispatch looks them
up in ``qservMeta.<db>__<director>`` (``key IN (...)``, or
``key >= a AND key <= b``: the index table is keyed on the key, so both are index lookups).
The SQL is left unchanged: the term still filters rows on the workers.

Qserv documents BETWEEN but never wired it up; it and the comparisons are restrictors here.
Strictness is kept (``key > 5`` looks up ``key > 5`` in the index), so the lookup compares
exactly as the worker's predicate does. Not restrictors: ``NOT IN``, ``<>``, ``NOT BETWEEN``,
terms under OR, non-integer literals. Those scan all chunks, which is slower but still right.
Several restrictor terms on the same director are all true at once: key sets are
intersected, ranges narrowed, and a key list keeps only the keys inside the range (an empty
result means no row can match).

Examples (``examples.py`` catalog; the child's ``objectId`` uses ``Object``'s index):

>>> from qserv_py.czar.analysis.examples import show, show_plan
>>> show_plan("SELECT psfFlux FROM ForcedSource WHERE objectId IN (3, 1, 2)")
chunk: SELECT `ForcedSource`.`psfFlux` FROM `demo_dp02`.`ForcedSource_%CC%` AS `ForcedSource`
    WHERE `ForcedSource`.`objectId` IN (3, 1, 2)
columns: psfFlux
chunks: Object.objectId in [1, 2, 3] within any chunk
>>> show_plan("SELECT objectId FROM Object WHERE objectId BETWEEN 10 AND 20 AND objectId < 15")
chunk: SELECT `Object`.`objectId` FROM `demo_dp02`.`Object_%CC%` AS `Object`
    WHERE `Object`.`objectId` BETWEEN 10 AND 20 AND `Object`.`objectId` < 15
columns: objectId
chunks: Object.objectId >= 10 AND < 15 within any chunk
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from qserv_py.czar.analysis.context import DirectorRestriction, PlanContext
from qserv_py.czar.analysis.plan import KeyBound
from qserv_py.czar.analysis.predicates import conjuncts, integer_literal, strip_parens

__all__ = ["restrict_director"]


@dataclass(slots=True)
class _Keys:
    """What the terms on one director's key say: a key set and a range, each optional."""

    values: set[int] | None = None
    lower: KeyBound | None = None
    upper: KeyBound | None = None

    def add_values(self, values: set[int]) -> None:
        self.values = values if self.values is None else self.values & values

    def add_lower(self, bound: KeyBound) -> None:
        if self.lower is None or (bound.value, not bound.inclusive) > (
            self.lower.value,
            not self.lower.inclusive,
        ):
            self.lower = bound

    def add_upper(self, bound: KeyBound) -> None:
        if self.upper is None or (bound.value, bound.inclusive) < (
            self.upper.value,
            self.upper.inclusive,
        ):
            self.upper = bound

    def inside(self, value: int) -> bool:
        lo, hi = self.lower, self.upper
        if lo is not None and (value < lo.value or (value == lo.value and not lo.inclusive)):
            return False
        return hi is None or value < hi.value or (value == hi.value and hi.inclusive)


def restrict_director(select: exp.Select, ctx: PlanContext) -> exp.Select:
    ctx.require("qualify_columns", "classify_joins")
    found: dict[tuple[str, str, str], _Keys] = {}
    for term in conjuncts(select):
        match = _restrictor(strip_parens(term))
        if match is None:
            continue
        column, apply = match
        director = _director_key(column, ctx)
        if director is None:
            continue
        apply(found.setdefault(director, _Keys()))
    if found:
        # The tables choosing chunks share one director (classify_joins); sorted for stability.
        (db, table, key), keys = sorted(found.items(), key=lambda item: item[0])[0]
        if keys.values is not None:  # the range only thins the key list out
            values = tuple(sorted(v for v in keys.values if keys.inside(v)))
            ctx.director = DirectorRestriction(db, table, key, values)
        elif _empty(keys.lower, keys.upper):
            ctx.director = DirectorRestriction(db, table, key, ())
        else:
            ctx.director = DirectorRestriction(db, table, key, None, keys.lower, keys.upper)
    return select


def _empty(lower: KeyBound | None, upper: KeyBound | None) -> bool:
    if lower is None or upper is None:
        return False
    if lower.value != upper.value:
        return lower.value > upper.value
    return not (lower.inclusive and upper.inclusive)


_Apply = Callable[[_Keys], None]


def _restrictor(term: exp.Expr) -> tuple[exp.Column, _Apply] | None:
    """The key column a term restricts, and how it narrows that key's ``_Keys``."""
    if isinstance(term, exp.EQ):
        match = _column_and_integer(term)
        if match is None:
            return None
        column, value, _ = match
        return column, lambda keys: keys.add_values({value})
    if isinstance(term, exp.In) and not term.args.get("query") and term.expressions:
        listed = strip_parens(term.this)
        values = [integer_literal(e) for e in term.expressions]
        if isinstance(listed, exp.Column) and all(v is not None for v in values):
            wanted = {v for v in values if v is not None}
            return listed, lambda keys: keys.add_values(wanted)
        return None
    if isinstance(term, exp.Between) and not term.args.get("symmetric"):
        ranged = strip_parens(term.this)
        low, high = integer_literal(term.args["low"]), integer_literal(term.args["high"])
        if not isinstance(ranged, exp.Column) or low is None or high is None:
            return None
        lo_bound, hi_bound = KeyBound(low, True), KeyBound(high, True)

        def between(keys: _Keys) -> None:
            keys.add_lower(lo_bound)
            keys.add_upper(hi_bound)

        return ranged, between
    if isinstance(term, (exp.GT, exp.GTE, exp.LT, exp.LTE)):
        match = _column_and_integer(term)
        if match is None:
            return None
        column, value, flipped = match
        lower = isinstance(term, (exp.GT, exp.GTE)) != flipped  # key > 5, or 5 < key
        bound = KeyBound(value, isinstance(term, (exp.GTE, exp.LTE)))
        if lower:
            return column, lambda keys: keys.add_lower(bound)
        return column, lambda keys: keys.add_upper(bound)
    return None


def _column_and_integer(term: exp.Binary) -> tuple[exp.Column, int, bool] | None:
    """``(column, value, flipped)`` for ``column <op> integer`` or ``integer <op> column``."""
    left, right = strip_parens(term.this), strip_parens(term.expression)
    if isinstance(left, exp.Column) and (value := integer_literal(right)) is not None:
        return left, value, False
    if isinstance(right, exp.Column) and (value := integer_literal(left)) is not None:
        return right, value, True
    return None


def _director_key(column: exp.Column, ctx: PlanContext) -> tuple[str, str, str] | None:
    if not column.table or not ctx.selects_chunks(column.table):
        return None
    table = ctx.ref(column.table).table
    if not table.is_partitioned or column.name.lower() != table.director_key.lower():
        return None
    director = ctx.view.director_of(table)
    return director.db, director.name, director.director_key

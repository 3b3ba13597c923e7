"""restrict_director: ``key = literal`` and ``key IN (literals)`` select chunks by director index.

Qserv's secondary-index restrictors (reference/qserv-behaviour.md 1.3): among the top-level
AND terms of WHERE, a comparison ``col = <integer>`` (either side) or ``col IN (<integers>)``
on a director table's key, or on a child table's column holding its director's key
(``ForcedSource.objectId``), means only the chunks holding those keys can contribute. Dispatch
looks them up in ``qservMeta.<db>__<director>``. The SQL is left unchanged: the term still
filters rows on the workers.

Not restrictors, as in Qserv's code: ``NOT IN``, ``<>``, ``<``/``>``, ``BETWEEN`` (documented
but never wired up there), terms under OR, non-integer literals. Those scan all chunks, which
is slower but still right. Several restrictor terms on the same director are all true at once,
so their key sets are intersected (an empty intersection means no row can match).

Example (``examples.py`` catalog; the child's ``objectId`` uses ``Object``'s index):

>>> from qserv_py.czar.analysis.examples import show, show_plan
>>> show_plan("SELECT psfFlux FROM ForcedSource WHERE objectId IN (3, 1, 2)")
chunk: SELECT `ForcedSource`.`psfFlux` FROM `demo_dp02`.`ForcedSource_%CC%` AS `ForcedSource`
    WHERE `ForcedSource`.`objectId` IN (3, 1, 2)
columns: psfFlux
chunks: Object.objectId in [1, 2, 3] within any chunk
"""

from __future__ import annotations

from sqlglot import exp

from qserv_py.czar.analysis.context import DirectorRestriction, PlanContext
from qserv_py.czar.analysis.predicates import conjuncts, integer_literal, strip_parens

__all__ = ["restrict_director"]


def restrict_director(select: exp.Select, ctx: PlanContext) -> exp.Select:
    ctx.require("qualify_columns", "check_joins")
    found: dict[tuple[str, str, str], set[int]] = {}
    for term in conjuncts(select):
        match = _keys(strip_parens(term))
        if match is None:
            continue
        column, values = match
        director = _director_key(column, ctx)
        if director is None:
            continue
        if director in found:
            found[director] &= values
        else:
            found[director] = values
    if found:
        # One partitioned table per query (check_joins), so one director; sorted for stability.
        (db, table, key), values = sorted(found.items())[0]
        ctx.director = DirectorRestriction(db, table, key, tuple(sorted(values)))
    return select


def _keys(term: exp.Expr) -> tuple[exp.Column, set[int]] | None:
    if isinstance(term, exp.EQ):
        left, right = strip_parens(term.this), strip_parens(term.expression)
        if isinstance(left, exp.Column) and (value := integer_literal(right)) is not None:
            return left, {value}
        if isinstance(right, exp.Column) and (value := integer_literal(left)) is not None:
            return right, {value}
        return None
    if isinstance(term, exp.In) and not term.args.get("query") and term.expressions:
        column = strip_parens(term.this)
        values = [integer_literal(e) for e in term.expressions]
        if isinstance(column, exp.Column) and all(v is not None for v in values):
            return column, {v for v in values if v is not None}
    return None


def _director_key(column: exp.Column, ctx: PlanContext) -> tuple[str, str, str] | None:
    if not column.table:
        return None
    table = ctx.ref(column.table).table
    if not table.is_partitioned or column.name.lower() != table.director_key.lower():
        return None
    director = ctx.view.director_of(table)
    return director.db, director.name, director.director_key

"""Reading WHERE clauses: top-level AND terms, literal arguments, ``f(...) = 1`` forms.

Qserv's restrictors are recognised only among the top-level AND terms of WHERE, after
redundant parentheses and nested ANDs are flattened (WherePlugin, reference/qserv-behaviour.md
2.4); these helpers give the restrictor passes that view of a query.
"""

from __future__ import annotations

from sqlglot import exp

__all__ = [
    "conjuncts",
    "integer_literal",
    "numeric_literal",
    "set_conjuncts",
    "strip_parens",
    "truth_call",
]


def strip_parens(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def conjuncts(select: exp.Select) -> list[exp.Expr]:
    """The top-level AND terms of WHERE, in order; parentheses around ANDs are flattened."""
    where = select.args.get("where")
    if where is None:
        return []
    terms: list[exp.Expr] = []
    stack: list[exp.Expr] = [where.this]
    while stack:
        node = stack.pop()
        inner = strip_parens(node)
        if isinstance(inner, exp.And):
            stack.append(inner.expression)
            stack.append(inner.this)
        else:
            terms.append(node)  # keeps its parentheses: (a OR b) must stay grouped
    return terms


def set_conjuncts(select: exp.Select, terms: list[exp.Expr]) -> None:
    """Replace WHERE by the AND of ``terms`` (no WHERE when empty)."""
    if not terms:
        select.set("where", None)
        return
    condition = terms[0]
    for term in terms[1:]:
        condition = exp.And(this=condition, expression=term)
    select.set("where", exp.Where(this=condition))


def numeric_literal(node: exp.Expr) -> float | None:
    """The value of a numeric literal, signs and parentheses allowed; None for anything else."""
    node = strip_parens(node)
    sign = 1.0
    while isinstance(node, exp.Neg):
        sign = -sign
        node = strip_parens(node.this)
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return sign * float(node.this)
        except ValueError:
            return None
    return None


def integer_literal(node: exp.Expr) -> int | None:
    """The value of an integer literal such as ``42`` or ``-7``; None for anything else."""
    node = strip_parens(node)
    negative = False
    while isinstance(node, exp.Neg):
        negative = not negative
        node = strip_parens(node.this)
    if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
        value = int(node.this)
        return -value if negative else value
    return None


def _is_one(node: exp.Expr) -> bool:
    return integer_literal(node) == 1


def truth_call(term: exp.Expr) -> exp.Func | None:
    """``f(...)`` when ``term`` is ``f(...)``, ``f(...) = 1`` or ``1 = f(...)``."""
    term = strip_parens(term)
    if isinstance(term, exp.EQ):
        left, right = strip_parens(term.this), strip_parens(term.expression)
        if isinstance(left, exp.Func) and _is_one(right):
            return left
        if isinstance(right, exp.Func) and _is_one(left):
            return right
        return None
    if isinstance(term, exp.Func):
        return term
    return None

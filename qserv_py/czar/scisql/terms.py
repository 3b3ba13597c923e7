"""Double-precision terms: folded in Python when constant, MariaDB SQL otherwise.

The builders write each sciSQL function once, in the C code's order of operations, with the
helpers below. An operation on Python floats is done at once with C semantics (``model.c_*``), so
a literal region is precomputed exactly as the UDF's cache would hold it; an operation with an SQL
operand becomes an ``Sql`` node. ``render`` turns the result into a sqlglot expression, copying
shared sub-terms, so a term may be used any number of times.

Invariants the builders keep (they are what makes the SQL give the UDF's bits):

* Every SQL operand is a DOUBLE (``CAST(... AS DOUBLE)`` or an ``e0`` literal), so MariaDB never
  computes in DECIMAL or INTEGER, and left-to-right binary operations mirror C's evaluation.
* No operation can overflow on the rows that reach it: MariaDB raises error 1690 where C yields
  ``inf``. Guards go in ``case_`` conditions, which MariaDB evaluates lazily, in order.
* SQL operands are not NULL where arithmetic is done: each builder tests for NULL first. The
  simplifications ``1*x -> x``, ``0*x -> 0`` and ``x+0 -> x`` are exact up to the sign of a zero,
  which no sciSQL result depends on (squares, comparisons with 0), but they would drop a NULL.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from qserv_py.czar.scisql import model
from qserv_py.czar.scisql.errors import ScisqlBug


@dataclass(frozen=True, slots=True, eq=False)
class Sql:
    """An SQL term: ``op`` is an operator or ``"fn"``/``"case"``/``"cast"``; see ``render``."""

    op: str
    args: tuple[Any, ...]


Num = float | Sql  # a DOUBLE value
Pred = bool | Sql  # a truth value (0/1 in MariaDB)
Value = float | bool | Sql | None  # None is SQL NULL
Operand = float | Sql | None  # a sciSQL argument: a literal, NULL, or a DOUBLE expression


def as_double(e: exp.Expr) -> Sql:
    """A user's argument, read as MariaDB's ``val_real()``: ``CAST(e AS DOUBLE)``."""
    return Sql("cast", (e,))


# ---- arithmetic ----


def add(a: Num, b: Num) -> Num:
    if isinstance(a, float) and isinstance(b, float):
        return a + b
    if isinstance(a, float) and a == 0.0:
        return b
    if isinstance(b, float) and b == 0.0:
        return a
    return Sql("+", (a, b))


def sub(a: Num, b: Num) -> Num:
    if isinstance(a, float) and isinstance(b, float):
        return a - b
    if isinstance(b, float) and b == 0.0:
        return a
    if isinstance(a, float) and a == 0.0:
        return neg(b)
    return Sql("-", (a, b))


def mul(a: Num, b: Num) -> Num:
    if isinstance(a, float) and isinstance(b, float):
        return a * b
    for const, other in ((a, b), (b, a)):
        if isinstance(const, float):
            if const == 0.0:
                return 0.0
            if const == 1.0:
                return other
            if const == -1.0:
                return neg(other)
    return Sql("*", (a, b))


def div(a: Num, b: Num) -> Num:
    if isinstance(a, float) and isinstance(b, float):
        return model.c_div(a, b)
    if isinstance(b, float) and b == 1.0:
        return a
    return Sql("/", (a, b))


def neg(a: Num) -> Num:
    if isinstance(a, float):
        return -a
    if a.op == "neg":
        inner: Num = a.args[0]
        return inner
    return Sql("neg", (a,))


def sq(a: Num) -> Num:
    return mul(a, a)


def _fn(name: str, fold: Callable[..., float], *args: Num) -> Num:
    if all(isinstance(a, float) for a in args):
        return float(fold(*args))
    return Sql("fn", (name, *args))


def sin(a: Num) -> Num:
    return _fn("SIN", model.c_sin, a)


def cos(a: Num) -> Num:
    return _fn("COS", model.c_cos, a)


def asin(a: Num) -> Num:
    return _fn("ASIN", model.c_asin, a)


def sqrt(a: Num) -> Num:
    return _fn("SQRT", model.c_sqrt, a)


def atan2(y: Num, x: Num) -> Num:
    return _fn("ATAN2", math.atan2, y, x)


def log10(a: Num) -> Num:
    return _fn("LOG10", model.c_log10, a)


def pow_(a: Num, b: Num) -> Num:
    if isinstance(a, float) and isinstance(b, float):
        return model.c_pow(a, b)
    return Sql("pow", (a, b))


def fmod(a: Num, b: Num) -> Num:
    """C's fmod: MariaDB's ``%`` (MOD) on DOUBLE operands."""
    if isinstance(a, float) and isinstance(b, float):
        return model.c_fmod(a, b)
    return Sql("%", (a, b))


def fabs(a: Num) -> Num:
    return _fn("ABS", abs, a)


def clamp(x: Num, lo: float, hi: float) -> Num:
    """C's ``x < lo ? lo : (x > hi ? hi : x)``; LEAST/GREATEST keep one copy of ``x`` in SQL."""
    if isinstance(x, float):
        return lo if x < lo else (hi if x > hi else x)
    return Sql("fn", ("LEAST", hi, Sql("fn", ("GREATEST", lo, x))))


def least(a: Num, b: Num) -> Num:
    if isinstance(a, float) and isinstance(b, float):
        return min(a, b)
    return Sql("fn", ("LEAST", a, b))


def greatest(a: Num, b: Num) -> Num:
    if isinstance(a, float) and isinstance(b, float):
        return max(a, b)
    return Sql("fn", ("GREATEST", a, b))


def at_most(x: Num, hi: float) -> Num:
    """C's ``x > hi ? hi : x``."""
    if isinstance(x, float):
        return hi if x > hi else x
    return Sql("fn", ("LEAST", hi, x))


# ---- comparisons and logic ----


def _cmp(op: str, a: Num, b: Num) -> Pred:
    if isinstance(a, float) and isinstance(b, float):
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "=": a == b}[op]
    return Sql(op, (a, b))


def lt(a: Num, b: Num) -> Pred:
    return _cmp("<", a, b)


def le(a: Num, b: Num) -> Pred:
    return _cmp("<=", a, b)


def gt(a: Num, b: Num) -> Pred:
    return _cmp(">", a, b)


def ge(a: Num, b: Num) -> Pred:
    return _cmp(">=", a, b)


def eq(a: Num, b: Num) -> Pred:
    return _cmp("=", a, b)


def and_(*ps: Pred) -> Pred:
    kept: list[Sql] = []
    for p in ps:
        if p is False:
            return False
        if isinstance(p, Sql):
            kept.append(p)
    if not kept:
        return True
    return kept[0] if len(kept) == 1 else Sql("and", tuple(kept))


def or_(*ps: Pred) -> Pred:
    kept: list[Sql] = []
    for p in ps:
        if p is True:
            return True
        if isinstance(p, Sql):
            kept.append(p)
    if not kept:
        return False
    return kept[0] if len(kept) == 1 else Sql("or", tuple(kept))


def not_(p: Pred) -> Pred:
    if isinstance(p, bool):
        return not p
    return Sql("not", (p,))


def is_null(v: Value) -> Pred:
    if v is None:
        return True
    if isinstance(v, Sql):
        return Sql("isnull", (v,))
    return False


def any_null(*vs: Value) -> Pred:
    return or_(*(is_null(v) for v in vs))


def case_(*branches: tuple[Pred, Value], default: Value = None) -> Value:
    """CASE WHEN ... END, with branches whose condition is constant resolved now."""
    kept: list[tuple[Sql, Value]] = []
    for cond, value in branches:
        if cond is False:
            continue
        if cond is True:
            default = value
            break
        kept.append((cond, value))
    while kept and _same_constant(kept[-1][1], default):
        kept.pop()  # WHEN c THEN d ELSE d END is d
    if not kept:
        return default
    return Sql("case", (tuple(kept), default))


def _same_constant(a: Value, b: Value) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, Sql) or isinstance(b, Sql):
        return False
    return type(a) is type(b) and a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def case_num(*branches: tuple[Pred, Num], default: Num) -> Num:
    """``case_`` whose branches are all DOUBLE values (usable in arithmetic)."""
    result = case_(*branches, default=default)
    assert isinstance(result, float | Sql)
    return result


def case_pred(*branches: tuple[Pred, Pred], default: Pred) -> Pred:
    """``case_`` whose branches are all truth values."""
    result = case_(*branches, default=default)
    assert isinstance(result, bool | Sql)
    return result


def when(cond: Pred, value: Value) -> Value:
    """``value`` if ``cond`` holds, else NULL (also when ``cond`` is NULL)."""
    return case_((cond, value))


# ---- overflow-free tests ----

_TWO_M512 = 2.0**-512


def mul_finite(a: Num, b: Num) -> Pred:
    """Whether C's ``a*b`` is finite, for finite ``a, b >= 0``, without overflowing in SQL.

    ``(a·2⁻⁵¹²)·(b·2⁻⁵¹²)`` is below 2¹⁰²⁴ and, scaling by a power of two being exact, rounds
    to 1 or more exactly when ``a·b`` rounds to infinity; when a scaled factor loses bits, the
    product is far below both thresholds.
    """
    if isinstance(a, float) and isinstance(b, float):
        return math.isfinite(a * b)
    return lt(mul(mul(a, _TWO_M512), mul(b, _TWO_M512)), 1.0)


def div_finite(a: Num, b: Num) -> Pred:
    """Whether C's ``a/b`` is finite, for finite ``a >= 0`` and ``b > 0``, without overflow.

    If ``b >= 1`` it is. Otherwise ``b·2⁵¹²`` is exact and finite, and with ``a' = a·2⁻⁵¹²``,
    ``a/b`` overflows exactly when ``a'/(b·2⁵¹²)`` rounds to 1 or more; ``a' >= b·2⁵¹²`` is
    tested first so that the scaled quotient itself stays below 1. A CASE, not OR/AND, orders
    the tests: MariaDB evaluates CASE branches lazily.
    """
    if isinstance(a, float) and isinstance(b, float):
        return math.isfinite(model.c_div(a, b))
    a_s, b_s = mul(a, _TWO_M512), mul(b, 2.0**512)
    finite = case_((ge(b, 1.0), True), (ge(a_s, b_s), False), default=lt(div(a_s, b_s), 1.0))
    assert isinstance(finite, bool | Sql)
    return finite


# ---- rendering ----

_BINARY: dict[str, tuple[type[exp.Expression], int]] = {
    "+": (exp.Add, 5),
    "-": (exp.Sub, 5),
    "*": (exp.Mul, 6),
    "/": (exp.Div, 6),
    "%": (exp.Mod, 6),
    "<": (exp.LT, 4),
    "<=": (exp.LTE, 4),
    ">": (exp.GT, 4),
    ">=": (exp.GTE, 4),
    "=": (exp.EQ, 4),
}
_PREC: dict[type[exp.Expression], int] = {
    exp.Or: 1,
    exp.And: 2,
    exp.Not: 3,
    exp.Is: 4,
    exp.Neg: 7,
    **{cls: prec for cls, prec in _BINARY.values()},
}
_ATOM = 9


def literal(x: float) -> exp.Expression:
    """A DOUBLE literal MariaDB reads back as exactly ``x`` (``repr`` round-trips; ``e0`` keeps
    it DOUBLE rather than DECIMAL)."""
    if not math.isfinite(x):
        raise ScisqlBug(f"non-finite constant {x!r} reached the SQL")
    if math.copysign(1.0, x) < 0.0:
        return exp.Neg(this=literal(-x))
    text = repr(x)
    return exp.Literal.number(text if "e" in text else text + "e0")


def _wrap(e: exp.Expression, min_prec: int) -> exp.Expression:
    prec = _PREC.get(type(e), _ATOM)
    return exp.Paren(this=e) if prec < min_prec else e


def render(v: Value) -> exp.Expression:
    """The sqlglot expression of a term; shared sub-terms are rendered once per use."""
    if v is None:
        return exp.Null()
    if isinstance(v, bool):
        return exp.Literal.number(int(v))
    if isinstance(v, float):
        return literal(v)
    op, args = v.op, v.args
    if op in _BINARY:
        cls, prec = _BINARY[op]
        return cls(this=_wrap(render(args[0]), prec), expression=_wrap(render(args[1]), prec + 1))
    if op in ("and", "or"):
        cls2: type[exp.Expression] = exp.And if op == "and" else exp.Or
        prec = _PREC[cls2]
        out = _wrap(render(args[0]), prec)
        for a in args[1:]:
            out = cls2(this=out, expression=_wrap(render(a), prec + 1))
        return out
    if op == "neg":
        return exp.Neg(this=_wrap(render(args[0]), _ATOM))
    if op == "not":
        return exp.Not(this=_wrap(render(args[0]), _ATOM))
    if op == "isnull":
        return exp.Is(this=_wrap(render(args[0]), 5), expression=exp.Null())
    if op == "pow":  # POWER, which sqlglot parses back to the same node
        return exp.Pow(this=render(args[0]), expression=render(args[1]))
    if op == "fn":
        return exp.Anonymous(this=args[0], expressions=[render(a) for a in args[1:]])
    if op == "case":
        ifs = [exp.If(this=render(c), true=render(t)) for c, t in args[0]]
        return exp.Case(ifs=ifs, default=None if args[1] is None else render(args[1]))
    if op == "cast":
        source: exp.Expression = args[0]
        return exp.Cast(this=source.copy(), to=exp.DataType(this=exp.DataType.Type.DOUBLE))
    raise ScisqlBug(f"unknown term {op!r}")

"""A sciSQL call's arguments as terms: literals folded to floats, other expressions as DOUBLEs.

The UDFs declare every argument REAL, so MariaDB hands them ``val_real()`` of each argument.
``CAST(x AS DOUBLE)`` is that same conversion, which keeps the arithmetic in DOUBLE (``0.1-0.3``
is DECIMAL in MariaDB and differs from the UDF's ``0.1e0-0.3e0``). A numeric literal is folded to
the float MariaDB would read (``float(text)`` rounds the same way; reference/scisql-golden.md).

The generated SQL repeats each argument several times, which is harmless for columns and
deterministic expressions but would change the meaning of ``RAND()``, ``UUID()``, ``@v := ...``
and the like, so such arguments are refused.
"""

from __future__ import annotations

import math

from sqlglot import exp

from qserv_py.czar.scisql.errors import ER_ILLEGAL_VALUE_FOR_TYPE, ER_NOT_SUPPORTED_YET, ScisqlError
from qserv_py.czar.scisql.terms import Operand, as_double

NONDETERMINISTIC = frozenset(
    {
        "BENCHMARK",
        "GET_LOCK",
        "IS_FREE_LOCK",
        "IS_USED_LOCK",
        "LASTVAL",
        "LAST_INSERT_ID",
        "NEXTVAL",
        "RAND",
        "RANDOM_BYTES",
        "RELEASE_ALL_LOCKS",
        "RELEASE_LOCK",
        "ROW_COUNT",
        "FOUND_ROWS",
        "SETVAL",
        "SLEEP",
        "SYSDATE",
        "SYS_GUID",
        "UUID",
        "UUID_SHORT",
    }
)


class _NotLiteral:
    pass


_NOT_LITERAL = _NotLiteral()


def _literal_value(e: exp.Expr) -> float | _NotLiteral | None:
    """The double MariaDB reads for a NULL or numeric literal (possibly negated)."""
    if isinstance(e, exp.Paren):
        return _literal_value(e.this)
    if isinstance(e, exp.Null):
        return None
    if isinstance(e, exp.Boolean):
        return 1.0 if e.this else 0.0
    if isinstance(e, exp.Literal) and not e.is_string:
        value = float(e.this)
        if not math.isfinite(value):
            raise ScisqlError(
                f"Illegal double '{e.this}' value found during parsing", ER_ILLEGAL_VALUE_FOR_TYPE
            )
        return value
    if isinstance(e, exp.Neg):
        inner = _literal_value(e.this)
        if not isinstance(inner, float):
            return inner
        if inner == 0.0 and _is_integer_literal(e.this):
            return 0.0  # MariaDB negates the INTEGER 0, which has no sign
        return -inner
    return _NOT_LITERAL


def _is_integer_literal(e: exp.Expr) -> bool:
    while isinstance(e, exp.Paren):
        e = e.this
    return isinstance(e, exp.Literal) and e.this.isdigit()


def _function_name(node: exp.Func) -> str:
    return (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).upper()


def check_deterministic(e: exp.Expr, function: str) -> None:
    """Refuse an argument whose value may change if it is evaluated twice for the same row."""
    for node in e.walk():
        if isinstance(node, exp.PropertyEQ) or (
            isinstance(node, exp.Func) and _function_name(node) in NONDETERMINISTIC
        ):
            raise ScisqlError(
                f"This version of Qserv doesn't yet support non-deterministic arguments to"
                f" {function}: '{node.sql(dialect='mysql')}' (sciSQL calls become plain SQL"
                " that evaluates each argument more than once)",
                ER_NOT_SUPPORTED_YET,
            )


def is_constant(e: exp.Expr) -> bool:
    """Whether MariaDB treats ``e`` as a constant item: no columns, variables or subqueries.

    It decides how the UDF's ``s2PtInCircle`` compares distances (reference/scisql-golden.md,
    "Evaluation path").
    """
    variable = (
        exp.Column,
        exp.Query,
        exp.Subquery,
        exp.Parameter,
        exp.SessionParameter,
        exp.Placeholder,
        exp.AggFunc,
        exp.Window,
        exp.PropertyEQ,
    )
    for node in e.walk():
        if isinstance(node, variable):
            return False
        if isinstance(node, exp.Func) and _function_name(node) in NONDETERMINISTIC:
            return False
    return True


def operand(e: exp.Expr, function: str) -> Operand:
    """The term for one argument: a float, None (NULL), or ``CAST(e AS DOUBLE)``."""
    value = _literal_value(e)
    if not isinstance(value, _NotLiteral):
        return value
    check_deterministic(e, function)
    return as_double(e)

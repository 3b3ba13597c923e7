"""SQL text from the AST, as MariaDB reads it.

Every statement analysis emits goes through ``to_sql``: sqlglot's MySQL generator with all
identifiers back-quoted (so templated names such as ``Object_%C\\x07C%``, keywords used as column
names and case all survive) and function names left as written (``normalize_functions=False``
keeps ``scisql_s2PtInBox``). sqlglot writes MySQL 8; where MariaDB differs, our generators
get a dispatch table with MariaDB's form (built once, never modified): ``REGEXP_LIKE(a, b)``
does not exist in MariaDB, so ``a REGEXP b`` stays an operator; ``LOG10``/``LOG2`` are not
turned into two-argument ``LOG``. Other MySQL-8-only output
would show up as worker errors; add its MariaDB form to ``_MARIADB_OVERRIDES``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from sqlglot import exp
from sqlglot.dialects.mysql import MySQL

__all__ = ["DIALECT", "to_sql", "written"]

DIALECT = "mysql"


def _regexp(generator: Any, expression: exp.RegexpLike) -> str:
    return str(generator.binary(expression, "REGEXP"))


def _log(generator: Any, expression: exp.Log) -> str:
    """``LOG10(x)``/``LOG2(x)`` stay themselves: sqlglot reads them as ``LOG(10, x)``, which
    MariaDB computes as ``ln(x)/ln(10)``, off in the last bits (``LOG(10, 1000)`` is
    2.9999999999999996)."""
    base, argument = expression.this, expression.args.get("expression")
    literal = isinstance(base, exp.Literal) and not base.is_string
    if argument is not None and literal and base.this in ("10", "2"):
        return f"LOG{base.this}({generator.sql(argument)})"
    return str(generator.log_sql(expression))


_MARIADB_OVERRIDES: MappingProxyType[type[exp.Expr], Callable[..., str]] = MappingProxyType(
    {exp.RegexpLike: _regexp, exp.Log: _log}
)


@functools.cache
def _dialect_and_dispatch() -> tuple[MySQL, dict[type[exp.Expr], Callable[..., str]]]:
    """Built once (a dialect is configuration; the table is never modified after this)."""
    dialect = MySQL()
    generator: Any = dialect.generator()
    return dialect, {**generator._dispatch, **_MARIADB_OVERRIDES}


def to_sql(expression: exp.Expr) -> str:
    """One line of MariaDB SQL for ``expression``; deterministic for a given tree."""
    dialect, dispatch = _dialect_and_dispatch()
    generator: Any = dialect.generator(identify=True, normalize_functions=False)
    # sqlglotc's generator classes cannot be subclassed from Python; a generator's dispatch
    # table can be replaced. Pinned sqlglot (pyproject) keeps this private name stable.
    generator._dispatch = dispatch
    return str(generator.generate(expression, copy=False))


def written(node: exp.Expr, sql: str) -> str:
    """``node`` as the user wrote it, for error messages; generated SQL when unknown.

    A call keeps the position of its name (``meta``), even after ``qualify_columns`` replaced
    the columns inside it, so its text runs from the name to the matching parenthesis.
    """
    start = node.meta.get("start") if isinstance(node, exp.Func) else None
    if isinstance(start, int) and 0 <= start < len(sql):
        end = _call_end(sql, start)
        if end is not None:
            return sql[start:end]
    plain = node.copy()
    for ident in plain.find_all(exp.Identifier):
        ident.set("quoted", False)
    return str(plain.sql(dialect=DIALECT, normalize_functions=False))


def _call_end(sql: str, start: int) -> int | None:
    """Index after the parenthesis closing the call whose name starts at ``start``."""
    opening = sql.find("(", start)
    if opening < 0 or not sql[start:opening].strip().replace("_", "").isalnum():
        return None
    depth = 0
    quote = ""
    for i in range(opening, len(sql)):
        char = sql[i]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    return None

"""Which statements can skip mysql-mimic's parse and middlewares and go straight to the engine.

mysql-mimic parses every statement with sqlglot and runs it through a dozen middlewares (SET,
SHOW, USE, KILL, transactions, information_schema, session functions, SELECT without FROM)
before ``Session.query`` sees it; the query engine then parses the text again. For the
statement astronomers send all day, a SELECT from catalog tables, none of the middlewares does
anything, and the first parse and the middlewares cost about 0.4 ms of the czar's ~4 ms of
CPU per point lookup. ``plain_select`` recognises such statements from their text alone, and
conservatively: anything it is not sure about takes mysql-mimic's path, which answers it
exactly as before.
"""

from __future__ import annotations

import re

from mysql_mimic.constants import INFO_SCHEMA
from sqlglot.dialects.mysql import MySQL
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import TokenType

__all__ = ["SESSION_TOKENS", "plain_select"]

SESSION_TOKENS = re.compile(
    r"@@|\b(CONNECTION_ID|CURRENT_USER|CURRENT_TIMESTAMP|CURRENT_DATE|CURRENT_TIME"
    r"|CURRENT_SCHEMA|CURRENT_VERSION|DATABASE|SCHEMA|NOW|USER|SESSION_USER|SYSTEM_USER|VERSION"
    r"|LOCALTIME"
    r"|LOCALTIMESTAMP|UTC_\w+|UNIX_TIMESTAMP|SYSDATE|CURDATE|CURTIME)\b",
    re.IGNORECASE,
)
"""Names mysql-mimic's first middleware replaces by the session's values (its functions.py
and variable_processor.py), and session variables: their text must go through mysql-mimic."""

_SELECT_FIRST = re.compile(
    r"\A(?:\s+|/\*(?!\+).*?\*/|--[^\n]*(?:\n|\Z)|#[^\n]*(?:\n|\Z))*select\b",
    re.IGNORECASE | re.DOTALL,
)
_DIALECT = MySQL()


def plain_select(sql: str, database: str | None) -> bool:
    """True when mysql-mimic would hand ``sql`` unchanged to ``Session.query``.

    That is: one SELECT statement with a top-level FROM (not evaluated as a constant), no
    variables (``@v``, ``@@v``), optimizer hints or session functions (replaced by
    mysql-mimic), and nothing of ``information_schema``/``mysql`` (answered by mysql-mimic),
    with a current database that is not one of those either.
    """
    if not _SELECT_FIRST.match(sql) or "@" in sql or "/*+" in sql:
        return False
    if ";" in sql.strip().rstrip(";") or SESSION_TOKENS.search(sql):
        return False
    lowered = sql.lower()
    if any(name in lowered for name in INFO_SCHEMA):
        return False
    if database is not None and database.lower() in INFO_SCHEMA:
        return False
    return _top_level_from(sql)


def _top_level_from(sql: str) -> bool:
    try:
        tokens = _DIALECT.tokenize(sql)
    except TokenError:
        return False  # mysql-mimic's path reports the syntax error
    depth = 0
    for token in tokens:
        kind = token.token_type
        if kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.R_PAREN:
            depth -= 1
        elif kind == TokenType.FROM and depth == 0:
            return True
    return False

"""parse: SQL text to one ``exp.Select``, or the MariaDB error the text deserves.

The first step of ``analyse()`` (it turns text into the tree the passes work on, so it sits in
front of ``PASSES`` rather than in them). Only a single SELECT goes on:

- writes (INSERT, UPDATE, DELETE, REPLACE, LOAD DATA, CREATE, ALTER, DROP, TRUNCATE, ...) get
  ``ReadOnly`` from their first keyword, before any parsing, so even statements sqlglot cannot
  parse (``LOAD DATA``) get the right answer;
- UNION / INTERSECT / EXCEPT and other statements get ``UnsupportedQuery``;
- syntax errors get MariaDB's 1064 message, ``near '<text from the bad token>' at line N``.

The text is tokenised once; the same tokens feed the parser and ``select_item_texts``, which
recovers each select item's text as written, because MariaDB names an unaliased result column
by that text (``SELECT count( * )`` gives a column called ``count( * )``).

Example (``examples.py`` catalog; the tree printed back as SQL):

>>> from qserv_py.czar.analysis.examples import show, show_plan
>>> show("SELECT objectId FROM Object WHERE objectId = 5", through="parse")
SELECT `objectId` FROM `Object` WHERE `objectId` = 5
>>> show("DELETE FROM Object", through="parse")
ERROR 1290: qserv-py is read-only for SQL clients, so it cannot execute DELETE; load data
    with `qserv-py ingest` (CSV or Parquet plus a Qserv ingest JSON description) or the HTTP
    ingest API, and use qserv-py for SELECT only
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.mysql import MySQL
from sqlglot.errors import ParseError as SqlglotParseError
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import Token, TokenType

from qserv_py.czar.analysis.context import PlanContext
from qserv_py.czar.analysis.errors import (
    AnalysisError,
    ParseError,
    ReadOnly,
    UnsupportedQuery,
)

__all__ = ["WRITE_STATEMENTS", "parse", "select_item_texts"]

WRITE_STATEMENTS = frozenset(
    {
        "ALTER",
        "CREATE",
        "DELETE",
        "DROP",
        "GRANT",
        "INSERT",
        "LOAD",
        "RENAME",
        "REPLACE",
        "REVOKE",
        "TRUNCATE",
        "UPDATE",
    }
)
"""First keywords of statements that would change data or schema."""

_WRITE_NODES: tuple[type[exp.Expr], ...] = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.TruncateTable,
    exp.Merge,
)

_SYNTAX = (
    "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB"
    " server version for the right syntax to use near '{near}' at line {line}"
)

_ITEM_END = frozenset(
    {
        TokenType.FROM,
        TokenType.WHERE,
        TokenType.GROUP_BY,
        TokenType.HAVING,
        TokenType.ORDER_BY,
        TokenType.LIMIT,
        TokenType.INTO,
        TokenType.WINDOW,
        TokenType.FOR,
        TokenType.LOCK,
        TokenType.UNION,
        TokenType.SEMICOLON,
    }
)


def parse(sql: str, ctx: PlanContext) -> exp.Select:
    """The single SELECT statement in ``sql``; records the select items' texts in ``ctx``."""
    if "\x07" in sql:
        # plan.CHUNK_TOKEN contains BEL; refusing it here keeps templates unambiguous.
        raise UnsupportedQuery(
            "queries may not contain the control character BEL (0x07); write CHAR(7) instead"
        )
    dialect = MySQL()
    try:
        tokens = dialect.tokenize(sql)
    except TokenError as exc:
        raise ParseError(
            _SYNTAX.format(near=sql.strip()[-80:], line=1) + f" ({exc})", line=1
        ) from None
    first = _first_keyword(tokens)
    if first in WRITE_STATEMENTS:
        raise _read_only(first)
    try:
        statements = [s for s in dialect.parser().parse(tokens, sql) if s is not None]
    except SqlglotParseError as exc:
        raise _syntax_error(sql, exc) from None
    if not statements:
        raise ParseError("Query was empty")
    if len(statements) > 1:
        raise UnsupportedQuery(
            f"{len(statements)} statements in one query; send one statement at a time"
        )
    statement = statements[0]
    if not isinstance(statement, exp.Select):
        raise _not_select(statement, first)
    if not statement.expressions:  # sqlglot accepts a bare SELECT; MariaDB does not
        raise ParseError(_SYNTAX.format(near="", line=sql.count("\n") + 1), line=1)
    ctx.item_texts = select_item_texts(sql, tokens)
    return statement


def _first_keyword(tokens: list[Token]) -> str:
    for token in tokens:
        if token.token_type not in (TokenType.L_PAREN, TokenType.SEMICOLON):
            return token.text.upper()
    return ""


def _read_only(keyword: str) -> ReadOnly:
    what = "LOAD DATA" if keyword == "LOAD" else keyword
    return ReadOnly(
        f"qserv-py is read-only for SQL clients, so it cannot execute {what}; load data with"
        " `qserv-py ingest` (CSV or Parquet plus a Qserv ingest JSON description) or the HTTP"
        " ingest API, and use qserv-py for SELECT only"
    )


def _not_select(statement: exp.Expr, first: str) -> AnalysisError:
    if isinstance(statement, exp.SetOperation):
        kind = type(statement).__name__.upper()
        return UnsupportedQuery(
            f"{kind} is not supported; run each SELECT on its own and combine the results"
            " in the client"
        )
    if isinstance(statement, _WRITE_NODES):
        return _read_only(first)
    if isinstance(statement, exp.Command) and str(statement.this).upper() in WRITE_STATEMENTS:
        return _read_only(str(statement.this).upper())
    return UnsupportedQuery(
        f"{first or 'this statement'} is not supported here: query analysis plans SELECT"
        " statements only (the front end answers SHOW, SET, USE, DESCRIBE, KILL and CANCEL)"
    )


def _syntax_error(sql: str, exc: SqlglotParseError) -> ParseError:
    """MariaDB's 1064 text: ``near`` quotes the query from the offending token on."""
    errors = exc.errors or [{}]
    first = errors[0]
    line = int(first.get("line") or 1)
    col = int(first.get("col") or 0)
    highlight = str(first.get("highlight") or "")
    lines = sql.split("\n")
    line_start = sum(len(text) + 1 for text in lines[: line - 1])
    start = max(0, min(len(sql), line_start + col - len(highlight)))
    near = sql[start : start + 80]
    return ParseError(_SYNTAX.format(near=near, line=line), line=line, column=col)


def select_item_texts(sql: str, tokens: list[Token]) -> tuple[str, ...]:
    """The text of each top-level select item, as written; empty if the list is not found.

    Split at top-level commas between SELECT (after DISTINCT/ALL) and the first top-level
    clause keyword. Only used for naming result columns, so a mismatch with the parsed items
    (checked by the caller) falls back to generated text instead of failing.
    """
    items: list[str] = []
    start: int | None = None
    end = -1
    depth = 0
    begun = False
    for token in tokens:
        kind = token.token_type
        if not begun:
            if kind == TokenType.SELECT:
                begun = True
            continue
        if start is None and kind in (TokenType.DISTINCT, TokenType.ALL):
            continue
        if depth == 0 and kind in _ITEM_END:
            break
        if kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.R_PAREN:
            depth -= 1
        if depth == 0 and kind == TokenType.COMMA:
            if start is not None:
                items.append(sql[start : end + 1].strip())
            start = None
            continue
        if start is None:
            start = token.start
        end = token.end
    if start is not None:
        items.append(sql[start : end + 1].strip())
    return tuple(items)

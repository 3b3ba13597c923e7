"""SQL text helpers shared by every component that writes MariaDB statements."""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"^[A-Za-z0-9_$]{1,64}$")


def quote_ident(name: str) -> str:
    """Backquote an identifier; backquotes inside are doubled as MariaDB requires."""
    return "`" + name.replace("`", "``") + "`"


def qualified(database: str, table: str) -> str:
    return f"{quote_ident(database)}.{quote_ident(table)}"


def quote_string(value: str) -> str:
    """A MariaDB string literal (default sql_mode: backslash escapes are active)."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\0", "\\0")
    return "'" + escaped.replace("\n", "\\n").replace("\r", "\\r") + "'"


def is_plain_identifier(name: str) -> bool:
    """Names of databases and tables we create: letters, digits, ``_`` and ``$`` only.

    Restricting them keeps file names on workers and generated SQL unsurprising.
    """
    return bool(_IDENTIFIER.match(name))

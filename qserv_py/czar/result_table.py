"""A MariaDB table that can hold rows of a given result schema, for the merge step.

The per-chunk results of a query that needs a merge (aggregates, ORDER BY + LIMIT, DISTINCT)
are inserted into one such table in the czar db, and the merge statement runs over it, so the
merge has MariaDB's own semantics (types, collations, NULL ordering). Column types come from
the field metadata the workers sent (type code, flags, length, decimals, collation id).
"""

from __future__ import annotations

from collections.abc import Mapping

from qserv_py.results.codec import Column, Schema
from qserv_py.sql import qualified, quote_ident

BINARY_COLLATION = 63
_INTEGERS = {1: "TINYINT", 2: "SMALLINT", 9: "MEDIUMINT", 3: "INT", 8: "BIGINT"}
_STRINGS = {15, 253, 254, 247, 248}  # VARCHAR, VAR_STRING, STRING, ENUM, SET
_BLOBS = {249, 250, 251, 252}
_SIZED_STRINGS = {253, 254}  # VAR_STRING, STRING: a result column of CHAR/VARCHAR type
# Bytes per character of the character sets a result column can come in (the connection's).
_MB_MAXLEN = {"latin1": 1, "ascii": 1, "utf8mb3": 3, "utf8": 3, "utf8mb4": 4, "ucs2": 2}
ROW_BYTES = 60_000
"""Budget for CHAR/VARCHAR columns: MyISAM refuses rows over 65,535 bytes (BLOBs excepted)."""


def column_type(column: Column, collations: Mapping[int, str]) -> str:
    """The SQL type for one result column (with its collation for text)."""
    code = column.type_code
    unsigned = " UNSIGNED" if column.unsigned else ""
    if code in _INTEGERS:
        return _INTEGERS[code] + unsigned
    if code == 4:
        return "FLOAT"
    if code == 5:
        return "DOUBLE"
    if code in (0, 246):
        scale = min(column.scale, 38)
        precision = max(min(column.precision, 65), scale, 1)
        return f"DECIMAL({precision},{scale}){unsigned}"
    fraction = f"({column.scale})" if 0 < column.scale <= 6 else ""
    if code in (7, 12):
        return f"DATETIME{fraction}"
    if code == 10:
        return "DATE"
    if code == 11:
        return f"TIME{fraction}"
    if code == 13:
        return "YEAR"
    if code == 16:
        return f"BIT({max(1, min(column.length, 64))})"
    if code == 6:
        return "BINARY(0)"  # a column of NULL literals
    if code in _STRINGS or code in _BLOBS:
        if column.charset == BINARY_COLLATION:
            return "LONGBLOB"
        collation = collations.get(column.charset)
        if collation is None:
            return "LONGTEXT"
        charset = collation.split("_", 1)[0]
        return f"LONGTEXT CHARACTER SET {charset} COLLATE {collation}"
    return "LONGBLOB"


def sized_string_type(column: Column, collations: Mapping[int, str]) -> tuple[str, int] | None:
    """``CHAR(n)``/``VARCHAR(n)``/``VARBINARY(n)`` for a string column, and its bytes in a row.

    A merged column then reports the type MariaDB reports for the same query (CHAR for
    ``band``, not a BLOB). ``length`` is in bytes of the column's (result) character set, so
    ``n`` is it divided by that set's bytes per character; None when the set is unknown (the
    caller falls back to LONGTEXT, which fits anything). Binary strings become VARBINARY, never
    BINARY, which would pad shorter values with zero bytes.
    """
    if column.type_code not in _SIZED_STRINGS:
        return None
    if column.charset == BINARY_COLLATION:
        return f"VARBINARY({column.length})", column.length + 2
    collation = collations.get(column.charset)
    charset = collation.split("_", 1)[0] if collation else ""
    per_char = _MB_MAXLEN.get(charset)
    if collation is None or per_char is None:
        return None
    chars = -(-column.length // per_char)
    kind = "CHAR" if column.type_code == 254 and chars <= 255 else "VARCHAR"
    return f"{kind}({chars}) CHARACTER SET {charset} COLLATE {collation}", chars * per_char + 2


def create_statement(
    database: str,
    table: str,
    schema: Schema,
    collations: Mapping[int, str],
    *,
    temporary: bool = False,
) -> str:
    """CREATE the table for ``schema``: strings sized like the workers' columns when they all
    fit in ``ROW_BYTES``, else every string as LONGTEXT/LONGBLOB."""
    sized = [sized_string_type(c, collations) for c in schema.columns]
    fits = sum(s[1] for s in sized if s is not None) <= ROW_BYTES
    types = [
        s[0] if s is not None and fits else column_type(c, collations)
        for c, s in zip(schema.columns, sized, strict=True)
    ]
    columns = ", ".join(
        f"{quote_ident(c.name)} {t}" for c, t in zip(schema.columns, types, strict=True)
    )
    kind = "TEMPORARY TABLE" if temporary else "TABLE"
    return f"CREATE {kind} {qualified(database, table)} ({columns}) ENGINE=MyISAM"


def insert_statement(database: str, table: str, schema: Schema) -> str:
    marks = ", ".join(["%s"] * len(schema.columns))
    return f"INSERT INTO {qualified(database, table)} VALUES ({marks})"

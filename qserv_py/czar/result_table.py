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


def create_statement(
    database: str,
    table: str,
    schema: Schema,
    collations: Mapping[int, str],
    *,
    temporary: bool = False,
) -> str:
    columns = ", ".join(
        f"{quote_ident(c.name)} {column_type(c, collations)}" for c in schema.columns
    )
    kind = "TEMPORARY TABLE" if temporary else "TABLE"
    return f"CREATE {kind} {qualified(database, table)} ({columns}) ENGINE=MyISAM"


def insert_statement(database: str, table: str, schema: Schema) -> str:
    marks = ", ".join(["%s"] * len(schema.columns))
    return f"INSERT INTO {qualified(database, table)} VALUES ({marks})"

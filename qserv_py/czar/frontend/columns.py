"""Result columns for mysql-mimic from MariaDB field metadata, with MariaDB's text formats.

mysql-mimic derives the text encoding from the column's character set and cannot encode with
the ``binary`` one (collation 63, used by every number and binary string), and formats some
Python values unlike MariaDB (``timedelta``). ``result_column`` keeps the metadata MariaDB sent
and writes values as MariaDB writes them in the text protocol. In the binary protocol (prepared
statements), the types sent as length-encoded strings (DECIMAL, strings, BLOBs, BIT, JSON, ...)
get the same text, since mysql-mimic's own encoder fails on the ``binary`` character set.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from mysql_mimic import ResultColumn
from mysql_mimic.charset import CharacterSet
from mysql_mimic.types import ColumnType, str_len

BINARY = 63
# Types the binary protocol sends as length-encoded strings.
_STRING_IN_BINARY_PROTOCOL = frozenset(
    {
        ColumnType.DECIMAL,
        ColumnType.NEWDECIMAL,
        ColumnType.VARCHAR,
        ColumnType.VAR_STRING,
        ColumnType.STRING,
        ColumnType.TINY_BLOB,
        ColumnType.MEDIUM_BLOB,
        ColumnType.LONG_BLOB,
        ColumnType.BLOB,
        ColumnType.ENUM,
        ColumnType.SET,
        ColumnType.JSON,
        ColumnType.GEOMETRY,
        ColumnType.BIT,
    }
)


def _time_text(value: dt.timedelta) -> str:
    micros = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    seconds, fraction = divmod(micros, 1_000_000)
    hours, rest = divmod(seconds, 3600)
    text = f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{text}.{fraction:06d}" if fraction else text


def mariadb_text(value: Any, encoding: str) -> bytes:
    """A Python value from a MariaDB driver, back into MariaDB's text-protocol form."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode(encoding)
    if isinstance(value, bool):
        return b"1" if value else b"0"
    if isinstance(value, float):
        return repr(value).encode()
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ").encode()
    if isinstance(value, dt.timedelta):
        return _time_text(value).encode()
    return str(value).encode(encoding)


def _wire_charset(collation: int) -> CharacterSet:
    """The collation id for the column definition, as close to MariaDB's as mysql-mimic allows."""
    try:
        return CharacterSet(collation)
    except ValueError:
        return CharacterSet.utf8mb4


def _encoding(collation: int) -> str:
    if collation == BINARY:
        return "latin1"  # numbers are ASCII; binary strings arrive as bytes
    try:
        return str(CharacterSet(collation).codec)
    except ValueError:
        return "utf8"


@functools.lru_cache(maxsize=4096)
def result_column(name: str, type_code: int, collation: int) -> ResultColumn:
    """The column as mysql-mimic writes it. Cached: results repeat the same few shapes, and
    a ``ResultColumn`` is never changed once made (shared between queries and connections)."""
    try:
        column_type = ColumnType(type_code)
    except ValueError:
        column_type = ColumnType.STRING
    encoding = _encoding(collation)

    def encode(_column: ResultColumn, value: Any) -> bytes:
        return mariadb_text(value, encoding)

    def encode_binary(_column: ResultColumn, value: Any) -> bytes:
        return bytes(str_len(mariadb_text(value, encoding)))

    # mysql-mimic writes TINY values itself with the column's codec, which "binary" lacks.
    charset = CharacterSet.utf8mb4 if column_type == ColumnType.TINY else _wire_charset(collation)
    return ResultColumn(
        name=name,
        type=column_type,
        character_set=charset,
        text_encoder=encode,
        binary_encoder=encode_binary if column_type in _STRING_IN_BINARY_PROTOCOL else None,
    )

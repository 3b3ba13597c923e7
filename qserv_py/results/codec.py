"""Binary encoding of query results: one schema message, then row batches stored column by column.

Why column-wise: a result batch is a list of row tuples from the driver. ``zip(*rows)`` turns it
into column tuples in C, and a column whose non-NULL values all have one Python type is then
encoded by a C-level bulk operation (``array('q')``, ``array('d')``, one ``str.join``) instead of
a Python loop per value; decoding is the mirror image (``array.frombytes().tolist()``,
``str.split``) followed by ``zip(*columns)``. That is 5-10x faster than a per-row format in pure
Python and about twice as fast as pickle (``benchmarks/bench_result_codec.py``).

Exactness: decoding gives values equal to, and of the same type as, what was encoded (the
driver's values, which for the text protocol are what PyMySQL returns): ``int`` of any size,
``float`` bit for bit, ``Decimal`` with its exponent (as text), ``str`` (any code points),
``bytes`` (any bytes), ``date``, ``datetime`` (microseconds, tzinfo offset if any),
``timedelta`` and ``None``. A column whose values mix Python types (MariaDB sends zero dates
``'0000-00-00'`` as ``str`` in a DATE column) falls back to a tagged per-value encoding, so
exactness never depends on the declared column type.

Batch layout (little-endian)::

    u8 version | u32 rows | u16 columns
    per column: u8 kind | u32 nulls | u32 payload bytes | u32 null row index * nulls | payload

NULLs are listed by row index and hold a placeholder in the payload, so a column without NULLs
costs nothing extra and a sparse one only its indices. The schema message is compact JSON: it
is sent once per result and carries what the czar needs to create a result table.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import struct
import sys
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

FORMAT_VERSION = 1
MAX_BATCH_ROWS = 1 << 20  # bounds what a corrupt row count can make the decoder allocate

# MariaDB column flags and the binary pseudo-charset (include/mysql_com.h, MariaDB's
# collation id 63).
NOT_NULL_FLAG = 1
UNSIGNED_FLAG = 32
BINARY_FLAG = 128
BINARY_CHARSET = 63
DECIMAL_TYPES = frozenset({0, 246})  # MYSQL_TYPE_DECIMAL, MYSQL_TYPE_NEWDECIMAL

_HEAD = struct.Struct("<BIH")
_COLUMN = struct.Struct("<BII")
_TAGGED = struct.Struct("<BI")
_DOUBLE = struct.Struct("<d")
_BIG_ENDIAN = sys.byteorder == "big"
_ONE_US = dt.timedelta(microseconds=1)
_NULL_INDEX_BYTES = 4


class CodecError(ValueError):
    """Data that cannot be encoded (unsupported value type) or decoded (corrupt batch)."""


@dataclass(frozen=True, slots=True)
class Column:
    """One result column as MariaDB describes it (``Protocol::ColumnDefinition41``).

    ``length`` is the display length in bytes of the connection charset, ``scale`` the number
    of decimals (31 for floating point without a fixed scale), ``charset`` the collation id.
    """

    name: str
    type_code: int
    flags: int = 0
    charset: int = BINARY_CHARSET
    length: int = 0
    scale: int = 0

    @property
    def unsigned(self) -> bool:
        return bool(self.flags & UNSIGNED_FLAG)

    @property
    def nullable(self) -> bool:
        return not self.flags & NOT_NULL_FLAG

    @property
    def binary(self) -> bool:
        """True for binary strings and non-string types (charset ``binary``)."""
        return self.charset == BINARY_CHARSET

    @property
    def precision(self) -> int:
        """Total digits of a DECIMAL column (its display length minus sign and point)."""
        if self.type_code not in DECIMAL_TYPES:
            return self.length
        return self.length - (1 if self.scale > 0 else 0) - (0 if self.unsigned else 1)


@dataclass(frozen=True, slots=True)
class Schema:
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def __len__(self) -> int:
        return len(self.columns)


def encode_schema(schema: Schema) -> bytes:
    columns = [[c.name, c.type_code, c.flags, c.charset, c.length, c.scale] for c in schema.columns]
    return json.dumps({"v": FORMAT_VERSION, "columns": columns}, separators=(",", ":")).encode()


def decode_schema(data: bytes | bytearray | memoryview) -> Schema:
    try:
        message = json.loads(bytes(data))
        if message.get("v") != FORMAT_VERSION:
            raise CodecError(f"result schema version {message.get('v')!r} is not supported")
        columns = tuple(
            Column(str(n), int(t), int(f), int(cs), int(ln), int(sc))
            for n, t, f, cs, ln, sc in message["columns"]
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        if isinstance(exc, CodecError):
            raise
        raise CodecError(f"bad result schema message: {exc}") from exc
    return Schema(columns)


# -- column kinds --------------------------------------------------------------------------------

K_NULL, K_I64, K_U64, K_F64, K_STR, K_BYTES, K_DECIMAL = 0, 1, 2, 3, 4, 5, 6
K_DATE, K_DATETIME, K_TIME, K_BIGINT, K_TAGGED = 7, 8, 9, 10, 11

_SEPARATED, _LENGTHS = 0, 1  # payload modes of K_STR and K_BYTES

Values = list[Any]
Encoded = tuple[int, bytes]


def _array_bytes(typecode: str, values: Sequence[Any]) -> bytes:
    arr = array(typecode, values)
    if _BIG_ENDIAN:
        arr.byteswap()
    return arr.tobytes()


def _array_list(typecode: str, payload: memoryview, n: int) -> Values:
    arr = array(typecode)
    arr.frombytes(payload)
    if len(arr) != n:
        raise CodecError(f"column holds {len(arr)} values, expected {n}")
    if _BIG_ENDIAN:
        arr.byteswap()
    return arr.tolist()


def _split(text: str, sep: str, n: int) -> list[str]:
    if n == 0:
        return []
    parts = text.split(sep)
    if len(parts) != n:
        raise CodecError(f"column holds {len(parts)} values, expected {n}")
    return parts


def _encode_int(values: Sequence[Any]) -> Encoded:
    try:
        return K_I64, _array_bytes("q", values)
    except OverflowError:
        pass
    try:
        return K_U64, _array_bytes("Q", values)
    except OverflowError:
        return K_BIGINT, ",".join(map(str, values)).encode()


def _encode_float(values: Sequence[Any]) -> Encoded:
    return K_F64, _array_bytes("d", values)


def _encode_str(values: Sequence[Any]) -> Encoded:
    joined = "\0".join(values)
    if joined.count("\0") == len(values) - 1:
        return K_STR, bytes([_SEPARATED]) + joined.encode("utf-8", "surrogatepass")
    encoded = [v.encode("utf-8", "surrogatepass") for v in values]
    return K_STR, _with_lengths(encoded)


def _encode_bytes(values: Sequence[Any]) -> Encoded:
    joined = b"\0".join(values)
    if joined.count(b"\0") == len(values) - 1:
        return K_BYTES, bytes([_SEPARATED]) + joined
    return K_BYTES, _with_lengths(values)


def _with_lengths(values: Sequence[bytes]) -> bytes:
    return bytes([_LENGTHS]) + _array_bytes("I", list(map(len, values))) + b"".join(values)


def _encode_decimal(values: Sequence[Any]) -> Encoded:
    return K_DECIMAL, ",".join(map(str, values)).encode("ascii")


def _encode_date(values: Sequence[Any]) -> Encoded:
    return K_DATE, ",".join(map(dt.date.isoformat, values)).encode("ascii")


def _encode_datetime(values: Sequence[Any]) -> Encoded:
    return K_DATETIME, ",".join(map(dt.datetime.isoformat, values)).encode("ascii")


def _encode_time(values: Sequence[Any]) -> Encoded:
    return K_TIME, _array_bytes("q", [v // _ONE_US for v in values])


# Exact types only: bool is not int here, and a subclass gets the tagged encoding.
_TYPED: dict[type, tuple[Callable[[Sequence[Any]], Encoded], object]] = {
    int: (_encode_int, 0),
    float: (_encode_float, 0.0),
    str: (_encode_str, ""),
    bytes: (_encode_bytes, b""),
    Decimal: (_encode_decimal, Decimal(0)),
    dt.date: (_encode_date, dt.date(1, 1, 1)),
    dt.datetime: (_encode_datetime, dt.datetime(1, 1, 1)),
    dt.timedelta: (_encode_time, dt.timedelta(0)),
}


def _decode_str(payload: memoryview, n: int) -> Values:
    if n == 0:
        return []
    if payload[0] == _SEPARATED:
        return _split(bytes(payload[1:]).decode("utf-8", "surrogatepass"), "\0", n)
    return [bytes(b).decode("utf-8", "surrogatepass") for b in _by_lengths(payload, n)]


def _decode_bytes(payload: memoryview, n: int) -> Values:
    if n == 0:
        return []
    if payload[0] == _SEPARATED:
        blob = bytes(payload[1:])
        parts = blob.split(b"\0")
        if len(parts) != n:
            raise CodecError(f"column holds {len(parts)} values, expected {n}")
        return parts
    return [bytes(b) for b in _by_lengths(payload, n)]


def _by_lengths(payload: memoryview, n: int) -> list[memoryview]:
    lengths = _array_list("I", payload[1 : 1 + 4 * n], n)
    blob = payload[1 + 4 * n :]
    if sum(lengths) != len(blob):
        raise CodecError("string column lengths do not match its payload")
    ends = list(itertools.accumulate(lengths))
    return [blob[end - size : end] for size, end in zip(lengths, ends, strict=True)]


def _decode_text(payload: memoryview, n: int) -> list[str]:
    return _split(bytes(payload).decode("ascii"), ",", n)


def _decode_time(payload: memoryview, n: int) -> Values:
    return [dt.timedelta(microseconds=us) for us in _array_list("q", payload, n)]


_DECODERS: dict[int, Callable[[memoryview, int], Values]] = {
    K_I64: lambda p, n: _array_list("q", p, n),
    K_U64: lambda p, n: _array_list("Q", p, n),
    K_F64: lambda p, n: _array_list("d", p, n),
    K_STR: _decode_str,
    K_BYTES: _decode_bytes,
    K_DECIMAL: lambda p, n: list(map(Decimal, _decode_text(p, n))),
    K_DATE: lambda p, n: list(map(dt.date.fromisoformat, _decode_text(p, n))),
    K_DATETIME: lambda p, n: list(map(dt.datetime.fromisoformat, _decode_text(p, n))),
    K_TIME: _decode_time,
    K_BIGINT: lambda p, n: list(map(int, _decode_text(p, n))),
}


# -- tagged per-value encoding, for columns mixing Python types ----------------------------------

_T_NONE, _T_INT, _T_FLOAT, _T_STR, _T_BYTES, _T_DECIMAL = 0, 1, 2, 3, 4, 5
_T_DATE, _T_DATETIME, _T_TIME, _T_BOOL = 6, 7, 8, 9


def _tag_value(value: Any) -> tuple[int, bytes]:
    kind = type(value)
    if value is None:
        return _T_NONE, b""
    if kind is bool:
        return _T_BOOL, b"\1" if value else b"\0"
    if kind is int:
        return _T_INT, str(value).encode()
    if kind is float:
        return _T_FLOAT, _DOUBLE.pack(value)
    if kind is str:
        return _T_STR, value.encode("utf-8", "surrogatepass")
    if kind is bytes:
        return _T_BYTES, value
    if kind is Decimal:
        return _T_DECIMAL, str(value).encode()
    if kind is dt.date or kind is dt.datetime:
        return (_T_DATE if kind is dt.date else _T_DATETIME), value.isoformat().encode()
    if kind is dt.timedelta:
        return _T_TIME, str(value // _ONE_US).encode()
    raise CodecError(f"cannot encode a result value of type {kind.__name__}")


def _untag_value(tag: int, data: bytes) -> Any:
    if tag == _T_NONE:
        return None
    if tag == _T_BOOL:
        return data == b"\1"
    if tag == _T_INT:
        return int(data)
    if tag == _T_FLOAT:
        return _DOUBLE.unpack(data)[0]
    if tag == _T_STR:
        return data.decode("utf-8", "surrogatepass")
    if tag == _T_BYTES:
        return data
    if tag == _T_DECIMAL:
        return Decimal(data.decode())
    if tag == _T_DATE:
        return dt.date.fromisoformat(data.decode())
    if tag == _T_DATETIME:
        return dt.datetime.fromisoformat(data.decode())
    if tag == _T_TIME:
        return dt.timedelta(microseconds=int(data))
    raise CodecError(f"unknown value tag {tag}")


def _encode_tagged(values: Sequence[Any]) -> Encoded:
    parts: list[bytes] = []
    for value in values:
        tag, data = _tag_value(value)
        parts.append(_TAGGED.pack(tag, len(data)))
        parts.append(data)
    return K_TAGGED, b"".join(parts)


def _decode_tagged(payload: memoryview, n: int) -> Values:
    out: Values = []
    pos, end = 0, len(payload)
    while pos < end:
        tag, size = _TAGGED.unpack_from(payload, pos)
        pos += _TAGGED.size
        out.append(_untag_value(tag, bytes(payload[pos : pos + size])))
        pos += size
    if pos != end or len(out) != n:
        raise CodecError(f"tagged column holds {len(out)} values, expected {n}")
    return out


# -- batches -------------------------------------------------------------------------------------


def _null_positions(column: Sequence[Any]) -> list[int]:
    """Row indices of ``None`` in ``column``; ``index()`` scans in C between NULLs."""
    positions: list[int] = []
    index = column.index
    i = -1
    try:
        while True:
            i = index(None, i + 1)
            positions.append(i)
    except ValueError:
        return positions


def _encode_column(column: Sequence[Any]) -> tuple[int, list[int], bytes]:
    if not column:
        return K_NULL, [], b""
    first = type(column[0])
    typed = _TYPED.get(first)
    types_of = list(map(type, column))
    if typed is not None and types_of.count(first) == len(column):  # the common case
        kind, payload = typed[0](column)
        return kind, [], payload
    types = set(types_of)
    nulls: list[int] = []
    if type(None) in types:
        types.discard(type(None))
        if not types:
            return K_NULL, [], b""
        nulls = _null_positions(column)
    typed = _TYPED.get(types.pop()) if len(types) == 1 else None
    if typed is None:
        kind, payload = _encode_tagged(column)
        return kind, [], payload
    encode, placeholder = typed
    values = list(column)
    for i in nulls:
        values[i] = placeholder
    kind, payload = encode(values)
    return kind, nulls, payload


def encode_rows(rows: Sequence[Sequence[Any]], num_columns: int) -> bytes:
    """Encode one batch of rows, each a sequence of ``num_columns`` values."""
    try:
        columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    except ValueError as exc:
        raise CodecError(f"every row of this result must have {num_columns} values") from exc
    if not rows:
        columns = [()] * num_columns
    elif len(columns) != num_columns:
        raise CodecError(f"every row of this result must have {num_columns} values")
    if len(rows) > MAX_BATCH_ROWS:
        raise CodecError(f"a result batch holds at most {MAX_BATCH_ROWS} rows")
    parts = [_HEAD.pack(FORMAT_VERSION, len(rows), num_columns)]
    for column in columns:
        kind, nulls, payload = _encode_column(column)
        parts.append(_COLUMN.pack(kind, len(nulls), len(payload)))
        if nulls:
            parts.append(_array_bytes("I", nulls))
        parts.append(payload)
    return b"".join(parts)


def decode_rows(data: bytes | bytearray | memoryview) -> list[tuple[Any, ...]]:
    """Decode one batch into row tuples (as a DB-API cursor's ``fetchall`` gives them)."""
    view = memoryview(data)
    try:
        version, nrows, ncols = _HEAD.unpack_from(view, 0)
        if version != FORMAT_VERSION:
            raise CodecError(f"result batch version {version} is not supported")
        if nrows > MAX_BATCH_ROWS:
            raise CodecError(f"result batch claims {nrows} rows")
        pos = _HEAD.size
        columns: list[Values] = []
        for _ in range(ncols):
            kind, nnull, size = _COLUMN.unpack_from(view, pos)
            pos += _COLUMN.size
            nulls = _array_list("I", view[pos : pos + _NULL_INDEX_BYTES * nnull], nnull)
            pos += _NULL_INDEX_BYTES * nnull
            payload = view[pos : pos + size]
            if len(payload) != size:
                raise CodecError("result batch is truncated")
            pos += size
            columns.append(_decode_column(kind, payload, nrows, nulls))
    except CodecError:
        raise
    except (struct.error, ValueError, IndexError, ArithmeticError, TypeError) as exc:
        raise CodecError(f"corrupt result batch: {exc}") from exc
    if pos != len(view):
        raise CodecError(f"result batch has {len(view) - pos} trailing bytes")
    if not columns:
        return [()] * nrows
    return list(zip(*columns, strict=True))


def _decode_column(kind: int, payload: memoryview, nrows: int, nulls: list[int]) -> Values:
    if kind == K_NULL:
        return [None] * nrows
    if kind == K_TAGGED:
        return _decode_tagged(payload, nrows)
    decode = _DECODERS.get(kind)
    if decode is None:
        raise CodecError(f"unknown column kind {kind}")
    values = decode(payload, nrows)
    if nulls and max(nulls) >= nrows:
        raise CodecError("NULL index beyond the end of the batch")
    for i in nulls:
        values[i] = None
    return values

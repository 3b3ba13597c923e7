"""Round trips of the result codec: every value type the driver gives, NULLs, edge values."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import random
import struct
from decimal import Decimal
from typing import Any

import pytest

from qserv_py.results.codec import (
    BINARY_CHARSET,
    K_BIGINT,
    K_BYTES,
    K_DECIMAL,
    K_F64,
    K_I64,
    K_NULL,
    K_STR,
    K_TAGGED,
    K_U64,
    CodecError,
    Column,
    Schema,
    decode_rows,
    decode_schema,
    encode_rows,
    encode_schema,
)

Row = tuple[Any, ...]


def _same(a: Any, b: Any) -> bool:
    """Equal, of the same type, and bit-identical for floats (NaN and -0.0 included)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, Decimal):
        return a.as_tuple() == b.as_tuple()
    if isinstance(a, dt.datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    return bool(a == b)


def _round_trip(rows: list[Row], ncols: int | None = None) -> list[Row]:
    ncols = len(rows[0]) if ncols is None else ncols
    out = decode_rows(encode_rows(rows, ncols))
    assert len(out) == len(rows)
    for got, want in zip(out, rows, strict=True):
        assert type(got) is tuple and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert _same(g, w), (g, w)
    return out


def _kinds(rows: list[Row], ncols: int) -> list[int]:
    """The column kinds chosen for a batch, read from its column headers."""
    data = encode_rows(rows, ncols)
    pos, kinds = 7, []
    for _ in range(ncols):
        kind, nnull, size = struct.unpack_from("<BII", data, pos)
        kinds.append(kind)
        pos += 9 + 4 * nnull + size
    return kinds


COLUMNS: dict[str, list[Any]] = {
    "int": [0, 1, -1, 2**63 - 1, -(2**63), 42],
    "uint": [0, 2**64 - 1, 2**63],
    "bigint": [2**64, -(2**63) - 1, 10**40, 7],
    "double": [
        0.0,
        -0.0,
        1.5,
        5e-324,
        2.2250738585072014e-308,
        1.7976931348623157e308,
        -1.7976931348623157e308,
        math.inf,
        -math.inf,
        math.nan,
        struct.unpack("<d", b"\x01\x00\x00\x00\x00\x00\xf8\x7f")[0],  # a NaN with a payload
        0.1 + 0.2,
    ],
    "decimal": [
        Decimal("-12345678901234567890123456789012345.123456789012345678901234567890"),
        Decimal("0.000000000000000000000000000001"),
        Decimal("1.10"),
        Decimal("-0.00"),
        Decimal("0E-10"),
        Decimal("1E+3"),
        Decimal("99999999999999999999999999999999999999999999999999999999999999999"),
    ],
    "str": ["", "ascii", "héllo ☃ 𝄞", "tab\tnew\nline", "comma,semi;", "x" * 10000],
    "str_nul": ["", "a\x00b", "\x00", "plain"],
    "str_odd": ["\ud800 lone surrogate", "\U0010ffff", "\u2028"],
    "bytes": [b"", b"abc", bytes(range(1, 256)), b"\xff" * 3],
    "bytes_nul": [b"\x00", b"\x00\xff\x00\x01", b"", bytes(range(256))],
    "date": [dt.date(1, 1, 1), dt.date(2024, 2, 29), dt.date(9999, 12, 31)],
    "datetime": [
        dt.datetime(1, 1, 1),
        dt.datetime(2024, 2, 29, 23, 59, 59, 123456),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
        dt.datetime(2000, 1, 1, 0, 0, 0, 1),
    ],
    "datetime_tz": [dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-5)))],
    "time": [
        dt.timedelta(0),
        dt.timedelta(days=-35, seconds=3600, microseconds=500000),  # -838:59:59.5
        dt.timedelta(hours=838, minutes=59, seconds=59),
        dt.timedelta(microseconds=-1),
    ],
}


@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_each_type_round_trips_with_nulls_anywhere(name: str) -> None:
    values = COLUMNS[name]
    _round_trip([(v,) for v in values])
    with_nulls = [None, *values[:2], None, None, *values[2:], None]
    _round_trip([(v,) for v in with_nulls])


def test_columns_of_every_type_side_by_side() -> None:
    names = sorted(COLUMNS)
    depth = max(len(v) for v in COLUMNS.values())
    rows = [
        tuple(COLUMNS[n][i] if i < len(COLUMNS[n]) else None for n in names) for i in range(depth)
    ]
    _round_trip(rows)


def test_kinds_follow_the_values() -> None:
    rows = [(1, 2**64 - 1, 2**64, 1.0, "a", b"b", Decimal(1), None)]
    expected = [K_I64, K_U64, K_BIGINT, K_F64, K_STR, K_BYTES, K_DECIMAL, K_NULL]
    assert _kinds(rows, 8) == expected


def test_mixed_types_in_one_column_keep_their_types() -> None:
    """MariaDB sends zero dates as text in a DATE column; ints must not become floats."""
    column = [dt.date(2024, 1, 1), "0000-00-00", None, 1, 1.0, True, False, Decimal("2.50")]
    column += [b"\x00", dt.timedelta(seconds=-1), dt.datetime(2024, 1, 1, 1), 2**70]
    rows = [(v,) for v in column]
    assert _kinds(rows, 1) == [K_TAGGED]
    _round_trip(rows)
    assert _kinds([(1,), (True,)], 1) == [K_TAGGED]


def test_all_null_and_empty_results() -> None:
    _round_trip([(None, None)] * 5)
    assert decode_rows(encode_rows([], 3)) == []
    assert decode_rows(encode_rows([], 0)) == []
    assert decode_rows(encode_rows([(), ()], 0)) == [(), ()]


def test_large_batch_with_sparse_nulls() -> None:
    rng = random.Random(7)
    rows = [
        (
            i,
            rng.random() * 360 if i % 97 else None,
            rng.randrange(-(2**40), 2**40),
            None if i % 13 == 0 else f"obj{i}",
            Decimal(rng.randrange(10**12)).scaleb(-6),
        )
        for i in range(2000)
    ]
    _round_trip(rows)


def test_random_batches_round_trip() -> None:
    rng = random.Random(20261125)
    pools = list(COLUMNS.values())
    for _ in range(200):
        ncols = rng.randrange(1, 6)
        pick = [rng.choice(pools) for _ in range(ncols)]
        rows = [
            tuple(None if rng.random() < 0.2 else rng.choice(pool) for pool in pick)
            for _ in range(rng.randrange(0, 40))
        ]
        assert len(decode_rows(encode_rows(rows, ncols))) == len(rows)
        if rows:
            _round_trip(rows)


def test_rows_of_the_wrong_width_are_refused() -> None:
    with pytest.raises(CodecError):
        encode_rows([(1, 2), (3,)], 2)
    with pytest.raises(CodecError):
        encode_rows([(1, 2)], 3)


def test_unsupported_values_are_refused() -> None:
    with pytest.raises(CodecError, match="type object"):
        encode_rows([(object(),)], 1)
    with pytest.raises(CodecError):
        encode_rows([(1,), (bytearray(b"x"),)], 1)


def test_corrupt_batches_are_refused() -> None:
    good = encode_rows([(1, "a", None), (2, "b", 3.0)], 3)
    assert decode_rows(good) == [(1, "a", None), (2, "b", 3.0)]
    for bad in (good[:-1], good + b"\0", b"\x09" + good[1:], good[:5], b""):
        with pytest.raises(CodecError):
            decode_rows(bad)


def test_schema_round_trips_with_mariadb_metadata() -> None:
    schema = Schema(
        (
            Column("objectId", 8, 1 | 32, BINARY_CHARSET, 20, 0),
            Column("dec", 246, 0, BINARY_CHARSET, 67, 30),
            Column("udec", 246, 32, BINARY_CHARSET, 10, 0),
            Column("name ☃", 253, 0, 45, 80, 0),
            Column("blob", 252, 128, BINARY_CHARSET, 65535, 0),
        )
    )
    back = decode_schema(encode_schema(schema))
    assert back == schema and back.names[3] == "name ☃" and len(back) == 5
    oid, dec, udec, name, blob = back.columns
    assert oid.unsigned and not oid.nullable and oid.binary
    assert dec.precision == 65 and dec.scale == 30 and dec.nullable
    assert udec.precision == 10 and udec.unsigned
    assert not name.binary and name.charset == 45
    assert blob.binary
    with pytest.raises(CodecError):
        decode_schema(b'{"v": 99, "columns": []}')
    with pytest.raises(CodecError):
        decode_schema(b"not json")


def test_random_corruption_raises_only_codec_errors() -> None:
    rows = [tuple(COLUMNS[n][0] for n in sorted(COLUMNS)), tuple([None] * len(COLUMNS))]
    good = bytearray(encode_rows(rows, len(COLUMNS)))
    rng = random.Random(3)
    for _ in range(2000):
        bad = bytearray(good)
        for _ in range(rng.randrange(1, 4)):
            bad[rng.randrange(len(bad))] = rng.randrange(256)
        with contextlib.suppress(CodecError):  # any other exception fails the test
            decode_rows(bad)

"""Text-protocol row batches (``qserv_py.results.text_rows``): packet scanning, renumbering,
slicing and conversion to PyMySQL's values."""

from __future__ import annotations

import datetime as dt
import struct
from decimal import Decimal

import pytest

from qserv_py.results.codec import Column, Schema
from qserv_py.results.text_rows import (
    MAX_PAYLOAD,
    CodecError,
    TextRows,
    frame_row,
    scan_packets,
    split_row,
    value_converters,
)

UTF8MB4 = 45


def _lenenc(value: bytes | None) -> bytes:
    if value is None:
        return b"\xfb"
    n = len(value)
    if n < 251:
        return bytes([n]) + value
    if n < 1 << 16:
        return b"\xfc" + n.to_bytes(2, "little") + value
    if n < 1 << 24:
        return b"\xfd" + n.to_bytes(3, "little") + value
    return b"\xfe" + n.to_bytes(8, "little") + value


def _payload(*values: bytes | None) -> bytes:
    return b"".join(_lenenc(v) for v in values)


def _packet(payload: bytes, seq: int) -> bytes:
    return struct.pack("<I", len(payload) | seq << 24) + payload


def _packets(payloads: list[bytes], seq: int = 0) -> bytes:
    return b"".join(_packet(p, (seq + i) & 0xFF) for i, p in enumerate(payloads))


EOF_PACKET = b"\xfe\x00\x00\x02\x00"
OK_AS_EOF = b"\xfe\x00\x00\x02\x00\x00\x00"
ERROR_PACKET = b"\xff\x15\x05#42000boom"


def test_scan_stops_at_the_end_of_the_result_and_at_errors() -> None:
    rows = [_payload(b"1", b"a"), _payload(b"2", None)]
    for end_packet, deprecate in [(EOF_PACKET, False), (OK_AS_EOF, True), (ERROR_PACKET, False)]:
        buf = _packets([*rows, end_packet], seq=3)
        end = len(_packets(rows, seq=3))
        assert scan_packets(buf, 0, len(buf), 3, deprecate, 100, 1 << 20) == (end, 5, 2)


def test_scan_stops_at_incomplete_or_out_of_sequence_packets_and_at_limits() -> None:
    rows = [_payload(str(i).encode()) for i in range(10)]
    buf = bytearray(_packets(rows, seq=250))  # sequence numbers wrap at 256
    one = len(_packets(rows[:1]))
    assert scan_packets(buf, 0, len(buf), 250, False, 100, 1 << 20) == (len(buf), 4, 10)
    assert scan_packets(buf, 0, len(buf) - 1, 250, False, 100, 1 << 20)[2] == 9
    assert scan_packets(buf, 0, len(buf), 251, False, 100, 1 << 20) == (0, 251, 0)
    assert scan_packets(buf, 0, len(buf), 250, False, 3, 1 << 20) == (3 * one, 253, 3)
    assert scan_packets(buf, 0, len(buf), 250, False, 100, one + 1)[2] == 2
    assert scan_packets(buf, one, len(buf), 251, False, 100, 1 << 20)[2] == 9
    # a row of 16 MiB or more (several wire packets) is left to the slow path
    big = struct.pack("<I", MAX_PAYLOAD) + b"\0" * 8
    assert scan_packets(big, 0, len(big), 0, False, 100, 1 << 30)[2] == 0


def test_wire_renumbers_packets_and_wraps() -> None:
    payloads = [_payload(str(i).encode(), b"x" * i) for i in range(300)]
    rows = TextRows(_packets(payloads, seq=17), 300, ())
    data, after = rows.wire(250)
    assert bytes(data) == _packets(payloads, seq=250)
    assert after == (250 + 300) & 0xFF


def test_large_rows_span_packets_and_count_once() -> None:
    payload = _payload(b"a" * (MAX_PAYLOAD + 10), None)
    framed = frame_row(payload)
    assert struct.unpack_from("<I", framed)[0] == MAX_PAYLOAD
    exact = frame_row(b"b" * MAX_PAYLOAD)  # an exact multiple ends with an empty packet
    assert exact[-4:] == b"\0\0\0\0" and len(exact) == MAX_PAYLOAD + 8
    small = _packet(_payload(b"7", b"z"), 0)
    schema = Schema((Column("a", 253, charset=UTF8MB4), Column("b", 253, charset=UTF8MB4)))
    rows = TextRows(small + framed + small, 3, value_converters(schema))
    assert len(rows) == 3 and rows[1] == ("a" * (MAX_PAYLOAD + 10), None)
    assert rows[2] == ("7", "z") and len(rows[1:]) == 2
    data, after = rows.wire(0)
    assert after == 4 and data[3] == 0 and data[len(small) + 3] == 1


def test_split_row_reads_every_length_encoding() -> None:
    values = [b"", None, b"x" * 250, b"y" * 251, b"z" * 70000, b"\xfb\x00"]
    assert split_row(_payload(*values), len(values)) == values
    with pytest.raises(CodecError):
        split_row(_payload(b"abc"), 2)
    with pytest.raises(CodecError):
        split_row(_payload(b"abc") + b"!", 1)


def test_rows_convert_as_pymysql_does() -> None:
    schema = Schema(
        (
            Column("i", 8),  # BIGINT
            Column("d", 5),  # DOUBLE
            Column("f", 4),  # FLOAT
            Column("n", 246, length=12, scale=3),  # DECIMAL
            Column("day", 10),  # DATE
            Column("t", 12),  # DATETIME
            Column("tm", 11),  # TIME
            Column("s", 253, charset=UTF8MB4),
            Column("b", 253),  # VARBINARY
            Column("bit", 16),
            Column("j", 245),  # JSON
        )
    )
    row = [
        b"-9223372036854775808",
        b"1.7976931348623157e308",
        b"1.1",
        b"-12.500",
        b"0000-00-00",
        b"2024-02-29 23:59:59.123456",
        b"-838:59:59.500000",
        "héllo ☃ 𝄞".encode(),
        b"\x00\xff",
        b"\x02\xaa",
        b'{"a": 1}',
    ]
    rows = TextRows(_packets([_payload(*row), _payload(*[None] * 11)]), 2, value_converters(schema))
    got = list(rows)
    assert got[1] == (None,) * 11
    assert got[0] == (
        -9223372036854775808,
        1.7976931348623157e308,
        1.1,
        Decimal("-12.500"),
        "0000-00-00",  # a zero date stays text, as PyMySQL returns it
        dt.datetime(2024, 2, 29, 23, 59, 59, 123456),
        -dt.timedelta(hours=838, minutes=59, seconds=59, microseconds=500000),
        "héllo ☃ 𝄞",
        b"\x00\xff",
        b"\x02\xaa",
        '{"a": 1}',
    )
    assert str(got[0][3]) == "-12.500"


def test_slices_share_the_bytes_of_their_rows() -> None:
    payloads = [_payload(str(i).encode()) for i in range(10)]
    schema = Schema((Column("i", 3),))
    rows = TextRows(_packets(payloads), 10, value_converters(schema))
    assert [r[0] for r in rows[3:6]] == [3, 4, 5]
    assert rows[3:6].data == _packets(payloads[3:6], seq=3)
    assert rows[:0].num_rows == 0 and rows[:0].data == b""
    assert rows[8:100].num_rows == 2 and rows[0:10] is rows
    assert rows[-1] == (9,)
    with pytest.raises(IndexError):
        rows[10]
    with pytest.raises(CodecError):
        TextRows(_packets(payloads), 11, ())[0]
    with pytest.raises(CodecError):
        TextRows(_packets(payloads)[:-1], 10, ())[0]

"""Result rows as MariaDB's text protocol sends them, passed through from worker to client.

A ``text`` batch of ``query.run`` (docs/rpc.md) is a run of MySQL wire packets exactly as the
worker's MariaDB sent them: per packet a 3-byte little-endian payload length, a sequence byte,
then the payload, a text-protocol row (one length-encoded string per column, ``0xFB`` for
NULL). A row of 16 MiB or more spans several packets, the last one shorter than ``0xFFFFFF``
bytes (possibly empty). MariaDB formatted every value; neither worker nor czar parses one.

The czar writes such a batch to its client after renumbering the sequence bytes
(:meth:`TextRows.wire`): one pass over the packet headers, no work per value, and the bytes
the client gets are MariaDB's own. Where Python values are needed (the binary protocol of
prepared statements, which mysql-mimic encodes row by row), :class:`TextRows` also behaves as a
sequence of row tuples, converted as PyMySQL converts the text protocol.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any, overload

from pymysql import converters

from qserv_py.results.codec import BINARY_CHARSET, CodecError, Schema

MAX_PAYLOAD = 0xFFFFFF  # a packet this long continues in the next one
NULL = 0xFB
JSON_TYPE = 245
# PyMySQL's TEXT_TYPES: strings, BLOBs, BIT and GEOMETRY; bytes when their charset is binary.
STRING_TYPES = frozenset({15, 16, 249, 250, 251, 252, 253, 254, 255})
CONNECTION_ENCODING = "utf8"  # the workers' connections use asyncmy's default, utf8mb4

_HEADER = struct.Struct("<I")
_unpack_header = _HEADER.unpack_from

Converter = Callable[[bytes], Any]


def scan_packets(
    buf: bytes | bytearray,
    pos: int,
    end: int,
    seq: int,
    deprecate_eof: bool,
    max_rows: int,
    max_bytes: int,
) -> tuple[int, int, int]:
    """Complete row packets in ``buf[pos:end]``, from ``pos`` on: ``(new_pos, new_seq, rows)``.

    Stops before the first packet that is incomplete, out of sequence, empty or 16 MiB long
    (one row in several packets), an error packet or the end of the result (EOF, or the OK
    packet that replaces it with ``CLIENT_DEPRECATE_EOF``), and once ``max_rows`` rows or
    ``max_bytes`` bytes were taken. The caller reads those packets the slow way.
    """
    limit = pos + max_bytes
    rows = 0
    while end - pos >= 4 and rows < max_rows and pos < limit:
        head = _unpack_header(buf, pos)[0]
        size = head & MAX_PAYLOAD
        if head >> 24 != seq or size == 0 or size == MAX_PAYLOAD or end - pos - 4 < size:
            break
        first = buf[pos + 4]
        if first == 0xFF or (first == 0xFE and (deprecate_eof or size < 9)):
            break
        pos += 4 + size
        seq = (seq + 1) & 0xFF
        rows += 1
    return pos, seq, rows


def frame_row(payload: bytes) -> bytes:
    """One row payload as wire packets (sequence bytes 0: the czar renumbers them)."""
    if len(payload) < MAX_PAYLOAD:
        return _HEADER.pack(len(payload)) + payload
    parts = []
    for start in range(0, len(payload) + 1, MAX_PAYLOAD):
        piece = payload[start : start + MAX_PAYLOAD]
        parts.append(_HEADER.pack(len(piece)))
        parts.append(piece)
    return b"".join(parts)


def _row_starts(data: bytes) -> list[int]:
    """Offsets where each row begins, and ``len(data)`` at the end."""
    starts = [0]
    pos, end = 0, len(data)
    while pos < end:
        if end - pos < 4:
            raise CodecError("text batch ends inside a packet header")
        size = _unpack_header(data, pos)[0] & MAX_PAYLOAD
        pos += 4 + size
        if size < MAX_PAYLOAD:
            starts.append(pos)
    if pos != end or starts[-1] != end:
        raise CodecError("text batch ends inside a packet")
    return starts


def _lenenc(data: bytes | memoryview, pos: int) -> tuple[int | None, int]:
    first = data[pos]
    if first < 0xFB:
        return first, pos + 1
    if first == NULL:
        return None, pos + 1
    if first == 0xFC:
        return data[pos + 1] | data[pos + 2] << 8, pos + 3
    if first == 0xFD:
        return data[pos + 1] | data[pos + 2] << 8 | data[pos + 3] << 16, pos + 4
    if first == 0xFE:
        return int.from_bytes(data[pos + 1 : pos + 9], "little"), pos + 9
    raise CodecError(f"bad length-encoded integer prefix 0x{first:02x}")


def split_row(payload: bytes, num_columns: int) -> list[bytes | None]:
    """The raw field values of one text-protocol row payload (``None`` for NULL)."""
    values: list[bytes | None] = []
    pos = 0
    try:
        for _ in range(num_columns):
            size, pos = _lenenc(payload, pos)
            if size is None:
                values.append(None)
                continue
            if pos + size > len(payload):
                raise CodecError("text row value runs past the end of its packet")
            values.append(payload[pos : pos + size])
            pos += size
    except IndexError as exc:
        raise CodecError("text row is truncated") from exc
    if pos != len(payload):
        raise CodecError(f"text row has {len(payload) - pos} bytes after its {num_columns} values")
    return values


def _ascii(convert: Callable[[str], Any]) -> Converter:
    return lambda raw: convert(raw.decode("ascii"))


def _text(raw: bytes) -> str:
    return raw.decode(CONNECTION_ENCODING, "surrogateescape")


def _bytes(raw: bytes) -> bytes:
    return raw


def value_converters(schema: Schema) -> tuple[Converter, ...]:
    """Per column, the conversion PyMySQL applies to a text-protocol value (``conv`` default)."""
    out: list[Converter] = []
    for column in schema.columns:
        code = column.type_code
        if code == JSON_TYPE or (code in STRING_TYPES and column.charset != BINARY_CHARSET):
            out.append(_text)
        elif code in STRING_TYPES:
            out.append(_bytes)
        else:
            convert = converters.decoders.get(code)
            if convert is None or convert is converters.through:
                out.append(_ascii(str))
            elif convert is Decimal:
                out.append(_ascii(Decimal))
            else:
                out.append(_ascii(convert))
    return tuple(out)


class TextRows(Sequence[tuple[Any, ...]]):
    """One batch of text-protocol rows: wire bytes for the client, row tuples on demand.

    ``data`` holds ``num_rows`` rows as wire packets (see the module docstring); ``converters``
    (:func:`value_converters`) turn raw values into PyMySQL's Python values. Slicing gives
    another :class:`TextRows` over the same bytes (LIMIT and OFFSET across batches).
    """

    __slots__ = ("_converters", "_starts", "data", "num_rows")

    def __init__(self, data: bytes, count: int, converters: tuple[Converter, ...]) -> None:
        self.data = data
        self.num_rows = count
        self._converters = converters
        self._starts: list[int] | None = None

    def __len__(self) -> int:
        return self.num_rows

    def _offsets(self) -> list[int]:
        if self._starts is None:
            starts = _row_starts(self.data)
            if len(starts) - 1 != self.num_rows:
                raise CodecError(f"text batch holds {len(starts) - 1} rows, not {self.num_rows}")
            self._starts = starts
        return self._starts

    @overload
    def __getitem__(self, index: int) -> tuple[Any, ...]: ...
    @overload
    def __getitem__(self, index: slice) -> TextRows: ...
    def __getitem__(self, index: int | slice) -> tuple[Any, ...] | TextRows:
        starts = self._offsets()
        if isinstance(index, slice):
            first, stop, step = index.indices(self.num_rows)
            if step != 1:
                raise ValueError("TextRows slices take every row")
            stop = max(stop, first)
            if first == 0 and stop == self.num_rows:
                return self
            return TextRows(self.data[starts[first] : starts[stop]], stop - first, self._converters)
        if index < 0:
            index += self.num_rows
        if not 0 <= index < self.num_rows:
            raise IndexError("TextRows index out of range")
        return self._decode(self.data[starts[index] : starts[index + 1]])

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        starts = self._offsets()
        data = self.data
        for i in range(self.num_rows):
            yield self._decode(data[starts[i] : starts[i + 1]])

    def _decode(self, packets: bytes) -> tuple[Any, ...]:
        payload = _payload(packets)
        raw = split_row(payload, len(self._converters))
        return tuple(
            None if value is None else convert(value)
            for value, convert in zip(raw, self._converters, strict=True)
        )

    def wire(self, seq: int) -> tuple[bytearray, int]:
        """The batch's packets numbered from ``seq`` on, and the sequence number after them."""
        out = bytearray(self.data)
        pos, end = 0, len(out)
        unpack = _unpack_header
        while pos < end:
            out[pos + 3] = seq
            seq = (seq + 1) & 0xFF
            pos += 4 + (unpack(out, pos)[0] & MAX_PAYLOAD)
        if pos != end:
            raise CodecError("text batch ends inside a packet")
        return out, seq


def _payload(packets: bytes) -> bytes:
    """The payload of one row's packets (one packet unless the row is 16 MiB or more)."""
    size = _unpack_header(packets, 0)[0] & MAX_PAYLOAD
    if size < MAX_PAYLOAD:
        return packets[4 : 4 + size]
    parts = []
    pos = 0
    while pos < len(packets):
        size = _unpack_header(packets, pos)[0] & MAX_PAYLOAD
        parts.append(packets[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return b"".join(parts)

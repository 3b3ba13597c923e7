"""Frame codec: ``!II`` (header length, body length), a UTF-8 JSON header, then the body.

Length-prefixed frames on a plain asyncio stream cost a few microseconds per message, which
matters when a query sends thousands of chunk tasks; the binary body keeps bulk bytes out of JSON.
A streaming reply is a run of frames with ``"stream": "batch"`` closed by one with
``"stream": "end"`` (or an error frame); see docs/rpc.md.
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

from qserv_py.rpc.errors import ChannelClosed, RpcError

_PREFIX = struct.Struct("!II")
MAX_HEADER_BYTES = 1 << 20
MAX_BODY_BYTES = 256 << 20
STREAM_BATCH = "batch"
STREAM_END = "end"


def encode_frame(header: dict[str, Any], body: bytes | bytearray | memoryview = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    if len(head) > MAX_HEADER_BYTES or len(body) > MAX_BODY_BYTES:
        raise RpcError("bad_request", "RPC frame too large")
    return _PREFIX.pack(len(head), len(body)) + head


async def write_frame(
    writer: asyncio.StreamWriter,
    header: dict[str, Any],
    body: bytes | bytearray | memoryview = b"",
) -> None:
    writer.write(encode_frame(header, body))
    if body:
        writer.write(body)
    await writer.drain()


async def read_frame(reader: asyncio.StreamReader) -> tuple[dict[str, Any], bytes]:
    """Read one frame; raises ChannelClosed on EOF and RpcError on a malformed frame."""
    try:
        prefix = await reader.readexactly(_PREFIX.size)
        head_len, body_len = _PREFIX.unpack(prefix)
        if head_len > MAX_HEADER_BYTES or body_len > MAX_BODY_BYTES:
            raise RpcError("bad_request", f"RPC frame too large ({head_len}+{body_len} bytes)")
        head = await reader.readexactly(head_len)
        body = await reader.readexactly(body_len) if body_len else b""
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise ChannelClosed(f"connection closed by peer: {exc}") from exc
    try:
        header = json.loads(head)
    except ValueError as exc:
        raise RpcError("bad_request", "RPC header is not JSON") from exc
    if not isinstance(header, dict):
        raise RpcError("bad_request", "RPC header must be a JSON object")
    return header, body

"""RPC client channel: connect-with-deadline, one outstanding request, ``close()`` and ``abort()``.

A channel that saw a timeout or a broken frame is poisoned (the reply stream may be out of step),
so it aborts itself; callers open a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from typing import Any

from qserv_py.rpc import auth
from qserv_py.rpc.errors import ChannelClosed, RpcError
from qserv_py.rpc.framing import read_frame, write_frame


class RpcChannel:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self._broken = False

    @classmethod
    async def connect(
        cls, host: str, port: int, secret: str, *, timeout: float = 10.0
    ) -> RpcChannel:
        """Connect and authenticate, retrying refused connections with jittered backoff."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = 0.02
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    reader, writer = await asyncio.open_connection(host, port)
                break
            except OSError as exc:
                if loop.time() + delay >= deadline:
                    raise ChannelClosed(f"cannot connect to {host}:{port}: {exc}") from exc
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.5)
            except TimeoutError as exc:
                raise ChannelClosed(f"timed out connecting to {host}:{port}") from exc
        channel = cls(reader, writer)
        try:
            async with asyncio.timeout_at(deadline):
                hello, _ = await read_frame(reader)
                await write_frame(writer, {"auth": auth.proof(secret, str(hello.get("hello")))})
                answer, _ = await read_frame(reader)
        except BaseException:
            channel.abort()
            raise
        if "error" in answer:
            channel.abort()
            raise RpcError.from_wire(answer["error"])
        return channel

    @property
    def broken(self) -> bool:
        return self._broken

    async def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        body: bytes | bytearray | memoryview = b"",
        *,
        timeout: float = 60.0,
    ) -> tuple[dict[str, Any], bytes]:
        """Send one request and wait for its reply; RpcError carries a remote failure."""
        if self._broken:
            raise ChannelClosed("RPC channel already failed")
        async with self._lock:
            request_id = next(self._ids)
            try:
                async with asyncio.timeout(timeout):
                    request = {"id": request_id, "method": method, "params": params or {}}
                    await write_frame(self._writer, request, body)
                    header, reply_body = await read_frame(self._reader)
            except TimeoutError as exc:
                self.abort()
                raise RpcError("timeout", f"{method} got no reply within {timeout:g} s") from exc
            except (RpcError, asyncio.CancelledError):
                self.abort()
                raise
            except OSError as exc:
                self.abort()
                raise ChannelClosed(f"{method}: {exc}") from exc
        if header.get("id") != request_id:
            self.abort()
            raise RpcError("internal", "RPC reply out of order")
        if "error" in header:
            raise RpcError.from_wire(header["error"])
        result = header.get("result")
        return (result if isinstance(result, dict) else {}), reply_body

    async def close(self) -> None:
        self._broken = True
        self._writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(self._writer.wait_closed(), 2.0)

    def abort(self) -> None:
        self._broken = True
        transport = self._writer.transport
        if not transport.is_closing():
            transport.abort()

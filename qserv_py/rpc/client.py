"""RPC client channel: connect-with-deadline, one outstanding request, ``close()`` and ``abort()``.

A channel that saw a timeout or a broken frame is poisoned (the reply stream may be out of step),
so it aborts itself; callers open a new one.

``stream()`` reads a streaming reply batch by batch. Leaving it before its end frame (LIMIT
satisfied, an error in the consumer, a cancelled task) aborts the channel: the closed
connection is what tells the worker to stop, and the worker then cancels the handler (which
kills the MariaDB query). See docs/rpc.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import Awaitable
from types import TracebackType
from typing import Any, TypeVar

from qserv_py.rpc import auth
from qserv_py.rpc.errors import ChannelClosed, RpcError
from qserv_py.rpc.framing import STREAM_BATCH, STREAM_END, read_frame, write_frame

T = TypeVar("T")


class RpcChannel:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self._broken = False

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        secret: str,
        *,
        timeout: float = 10.0,
        retry_refused: bool = True,
    ) -> RpcChannel:
        """Connect and authenticate, retrying refused connections with jittered backoff.

        ``retry_refused=False`` fails at the first refusal, for callers with somewhere else
        to go (dispatch has other replicas).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = 0.02
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    reader, writer = await asyncio.open_connection(host, port)
                break
            except OSError as exc:
                if not retry_refused or loop.time() + delay >= deadline:
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
        if "stream" in header:
            self.abort()
            raise RpcError("bad_request", f"{method} streams its reply; use RpcChannel.stream()")
        if "error" in header:
            raise RpcError.from_wire(header["error"])
        result = header.get("result")
        return (result if isinstance(result, dict) else {}), reply_body

    def stream(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        body: bytes | bytearray | memoryview = b"",
        *,
        timeout: float = 60.0,
        deadline: float | None = None,
    ) -> RpcStream:
        """A streaming call: ``async with channel.stream(m, p) as s: async for header, body in s``.

        ``timeout`` bounds the wait for each frame (the request, then every batch); ``deadline``
        (event-loop time) bounds the whole stream. ``s.result`` holds the end frame's result.
        """
        return RpcStream(self, method, params or {}, body, timeout, deadline)

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


class RpcStream:
    """One streaming reply being read; holds the channel (one request at a time) until closed.

    Iterating yields ``(header, body)`` per batch frame and stops at the end frame, whose
    ``result`` is then in :attr:`result`; an error frame raises :class:`RpcError` and leaves the
    channel usable. Any other way out (closed early, consumer error, cancellation, a missed
    per-frame deadline) aborts the channel, which is how the worker learns to stop.
    """

    def __init__(
        self,
        channel: RpcChannel,
        method: str,
        params: dict[str, Any],
        body: bytes | bytearray | memoryview,
        timeout: float,
        deadline: float | None,
    ) -> None:
        self._channel = channel
        self._method = method
        self._params = params
        self._body = body
        self._timeout = timeout
        self._deadline = deadline
        self._request_id = 0
        self._state = "new"  # new -> open -> finished -> closed, or open -> aborted
        self.result: dict[str, Any] | None = None
        self.batches = 0

    @property
    def finished(self) -> bool:
        """True once the end (or error) frame arrived: the channel is in step and reusable."""
        return self._state in ("finished", "closed")

    def _frame_deadline(self) -> float:
        limit = asyncio.get_running_loop().time() + self._timeout
        return limit if self._deadline is None else min(limit, self._deadline)

    async def __aenter__(self) -> RpcStream:
        channel = self._channel
        if self._state != "new":
            raise RuntimeError("an RpcStream is entered once")
        if channel.broken:
            raise ChannelClosed("RPC channel already failed")
        try:
            async with asyncio.timeout_at(self._frame_deadline()):
                await channel._lock.acquire()
        except TimeoutError as exc:
            raise RpcError("timeout", f"{self._method}: channel busy") from exc
        if channel.broken:  # another user aborted it while we waited
            channel._lock.release()
            raise ChannelClosed("RPC channel already failed")
        self._state = "open"
        self._request_id = next(channel._ids)
        request = {"id": self._request_id, "method": self._method, "params": self._params}
        await self._guard(write_frame(channel._writer, request, self._body))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release the channel; before the end frame this aborts it (the worker then stops)."""
        if self._state == "open":
            self._fail()
        elif self._state == "finished":
            self._state = "closed"
            self._channel._lock.release()

    def _fail(self) -> None:
        self._state = "aborted"
        self._channel.abort()
        self._channel._lock.release()

    async def _guard(self, step: Awaitable[T]) -> T:
        """Await one network step under the frame deadline; any failure aborts the channel."""
        try:
            async with asyncio.timeout_at(self._frame_deadline()):
                return await step
        except TimeoutError as exc:
            self._fail()
            raise RpcError(
                "timeout", f"{self._method}: no stream frame within {self._timeout:g} s"
            ) from exc
        except OSError as exc:
            self._fail()
            raise ChannelClosed(f"{self._method}: {exc}") from exc
        except BaseException:
            self._fail()
            raise

    def __aiter__(self) -> RpcStream:
        return self

    async def __anext__(self) -> tuple[dict[str, Any], bytes]:
        if self._state == "new":
            raise RuntimeError("use 'async with channel.stream(...) as s' before iterating")
        if self._state != "open":
            raise StopAsyncIteration
        header, body = await self._guard(read_frame(self._channel._reader))
        if header.get("id") != self._request_id:
            self._fail()
            raise RpcError("internal", "RPC stream frame out of order")
        kind = header.get("stream")
        if kind == STREAM_BATCH:
            self.batches += 1
            return header, body
        if "error" in header:
            self._state = "finished"
            raise RpcError.from_wire(header["error"])
        if kind == STREAM_END or "result" in header:  # a plain reply is a one-batch stream
            result = header.get("result")
            self.result = result if isinstance(result, dict) else {}
            self._state = "finished"
            if kind != STREAM_END and body:
                return header, body
            raise StopAsyncIteration
        self._fail()
        raise RpcError("internal", f"unexpected frame in a streaming reply: {sorted(header)}")

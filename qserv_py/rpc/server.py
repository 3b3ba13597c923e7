"""RPC server: authenticates each connection, then serves one request at a time per connection.

Handlers are plain coroutines ``(params, body) -> (result, body)`` registered by method name.
A handler raising :class:`RpcError` sends that error; any other exception is logged and sent as
``internal``, so one bad request never takes the server down.

A handler may instead return a :class:`StreamReply`: its batches go out as frames of their own,
each awaiting the socket's drain, so a slow reader slows the handler down and the server holds
about one batch per stream. While a stream runs the server also watches the connection: the
client closing it (or sending anything, which the protocol does not allow mid-stream) cancels
the handler, whose cleanup (e.g. ``KILL QUERY``) runs before the connection is dropped.
See docs/rpc.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from qserv_py.rpc import auth
from qserv_py.rpc.errors import ChannelClosed, RpcError
from qserv_py.rpc.framing import STREAM_BATCH, STREAM_END, read_frame, write_frame

log = logging.getLogger(__name__)

T = TypeVar("T")

HANDSHAKE_TIMEOUT = 10.0
WRITE_TIMEOUT = 300.0  # a client that reads nothing for this long is gone
CLEANUP_TIMEOUT = 30.0  # how long a cancelled stream handler may spend cleaning up


class _ClientGone(Exception):
    """The client of this connection hung up or stopped reading: drop the connection."""


@dataclass(frozen=True, slots=True)
class StreamReply:
    """A handler's streaming answer.

    ``batches`` yields ``(header fields, body)`` pairs; each becomes a frame
    ``{"id", "stream": "batch", **fields}`` + body. After the last one the server sends
    ``{"id", "stream": "end", "result": summary()}``; an exception from ``batches`` is sent as
    an error frame instead. The server always closes ``batches`` (``aclose``), also when the
    client goes away, so cleanup in its ``finally`` runs. ``deadline`` (event-loop time) bounds
    the whole stream, including the time spent waiting for the client to read.
    """

    batches: AsyncGenerator[tuple[dict[str, Any], bytes], None]
    summary: Callable[[], dict[str, Any]] = field(default=dict)
    deadline: float | None = None


Reply = tuple[dict[str, Any], bytes] | StreamReply
Handler = Callable[[dict[str, Any], bytes], Awaitable[Reply]]


class RpcServer:
    def __init__(
        self,
        handlers: Mapping[str, Handler],
        secret: str,
        *,
        write_timeout: float = WRITE_TIMEOUT,
        cleanup_timeout: float = CLEANUP_TIMEOUT,
    ) -> None:
        self._handlers = dict(handlers)
        self._secret = secret
        self._write_timeout = write_timeout
        self._cleanup_timeout = cleanup_timeout
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._tasks: set[asyncio.Task[Any]] = set()  # stream pumps and watchers

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._on_connect, host, port)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    async def close(self, timeout: float = 5.0) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        for tasks in (self._connections, self._tasks):
            if tasks:
                _, pending = await asyncio.wait(set(tasks), timeout=timeout)
                for task in pending:
                    log.warning("RPC task did not stop: %r", task)
        if self._server is not None:
            await self._server.wait_closed()

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_reap)
        return task

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        peer = writer.get_extra_info("peername")
        try:
            if await self._handshake(reader, writer):
                await self._serve(reader, writer)
        except (_ClientGone, ChannelClosed, ConnectionError, TimeoutError):
            pass
        except RpcError as exc:
            log.info("RPC connection from %s dropped: %s", peer, exc)
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 2.0)

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        nonce = auth.new_nonce()
        await self._send(writer, {"hello": nonce})
        async with asyncio.timeout(HANDSHAKE_TIMEOUT):
            header, _ = await read_frame(reader)
        if not auth.verify(self._secret, nonce, str(header.get("auth", ""))):
            err = RpcError("auth", "wrong cluster secret: this worker belongs to another cluster")
            await self._send(writer, {"error": err.to_wire()})
            log.warning("RPC client %s failed authentication", writer.get_extra_info("peername"))
            return False
        await self._send(writer, {"ok": True})
        return True

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        header: dict[str, Any],
        body: bytes | bytearray | memoryview = b"",
    ) -> None:
        try:
            async with asyncio.timeout(self._write_timeout):
                await write_frame(writer, header, body)
        except TimeoutError as exc:
            raise _ClientGone(f"client read nothing for {self._write_timeout:g} s") from exc
        except OSError as exc:
            raise _ClientGone(f"client went away: {exc}") from exc

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            header, body = await read_frame(reader)
            request_id = header.get("id")
            method = str(header.get("method", ""))
            handler = self._handlers.get(method)
            try:
                if handler is None:
                    raise RpcError("bad_request", f"unknown RPC method {method!r}")
                params = header.get("params") or {}
                if not isinstance(params, dict):
                    raise RpcError("bad_request", "RPC params must be a JSON object")
                reply = await handler(params, body)
                if isinstance(reply, StreamReply):
                    summary = await self._stream(reader, writer, request_id, reply)
                    end = {"id": request_id, "stream": STREAM_END, "result": summary}
                    await self._send(writer, end)
                else:
                    result, out_body = reply
                    await self._send(writer, {"id": request_id, "result": result}, out_body)
            except _ClientGone:
                raise
            except RpcError as exc:
                await self._send(writer, {"id": request_id, "error": exc.to_wire()})
            except Exception as exc:  # one failing request must not kill the connection
                log.exception("RPC method %s failed", method)
                err = RpcError("internal", f"{type(exc).__name__}: {exc}")
                await self._send(writer, {"id": request_id, "error": err.to_wire()})

    async def _stream(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request_id: object,
        reply: StreamReply,
    ) -> dict[str, Any]:
        """Run the pump and a watcher on the connection until one of them finishes.

        Only the pump writes batch frames; the end or error frame is written by the caller once
        the watcher is stopped, so the watcher can never swallow a byte of the client's next
        request (the client sends nothing until it has read the end frame).
        """
        cleaning_up = asyncio.Event()  # set once the pump stops streaming and cleans up
        pump = self._spawn(self._pump(writer, request_id, reply, cleaning_up))
        watcher = self._spawn(_peer_stirs(reader))

        def stop_pump() -> None:
            # Cancel the handler once, and never during its cleanup (which kills the query).
            if not pump.done() and not cleaning_up.is_set() and pump.cancelling() == 0:
                pump.cancel()

        try:
            await asyncio.wait((pump, watcher), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the server is closing; close() waits for both tasks
            stop_pump()
            watcher.cancel()
            raise
        if not pump.done():  # the client hung up (or broke the protocol): stop the handler
            stop_pump()
            _, pending = await asyncio.wait((pump,), timeout=self._cleanup_timeout)
            if pending:
                log.warning("stream handler still cleaning up after %gs", self._cleanup_timeout)
            raise _ClientGone("client went away during a streaming reply")
        watcher.cancel()
        await asyncio.wait((watcher,))
        if not watcher.cancelled():
            raise _ClientGone("client hung up or sent a frame during a streaming reply")
        try:
            return pump.result()
        except TimeoutError as exc:
            raise RpcError("timeout", "streaming reply passed its deadline") from exc

    async def _pump(
        self,
        writer: asyncio.StreamWriter,
        request_id: object,
        reply: StreamReply,
        cleaning_up: asyncio.Event,
    ) -> dict[str, Any]:
        try:
            async with asyncio.timeout_at(reply.deadline):
                async for fields, body in reply.batches:
                    header = {**fields, "id": request_id, "stream": STREAM_BATCH}
                    await self._send(writer, header, body)
        finally:
            cleaning_up.set()
            await reply.batches.aclose()  # the handler's cleanup, whatever stopped the stream
        return reply.summary()


def _reap(task: asyncio.Task[Any]) -> None:
    """Done callback of spawned tasks: an exception nobody awaited (the client was gone by
    then) is expected, not an unretrieved error."""
    if not task.cancelled() and task.exception() is not None:
        log.debug("RPC task %s ended: %r", task.get_name(), task.exception())


async def _peer_stirs(reader: asyncio.StreamReader) -> None:
    """Return when the client closes the connection or sends anything."""
    with contextlib.suppress(ConnectionError, OSError):
        await reader.read(1)

"""RPC server: authenticates each connection, then serves one request at a time per connection.

Handlers are plain coroutines ``(params, body) -> (result, body)`` registered by method name.
A handler raising :class:`RpcError` sends that error; any other exception is logged and sent as
``internal``, so one bad request never takes the server down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from qserv_py.rpc import auth
from qserv_py.rpc.errors import ChannelClosed, RpcError
from qserv_py.rpc.framing import read_frame, write_frame

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], bytes], Awaitable[tuple[dict[str, Any], bytes]]]

HANDSHAKE_TIMEOUT = 10.0


class RpcServer:
    def __init__(self, handlers: Mapping[str, Handler], secret: str) -> None:
        self._handlers = dict(handlers)
        self._secret = secret
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

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
        if self._connections:
            _, pending = await asyncio.wait(self._connections, timeout=timeout)
            for task in pending:
                log.warning("RPC connection task did not stop: %r", task)
        if self._server is not None:
            await self._server.wait_closed()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        peer = writer.get_extra_info("peername")
        try:
            if await self._handshake(reader, writer):
                await self._serve(reader, writer)
        except ChannelClosed:
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
        await write_frame(writer, {"hello": nonce})
        async with asyncio.timeout(HANDSHAKE_TIMEOUT):
            header, _ = await read_frame(reader)
        if not auth.verify(self._secret, nonce, str(header.get("auth", ""))):
            err = RpcError("auth", "wrong cluster secret: this worker belongs to another cluster")
            await write_frame(writer, {"error": err.to_wire()})
            log.warning("RPC client %s failed authentication", writer.get_extra_info("peername"))
            return False
        await write_frame(writer, {"ok": True})
        return True

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
                result, out_body = await handler(params, body)
                await write_frame(writer, {"id": request_id, "result": result}, out_body)
            except RpcError as exc:
                await write_frame(writer, {"id": request_id, "error": exc.to_wire()})
            except Exception as exc:  # one failing request must not kill the connection
                log.exception("RPC method %s failed", method)
                err = RpcError("internal", f"{type(exc).__name__}: {exc}")
                await write_frame(writer, {"id": request_id, "error": err.to_wire()})

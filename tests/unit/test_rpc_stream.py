"""Streaming replies over real TCP sockets on loopback: order, errors, deadlines, backpressure,
and the worker-side cleanup when the client stops reading."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import pytest

from qserv_py.rpc.client import RpcChannel
from qserv_py.rpc.errors import ChannelClosed, RpcError
from qserv_py.rpc.server import RpcServer, StreamReply

SECRET = "s3cret"
WAIT = 10.0  # upper bound for events that should happen at once


class Handlers:
    """Streaming handlers that record what the server made them do."""

    def __init__(self) -> None:
        self.produced = 0
        self.cleaned_up = asyncio.Event()
        self.progress = asyncio.Condition()

    def table(self) -> dict[str, Any]:
        return {
            "numbers": self.numbers,
            "failing": self.failing,
            "stuck": self.stuck,
            "plain": self.plain,
            "late": self.late,
            "refused": self.refused,
            "refused_stream": self.refused_stream,
        }

    async def _count(self) -> None:
        async with self.progress:
            self.produced += 1
            self.progress.notify_all()

    async def numbers(self, params: dict[str, Any], _body: bytes) -> StreamReply:
        n, size = int(params["n"]), int(params.get("size", 8))

        async def batches() -> AsyncGenerator[tuple[dict[str, Any], bytes], None]:
            try:
                for i in range(n):
                    await self._count()
                    yield {"i": i}, i.to_bytes(4, "little") * (size // 4)
            finally:
                self.cleaned_up.set()

        return StreamReply(batches(), lambda: {"sent": n})

    async def failing(self, params: dict[str, Any], _body: bytes) -> StreamReply:
        async def batches() -> AsyncGenerator[tuple[dict[str, Any], bytes], None]:
            try:
                yield {}, b"first"
                raise RpcError("sql", "MariaDB error 1054: no such column", details={"c": 1054})
            finally:
                self.cleaned_up.set()

        return StreamReply(batches())

    async def stuck(self, _params: dict[str, Any], _body: bytes) -> StreamReply:
        async def batches() -> AsyncGenerator[tuple[dict[str, Any], bytes], None]:
            try:
                yield {}, b"first"
                await asyncio.Event().wait()  # a statement that never ends
                yield {}, b"never"
            finally:
                self.cleaned_up.set()

        return StreamReply(batches())

    async def late(self, params: dict[str, Any], _body: bytes) -> StreamReply:
        deadline = asyncio.get_running_loop().time() + float(params["timeout"])

        async def batches() -> AsyncGenerator[tuple[dict[str, Any], bytes], None]:
            try:
                yield {}, b"first"
                await asyncio.Event().wait()
                yield {}, b"never"
            finally:
                self.cleaned_up.set()

        return StreamReply(batches(), deadline=deadline)

    async def plain(self, _params: dict[str, Any], _body: bytes) -> tuple[dict[str, Any], bytes]:
        return {"plain": True}, b"body"

    async def refused(self, _params: dict[str, Any], _body: bytes) -> tuple[dict[str, Any], bytes]:
        raise ConnectionRefusedError("the handler's own connection failed")

    async def refused_stream(self, _params: dict[str, Any], _body: bytes) -> StreamReply:
        async def batches() -> AsyncGenerator[tuple[dict[str, Any], bytes], None]:
            yield {}, b"first"
            raise ConnectionRefusedError("the handler's own connection failed")

        return StreamReply(batches())


@pytest.fixture
async def handlers() -> Handlers:
    return Handlers()


@pytest.fixture
async def server(handlers: Handlers) -> AsyncIterator[RpcServer]:
    srv = RpcServer(handlers.table(), SECRET)
    await srv.start("127.0.0.1", 0)
    try:
        yield srv
    finally:
        await srv.close()


@pytest.fixture
async def channel(server: RpcServer) -> AsyncIterator[RpcChannel]:
    chan = await RpcChannel.connect("127.0.0.1", server.port, SECRET)
    try:
        yield chan
    finally:
        await chan.close()


async def _drain(channel: RpcChannel, method: str, params: dict[str, Any]) -> list[Any]:
    seen = []
    async with channel.stream(method, params) as stream:
        async for header, body in stream:
            seen.append((header.get("i"), body))
    return seen


async def test_batches_arrive_in_order_then_the_end_result(
    channel: RpcChannel, handlers: Handlers
) -> None:
    async with channel.stream("numbers", {"n": 5}) as stream:
        seen = [(h["i"], h["stream"], body) async for h, body in stream]
        assert stream.finished and stream.result == {"sent": 5} and stream.batches == 5
    assert seen == [(i, "batch", i.to_bytes(4, "little") * 2) for i in range(5)]
    assert handlers.cleaned_up.is_set()
    assert await _drain(channel, "numbers", {"n": 0}) == []
    result, body = await channel.call("plain")  # the channel is in step for the next request
    assert result == {"plain": True} and body == b"body"


async def test_an_error_ends_the_stream_and_the_channel_survives(channel: RpcChannel) -> None:
    batches = []
    with pytest.raises(RpcError) as err:
        async with channel.stream("failing") as stream:
            async for _, body in stream:
                batches.append(body)
    assert batches == [b"first"]
    assert err.value.code == "sql" and err.value.details == {"c": 1054}
    assert not channel.broken
    assert len(await _drain(channel, "numbers", {"n": 3})) == 3


async def test_closing_early_aborts_the_channel_and_stops_the_handler(
    channel: RpcChannel, handlers: Handlers
) -> None:
    async with channel.stream("numbers", {"n": 1_000_000, "size": 4096}) as stream:
        async for header, _ in stream:
            if header["i"] == 2:
                break
    assert channel.broken
    async with asyncio.timeout(WAIT):
        await handlers.cleaned_up.wait()
    assert handlers.produced < 1_000_000
    with pytest.raises(ChannelClosed):
        await channel.call("plain")


async def test_a_cancelled_consumer_stops_the_handler(
    channel: RpcChannel, handlers: Handlers
) -> None:
    first = asyncio.Event()

    async def consume() -> None:
        async with channel.stream("stuck") as stream:
            async for _ in stream:
                first.set()

    task = asyncio.ensure_future(consume())
    try:
        async with asyncio.timeout(WAIT):
            await first.wait()
    finally:
        task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert channel.broken
    async with asyncio.timeout(WAIT):
        await handlers.cleaned_up.wait()


async def test_a_frame_missing_its_deadline_is_a_timeout(
    channel: RpcChannel, handlers: Handlers
) -> None:
    with pytest.raises(RpcError) as err:
        async with channel.stream("stuck", timeout=0.2) as stream:
            async for _ in stream:
                pass
    assert err.value.code == "timeout" and channel.broken
    async with asyncio.timeout(WAIT):
        await handlers.cleaned_up.wait()


async def test_the_handlers_deadline_ends_the_stream_with_an_error(
    channel: RpcChannel, handlers: Handlers
) -> None:
    with pytest.raises(RpcError) as err:
        async with channel.stream("late", {"timeout": 0.2}) as stream:
            async for _ in stream:
                pass
    assert err.value.code == "timeout"
    assert handlers.cleaned_up.is_set()
    assert not channel.broken  # the error frame kept the channel in step
    assert len(await _drain(channel, "numbers", {"n": 2})) == 2


async def test_a_slow_reader_holds_the_handler_back(
    channel: RpcChannel, handlers: Handlers
) -> None:
    """The server awaits the socket's drain per batch, so with 1 MiB batches it runs at most
    a few batches ahead of a reader that stopped reading: what the kernel's socket buffers
    hold (about 14 MiB on Linux loopback) plus one batch."""
    total, size, bound = 80, 1 << 20, 40
    async with channel.stream("numbers", {"n": total, "size": size}) as stream:
        first = await anext(stream)
        assert first[0]["i"] == 0
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0), handlers.progress:
                await handlers.progress.wait_for(lambda: handlers.produced >= bound)
        ahead = handlers.produced
        rest = [h["i"] async for h, _ in stream]
    assert ahead < bound and rest == list(range(1, total)) and handlers.produced == total


async def test_call_refuses_a_streaming_method(channel: RpcChannel) -> None:
    with pytest.raises(RpcError) as err:
        await channel.call("numbers", {"n": 3})
    assert err.value.code == "bad_request" and channel.broken


async def test_stream_of_a_plain_method_gives_its_reply(channel: RpcChannel) -> None:
    async with channel.stream("plain") as stream:
        seen = [body async for _, body in stream]
    assert seen == [b"body"] and stream.result == {"plain": True}
    assert not channel.broken


async def test_closing_the_server_stops_a_running_stream(
    server: RpcServer, channel: RpcChannel, handlers: Handlers
) -> None:
    with pytest.raises(ChannelClosed):
        async with channel.stream("stuck") as stream:
            async for _ in stream:
                await server.close()
    assert handlers.cleaned_up.is_set()


async def test_a_stream_must_be_entered_before_iterating(channel: RpcChannel) -> None:
    stream = channel.stream("numbers", {"n": 1})
    with pytest.raises(RuntimeError, match="async with"):
        await anext(stream)


async def test_a_handlers_own_connection_error_is_an_error_value(channel: RpcChannel) -> None:
    """Only the client's connection failing drops the connection, not one the handler uses."""
    with pytest.raises(RpcError) as err:
        await channel.call("refused")
    assert err.value.code == "internal" and "ConnectionRefusedError" in err.value.message
    with pytest.raises(RpcError) as err:
        await _drain(channel, "refused_stream", {})
    assert err.value.code == "internal" and not channel.broken
    assert len(await _drain(channel, "numbers", {"n": 2})) == 2

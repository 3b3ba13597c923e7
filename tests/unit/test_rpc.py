"""The czar-worker RPC channel over real TCP sockets on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from qserv_py.rpc.client import RpcChannel
from qserv_py.rpc.errors import ChannelClosed, RpcError
from qserv_py.rpc.server import RpcServer

SECRET = "s3cret"


async def _echo(params: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes]:
    return {"params": params, "size": len(body)}, body[::-1]


async def _fail(_params: dict[str, Any], _body: bytes) -> tuple[dict[str, Any], bytes]:
    raise RpcError("sql", "MariaDB error 1146: no such table", details={"mariadb_code": 1146})


async def _crash(_params: dict[str, Any], _body: bytes) -> tuple[dict[str, Any], bytes]:
    raise ZeroDivisionError("boom")


async def _slow(_params: dict[str, Any], _body: bytes) -> tuple[dict[str, Any], bytes]:
    await asyncio.sleep(30)
    return {}, b""


async def _server() -> RpcServer:
    server = RpcServer({"echo": _echo, "fail": _fail, "crash": _crash, "slow": _slow}, SECRET)
    await server.start("127.0.0.1", 0)
    return server


async def test_call_round_trips_params_and_body() -> None:
    server = await _server()
    channel = await RpcChannel.connect("127.0.0.1", server.port, SECRET)
    try:
        body = bytes(range(256)) * 4096
        result, reply = await channel.call("echo", {"a": [1, "x"]}, body)
        assert result == {"params": {"a": [1, "x"]}, "size": len(body)}
        assert reply == body[::-1]
        result, reply = await channel.call("echo")
        assert result["size"] == 0 and reply == b""
    finally:
        await channel.close()
        await server.close()


async def test_wrong_secret_is_refused() -> None:
    server = await _server()
    try:
        with pytest.raises(RpcError) as err:
            await RpcChannel.connect("127.0.0.1", server.port, "guess")
        assert err.value.code == "auth"
    finally:
        await server.close()


async def test_errors_are_values_and_the_channel_survives_them() -> None:
    server = await _server()
    channel = await RpcChannel.connect("127.0.0.1", server.port, SECRET)
    try:
        with pytest.raises(RpcError) as err:
            await channel.call("fail")
        assert err.value.code == "sql" and err.value.details == {"mariadb_code": 1146}
        with pytest.raises(RpcError) as err:
            await channel.call("crash")
        assert err.value.code == "internal" and "ZeroDivisionError" in err.value.message
        with pytest.raises(RpcError, match="unknown RPC method"):
            await channel.call("nope")
        result, _ = await channel.call("echo", {"still": "alive"})
        assert result["params"] == {"still": "alive"}
    finally:
        await channel.close()
        await server.close()


async def test_timeout_poisons_the_channel() -> None:
    server = await _server()
    channel = await RpcChannel.connect("127.0.0.1", server.port, SECRET)
    try:
        with pytest.raises(RpcError) as err:
            await channel.call("slow", timeout=0.2)
        assert err.value.code == "timeout"
        assert channel.broken
        with pytest.raises(ChannelClosed):
            await channel.call("echo")
    finally:
        await channel.close()
        await server.close()


async def test_connect_to_nothing_fails_within_its_deadline() -> None:
    server = await _server()
    port = server.port
    await server.close()
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ChannelClosed):
        await RpcChannel.connect("127.0.0.1", port, SECRET, timeout=0.5)
    assert loop.time() - started < 5


async def test_server_going_away_mid_call_is_reported() -> None:
    server = await _server()
    channel = await RpcChannel.connect("127.0.0.1", server.port, SECRET)
    call = asyncio.ensure_future(channel.call("slow", timeout=10))
    await asyncio.sleep(0.1)
    await server.close()
    with pytest.raises(ChannelClosed):
        await call
    await channel.close()

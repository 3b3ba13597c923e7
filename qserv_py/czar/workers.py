"""Channels from the czar to its workers: a few per worker, reused, replaced when broken.

The number of channels per worker bounds the chunk tasks in flight on it: a task holds a
channel for its whole streamed reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from qserv_py.cluster.config import HOST, ClusterConfig
from qserv_py.rpc.client import RpcChannel
from qserv_py.rpc.errors import RpcError

CONNECT_TIMEOUT = 5.0


class WorkerChannels:
    def __init__(self, config: ClusterConfig, per_worker: int = 4) -> None:
        self._config = config
        self._ports = {w.name: w.rpc_port for w in config.workers}
        self._idle: dict[str, list[RpcChannel]] = {w: [] for w in self._ports}
        self._slots = {w: asyncio.Semaphore(per_worker) for w in self._ports}

    @property
    def workers(self) -> list[str]:
        return sorted(self._ports)

    @asynccontextmanager
    async def channel(self, worker: str) -> AsyncIterator[RpcChannel]:
        """A channel to ``worker`` for one task; a channel left broken is not reused."""
        if worker not in self._ports:
            raise RpcError("connection", f"unknown worker {worker}", retryable=True)
        async with self._slots[worker]:
            idle = self._idle[worker]
            channel = idle.pop() if idle else None
            if channel is None or channel.broken:
                channel = await RpcChannel.connect(
                    HOST, self._ports[worker], self._config.rpc_secret, timeout=CONNECT_TIMEOUT
                )
            try:
                yield channel
            finally:
                if channel.broken:
                    channel.abort()
                else:
                    idle.append(channel)

    async def close(self) -> None:
        for idle in self._idle.values():
            while idle:
                await idle.pop().close()

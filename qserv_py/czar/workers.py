"""Channels from the czar to its workers: a few per worker, reused, replaced when broken.

The number of channels per worker bounds the chunk tasks in flight on it: a task holds a
channel for its whole streamed reply.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from qserv_py.cluster.config import HOST, ClusterConfig
from qserv_py.rpc.client import RpcChannel
from qserv_py.rpc.errors import ChannelClosed, RpcError

CONNECT_TIMEOUT = 5.0
DOWN_FOR = 5.0  # seconds a worker that refused a connection is skipped before trying again


class WorkerChannels:
    def __init__(self, config: ClusterConfig, per_worker: int = 4) -> None:
        self._config = config
        self.slots_per_worker = per_worker
        self._ports = {w.name: w.rpc_port for w in config.workers}
        self._idle: dict[str, list[RpcChannel]] = {w: [] for w in self._ports}
        self._slots = {w: asyncio.Semaphore(per_worker) for w in self._ports}
        self._down_until: dict[str, float] = {}

    @property
    def workers(self) -> list[str]:
        return sorted(self._ports)

    def is_down(self, worker: str) -> bool:
        """True while a worker that could not be reached is being skipped."""
        return asyncio.get_running_loop().time() < self._down_until.get(worker, 0.0)

    @asynccontextmanager
    async def channel(self, worker: str, *, bounded: bool = True) -> AsyncIterator[RpcChannel]:
        """A channel to ``worker`` for one task; a channel left broken is not reused.

        ``bounded=False`` (scan tasks) skips the per-worker slots: the worker's shared-scan
        scheduler queues those tasks itself, and the slots stay free for interactive ones.

        A worker that cannot be reached is marked down for ``DOWN_FOR`` seconds: the tasks
        behind it fail over to other replicas at once instead of each waiting to connect.
        """
        if worker not in self._ports:
            raise RpcError("connection", f"unknown worker {worker}", retryable=True)
        if self.is_down(worker):
            raise ChannelClosed(f"worker {worker} is down (not reachable a moment ago)")
        async with self._slots[worker] if bounded else contextlib.nullcontext():
            if self.is_down(worker):  # found down while this task waited for a slot
                raise ChannelClosed(f"worker {worker} is down (not reachable a moment ago)")
            idle = self._idle[worker]
            channel = idle.pop() if idle else None
            if channel is None or channel.broken:
                try:
                    channel = await RpcChannel.connect(
                        HOST,
                        self._ports[worker],
                        self._config.rpc_secret,
                        timeout=CONNECT_TIMEOUT,
                        retry_refused=False,  # a refusing worker is down: use another replica
                    )
                except ChannelClosed:
                    self._down_until[worker] = asyncio.get_running_loop().time() + DOWN_FOR
                    raise
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

"""A worker: an asyncio RPC server in front of one MariaDB.

It serves health, ingest, and the query path: ``query.run`` streams chunk queries' results
(qserv_py/worker/query_service.py), each chunk a task of the shared-scan scheduler
(qserv_py/shared_scan/, operated through qserv_py/worker/scan_service.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from qserv_py import __version__
from qserv_py.rpc.errors import RpcError
from qserv_py.rpc.server import Handler, RpcServer
from qserv_py.worker.database import DatabaseAddress, WorkerDatabase
from qserv_py.worker.ingest_service import IngestService
from qserv_py.worker.query_service import QueryService
from qserv_py.worker.scan_service import ScanControl

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, name: str, database: DatabaseAddress, work_dir: Path, secret: str) -> None:
        self.name = name
        self._db = WorkerDatabase(database)
        self._ingest = IngestService(self._db, work_dir / "staging")
        self._query = QueryService(database)
        self._scan = ScanControl(self._query.scheduler, self._query.max_connections)
        self._started = time.time()
        handlers: dict[str, Handler] = {
            "health": self.health,
            **self._ingest.handlers(),
            **self._query.handlers(),
            **self._scan.handlers(),
        }
        self._rpc = RpcServer(handlers, secret)

    async def start(self, host: str, port: int) -> None:
        await self._db.open()
        await self._scan.start(self._db)
        await self._rpc.start(host, port)
        log.info("worker %s serving RPC on %s:%d", self.name, host, port)

    @property
    def port(self) -> int:
        return self._rpc.port

    async def serve_forever(self) -> None:
        await self._rpc.serve_forever()

    async def close(self) -> None:
        try:
            await self._rpc.close()  # cancels running queries, which kill their statements
        finally:
            try:
                await self._query.close()
                await self._query.scheduler.close()
            finally:
                await self._db.close()

    async def health(self, _params: dict[str, Any], _body: bytes) -> tuple[dict[str, Any], bytes]:
        try:
            async with asyncio.timeout(5):
                rows = await self._db.fetchall("SELECT VERSION()")
        except TimeoutError as exc:
            raise RpcError("unhealthy", "worker MariaDB does not answer", retryable=True) from exc
        return {
            "worker": self.name,
            "version": __version__,
            "mariadb": str(rows[0][0]),
            "uptime_s": round(time.time() - self._started, 1),
        }, b""

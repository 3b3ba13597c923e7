"""Operating the worker's shared-scan scheduler: ``scan.status`` and ``scan.configure``.

At start the worker asks its MariaDB for ``@@datadir`` (where the chunk tables' MyISAM files
are, for ``posix_fadvise``) and ``@@pid_file`` (whose ``/proc/<pid>/io`` counts the bytes
mariadbd read from disk). Both only make sense when MariaDB runs on the worker's machine, as in
local mode; when the directory is not readable the scheduler still orders tasks but manages no
memory.

``scan.configure {policy?, memory_bytes?, scan_slots?, interactive_slots?, drop_cache?}``
replaces the settings while the scheduler is idle (``busy`` otherwise); ``drop_cache: "<db>"``
also drops every MyISAM file of that database from the page cache (benchmarks start cold).
``scan.status`` gives lanes, queues, resident bytes, counters and ``read_bytes`` of mariadbd and
of the worker process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

from qserv_py.rpc.errors import RpcError
from qserv_py.rpc.server import Handler
from qserv_py.shared_scan.lanes import POLICIES
from qserv_py.shared_scan.memory import ChunkFiles, read_bytes
from qserv_py.shared_scan.scheduler import SharedScanScheduler
from qserv_py.worker.database import WorkerDatabase

log = logging.getLogger(__name__)


class ScanControl:
    def __init__(self, scheduler: SharedScanScheduler, max_connections: int) -> None:
        self._scheduler = scheduler
        self._max_connections = max_connections
        self.mariadb_pid: int | None = None

    def handlers(self) -> dict[str, Handler]:
        return {"scan.status": self.status, "scan.configure": self.configure}

    async def start(self, db: WorkerDatabase) -> None:
        """Find MariaDB's files and process, then start the scheduler's ticker."""
        try:
            rows = await db.fetchall("SELECT @@datadir, @@pid_file")
            datadir, pid_file = Path(str(rows[0][0])), Path(str(rows[0][1]))
            if os.access(datadir, os.R_OK | os.X_OK):
                self._scheduler.files = ChunkFiles(datadir)
            if not pid_file.is_absolute():
                pid_file = datadir / pid_file
            self.mariadb_pid = int(pid_file.read_text().strip())
        except (RpcError, OSError, ValueError) as exc:
            log.warning("shared scans: MariaDB's files or process not found: %s", exc)
        self._scheduler.start()

    async def status(self, _params: dict[str, Any], _body: bytes) -> tuple[dict[str, Any], bytes]:
        config = self._scheduler.config
        return {
            **self._scheduler.status(),
            "scan_slots": config.scan_slots,
            "interactive_slots": config.interactive_slots,
            "datadir": str(self._scheduler.files.datadir or ""),
            "mariadb_read_bytes": read_bytes(self.mariadb_pid),
            "worker_read_bytes": read_bytes(os.getpid()),
        }, b""

    async def configure(self, params: dict[str, Any], _body: bytes) -> tuple[dict[str, Any], bytes]:
        old = self._scheduler.config
        try:
            config = dataclasses.replace(
                old,
                policy=params.get("policy", old.policy),
                memory_bytes=int(params.get("memory_bytes", old.memory_bytes)),
                scan_slots=int(params.get("scan_slots", old.scan_slots)),
                interactive_slots=int(params.get("interactive_slots", old.interactive_slots)),
            )
        except (TypeError, ValueError) as exc:
            raise RpcError("bad_request", f"scan.configure: {exc}") from exc
        if config.policy not in POLICIES:
            raise RpcError("bad_request", f"policy must be one of {', '.join(POLICIES)}")
        slots = config.scan_slots + (config.interactive_slots if config.policy == "shared" else 0)
        if config.scan_slots < 1 or config.interactive_slots < 1 or config.memory_bytes < 0:
            raise RpcError("bad_request", "slots must be >= 1 and memory_bytes >= 0")
        if slots > self._max_connections:
            raise RpcError(
                "bad_request", f"scan and interactive slots exceed {self._max_connections}"
            )
        self._scheduler.configure(config)
        dropped = 0
        database = params.get("drop_cache")
        if database:
            dropped = await asyncio.to_thread(self._drop_cache, str(database))
        return {"dropped_bytes": dropped, **dataclasses.asdict(config)}, b""

    def _drop_cache(self, database: str) -> int:
        files = self._scheduler.files
        if files.datadir is None or "/" in database or database.startswith("."):
            return 0
        names = sorted(
            {p.stem for p in (files.datadir / database).glob("*.MY[DI]")},
        )
        return files.release((f"{database}/{name}" for name in names), sync=True)

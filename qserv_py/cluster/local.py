"""Local mode: the whole cluster as processes on this machine (``qserv-py up/down/status``).

Layout under the data dir: ``cluster.json`` (ports, secrets), ``mariadb/template`` (one
``mariadb-install-db`` result, copied for every instance, since parallel installs corrupt each
other), ``mariadb/<name>/`` per instance (``czar-db``, ``worker-N``), ``workers/<name>/`` for
worker staging files and ``run/`` for service pid files and logs. ``up`` on an existing data dir
restarts everything with its data; a failed ``up`` stops what it started.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncmy
import pymysql

from qserv_py.cluster.config import HOST, ClusterConfig, WorkerConfig
from qserv_py.cluster.mariadb import (
    MariaDBError,
    MariaDBServer,
    PortInUse,
    create_template,
    find_mariadb_binaries,
)
from qserv_py.cluster.processes import ServiceProcess
from qserv_py.czar.metadata.catalog import ensure_schema
from qserv_py.czar.metadata.schema import query_user_statements
from qserv_py.rpc.client import RpcChannel
from qserv_py.rpc.errors import RpcError

log = logging.getLogger(__name__)
CZAR_DB = "czar-db"
Say = Callable[[str], None]


class ClusterError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    name: str
    kind: str
    pid: int | None
    port: int
    healthy: bool
    detail: str


class LocalCluster:
    def __init__(self, config: ClusterConfig, say: Say | None = None) -> None:
        self.config = config
        self._say = say or (lambda _msg: None)

    def mariadb(self, name: str) -> MariaDBServer:
        port = (
            self.config.czar_db_port if name == CZAR_DB else self.config.worker(name).mariadb_port
        )
        return MariaDBServer(name, self.config.mariadb_dir, port)

    def mariadb_servers(self) -> list[MariaDBServer]:
        return [self.mariadb(CZAR_DB)] + [self.mariadb(w.name) for w in self.config.workers]

    def worker_process(self, worker: WorkerConfig) -> ServiceProcess:
        return ServiceProcess(
            worker.name,
            "qserv_py.worker",
            ("--data-dir", str(self.config.data_dir), "--name", worker.name),
            self.config.run_dir,
        )

    def czar_process(self) -> ServiceProcess:
        return ServiceProcess(
            "czar",
            "qserv_py.czar",
            ("--data-dir", str(self.config.data_dir), "--name", "czar"),
            self.config.run_dir,
        )

    async def up(self) -> None:
        """Start every component that is not running; on failure, stop what this call started."""
        find_mariadb_binaries().check()
        started_db: list[MariaDBServer] = []
        started_services: list[ServiceProcess] = []
        try:
            template = self.config.mariadb_dir / "template"
            if not template.exists():
                self._say("creating the MariaDB template data directory (once)")
            await asyncio.to_thread(create_template, template)
            for server in self.mariadb_servers():
                if server.running_pid() is None:
                    if not server.is_initialised():
                        server.initialise(template)
                    await server.start()
                    started_db.append(server)
                    await server.set_root_password(self.config.mariadb_password)
                    self._write_client_options(server)
            await self._ensure_czar_schema()
            for worker in self.config.workers:
                process = self.worker_process(worker)
                if process.running_pid() is None:
                    if process.clear_stale_pid_file():
                        log.info("removed stale pid file of %s", worker.name)
                    _check_port(worker.rpc_port, f"worker {worker.name} RPC")
                    process.spawn()
                    started_services.append(process)
            await asyncio.gather(*(self._wait_worker(w) for w in self.config.workers))
            czar = self.czar_process()
            if czar.running_pid() is None:
                czar.clear_stale_pid_file()
                _check_port(self.config.frontend_port, "the czar's MySQL front end")
                czar.spawn()
                started_services.append(czar)
            await self._wait_czar()
        except BaseException:
            for process in reversed(started_services):
                await process.stop()
            for server in started_db:
                try:
                    await server.stop()
                except MariaDBError:
                    server.abort()
            raise

    async def down(self) -> None:
        await self.czar_process().stop()
        for worker in self.config.workers:
            await self.worker_process(worker).stop()
        await asyncio.gather(*(server.stop() for server in self.mariadb_servers()))

    async def status(self) -> list[ComponentStatus]:
        statuses = []
        for server in self.mariadb_servers():
            pid = server.running_pid()
            healthy = pid is not None and await server.ping()
            detail = "answers" if healthy else ("not running" if pid is None else "not answering")
            statuses.append(
                ComponentStatus(server.name, "mariadbd", pid, server.port, healthy, detail)
            )
        for worker in self.config.workers:
            process = self.worker_process(worker)
            pid = process.running_pid()
            healthy, detail = False, "not running"
            if pid is not None:
                try:
                    health = await self.worker_health(worker, timeout=3)
                    healthy, detail = True, f"up {health.get('uptime_s', 0)} s"
                except RpcError as exc:
                    detail = f"not answering: {exc}"
            statuses.append(
                ComponentStatus(worker.name, "worker", pid, worker.rpc_port, healthy, detail)
            )
        czar = self.czar_process()
        pid = czar.running_pid()
        healthy = pid is not None and await frontend_answers(self.config)
        detail = "answers" if healthy else ("not running" if pid is None else "not answering")
        statuses.append(
            ComponentStatus("czar", "czar", pid, self.config.frontend_port, healthy, detail)
        )
        return statuses

    async def worker_health(self, worker: WorkerConfig, timeout: float = 5.0) -> dict[str, object]:
        channel = await RpcChannel.connect(
            HOST, worker.rpc_port, self.config.rpc_secret, timeout=timeout
        )
        try:
            result, _ = await channel.call("health", timeout=timeout)
        finally:
            await channel.close()
        return result

    async def _wait_worker(self, worker: WorkerConfig, timeout: float = 30.0) -> None:
        process = self.worker_process(worker)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                await self.worker_health(worker, timeout=2)
                return
            except RpcError as exc:
                if process.running_pid() is None:
                    raise ClusterError(
                        f"worker {worker.name} exited during start; its log"
                        f" {process.log_file} ends with:\n{process.tail_log()}"
                    ) from exc
                if loop.time() > deadline:
                    raise ClusterError(
                        f"worker {worker.name} did not answer within {timeout:g} s: {exc};"
                        f" see {process.log_file}"
                    ) from exc
                await asyncio.sleep(0.1)

    def client_options_file(self, name: str) -> Path:
        """Option file for ``mariadb --defaults-extra-file=...`` to reach one instance."""
        return self.config.mariadb_dir / name / "client.cnf"

    def _write_client_options(self, server: MariaDBServer) -> None:
        path = self.client_options_file(server.name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(
                f"[client]\nhost=127.0.0.1\nport={server.port}\nuser=root\n"
                f"password={self.config.mariadb_password}\n"
            )

    async def _wait_czar(self, timeout: float = 30.0) -> None:
        process = self.czar_process()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await frontend_answers(self.config):
            if process.running_pid() is None:
                raise ClusterError(
                    f"the czar exited during start; its log {process.log_file} ends with:\n"
                    f"{process.tail_log()}"
                )
            if loop.time() > deadline:
                raise ClusterError(
                    f"the czar did not answer on port {self.config.frontend_port} within"
                    f" {timeout:g} s; see {process.log_file}"
                )
            await asyncio.sleep(0.1)

    async def _ensure_czar_schema(self) -> None:
        conn = await asyncmy.connect(
            **self.mariadb(CZAR_DB).connect_args(self.config.mariadb_password), autocommit=True
        )
        try:
            await ensure_schema(conn)
            async with conn.cursor() as cur:
                for statement in query_user_statements(self.config.mariadb_password):
                    await cur.execute(statement)
        finally:
            conn.close()


def _check_port(port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise PortInUse(
                f"port {port} for {what} is in use by another process; stop it or choose other"
                " ports with --base-port"
            ) from exc


async def frontend_answers(config: ClusterConfig, timeout: float = 2.0) -> bool:
    """True if the czar completes a MySQL login and answers ``SELECT 1``.

    A full login (not just reading the greeting) so the czar's log sees an ordinary client.
    """

    def attempt() -> bool:
        user, password = next(iter(config.users.items()))
        try:
            conn = pymysql.connect(
                host=HOST,
                port=config.frontend_port,
                user=user,
                password=password,
                connect_timeout=timeout,
                read_timeout=timeout,
            )
        except pymysql.err.MySQLError:
            return False
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                return bool(cur.fetchone() == (1,))
        except pymysql.err.MySQLError:
            return False
        finally:
            conn.close()

    return await asyncio.to_thread(attempt)

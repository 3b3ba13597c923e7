"""Private ``mariadbd`` processes for local mode: the czar's own database and one per worker.

Each instance lives under ``base_dir/name`` (``data/``, ``my.cnf``, ``mariadbd.sock``,
``mariadbd.pid``, ``mariadbd.err``, ``tmp/``), listens on ``127.0.0.1:port`` and outlives the
Python process that started it, so ``qserv-py up`` can exit and ``qserv-py down`` stop it later.

Datadirs are copies of one template: ``mariadb-install-db`` takes about 0.9 s, and several run in
parallel corrupt each other's datadirs, while ``cp -a`` of a template takes about 0.07 s
(reference/stack-measurements.md §4).

Linux only: liveness and ownership checks read ``/proc``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncmy
from asyncmy.connection import Connection
from asyncmy.errors import OperationalError

from qserv_py.cluster.pids import (
    KILL_GRACE,
    POLL_FIRST,
    POLL_MAX,
    alive,
    cmdline,
    kill_and_wait,
    read_pid,
    send_signal,
    spawn_detached,
    wait_exit,
)

log = logging.getLogger(__name__)

INSTALL_HINT = "install it with `apt-get install mariadb-server mariadb-client`"
_EXTRA_BIN_DIRS = ("/usr/sbin", "/usr/bin")
_SERVER_NAMES = frozenset({"mariadbd", "mysqld"})
_MAX_SOCKET_PATH = 107  # sizeof(sockaddr_un.sun_path) - 1; mariadbd refuses longer paths
_TEMPLATE_FILES = ("ibdata1", "aria_log_control", "mysql/global_priv.frm", "mysql/db.frm")
_INSTALL_TIMEOUT = 120.0
_COPY_TIMEOUT = 300.0
_LOG_TAIL_LINES = 25
# Polling for start-up and exit: a start takes ~0.1 s and a probe costs ~0.1 ms, so poll often.
_ACCESS_DENIED = 1045


class MariaDBError(RuntimeError):
    """A private mariadbd could not be set up, started or stopped; the message says what to do."""


class MissingMariaDB(MariaDBError):
    """``mariadbd`` or ``mariadb-install-db`` is not installed."""


class PortInUse(MariaDBError):
    """The instance's TCP port is bound by some other process."""


@dataclass(frozen=True, slots=True)
class MariaDBBinaries:
    """Where the server and the datadir installer live."""

    mariadbd: Path
    install_db: Path

    def check(self) -> None:
        """Raise `MissingMariaDB` unless both files are executable."""
        for path in (self.mariadbd, self.install_db):
            if not (path.is_file() and os.access(path, os.X_OK)):
                raise MissingMariaDB(f"{path} is not an executable file; {INSTALL_HINT}")


def find_mariadb_binaries(search_path: str | None = None) -> MariaDBBinaries:
    """Find the binaries on ``search_path`` (default: ``$PATH`` plus /usr/sbin and /usr/bin).

    Debian puts ``mariadbd`` in /usr/sbin, which is not on a normal user's ``$PATH``.
    """
    if search_path is None:
        search_path = os.pathsep.join([os.environ.get("PATH", ""), *_EXTRA_BIN_DIRS])
    mariadbd = shutil.which("mariadbd", path=search_path)
    install_db = shutil.which("mariadb-install-db", path=search_path)
    if mariadbd is None or install_db is None:
        missing = "mariadbd" if mariadbd is None else "mariadb-install-db"
        raise MissingMariaDB(f"{missing} not found in {search_path}; {INSTALL_HINT}")
    return MariaDBBinaries(mariadbd=Path(mariadbd), install_db=Path(install_db))


@dataclass(frozen=True, slots=True)
class MariaDBSettings:
    """Tunables of one instance, sized so a dozen instances fit a 2-core/24 GiB dev machine.

    Idle RSS with these values is about 55 MB per instance (stack-measurements.md §4). The
    options a local cluster relies on (bind to 127.0.0.1, server-side ``LOAD DATA INFILE``, no
    binary log, ...) are not here: `MariaDBServer` always sets them.
    """

    key_buffer_size: str = "64M"  # MyISAM index cache; chunk tables are MyISAM
    innodb_buffer_pool_size: str = "32M"  # InnoDB only holds the system tables here
    innodb_log_file_size: str = "16M"  # small redo log: small template, fast copies
    innodb_log_buffer_size: str = "4M"  # must be >= 2M, or mariadbd adjusts it with a warning
    aria_pagecache_buffer_size: str = "16M"  # default 128M; Aria holds only on-disk temp tables
    max_connections: int = 300
    max_allowed_packet: str = "64M"  # 16M default breaks LOAD DATA LOCAL of large files
    # Thousands of chunk tables; a MyISAM table costs 2 descriptors per open instance. One cache
    # instance keeps mariadbd's descriptor request (2 * cache * instances) under the hard limit.
    table_open_cache: int = 4000
    table_open_cache_instances: int = 1
    table_definition_cache: int = 4000
    open_files_limit: int = 10000
    # MariaDB 10.11's default, written out so every instance agrees whatever the build.
    sql_mode: str = (
        "STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION"
    )
    # Qserv's own my.cnf sets 900 s: a worker streaming a large result may wait on its reader.
    net_read_timeout: int = 900
    net_write_timeout: int = 900
    # 1, not 2: at 2 every readiness probe (see `MariaDBServer.ping`) logs "Aborted connection".
    log_warnings: int = 1
    # None keeps the compiled-in default (latin1 on Debian's 10.11 build, because Debian's
    # utf8mb4 lives in /etc/mysql, which a private instance does not read).
    character_set_server: str | None = None
    collation_server: str | None = None
    extra_options: tuple[tuple[str, str], ...] = ()  # more [mariadbd] options, written last

    def options(self) -> list[tuple[str, str]]:
        """The ``[mariadbd]`` lines these settings stand for, in file order."""
        opts = [
            ("key_buffer_size", self.key_buffer_size),
            ("innodb_buffer_pool_size", self.innodb_buffer_pool_size),
            ("innodb_log_file_size", self.innodb_log_file_size),
            ("innodb_log_buffer_size", self.innodb_log_buffer_size),
            ("aria_pagecache_buffer_size", self.aria_pagecache_buffer_size),
            ("max_connections", str(self.max_connections)),
            ("max_allowed_packet", self.max_allowed_packet),
            ("table_open_cache", str(self.table_open_cache)),
            ("table_open_cache_instances", str(self.table_open_cache_instances)),
            ("table_definition_cache", str(self.table_definition_cache)),
            ("open_files_limit", str(self.open_files_limit)),
            ("sql_mode", f'"{self.sql_mode}"'),
            ("net_read_timeout", str(self.net_read_timeout)),
            ("net_write_timeout", str(self.net_write_timeout)),
            ("log_warnings", str(self.log_warnings)),
        ]
        if self.character_set_server is not None:
            opts.append(("character_set_server", self.character_set_server))
        if self.collation_server is not None:
            opts.append(("collation_server", self.collation_server))
        return opts + list(self.extra_options)


DEFAULT_SETTINGS = MariaDBSettings()


class MariaDBServer:
    """One private mariadbd. The pid file is the only link to the process, so any Python
    process (the one that ran ``up``, or a later ``down``) can manage it."""

    def __init__(
        self,
        name: str,
        base_dir: Path,
        port: int,
        settings: MariaDBSettings = DEFAULT_SETTINGS,
        *,
        binaries: MariaDBBinaries | None = None,
    ) -> None:
        if not name or name in (".", "..") or "/" in name:
            raise MariaDBError(f"bad instance name {name!r}: use a plain directory name")
        if not 0 < port < 65536:
            raise MariaDBError(f"bad port {port} for mariadbd {name!r}: use 1-65535")
        self._name = name
        self._port = port
        self._settings = settings
        self._binaries = binaries
        self._children: set[int] = set()  # spawned by this object, to be reaped when they exit
        self._dir = Path(base_dir).absolute() / name
        for path in (self._dir, self.socket_path):
            if any(c in str(path) for c in '"\\#\n'):
                raise MariaDBError(f"{path} has a character my.cnf cannot hold; use another path")
        if len(str(self.socket_path)) > _MAX_SOCKET_PATH:
            raise MariaDBError(
                f"socket path {self.socket_path} is longer than {_MAX_SOCKET_PATH} characters, "
                "which unix sockets do not allow; use a shorter base directory"
            )

    @property
    def name(self) -> str:
        return self._name

    @property
    def port(self) -> int:
        return self._port

    @property
    def instance_dir(self) -> Path:
        return self._dir

    @property
    def data_dir(self) -> Path:
        return self._dir / "data"

    @property
    def config_file(self) -> Path:
        return self._dir / "my.cnf"

    @property
    def socket_path(self) -> Path:
        return self._dir / "mariadbd.sock"

    @property
    def pid_file(self) -> Path:
        return self._dir / "mariadbd.pid"

    @property
    def log_file(self) -> Path:
        return self._dir / "mariadbd.err"

    @property
    def tmp_dir(self) -> Path:
        return self._dir / "tmp"

    def __repr__(self) -> str:
        return f"MariaDBServer({self._name!r}, {str(self._dir.parent)!r}, {self._port})"

    def is_initialised(self) -> bool:
        """True once `initialise` has put a complete datadir in place."""
        return _looks_complete(self.data_dir)

    def initialise(self, template_dir: Path) -> None:
        """Copy the template datadir into ``data_dir``; a no-op if one is already there.

        The copy goes to a temporary name first, so a crash never leaves half a datadir.
        """
        if self.is_initialised():
            log.debug("mariadbd %s: datadir %s already initialised", self._name, self.data_dir)
            return
        if not _looks_complete(Path(template_dir)):
            raise MariaDBError(
                f"{template_dir} is not a complete MariaDB template; create it with "
                "create_template() first (delete it if a crash left it half-made)"
            )
        if self.data_dir.exists():
            raise MariaDBError(
                f"{self.data_dir} exists but is not a complete datadir; move it away or delete it"
            )
        self._dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".data.", dir=self._dir))
        try:
            _copy_tree(Path(template_dir), staging / "data")
            os.rename(staging / "data", self.data_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        log.info("mariadbd %s: datadir %s copied from %s", self._name, self.data_dir, template_dir)

    def running_pid(self) -> int | None:
        """The pid in the pid file, if that process is alive and is mariadbd of this datadir."""
        self._reap()
        pid = read_pid(self.pid_file)
        if pid is None or not alive(pid) or not self._is_ours(pid):
            return None
        return pid

    async def ping(self, timeout: float = 2.0) -> bool:
        """True if the server answers on its unix socket.

        Reads the server's greeting and hangs up, so it needs no password (like
        ``mariadb-admin ping``, which counts "access denied" as alive). An error greeting
        (e.g. too many connections) also counts: the server is up.
        """
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_unix_connection(str(self.socket_path))
                try:
                    header = await reader.readexactly(4)
                    payload = await reader.readexactly(int.from_bytes(header[:3], "little"))
                finally:
                    writer.close()
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            return False
        return bool(payload) and payload[0] in (10, 0xFF)  # handshake v10, or an error packet

    async def start(self, timeout: float = 30.0) -> None:
        """Start mariadbd detached, and return once it accepts connections.

        Idempotent: returns at once if this instance already runs. Raises `PortInUse` if another
        process holds the port, `MariaDBError` with the end of the error log if mariadbd dies
        or is not ready within ``timeout`` (then it is killed).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if not self.is_initialised():
            raise MariaDBError(
                f"mariadbd {self._name}: {self.data_dir} is not initialised; call initialise()"
            )
        pid = self.running_pid()
        if pid is not None:
            if await self._wait_answering(pid, deadline):
                log.debug("mariadbd %s already running (pid %d)", self._name, pid)
                return
            if alive(pid):
                raise MariaDBError(
                    f"mariadbd {self._name} (pid {pid}) runs but does not answer on "
                    f"{self.socket_path}; see {self.log_file}, then stop it or `kill {pid}`"
                )
        binaries = self._binaries or find_mariadb_binaries()
        binaries.check()
        self._remove_stale_pid_file()
        _check_port_free(self._port, self._name)
        self.tmp_dir.mkdir(exist_ok=True)
        self.socket_path.unlink(missing_ok=True)  # left by a killed server; nobody serves it
        _write_atomically(self.config_file, self._render_config())
        log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        pid = _spawn_mariadbd(
            [str(binaries.mariadbd), f"--defaults-file={self.config_file}"], self.log_file
        )
        self._children.add(pid)
        log.info("mariadbd %s: started pid %d on port %d", self._name, pid, self._port)
        try:
            await self._wait_started(pid, deadline, log_offset, timeout)
        except BaseException:
            kill_and_wait(pid)
            self._reap()
            self._remove_pid_file_of(pid)
            raise
        if read_pid(self.pid_file) != pid:  # mariadbd writes it before it listens; be sure
            log.warning("mariadbd %s: pid file %s lacks pid %d", self._name, self.pid_file, pid)
            _write_atomically(self.pid_file, f"{pid}\n")

    async def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, wait up to ``timeout`` for a clean shutdown, then SIGKILL. Idempotent."""
        loop = asyncio.get_running_loop()
        pid = self.running_pid()
        if pid is None:
            self._remove_stale_pid_file()
            log.debug("mariadbd %s is not running", self._name)
            return
        log.info("mariadbd %s: stopping pid %d", self._name, pid)
        send_signal(pid, signal.SIGTERM)
        if not await wait_exit(pid, loop.time() + timeout):
            log.warning(
                "mariadbd %s (pid %d) did not stop within %.1f s; sending SIGKILL",
                self._name,
                pid,
                timeout,
            )
            send_signal(pid, signal.SIGKILL)
            if not await wait_exit(pid, loop.time() + KILL_GRACE):
                raise MariaDBError(
                    f"mariadbd {self._name} (pid {pid}) survived SIGKILL; check `ps -l {pid}`"
                )
            self.socket_path.unlink(missing_ok=True)
        self._reap()
        self._remove_pid_file_of(pid)

    def abort(self) -> None:
        """SIGKILL the server now and wait briefly; for ``finally`` blocks that cannot await."""
        pid = self.running_pid()
        if pid is not None:
            log.warning("mariadbd %s: killing pid %d", self._name, pid)
            kill_and_wait(pid)
            self._reap()
            self._remove_pid_file_of(pid)

    async def set_root_password(self, password: str, timeout: float = 10.0) -> None:
        """Give root@localhost a password and add root@127.0.0.1 with it, for TCP clients.

        The template's root accounts have empty passwords. Idempotent: connects with
        ``password`` first and falls back to the empty one.
        """
        async with asyncio.timeout(timeout):
            conn = await self._connect_root_over_socket(password, timeout)
            try:
                async with conn.cursor() as cur:
                    await cur.execute("ALTER USER 'root'@'localhost' IDENTIFIED BY %s", (password,))
                    # GRANT ... IDENTIFIED BY creates the account or resets its password, and
                    # unlike CREATE USER IF NOT EXISTS it warns about neither.
                    await cur.execute(
                        "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' IDENTIFIED BY %s "
                        "WITH GRANT OPTION",
                        (password,),
                    )
            finally:
                try:
                    await conn.ensure_closed()
                finally:
                    conn.close()

    def connect_args(self, password: str, database: str | None = None) -> dict[str, Any]:
        """Keyword arguments for ``asyncmy.connect`` or ``pymysql.connect`` as root over TCP."""
        args: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self._port,
            "user": "root",
            "password": password,
        }
        if database is not None:
            args["database"] = database
        return args

    # -- internals ---------------------------------------------------------------------------

    def _is_ours(self, pid: int) -> bool:
        """Whether ``pid`` is mariadbd serving this datadir, not a recycled pid.

        mariadbd chdirs into its datadir; the command line names our my.cnf.
        """
        argv = cmdline(pid)
        if not argv or Path(argv[0]).name not in _SERVER_NAMES:
            return False
        if f"--defaults-file={self.config_file}" in argv:
            return True
        try:
            return Path(os.readlink(f"/proc/{pid}/cwd")) == self.data_dir.resolve()
        except OSError:
            return False

    def _remove_stale_pid_file(self) -> None:
        pid = read_pid(self.pid_file)
        if not self.pid_file.exists() or (pid is not None and self.running_pid() == pid):
            return
        if pid is None:
            why = "it holds no pid"
        elif not alive(pid):
            why = f"pid {pid} is not running"
        else:
            why = f"pid {pid} is not mariadbd of {self.data_dir}"
        log.warning("mariadbd %s: removing stale pid file %s (%s)", self._name, self.pid_file, why)
        self.pid_file.unlink(missing_ok=True)

    def _reap(self) -> None:
        """Collect the exit status of our exited children, so no zombie lingers while this
        process runs. Only our own pids: waiting for another child would steal its status."""
        for pid in list(self._children):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                self._children.discard(pid)
                continue
            if done == pid:
                self._children.discard(pid)
                code = os.waitstatus_to_exitcode(status)
                log.info("mariadbd %s: pid %d exited with status %d", self._name, pid, code)

    def _remove_pid_file_of(self, pid: int) -> None:
        if read_pid(self.pid_file) == pid:
            self.pid_file.unlink(missing_ok=True)

    async def _wait_answering(self, pid: int, deadline: float) -> bool:
        """Wait for a running server (perhaps still starting) to answer; False if it exits."""
        loop = asyncio.get_running_loop()
        delay = POLL_FIRST
        while alive(pid):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            if await self.ping(min(remaining, 1.0)):
                return True
            await asyncio.sleep(min(delay, max(deadline - loop.time(), 0)))
            delay = min(delay * 2, POLL_MAX)
        return False

    async def _wait_started(
        self, pid: int, deadline: float, log_offset: int, timeout: float
    ) -> None:
        """Wait until the freshly spawned ``pid`` answers; raise with its log if it dies."""
        if await self._wait_answering(pid, deadline):
            log.info("mariadbd %s: ready (pid %d)", self._name, pid)
            return
        tail = _log_tail(self.log_file, log_offset)
        if alive(pid):
            raise MariaDBError(
                f"mariadbd {self._name} (pid {pid}) did not answer within {timeout:.1f} s and was "
                f"killed; raise the timeout if it was recovering. {self.log_file} ends:\n{tail}"
            )
        if not _port_is_free(self._port):  # lost a race for the port after our check
            raise PortInUse(
                f"mariadbd {self._name} could not bind 127.0.0.1:{self._port}: another process "
                f"took it. Pick another port. {self.log_file} ends with:\n{tail}"
            )
        raise MariaDBError(
            f"mariadbd {self._name} (pid {pid}) exited during start; fix the cause below "
            f"(from {self.log_file}) and start again:\n{tail}"
        )

    async def _connect_root_over_socket(self, password: str, timeout: float) -> Connection:
        last: OperationalError | None = None
        for attempt in dict.fromkeys((password, "")):
            try:
                return await asyncmy.connect(
                    unix_socket=str(self.socket_path),
                    user="root",
                    password=attempt,
                    connect_timeout=timeout,
                )
            except OperationalError as exc:
                if exc.args[0] != _ACCESS_DENIED:
                    raise MariaDBError(
                        f"mariadbd {self._name}: cannot connect to {self.socket_path}: {exc}; "
                        "is it started?"
                    ) from exc
                last = exc
        raise MariaDBError(
            f"mariadbd {self._name}: root@localhost has a password other than the given one; "
            "pass the password it was set to"
        ) from last

    def _render_config(self) -> str:
        fixed = [
            ("datadir", f'"{self.data_dir}"'),
            ("socket", f'"{self.socket_path}"'),
            ("pid-file", f'"{self.pid_file}"'),
            ("log-error", f'"{self.log_file}"'),
            ("tmpdir", f'"{self.tmp_dir}"'),
            ("port", str(self._port)),
            ("bind-address", "127.0.0.1"),
            ("skip-name-resolve", None),
            ("skip-log-bin", None),
            ("local_infile", "1"),
            ("secure_file_priv", '""'),  # empty: server-side LOAD DATA INFILE from any path
        ]
        if os.geteuid() == 0:
            fixed.append(("user", _user_name()))  # mariadbd refuses root without --user=root
        lines = [f"# Written by qserv-py for instance {self._name}; rewritten at each start.", ""]
        lines += ["[mariadbd]", *_option_lines([*fixed, *self._settings.options()]), ""]
        lines += ["[client]", f'socket="{self.socket_path}"', "user=root", ""]
        return "\n".join(lines)


def create_template(template_dir: Path, binaries: MariaDBBinaries | None = None) -> None:
    """Run ``mariadb-install-db`` once into ``template_dir``, which instances then copy.

    No-op if the template exists and looks complete. The install goes to a temporary directory
    that is renamed into place, so a crash never leaves half a template, and two processes
    racing to create it both end with the same complete one. Only root@localhost and
    root@127.0.0.1 (empty passwords, see `MariaDBServer.set_root_password`) are kept: the
    root@<hostname> account would be wrong on any other machine and is ignored under
    skip-name-resolve anyway.
    """
    template_dir = Path(template_dir).absolute()
    if template_dir.exists():
        if _looks_complete(template_dir):
            log.debug("MariaDB template %s already exists", template_dir)
            return
        raise MariaDBError(f"{template_dir} exists but is not a complete template; delete it")
    bins = binaries or find_mariadb_binaries()
    bins.check()
    template_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{template_dir.name}.", dir=template_dir.parent))
    try:
        _run_install_db(bins, work)
        try:
            os.rename(work / "data", template_dir)
        except OSError as exc:
            if not _looks_complete(template_dir):
                raise MariaDBError(
                    f"cannot move the new template to {template_dir}: {exc}"
                ) from exc
            log.info("MariaDB template %s was created concurrently; using it", template_dir)
            return
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("MariaDB template created in %s", template_dir)


def _run_install_db(bins: MariaDBBinaries, work: Path) -> None:
    cnf = work / "install.cnf"
    opts: list[tuple[str, str | None]] = [
        (k, v) for k, v in DEFAULT_SETTINGS.options() if k.startswith("innodb_")
    ]
    opts.append(("skip-log-bin", None))
    if os.geteuid() == 0:
        opts.append(("user", _user_name()))
    cnf.write_text("\n".join(["[mariadbd]", *_option_lines(opts), ""]))
    cleanup = work / "cleanup.sql"
    cleanup.write_text(
        "DELETE FROM mysql.global_priv WHERE User = 'root' AND Host NOT IN "
        "('localhost', '127.0.0.1');\n"
        "DELETE FROM mysql.proxies_priv WHERE User = 'root' AND Host <> 'localhost';\n"
    )
    argv = [
        str(bins.install_db),
        f"--defaults-file={cnf}",  # first: read no /etc/mysql file
        f"--datadir={work / 'data'}",
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
        "--skip-name-resolve",
        f"--extra-file={cleanup}",
    ]
    if os.geteuid() == 0:
        argv.append(f"--user={_user_name()}")
    output = work / "install.log"
    with output.open("wb") as out:
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
            )
        except OSError as exc:
            raise MissingMariaDB(f"cannot run {bins.install_db}: {exc}; {INSTALL_HINT}") from exc
        with proc:
            try:
                rc = proc.wait(_INSTALL_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # the script and its bootstrap mariadbd
                proc.wait()
                rc = None
    if rc != 0 or not _looks_complete(work / "data"):
        what = "timed out" if rc is None else f"exited with status {rc}"
        raise MariaDBError(
            f"{bins.install_db} {what}; its output ends with:\n{_log_tail(output, 0)}"
        )


def _option_lines(options: Sequence[tuple[str, str | None]]) -> list[str]:
    return [key if value is None else f"{key}={value}" for key, value in options]


def _looks_complete(datadir: Path) -> bool:
    return all((datadir / name).is_file() for name in _TEMPLATE_FILES)


def _copy_tree(src: Path, dst: Path) -> None:
    """``cp -a``: keeps modes, times and sparse files, and reflinks where the filesystem can."""
    cp = shutil.which("cp")
    if cp is None:
        shutil.copytree(src, dst, symlinks=True)
        return
    result = subprocess.run(
        [cp, "-a", "--", str(src), str(dst)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=_COPY_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise MariaDBError(f"copying {src} to {dst} failed: {result.stderr.strip()}")


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def _user_name() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def _check_port_free(port: int, name: str) -> None:
    if not _port_is_free(port):
        raise PortInUse(
            f"port 127.0.0.1:{port} for mariadbd {name} is in use by another process; pick "
            f"another port or stop that process (`ss -ltnp 'sport = :{port}'` shows it)"
        )


def _port_is_free(port: int) -> bool:
    """Try to bind 127.0.0.1:port. SO_REUSEADDR, as mariadbd uses it: TIME_WAIT sockets left by
    a previous run do not count, a listener does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _spawn_mariadbd(argv: list[str], log_file: Path) -> int:
    try:
        return spawn_detached(argv, log_file)
    except OSError as exc:
        raise MissingMariaDB(f"cannot run {argv[0]}: {exc}; {INSTALL_HINT}") from exc


def _log_tail(path: Path, offset: int, lines: int = _LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines written to ``path`` after ``offset`` (this run's part)."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(offset if offset <= size else 0, size - 65536))
            text = f.read().decode(errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(nothing logged)"

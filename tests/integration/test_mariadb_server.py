"""Private mariadbd instances (qserv_py.cluster.mariadb) against the real server binary.

One template per module, as in local mode: copies are cheap, installs are not
(reference/stack-measurements.md §4).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncmy
import pytest
from asyncmy.errors import OperationalError

from qserv_py.cluster.mariadb import (
    MariaDBBinaries,
    MariaDBError,
    MariaDBServer,
    MariaDBSettings,
    MissingMariaDB,
    PortInUse,
    create_template,
    find_mariadb_binaries,
)
from tests.ports import free_port

pytestmark = pytest.mark.cluster

PASSWORD = "pa'ss\\word"  # a quote and a backslash check the escaping in set_root_password

MakeServer = Callable[..., MariaDBServer]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mariadb") / "template"
    create_template(path)
    return path


@pytest.fixture
async def make_server(template: Path, tmp_path: Path) -> AsyncIterator[MakeServer]:
    """Initialised servers on free ports; every one is stopped (or killed) at teardown."""
    made: list[MariaDBServer] = []

    def make(name: str, port: int | None = None, **kwargs: Any) -> MariaDBServer:
        taken = {s.port for s in made}
        while port is None or port in taken:
            port = free_port()
        server = MariaDBServer(name, tmp_path, port, **kwargs)
        server.initialise(template)
        made.append(server)
        return server

    try:
        yield make
    finally:
        results = await asyncio.gather(*(s.stop(timeout=10) for s in made), return_exceptions=True)
        for server, result in zip(made, results, strict=True):
            if isinstance(result, BaseException):
                server.abort()
        for result in results:
            if isinstance(result, BaseException):
                raise result


async def query(
    server: MariaDBServer, sql: str, args: tuple[Any, ...] | None = None
) -> tuple[tuple[Any, ...], ...]:
    """Run one statement as root over TCP, with the password."""
    async with asyncio.timeout(10):
        conn = await asyncmy.connect(**server.connect_args(PASSWORD), autocommit=True)
        try:
            async with conn.cursor() as cur:
                await cur.execute(sql, args)
                return tuple(await cur.fetchall())
        finally:
            await conn.ensure_closed()


def mariadbd_pids(server: MariaDBServer) -> list[int]:
    """Every process started with this server's my.cnf, whatever its pid file says."""
    wanted = f"--defaults-file={server.config_file}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and wanted in (entry / "cmdline").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def assert_nothing_left(server: MariaDBServer) -> None:
    assert server.running_pid() is None
    assert not server.pid_file.exists()
    assert mariadbd_pids(server) == []


async def test_two_instances_start_in_parallel_and_answer(make_server: MakeServer) -> None:
    a, b = make_server("a"), make_server("b")
    await asyncio.gather(a.start(), b.start())
    await asyncio.gather(a.set_root_password(PASSWORD), b.set_root_password(PASSWORD))
    assert await query(a, "SELECT 1, @@port") == ((1, a.port),)
    assert await query(b, "SELECT 1, @@port") == ((1, b.port),)


async def test_settings_reach_the_server(make_server: MakeServer) -> None:
    settings = MariaDBSettings(max_connections=123)
    server = make_server("cfg", settings=settings)
    await server.start()
    await server.set_root_password(PASSWORD)
    rows = await query(
        server,
        "SELECT @@max_connections, @@table_open_cache, @@max_allowed_packet, @@log_bin, "
        "@@bind_address, @@skip_name_resolve, @@local_infile, @@default_storage_engine, "
        "@@sql_mode",
    )
    assert rows == (
        (
            123,
            settings.table_open_cache,
            64 * 1024 * 1024,
            0,
            "127.0.0.1",
            1,
            1,
            "InnoDB",
            settings.sql_mode,
        ),
    )


async def test_root_password_is_required_and_setting_it_is_idempotent(
    make_server: MakeServer,
) -> None:
    server = make_server("pw")
    await server.start()
    await server.set_root_password(PASSWORD)
    await server.set_root_password(PASSWORD)
    with pytest.raises(MariaDBError, match="password other than the given one"):
        await server.set_root_password("not the password")
    with pytest.raises(OperationalError) as denied:
        async with asyncio.timeout(10):
            await asyncmy.connect(**server.connect_args("wrong"))
    assert denied.value.args[0] == 1045


async def test_stop_then_start_keeps_data(make_server: MakeServer) -> None:
    server = make_server("keep")
    await server.start()
    await server.set_root_password(PASSWORD)
    await query(server, "CREATE DATABASE d")
    await query(server, "CREATE TABLE d.t (id INT PRIMARY KEY, x DOUBLE)")
    await query(server, "INSERT INTO d.t VALUES (1, 0.5), (2, 1.5)")
    await server.stop()
    assert_nothing_left(server)
    await server.start()
    assert await query(server, "SELECT id, x FROM d.t ORDER BY id") == ((1, 0.5), (2, 1.5))


async def test_busy_port_gives_port_in_use_and_leaves_nothing(make_server: MakeServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        server = make_server("busy", port=listener.getsockname()[1])
        with pytest.raises(PortInUse, match=f"127.0.0.1:{server.port}"):
            await server.start()
    assert_nothing_left(server)


async def test_stale_pid_file_of_a_dead_process_is_removed(
    make_server: MakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    with subprocess.Popen(["true"]) as gone:
        pass
    server = make_server("dead")
    server.pid_file.write_text(f"{gone.pid}\n")
    assert server.running_pid() is None
    with caplog.at_level(logging.WARNING, logger="qserv_py.cluster.mariadb"):
        await server.start()
    assert f"stale pid file {server.pid_file} (pid {gone.pid} is not running)" in caplog.text
    assert server.running_pid() not in (None, gone.pid)


async def test_stale_pid_file_of_another_live_process_is_removed(
    make_server: MakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = make_server("other")
    server.pid_file.write_text(f"{os.getpid()}\n")  # alive, but pytest is not mariadbd
    assert server.running_pid() is None
    with caplog.at_level(logging.WARNING, logger="qserv_py.cluster.mariadb"):
        await server.start()
    assert f"(pid {os.getpid()} is not mariadbd of {server.data_dir})" in caplog.text
    assert server.running_pid() not in (None, os.getpid())
    assert await server.ping()


async def test_missing_binaries_say_how_to_install(make_server: MakeServer, tmp_path: Path) -> None:
    bogus = MariaDBBinaries(
        mariadbd=tmp_path / "none" / "mariadbd", install_db=tmp_path / "none" / "mariadb-install-db"
    )
    hint = "apt-get install mariadb-server mariadb-client"
    with pytest.raises(MissingMariaDB, match=hint):
        create_template(tmp_path / "template", bogus)
    assert not (tmp_path / "template").exists()
    with pytest.raises(MissingMariaDB, match=hint):
        find_mariadb_binaries(search_path=str(tmp_path))
    server = make_server("nobin", binaries=bogus)
    with pytest.raises(MissingMariaDB, match=hint):
        await server.start()
    assert_nothing_left(server)


async def test_start_is_idempotent(make_server: MakeServer) -> None:
    server = make_server("twice")
    await server.start()
    pid = server.running_pid()
    await server.start()
    assert pid is not None
    assert server.running_pid() == pid
    assert mariadbd_pids(server) == [pid]


async def test_stop_is_idempotent(make_server: MakeServer) -> None:
    server = make_server("stops")
    await server.stop()  # never started
    await server.start()
    assert await server.ping()
    await server.stop()
    await server.stop()
    assert not await server.ping()
    assert_nothing_left(server)


async def test_server_side_load_data_infile(make_server: MakeServer, tmp_path: Path) -> None:
    data = tmp_path / "chunk_1234.tsv"
    data.write_text("".join(f"{i}\t{i * 0.25}\n" for i in range(1000)))
    server = make_server("load")
    await server.start()
    await server.set_root_password(PASSWORD)
    await query(server, "CREATE DATABASE LSST")
    await query(server, "CREATE TABLE LSST.Object_1234 (id BIGINT, x DOUBLE) ENGINE=MyISAM")
    await query(server, "LOAD DATA INFILE %s INTO TABLE LSST.Object_1234", (str(data),))
    assert await query(server, "SELECT COUNT(*), SUM(x) FROM LSST.Object_1234") == (
        (1000, 0.25 * 999 * 1000 / 2),
    )


async def test_death_during_start_reports_the_error_log(make_server: MakeServer) -> None:
    server = make_server("bad", settings=MariaDBSettings(extra_options=(("no_such_option", "1"),)))
    with pytest.raises(MariaDBError, match="unknown variable 'no_such_option=1'"):
        await server.start()
    assert_nothing_left(server)


async def test_server_outlives_the_process_that_started_it(make_server: MakeServer) -> None:
    server = make_server("detached")
    code = (
        "import asyncio, sys; from pathlib import Path; "
        "from qserv_py.cluster.mariadb import MariaDBServer; "
        "asyncio.run(MariaDBServer(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])).start())"
    )
    argv = [sys.executable, "-c", code, server.name, str(server.instance_dir.parent)]
    await asyncio.to_thread(subprocess.run, [*argv, str(server.port)], check=True, timeout=30)
    pid = server.running_pid()
    assert pid is not None
    assert await server.ping()
    await server.stop()  # not our child: stop polls /proc instead of reaping
    assert_nothing_left(server)


def test_existing_template_is_kept_and_a_broken_one_refused(template: Path, tmp_path: Path) -> None:
    before = (template / "ibdata1").stat().st_mtime_ns
    create_template(template)
    assert (template / "ibdata1").stat().st_mtime_ns == before
    broken = tmp_path / "broken"
    broken.mkdir()
    with pytest.raises(MariaDBError, match="not a complete template"):
        create_template(broken)


async def test_start_past_its_deadline_kills_the_server(make_server: MakeServer) -> None:
    server = make_server("late")
    with pytest.raises(MariaDBError, match="did not answer within"):
        await server.start(timeout=0.001)
    assert_nothing_left(server)


async def test_killed_server_leaves_nothing_and_starts_again(make_server: MakeServer) -> None:
    server = make_server("killed")
    await server.start()
    await server.stop(timeout=0)  # no time for a clean shutdown: SIGKILL
    assert_nothing_left(server)
    assert not server.socket_path.exists()
    await server.start()
    server.abort()
    assert_nothing_left(server)
    await server.start()  # InnoDB recovers from both kills
    assert await server.ping()

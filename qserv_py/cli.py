"""The ``qserv-py`` command: run a local cluster, load catalogs, inspect it."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from qserv_py.cluster.config import DEFAULT_BASE_PORT, ClusterConfig, ConfigError, default_data_dir
from qserv_py.cluster.local import ClusterError, LocalCluster
from qserv_py.cluster.mariadb import MariaDBError
from qserv_py.ingest.errors import IngestError
from qserv_py.logs import configure_logging
from qserv_py.rpc.errors import RpcError

USER_ERRORS = (ConfigError, ClusterError, MariaDBError, IngestError, RpcError)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _run(coro: Coroutine[Any, Any, int]) -> int:
    try:
        return asyncio.run(coro)
    except USER_ERRORS as exc:
        _say(f"qserv-py: error: {exc}")
        return 1
    except KeyboardInterrupt:
        _say("qserv-py: interrupted")
        return 130


def _config_for_up(args: argparse.Namespace) -> ClusterConfig:
    data_dir: Path = args.data_dir
    try:
        config = ClusterConfig.load(data_dir)
    except ConfigError:
        if (data_dir / "cluster.json").exists():
            raise
        config = ClusterConfig.new(data_dir, args.workers or 2, args.base_port or DEFAULT_BASE_PORT)
        config.save()
        return config
    if args.workers and args.workers != len(config.workers):
        raise ConfigError(
            f"the cluster in {data_dir} has {len(config.workers)} workers; use that number, or"
            " another --data-dir for a new cluster"
        )
    if args.base_port and args.base_port != config.base_port:
        raise ConfigError(f"the cluster in {data_dir} uses base port {config.base_port}")
    return config


def connection_help(config: ClusterConfig) -> str:
    user = next(iter(config.users))
    return (
        f"cluster in {config.data_dir}: {len(config.workers)} workers, czar on port"
        f" {config.frontend_port}\n"
        f"  connect: mysql -h 127.0.0.1 -P {config.frontend_port} -u {user} --skip-ssl\n"
        f"  status:  qserv-py status --data-dir {config.data_dir}\n"
        f"  stop:    qserv-py down --data-dir {config.data_dir}"
    )


async def cmd_up(args: argparse.Namespace) -> int:
    config = _config_for_up(args)
    cluster = LocalCluster(config, _say)
    started = time.monotonic()
    await cluster.up()
    _say(f"cluster up in {time.monotonic() - started:.1f} s")
    _say(connection_help(config))
    return 0


async def cmd_down(args: argparse.Namespace) -> int:
    config = ClusterConfig.load(args.data_dir)
    await LocalCluster(config, _say).down()
    _say(f"cluster in {config.data_dir} stopped")
    return 0


async def cmd_status(args: argparse.Namespace) -> int:
    config = ClusterConfig.load(args.data_dir)
    statuses = await LocalCluster(config).status()
    print(f"{'component':<12} {'kind':<9} {'pid':>8} {'port':>6}  health")
    for s in statuses:
        pid = str(s.pid) if s.pid else "-"
        health = ("ok: " if s.healthy else "DOWN: ") + s.detail
        print(f"{s.name:<12} {s.kind:<9} {pid:>8} {s.port:>6}  {health}")
    return 0 if all(s.healthy for s in statuses) else 1


class _ProgressLine:
    """A one-line progress report on a terminal; silent when stderr is not a terminal."""

    def __init__(self) -> None:
        self._enabled = sys.stderr.isatty()
        self._started = time.monotonic()
        self._last = 0.0
        self._table = ""

    def __call__(self, table: str, rows: int, done_bytes: int) -> None:
        now = time.monotonic()
        if not self._enabled or (now - self._last < 0.5 and table == self._table):
            return
        if table != self._table:
            self._started, self._table = now, table
            sys.stderr.write("\n")
        self._last = now
        rate = rows / max(now - self._started, 1e-6)
        sys.stderr.write(
            f"\r  {table}: {rows:,} rows, {done_bytes / 1e6:,.0f} MB read, {rate:,.0f} rows/s"
        )
        sys.stderr.flush()

    def done(self) -> None:
        if self._enabled and self._table:
            sys.stderr.write("\n")


async def cmd_ingest(args: argparse.Namespace) -> int:
    from qserv_py.ingest.description import read_database, read_table
    from qserv_py.ingest.loader import TableInput, ingest

    config = ClusterConfig.load(args.data_dir)
    database = read_database(args.database)
    tables = [
        TableInput(read_table(Path(group[0])), tuple(Path(f) for f in group[1:]))
        for group in args.table
    ]
    progress = _ProgressLine()
    try:
        report = await ingest(config, database, tables, replicas=args.replicas, progress=progress)
    finally:
        progress.done()
    for name, rows in report.rows.items():
        chunks = report.chunks.get(name)
        where = f" in {chunks} chunks" if chunks is not None else " on every worker"
        _say(f"  {database.name}.{name}: {rows:,} rows{where}")
    _say(f"ingest transaction {report.txn} committed in {report.seconds:.1f} s")
    return 0


async def cmd_drop(args: argparse.Namespace) -> int:
    from qserv_py.ingest.drop import drop

    config = ClusterConfig.load(args.data_dir)
    database, _, table = args.name.partition(".")
    dropped = await drop(config, database, table or None)
    _say(f"dropped {', '.join(f'{database}.{t}' for t in dropped) or database}")
    return 0


async def cmd_scan_rating(args: argparse.Namespace) -> int:
    """Show scan ratings, or set one table's (docs/shared-scans.md)."""
    import asyncmy

    from qserv_py.czar.metadata import catalog
    from qserv_py.ingest.loader import czar_db_args

    config = ClusterConfig.load(args.data_dir)
    database, _, table = (args.name or "").partition(".")
    if args.rating is not None and not table:
        _say("qserv-py: error: give DB.TABLE to set a scan rating")
        return 2
    conn = await asyncmy.connect(**czar_db_args(config))
    try:
        await catalog.ensure_schema(conn)
        if args.rating is not None:
            try:
                found = await catalog.set_scan_rating(conn, database, table, args.rating)
            except ValueError as exc:
                _say(f"qserv-py: error: {exc}")
                return 2
            if not found:
                _say(f"qserv-py: error: no table {database}.{table} in the catalog")
                return 1
        ratings = await catalog.get_scan_ratings(conn, database or None)
    finally:
        conn.close()
    shown = [r for r in ratings if not table or r[1] == table]
    if args.name and not shown:
        _say(f"qserv-py: error: no table {args.name} in the catalog")
        return 1
    for db, name, rating in shown:
        print(f"{db}.{name}\t{rating}")
    return 0


async def cmd_demo(args: argparse.Namespace) -> int:
    from qserv_py.demo.loading import load_demo

    config = _config_for_up(args)
    await LocalCluster(config, _say).up()
    await load_demo(config, args.objects, args.seed, args.replicas, _say, _ProgressLine())
    _say(connection_help(config))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qserv-py", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_data_dir(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--data-dir",
            type=Path,
            default=default_data_dir(),
            help="cluster directory (default: $QSERV_PY_DATA_DIR or ~/.qserv-py)",
        )
        return p

    def with_cluster_shape(p: argparse.ArgumentParser) -> None:
        p.add_argument("--workers", type=int, help="number of workers of a new cluster (2)")
        p.add_argument(
            "--base-port", type=int, help=f"czar port; others follow ({DEFAULT_BASE_PORT})"
        )

    up = with_data_dir(sub.add_parser("up", help="start the local cluster (create it if new)"))
    with_cluster_shape(up)
    up.set_defaults(func=cmd_up)
    with_data_dir(sub.add_parser("down", help="stop the local cluster")).set_defaults(func=cmd_down)
    with_data_dir(sub.add_parser("status", help="show each process and its health")).set_defaults(
        func=cmd_status
    )

    ing = with_data_dir(sub.add_parser("ingest", help="load tables (Qserv ingest JSON + data)"))
    ing.add_argument("--database", type=Path, required=True, help="database description JSON")
    ing.add_argument(
        "--table",
        nargs="+",
        action="append",
        required=True,
        metavar=("TABLE_JSON", "DATA_FILE"),
        help="a table description JSON then its data files (CSV/TSV, .gz); repeat per table,"
        " directors before their children",
    )
    ing.add_argument("--replicas", type=int, default=1, help="workers holding each chunk (1)")
    ing.set_defaults(func=cmd_ingest)

    drp = with_data_dir(sub.add_parser("drop", help="drop DB.TABLE, or a whole DB"))
    drp.add_argument("name", help="DB or DB.TABLE")
    drp.set_defaults(func=cmd_drop)

    rating = with_data_dir(
        sub.add_parser(
            "scan-rating",
            help="show scan ratings (DB or DB.TABLE), or set one: scan-rating DB.TABLE N",
            description="A table's scan rating (0-100: fast 0-10, medium 11-20, slow 21-30,"
            " snail 31-100) picks the workers' shared-scan lane of queries scanning it.",
        )
    )
    rating.add_argument("name", nargs="?", help="DB or DB.TABLE (default: every table)")
    rating.add_argument("rating", nargs="?", type=int, help="new rating for DB.TABLE (0-100)")
    rating.set_defaults(func=cmd_scan_rating)

    demo = with_data_dir(sub.add_parser("demo", help="start the cluster and load the demo catalog"))
    with_cluster_shape(demo)
    demo.add_argument("--objects", type=int, default=1_000_000, help="Object rows (1,000,000)")
    demo.add_argument("--seed", type=int, default=20260425, help="random seed")
    demo.add_argument("--replicas", type=int, default=1)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(10 if args.verbose else 30)
    for group in getattr(args, "table", None) or []:
        if len(group) < 2:
            _say(f"qserv-py: error: --table {group[0]} needs at least one data file after it")
            return 2
    return _run(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

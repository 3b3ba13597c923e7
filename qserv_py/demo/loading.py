"""``qserv-py demo``: write the demo catalog (once per size and seed) and ingest it (once)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import asyncmy

from qserv_py.cluster.config import ClusterConfig
from qserv_py.cluster.local import LocalCluster
from qserv_py.czar.metadata import catalog
from qserv_py.demo.catalog import DemoCatalog, read_demo_catalog, write_demo_catalog
from qserv_py.ingest.description import read_database, read_table
from qserv_py.ingest.loader import Progress, TableInput, czar_db_args, ingest


def demo_directory(config: ClusterConfig, num_objects: int, seed: int) -> Path:
    return config.data_dir / "demo" / f"objects{num_objects}-seed{seed}"


def ensure_demo_files(
    directory: Path, num_objects: int, seed: int, say: Callable[[str], None]
) -> DemoCatalog:
    try:
        return read_demo_catalog(directory)
    except (FileNotFoundError, ValueError):
        say(f"writing the demo catalog ({num_objects:,} objects, seed {seed}) to {directory}")
        return write_demo_catalog(directory, num_objects=num_objects, seed=seed)


async def load_demo(
    config: ClusterConfig,
    num_objects: int,
    seed: int,
    replicas: int,
    say: Callable[[str], None],
    progress: Progress | None = None,
) -> DemoCatalog:
    demo = ensure_demo_files(demo_directory(config, num_objects, seed), num_objects, seed, say)
    database = read_database(demo.database_json)
    conn = await asyncmy.connect(**czar_db_args(config))
    try:
        await catalog.ensure_schema(conn)
        present = set(await catalog.get_tables(conn, database.name))
    finally:
        conn.close()
    wanted = [t for t in demo.tables if t.name not in present]
    if not wanted:
        say(f"demo catalog {database.name} is already loaded")
    else:
        say(f"ingesting {', '.join(t.name for t in wanted)} into {database.name}")
        tables = [TableInput(read_table(t.description_json), t.data_files) for t in wanted]
        report = await ingest(config, database, tables, replicas=replicas, progress=progress)
        if progress is not None and hasattr(progress, "done"):
            progress.done()
        for name, rows in report.rows.items():
            say(f"  {database.name}.{name}: {rows:,} rows")
        say(f"demo catalog loaded in {report.seconds:.1f} s")
    options = LocalCluster(config).client_options_file(config.workers[0].name)
    say(
        f"connect to the czar: mysql -h 127.0.0.1 -P {config.frontend_port} -u"
        f" {next(iter(config.users))} --skip-ssl {database.name}\n"
        "  e.g. SELECT COUNT(*) FROM Object WHERE qserv_areaspec_circle(62.0, -37.0, 0.5);\n"
        f"look at the chunk tables on a worker: mariadb --defaults-extra-file={options}"
        f" -e 'SHOW TABLES FROM {database.name}'"
    )
    return demo

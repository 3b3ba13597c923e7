"""The set-up the query benchmarks share: a fresh 2-worker cluster with the demo catalog, and
one plain MariaDB (same settings) holding the same tables unpartitioned, as the baseline.

Used as ``with demo_and_baseline(objects, seed, password, tables) as setup:``; everything
started is stopped, and the work directory removed, when the block ends, however it ends.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from qserv_py.cluster.local import LocalCluster  # noqa: E402
from qserv_py.cluster.mariadb import MariaDBServer, create_template  # noqa: E402
from qserv_py.demo.catalog import DemoCatalog  # noqa: E402
from qserv_py.demo.loading import load_demo  # noqa: E402
from tests.cluster_support import new_cluster  # noqa: E402
from tests.oracle import Oracle, schema_from_ingest_json  # noqa: E402
from tests.ports import free_port  # noqa: E402

DB = "demo_dp02"


@dataclass(frozen=True)
class DemoSetup:
    work: Path
    cluster: LocalCluster
    catalog: DemoCatalog
    baseline: MariaDBServer
    oracle: Oracle


@contextmanager
def demo_and_baseline(
    objects: int, seed: int, password: str, tables: Collection[str] | None = None
) -> Iterator[DemoSetup]:
    """The cluster with ``objects`` demo objects, and the baseline with ``tables`` of them
    (all when None; each must be in one data file)."""
    work = Path(tempfile.mkdtemp(prefix="qserv-bench-"))
    cluster = new_cluster(work / "cluster", 2)
    baseline = MariaDBServer("baseline", work / "baseline", free_port())
    try:
        asyncio.run(cluster.up())
        catalog = asyncio.run(load_demo(cluster.config, objects, seed, 1, print))
        create_template(cluster.config.mariadb_dir / "template")
        baseline.initialise(cluster.config.mariadb_dir / "template")
        asyncio.run(baseline.start())
        asyncio.run(baseline.set_root_password(password))
        oracle = Oracle(baseline, password)
        for table in catalog.tables:
            if tables is not None and table.name not in tables:
                continue
            if len(table.data_files) != 1:
                raise RuntimeError(f"the benchmarks expect one data file for {table.name}")
            name, create = schema_from_ingest_json(table.description_json)
            oracle.load_table(DB, create, name, table.data_files[0], table.description_json, work)
        yield DemoSetup(work, cluster, catalog, baseline, oracle)
    finally:
        asyncio.run(cluster.down())
        asyncio.run(baseline.stop())
        shutil.rmtree(work, ignore_errors=True)

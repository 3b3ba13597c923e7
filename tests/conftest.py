"""Session fixtures: one local cluster and one oracle MariaDB for the whole test session."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from qserv_py.cluster.local import LocalCluster
from qserv_py.cluster.mariadb import MariaDBServer, create_template
from qserv_py.demo.catalog import DemoCatalog
from qserv_py.demo.loading import load_demo
from qserv_py.ingest.description import read_database
from qserv_py.ingest.loader import ingest
from tests.cluster_support import free_base_port, new_cluster
from tests.integration.itest_cases import ItestCase, load_case
from tests.oracle import Oracle, schema_from_ingest_json


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("qserv")


@pytest.fixture(scope="session")
def cluster(session_dir: Path) -> Iterator[LocalCluster]:
    """A two-worker local cluster, started once per session and stopped at the end."""
    local = new_cluster(session_dir / "cluster", num_workers=2)
    try:
        asyncio.run(local.up())
        yield local
    finally:
        asyncio.run(local.down())


@pytest.fixture(scope="session")
def oracle(session_dir: Path, cluster: LocalCluster) -> Iterator[Oracle]:
    """A plain MariaDB holding the same data unpartitioned."""
    template = cluster.config.mariadb_dir / "template"
    create_template(template)
    server = MariaDBServer("oracle", session_dir / "oracle", free_base_port(0))
    server.initialise(template)
    password = "oracle-password"

    async def start() -> None:
        await server.start()
        await server.set_root_password(password)

    try:
        asyncio.run(start())
        yield Oracle(server, password)
    finally:
        asyncio.run(server.stop())


DEMO_OBJECTS = 3000
Demo = tuple[DemoCatalog, list[str]]


@pytest.fixture(scope="session")
def demo_loaded(
    cluster: LocalCluster, oracle: Oracle, tmp_path_factory: pytest.TempPathFactory
) -> Demo:
    """The demo catalog (small) in the cluster and, unpartitioned, in the oracle."""
    messages: list[str] = []
    catalog = asyncio.run(load_demo(cluster.config, DEMO_OBJECTS, 7, 1, messages.append))
    scratch = tmp_path_factory.mktemp("demo-oracle")
    database = read_database(catalog.database_json).name
    for table in catalog.tables:
        name, create = schema_from_ingest_json(table.description_json)
        oracle.load_table(
            database, create, name, table.data_files[0], table.description_json, scratch
        )
    return catalog, messages


ITEST_CASES = ("case01", "case02", "case03", "case04")


@pytest.fixture(scope="session")
def itest_loaded(
    cluster: LocalCluster, oracle: Oracle, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, ItestCase]:
    """Qserv's itest cases ingested into the cluster and loaded into the oracle, once."""
    loaded = {}
    scratch = tmp_path_factory.mktemp("oracle-data")
    for name in ITEST_CASES:
        case = load_case(name)
        database = read_database(case.database_json)
        asyncio.run(ingest(cluster.config, database, list(case.inputs)))
        for item in case.inputs:
            path = case.root / "data" / "ingest" / f"{item.description.name}.json"
            table, create = schema_from_ingest_json(path)
            case_scratch = scratch / name
            case_scratch.mkdir(exist_ok=True)
            oracle.load_table(database.name, create, table, item.files[0], path, case_scratch)
        loaded[name] = case
    return loaded

"""Starting real local clusters and a plain MariaDB oracle for the integration tests."""

from __future__ import annotations

import gzip
import shutil
import socket
from pathlib import Path
from typing import Any

import pymysql

from qserv_py.cluster.config import HOST, ClusterConfig
from qserv_py.cluster.local import CZAR_DB, LocalCluster

QSERV_ITEST = Path(__file__).resolve().parents[2] / "shared" / "qserv-itest"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def free_base_port(num_workers: int) -> int:
    """A base port whose whole span (czar, czar db, workers' MariaDB and RPC) is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        start = int(sock.getsockname()[1])
    for base in list(range(start - start % 100, 60000, 100)) + list(range(20000, 60000, 100)):
        ports = [base, base + 1] + [base + 10 + k for k in range(2 * num_workers)]
        if all(_port_free(p) for p in ports):
            return base
    raise RuntimeError("no free port range for a test cluster")


def new_cluster(data_dir: Path, num_workers: int) -> LocalCluster:
    config = ClusterConfig.new(data_dir, num_workers, free_base_port(num_workers))
    config.save()
    return LocalCluster(config)


def czar_db(cluster: LocalCluster) -> pymysql.connections.Connection[Any]:
    args = cluster.mariadb(CZAR_DB).connect_args(cluster.config.mariadb_password)
    return pymysql.connect(**args, autocommit=True)


def worker_db(cluster: LocalCluster, name: str) -> pymysql.connections.Connection[Any]:
    args = cluster.mariadb(name).connect_args(cluster.config.mariadb_password)
    return pymysql.connect(**args, autocommit=True, local_infile=True)


def query(
    conn: pymysql.connections.Connection[Any], sql: str, args: Any = None
) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def gunzip_to(path: Path, directory: Path) -> Path:
    """Decompress ``path`` into ``directory`` (server-side LOAD DATA reads plain files)."""
    target = directory / path.name.removesuffix(".gz")
    if not target.exists():
        with gzip.open(path, "rb") as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst)
    return target

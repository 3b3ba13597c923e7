"""``python -m qserv_py.worker --data-dir DIR --name worker-0``: one worker of a local cluster."""

from __future__ import annotations

import argparse
from pathlib import Path

from qserv_py.cluster.config import HOST, ClusterConfig
from qserv_py.cluster.mariadb import MariaDBServer
from qserv_py.service import run_service, serve_until_signalled
from qserv_py.worker.database import DatabaseAddress
from qserv_py.worker.server import Worker


async def run(data_dir: Path, name: str) -> None:
    config = ClusterConfig.load(data_dir)
    worker_config = config.worker(name)
    server = MariaDBServer(name, config.mariadb_dir, worker_config.mariadb_port)
    address = DatabaseAddress(str(server.socket_path), "root", config.mariadb_password)
    worker = Worker(name, address, config.worker_dir(name), config.rpc_secret)
    await serve_until_signalled(lambda: worker.start(HOST, worker_config.rpc_port), worker.close)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m qserv_py.worker")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    run_service(run(args.data_dir, args.name))


if __name__ == "__main__":
    main()

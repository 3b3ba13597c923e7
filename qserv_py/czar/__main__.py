"""``python -m qserv_py.czar --data-dir DIR --name czar``: the czar of a local cluster."""

from __future__ import annotations

import argparse
from pathlib import Path

from qserv_py.cluster.config import HOST, ClusterConfig
from qserv_py.czar.server import Czar
from qserv_py.service import run_service, serve_until_signalled


async def run(data_dir: Path) -> None:
    config = ClusterConfig.load(data_dir)
    czar = Czar(config)
    await serve_until_signalled(lambda: czar.start(HOST, config.frontend_port), czar.close)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m qserv_py.czar")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--name", default="czar", help="process name, for pid files")
    args = parser.parse_args()
    run_service(run(args.data_dir))


if __name__ == "__main__":
    main()

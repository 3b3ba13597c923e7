"""``python -m qserv_py.czar --data-dir DIR --name czar``: the czar of a local cluster."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from qserv_py.cluster.config import HOST, ClusterConfig
from qserv_py.czar.server import Czar
from qserv_py.logs import configure_logging


async def run(data_dir: Path) -> None:
    config = ClusterConfig.load(data_dir)
    czar = Czar(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await czar.start(HOST, config.frontend_port)
    try:
        await stop.wait()
    finally:
        await czar.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m qserv_py.czar")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--name", default="czar", help="process name, for pid files")
    args = parser.parse_args()
    configure_logging()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(run(args.data_dir))


if __name__ == "__main__":
    main()

"""Running one qserv-py service process (worker, czar) until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from qserv_py.logs import configure_logging


async def serve_until_signalled(
    start: Callable[[], Awaitable[None]], close: Callable[[], Awaitable[None]]
) -> None:
    """``start()``, wait for SIGTERM/SIGINT, then ``close()`` (also if start fails halfway)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await start()
        await stop.wait()
    finally:
        await close()


def run_service(main: Coroutine[Any, Any, None]) -> None:
    """Logging, uvloop when installed, then the service's main coroutine."""
    configure_logging()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main)

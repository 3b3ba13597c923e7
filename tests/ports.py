"""Free TCP ports for tests that start real servers."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port on 127.0.0.1 that the kernel just handed out as free.

    Racy by nature (someone may take it before the caller binds it), but the kernel picks from
    the ephemeral range at random, so collisions between tests are rare.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port

"""Logging set-up for qserv-py processes: one line per event, with the process's name."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format=FORMAT)
    # asyncmy logs every server warning ("table already exists" after IF NOT EXISTS, ...).
    logging.getLogger("asyncmy").setLevel(logging.ERROR)

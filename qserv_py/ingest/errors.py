"""Ingest failures, each naming where the problem is so the user can fix the input and re-run."""

from __future__ import annotations

from pathlib import Path


class IngestError(RuntimeError):
    """An ingest run failed; nothing it loaded is visible to queries.

    ``line`` counts in ``unit``: input lines of a text file, rows of a Parquet file.
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        line: int | None = None,
        unit: str = "line",
    ) -> None:
        where = ""
        if path is not None:
            where = f"{path}" + (f", {unit} {line}" if line is not None else "") + ": "
        super().__init__(where + message)
        self.path = path
        self.line = line
        self.unit = unit

"""Session settings a chunk query needs beyond the defaults, added to its ``SET STATEMENT``.

A near-neighbour join (docs/query-path.md, "Joins") reads a director's chunk table and its
``<Table>FullOverlap_<chunk>`` table and pairs rows of one sub-chunk
(``a.subChunkId = b.subChunkId``). With MariaDB's default ``join_cache_level=2`` that equality
is a ``ref`` lookup on the ``subChunkId`` index, one MyISAM row read per candidate pair; with
``join_cache_level=4`` MariaDB hashes the rows on ``subChunkId`` in its join buffer (BNLH)
and reads each row once. Measured on one dense chunk (26,316 home rows, 10,670 overlap rows,
5 arcsec, 2-core VM under load): index ``ref`` 15.9 s; Qserv's per-sub-chunk MEMORY tables
(create, join, drop, 144 sub-chunks) 7.2 s; BNLH 5.4 s, and 2.9 s with the declination band
the czar adds. So no sub-chunk table is built: nothing is left behind by a task, whether it
ends, fails or is cancelled (a killed SELECT creates nothing).

The setting is scoped to the one statement (``SET STATEMENT ... FOR``), so other queries on
the pooled connection keep the server's defaults.
"""

from __future__ import annotations

import re

__all__ = ["NEAR_NEIGHBOUR_SETTINGS", "statement_settings"]

NEAR_NEIGHBOUR_SETTINGS = ("join_cache_level=4",)
_OVERLAP_TABLE = re.compile(r"FullOverlap_\d+`")


def statement_settings(sql: str) -> tuple[str, ...]:
    """The extra ``SET STATEMENT`` assignments for ``sql`` (a chunk query from the czar)."""
    return NEAR_NEIGHBOUR_SETTINGS if _OVERLAP_TABLE.search(sql) else ()

"""Scan ratings and lanes, as Qserv's BlendScheduler has them (reference/qserv-behaviour.md 4).

A table's scan rating (``qservMeta.tables.scan_rating``, set by operators with
``qserv-py scan-rating``) says how costly a scan of it is; a query's rating is the highest of its
tables', capped at ``SLOWEST``. Each rating range has its own lane (Qserv's SchedFast, SchedMed,
SchedSlow, SchedSnail) with its own bound on chunks in flight, so that a scan of a big table
never holds up scans of small ones. A query whose tasks ran longer in total than its lane's
budget is moved ("booted") to the snail lane. Interactive tasks (few chunks, director-index
lookups) have a lane of their own with its own slots, outside the scan slots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FASTEST, FAST, MEDIUM, SLOW, SLOWEST = 0, 10, 20, 30, 100  # Qserv's proto::ScanInfo::Rating
DEFAULT_RATING = 1  # qservMeta.tables.scan_rating's default: the fast lane

Policy = Literal["shared", "fifo"]
POLICIES: tuple[Policy, ...] = ("shared", "fifo")


@dataclass(frozen=True, slots=True)
class Lane:
    """One scan lane: ratings ``low..high``, at most ``max_active_chunks`` chunks in flight.

    ``max_query_seconds``: a query whose tasks in this lane ran longer than this in total (on
    this worker) is moved to the slowest lane; ``None`` for the slowest lane itself.
    """

    name: str
    low: int
    high: int
    max_active_chunks: int
    max_query_seconds: float | None


def default_lanes() -> tuple[Lane, ...]:
    """Qserv's lanes: rating ranges, ``maxactivechunks`` and ``scanmaxminutes`` (templates)."""
    return (
        Lane("fast", FASTEST, FAST, 4, 60 * 60.0),
        Lane("medium", FAST + 1, MEDIUM, 4, 480 * 60.0),
        Lane("slow", MEDIUM + 1, SLOW, 2, 720 * 60.0),
        Lane("snail", SLOW + 1, SLOWEST, 1, None),
    )


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    """A worker's scheduler settings (``scan.configure`` changes them at run time).

    ``policy``: ``shared`` (lanes and convoys) or ``fifo`` (one queue in arrival order for
    every task, the baseline of benchmarks/bench_shared_scan.py). ``scan_slots``: scan tasks
    running at once; ``interactive_slots``: interactive ones, never shared with scans.
    ``memory_bytes``: the budget for chunk table files kept in the page cache.
    """

    policy: Policy = "shared"
    scan_slots: int = 8
    interactive_slots: int = 8
    memory_bytes: int = 1 << 30
    lanes: tuple[Lane, ...] = field(default_factory=default_lanes)

    def lane_for(self, rating: int) -> Lane:
        """The lane of a query rating; ratings past the last lane go to the last lane."""
        capped = max(FASTEST, min(int(rating), SLOWEST))
        for lane in self.lanes:
            if lane.low <= capped <= lane.high:
                return lane
        return self.lanes[-1]

    @property
    def slowest(self) -> Lane:
        return self.lanes[-1]

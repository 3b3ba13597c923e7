"""Shared scans on a worker: per-chunk tasks of all queries run as chunk-ordered convoys.

- ``lanes``: scan ratings, lanes and the scheduler's configuration.
- ``events``: the events the state accepts and the instructions it returns.
- ``state``: :class:`ScanState`, the pure, synchronous scheduling decisions.
- ``memory``: chunk table files brought into / let out of the page cache, disk read counters.
- ``scheduler``: :class:`SharedScanScheduler`, the asyncio shell carrying out the instructions.

See docs/shared-scans.md.
"""

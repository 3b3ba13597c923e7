"""Interactive query latency through the czar against one plain MariaDB with the same data.

Usage: ``python benchmarks/bench_queries.py [--objects 200000] [--repeat 50]``

Starts a fresh 2-worker cluster and one plain MariaDB (same settings, MyISAM, indexes on
objectId and coord_dec, and on ForcedSource.objectId), loads the demo catalog into both, then
times, for each kind of query, ``--repeat`` runs through PyMySQL (one connection each side):

- objectId point lookup (random ids);
- light curve: the ForcedSource rows of one object;
- cone search of 0.05 deg: ``qserv_areaspec_circle`` through the czar; the baseline uses the
  same sciSQL predicate (as plain SQL) plus a ``coord_dec BETWEEN`` that its index can use;
- a full-scan aggregate with a WHERE clause;
- ``--clients`` concurrent clients (default 100) doing point lookups for ``--seconds``:
  queries/s, errors and latency percentiles. The clients run in ``CLIENT_PROCESSES``
  processes of threads, one PyMySQL connection each, against each side in turn.

Prints p50/p95 per side and the ratio baseline/qserv-py (> 1: qserv-py faster). A benchmark,
not a test: nothing asserts on time. Everything started is stopped in ``finally``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymysql

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.demo_setup import DB, demo_and_baseline  # noqa: E402
from qserv_py.czar.analysis.sql_text import to_sql  # noqa: E402
from qserv_py.czar.scisql import rewrite_scisql  # noqa: E402

CLIENT_PROCESSES = 4


def _lookup_clients(
    connect: dict[str, Any], ids: list[int], threads: int, seconds: float, seed: int, out: Any
) -> None:
    """One client process: ``threads`` connections doing point lookups until the time is up."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(threads + 1)

    def client(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        mine: list[float] = []
        try:
            conn = pymysql.connect(**connect)
        except pymysql.MySQLError as exc:
            with lock:
                errors.append(repr(exc))
            start.wait()
            return
        start.wait()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            try:
                mine.append(
                    _timed(conn, f"SELECT * FROM Object WHERE objectId = {rng.choice(ids)}")
                )
            except pymysql.MySQLError as exc:
                with lock:
                    errors.append(repr(exc))
        conn.close()
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    start.wait()
    for w in workers:
        w.join()
    out.put((latencies, errors))


def concurrent_lookups(
    connect: dict[str, Any], ids: list[int], clients: int, seconds: float
) -> tuple[float, int, float, float]:
    """(queries/s, errors, p50 ms, p95 ms) of ``clients`` concurrent point-lookup clients."""
    out: Any = multiprocessing.Queue()
    per = [
        clients // CLIENT_PROCESSES + (i < clients % CLIENT_PROCESSES)
        for i in range(CLIENT_PROCESSES)
    ]
    procs = [
        multiprocessing.Process(target=_lookup_clients, args=(connect, ids, n, seconds, i, out))
        for i, n in enumerate(per)
        if n
    ]
    for proc in procs:
        proc.start()
    latencies: list[float] = []
    errors: list[str] = []
    for _ in procs:
        got, failed = out.get()
        latencies += got
        errors += failed
    for proc in procs:
        proc.join()
    if errors:
        print(f"  {len(errors)} errors, e.g. {errors[0]}")
    latencies.sort()
    if not latencies:
        return 0.0, len(errors), float("nan"), float("nan")
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    return len(latencies) / seconds, len(errors), statistics.median(latencies), p95


def _timed(conn: Any, sql: str) -> float:
    started = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute(sql)
        cur.fetchall()
    return (time.perf_counter() - started) * 1000.0


def _cone_baseline(ra: float, dec: float, radius: float) -> str:
    import sqlglot

    predicate = to_sql(
        rewrite_scisql(
            sqlglot.parse_one(
                f"SELECT 1 WHERE scisql_s2PtInCircle(coord_ra, coord_dec, {ra}, {dec}, {radius})"
                " = 1",
                read="mysql",
            )
        )
    ).split(" WHERE ", 1)[1]
    return (
        "SELECT objectId, coord_ra, coord_dec FROM Object"
        f" WHERE coord_dec BETWEEN {dec - radius} AND {dec + radius} AND {predicate}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--seed", type=int, default=20260425)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with demo_and_baseline(args.objects, args.seed, "bench") as setup:
        cluster, baseline, oracle = setup.cluster, setup.baseline, setup.oracle
        oracle.query("ALTER TABLE Object ADD KEY (objectId), ADD KEY (coord_dec)", DB)
        oracle.query("ALTER TABLE ForcedSource ADD KEY (objectId)", DB)
        ids = [int(r[0]) for r in oracle.query("SELECT objectId FROM Object", DB)]
        rng = random.Random(1)
        czar = pymysql.connect(
            host="127.0.0.1", port=cluster.config.frontend_port, user="qsmaster", database=DB
        )
        plain = oracle.connect(DB)
        cone_centres = [(rng.uniform(52, 73), rng.uniform(-42, -30)) for _ in range(args.repeat)]
        cases: list[tuple[str, Callable[[int], str], Callable[[int], str]]] = [
            (
                "objectId lookup",
                lambda i: f"SELECT * FROM Object WHERE objectId = {ids[i % len(ids)]}",
                lambda i: f"SELECT * FROM Object WHERE objectId = {ids[i % len(ids)]}",
            ),
            (
                "light curve",
                lambda i: (
                    "SELECT forcedSourceId, band, psfFlux FROM ForcedSource"
                    f" WHERE objectId = {ids[i % len(ids)]}"
                ),
                lambda i: (
                    "SELECT forcedSourceId, band, psfFlux FROM ForcedSource"
                    f" WHERE objectId = {ids[i % len(ids)]}"
                ),
            ),
            (
                "cone 0.05 deg",
                lambda i: (
                    "SELECT objectId, coord_ra, coord_dec FROM Object WHERE"
                    f" qserv_areaspec_circle({cone_centres[i][0]}, {cone_centres[i][1]}, 0.05)"
                ),
                lambda i: _cone_baseline(cone_centres[i][0], cone_centres[i][1], 0.05),
            ),
            (
                "scan aggregate",
                lambda i: (
                    "SELECT COUNT(*), AVG(g_cModelFlux) FROM Object"
                    f" WHERE r_cModelFlux > {1000 + i}"
                ),
                lambda i: (
                    "SELECT COUNT(*), AVG(g_cModelFlux) FROM Object"
                    f" WHERE r_cModelFlux > {1000 + i}"
                ),
            ),
        ]
        rng.shuffle(ids)
        print(f"\n{args.objects:,} objects, 2 workers, {args.repeat} runs each (ms)")
        print(
            f"{'query':16} {'qserv p50':>10} {'p95':>8} {'plain p50':>10} {'p95':>8} {'ratio':>7}"
        )
        for name, ours, theirs in cases:
            repeat = args.repeat if name != "scan aggregate" else max(3, args.repeat // 10)
            _timed(czar, ours(0)), _timed(plain, theirs(0))  # warm caches
            q = sorted(_timed(czar, ours(i)) for i in range(repeat))
            b = sorted(_timed(plain, theirs(i)) for i in range(repeat))
            q50, b50 = statistics.median(q), statistics.median(b)
            q95, b95 = q[int(0.95 * (len(q) - 1))], b[int(0.95 * (len(b) - 1))]
            print(f"{name:16} {q50:10.2f} {q95:8.2f} {b50:10.2f} {b95:8.2f} {b50 / q50:7.2f}")
        czar.close()
        plain.close()
        sides = {
            "qserv-py": {"port": cluster.config.frontend_port, "user": "qsmaster"},
            "plain": {"port": baseline.port, "user": "root", "password": "bench"},
        }
        print(f"\n{args.clients} concurrent clients, point lookups for {args.seconds:g} s")
        print(f"{'side':10} {'queries/s':>10} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8}")
        for side, where in sides.items():
            connect = {"host": "127.0.0.1", "database": DB, **where}
            qps, errors, p50, p95 = concurrent_lookups(connect, ids, args.clients, args.seconds)
            print(f"{side:10} {qps:10.0f} {errors:7d} {p50:8.2f} {p95:8.2f}")


if __name__ == "__main__":
    main()

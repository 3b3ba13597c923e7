"""Shared scans against plain FIFO scheduling on the same cluster, in the same run.

Usage: ``python benchmarks/bench_shared_scan.py [--objects 100000] [--budget-mib 4]
[--counts 1,2,4,8,16]``

Starts a fresh 2-worker cluster, loads the demo catalog, and sets each worker's memory budget
for scan tables far below its share of Object (``scan.configure``), so every chunk read after
its files were let go comes from disk. Then, for each policy (``fifo``: every task in arrival
order, the baseline; ``shared``: lanes and chunk convoys) and each N of ``--counts``:

- the page cache of the demo database is dropped on every worker (``drop_cache``);
- N clients each run one full-scan aggregate on Object at the same time, while one client
  does objectId point lookups back to back;
- printed: wall time for all N, bytes read from disk by the workers' ``mariadbd`` and worker
  processes (``/proc/<pid>/io`` ``read_bytes``, via ``scan.status``), and the lookups' p50/p95.

The ratios compare N scans with one (wall, bytes) and shared with fifo. A benchmark, not a
test: nothing asserts on time. Everything started is stopped in ``finally``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pymysql

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from qserv_py.cluster.config import HOST  # noqa: E402
from qserv_py.cluster.local import LocalCluster  # noqa: E402
from qserv_py.demo.loading import load_demo  # noqa: E402
from qserv_py.rpc.client import RpcChannel  # noqa: E402
from qserv_py.rpc.errors import RpcError  # noqa: E402
from tests.cluster_support import new_cluster  # noqa: E402

DB = "demo_dp02"
SCAN = (
    "SELECT COUNT(*), SUM(r_cModelFlux), AVG(coord_dec), MAX(g_cModelFlux) FROM Object"
    " WHERE refExtendedness > 0.5 OR refExtendedness IS NULL"
)


def rpc_all(cluster: LocalCluster, method: str, **params: Any) -> list[dict[str, Any]]:
    async def call() -> list[dict[str, Any]]:
        out = []
        for worker in cluster.config.workers:
            channel = await RpcChannel.connect(HOST, worker.rpc_port, cluster.config.rpc_secret)
            try:
                result, _ = await channel.call(method, params, timeout=60)
                out.append(dict(result))
            finally:
                await channel.close()
        return out

    return asyncio.run(call())


def configure(cluster: LocalCluster, **settings: Any) -> None:
    """``scan.configure`` once the workers are idle (streams stopped early, e.g. by a LIMIT,
    finish their cleanup a moment after the client got its rows)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            rpc_all(cluster, "scan.configure", **settings)
            return
        except RpcError as exc:
            if exc.code != "busy" or time.monotonic() > deadline:
                print(rpc_all(cluster, "scan.status"))
                raise
            time.sleep(0.1)


def disk_bytes(cluster: LocalCluster) -> int:
    return sum(
        (s["mariadb_read_bytes"] or 0) + (s["worker_read_bytes"] or 0)
        for s in rpc_all(cluster, "scan.status")
    )


def connect(cluster: LocalCluster) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(
        host=HOST, port=cluster.config.frontend_port, user="qsmaster", database=DB
    )


def lookups(cluster: LocalCluster, ids: list[int], stop: threading.Event, out: list[float]) -> None:
    conn = connect(cluster)
    rng = random.Random(7)
    try:
        with conn.cursor() as cur:
            while not stop.is_set():
                started = time.perf_counter()
                cur.execute(
                    f"SELECT objectId, coord_ra FROM Object WHERE objectId = {rng.choice(ids)}"
                )
                cur.fetchall()
                out.append(time.perf_counter() - started)
    finally:
        conn.close()


def scan(cluster: LocalCluster) -> tuple[Any, ...]:
    conn = connect(cluster)
    try:
        with conn.cursor() as cur:
            cur.execute(SCAN)
            return tuple(cur.fetchall()[0])
    finally:
        conn.close()


def one_run(
    cluster: LocalCluster, policy: str, n: int, budget: int, ids: list[int]
) -> dict[str, Any]:
    configure(cluster, policy=policy, memory_bytes=budget, drop_cache=DB)
    read_before = disk_bytes(cluster)
    stop = threading.Event()
    latencies: list[float] = []
    prober = threading.Thread(target=lookups, args=(cluster, ids, stop, latencies))
    prober.start()
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=n) as pool:
            answers = list(pool.map(lambda _: scan(cluster), range(n)))
        wall = time.perf_counter() - started
    finally:
        stop.set()
        prober.join()
    read = disk_bytes(cluster) - read_before
    # sums of doubles added per chunk in another order differ in the last bits
    rounded = {tuple(float(f"{v:.9g}") if v is not None else v for v in a) for a in answers}
    assert len(rounded) == 1, f"every scan must give the same answer: {answers}"
    qs = sorted(latencies)
    p95 = qs[min(len(qs) - 1, int(0.95 * len(qs)))] if qs else float("nan")
    return {
        "wall": wall,
        "read": read,
        "p50": statistics.median(qs) if qs else float("nan"),
        "p95": p95,
        "lookups": len(qs),
        "status": rpc_all(cluster, "scan.status"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--budget-mib", type=float, default=4.0, help="per worker")
    parser.add_argument("--counts", default="1,2,4,8,16")
    parser.add_argument("--keep", action="store_true", help="leave the cluster directory")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    budget = int(args.budget_mib * (1 << 20))
    work = Path(tempfile.mkdtemp(prefix="qserv-py-bench-scan-"))
    cluster = new_cluster(work / "cluster", num_workers=2)
    try:
        asyncio.run(cluster.up())
        messages: list[str] = []
        asyncio.run(load_demo(cluster.config, args.objects, 20260425, 1, messages.append))
        conn = connect(cluster)
        with conn.cursor() as cur:
            cur.execute("SELECT objectId FROM Object WHERE coord_dec > 80 LIMIT 2000")
            ids = [int(r[0]) for r in cur.fetchall()]
        conn.close()
        object_bytes = 0
        for status in rpc_all(cluster, "scan.status"):
            datadir = Path(status["datadir"])
            object_bytes += sum(p.stat().st_size for p in (datadir / DB).glob("Object_*.MY[DI]"))
        print(
            f"# {args.objects:,} objects; Object chunk files {object_bytes / 2**20:.1f} MiB on"
            f" 2 workers; budget {args.budget_mib:g} MiB per worker; load {os.getloadavg()[0]:.1f}"
        )
        print(f"# scan: {SCAN}")
        results: dict[tuple[str, int], dict[str, Any]] = {}
        for n in counts:
            for policy in ("fifo", "shared"):
                results[(policy, n)] = r = one_run(cluster, policy, n, budget, ids)
                print(
                    f"{policy:>6} N={n:<3} wall {r['wall']:7.2f} s"
                    f"  read {r['read'] / 2**20:8.1f} MiB"
                    f"  lookups {r['lookups']:5d} p50 {r['p50'] * 1e3:7.1f} ms"
                    f" p95 {r['p95'] * 1e3:7.1f} ms",
                    flush=True,
                )
        print()
        print(
            "| N | policy | wall s | wall / N=1 | read MiB | read / N=1 | lookup p50 ms | p95 ms |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for n in counts:
            for policy in ("fifo", "shared"):
                r, one = results[(policy, n)], results[(policy, counts[0])]
                print(
                    f"| {n} | {policy} | {r['wall']:.2f} | {r['wall'] / one['wall']:.2f} |"
                    f" {r['read'] / 2**20:.1f} | {r['read'] / max(one['read'], 1):.2f} |"
                    f" {r['p50'] * 1e3:.1f} | {r['p95'] * 1e3:.1f} |"
                )
        print(f"# load average at the end: {os.getloadavg()[0]:.1f}")
    finally:
        asyncio.run(cluster.down())
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

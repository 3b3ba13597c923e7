"""Large results through the czar to the ``mariadb`` CLI, against one plain MariaDB.

Usage: ``python benchmarks/bench_streaming.py [--objects 50000] [--repeat 3]
[--large-objects 500000] [--cache-dir DIR]``

Starts a fresh 2-worker cluster and one plain MariaDB (same settings), loads the demo catalog
(``--objects``; about 20 ForcedSource rows per object, so 50 000 objects give about 1M rows)
into both, then:

1. **Throughput**: ``SELECT <the 9 ForcedSource columns> FROM ForcedSource`` through
   ``mariadb --batch ... > /dev/null``, best of ``--repeat`` runs each side, rows/s and the
   ratio qserv-py / plain MariaDB. Before timing, the outputs of both sides are compared as
   sorted lines (the czar sends chunks in arrival order): they must be byte-identical.
2. **Memory and first rows**: a second catalog of ``--large-objects`` objects (about 10M
   ForcedSource rows at the default; written once into ``--cache-dir``) is ingested into the
   cluster only, and the same query over it is read from the stdout of ``mariadb --batch
   --quick`` (without ``--quick`` the CLI stores the whole result before printing): time to the
   first row, total time, the czar's peak RSS during the query (``VmHWM`` of the czar process after
   resetting it through ``/proc/<pid>/clear_refs``) and its RSS before. ``--large-objects 0``
   skips this part.

A benchmark, not a test: nothing asserts on time. Everything started is stopped in ``finally``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.demo_setup import DB, demo_and_baseline  # noqa: E402
from qserv_py.cluster.local import LocalCluster  # noqa: E402
from qserv_py.demo.catalog import DemoCatalog, read_demo_catalog, write_demo_catalog  # noqa: E402
from qserv_py.ingest.description import read_database, read_table  # noqa: E402
from qserv_py.ingest.loader import TableInput, ingest  # noqa: E402

LARGE_DB = "bench_large"
COLUMNS = (
    "forcedSourceId, objectId, ccdVisitId, band, psfFlux, psfFluxErr, psfFlux_flag,"
    " psfDiffFlux, psfDiffFluxErr"
)
QUERY = f"SELECT {COLUMNS} FROM ForcedSource"
PASSWORD = "bench"


def _cli(port: int, user: str, password: str, database: str, sql: str) -> list[str]:
    argv = ["mariadb", "-h", "127.0.0.1", "-P", str(port), "-u", user, "--skip-ssl", "--batch"]
    if password:
        argv.append(f"-p{password}")
    return [*argv, database, "-e", sql]


def _timed_cli(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True, timeout=3600)
    return time.perf_counter() - started


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _processes(cluster: LocalCluster) -> dict[str, int]:
    """Pids of the cluster's processes by role."""
    found = {"czar": cluster.czar_process().running_pid()}
    for worker in cluster.config.workers:
        found[f"{worker.name} service"] = cluster.worker_process(worker).running_pid()
    for server in cluster.mariadb_servers():
        found[f"{server.name} mariadbd"] = server.running_pid()
    return {name: pid for name, pid in found.items() if pid is not None}


def _cpu_profile(
    cluster: LocalCluster, argv: list[str], runs: int
) -> tuple[float, dict[str, float]]:
    """Best wall time of ``runs`` CLI runs, and CPU seconds per process over all of them."""
    pids = _processes(cluster)
    before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    cli_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    best = min(_timed_cli(argv) for _ in range(runs))
    cli_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = {name: (_cpu_seconds(pid) - before[name]) / runs for name, pid in pids.items()}
    cpu["mariadb CLI"] = (
        cli_after.ru_utime + cli_after.ru_stime - cli_before.ru_utime - cli_before.ru_stime
    ) / runs
    return best, cpu


def _py_spy(cluster: LocalCluster, argv: list[str], directory: Path) -> None:
    """One more run with py-spy recording the czar and the worker services."""
    directory.mkdir(parents=True, exist_ok=True)
    pids = {n: p for n, p in _processes(cluster).items() if "mariadbd" not in n}
    spies = [
        subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--pid",
                str(pid),
                "--rate",
                "200",
                "--format",
                "speedscope",
                "-o",
                str(directory / f"{name.replace(' ', '_')}.json"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]
    time.sleep(1.0)
    _timed_cli(argv)
    for spy in spies:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    print(f"py-spy profiles (speedscope) in {directory}")


def _sorted_digest(argv: list[str]) -> tuple[int, str]:
    out = subprocess.run(argv, stdout=subprocess.PIPE, check=True, timeout=3600).stdout
    lines = out.split(b"\n")
    header, body = lines[0], sorted(lines[1:])
    digest = hashlib.sha256(header + b"\n" + b"\n".join(body)).hexdigest()
    return len(lines) - 2, digest  # minus the header and the empty string after the last \n


def _status(pid: int, key: str) -> int:
    """A ``/proc/<pid>/status`` figure in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def _czar_pid(cluster: LocalCluster) -> int:
    pid = cluster.czar_process().running_pid()
    if pid is None:
        raise RuntimeError("the czar is not running")
    return pid


def _stream_large(argv: list[str], pid: int) -> dict[str, float]:
    """Run the CLI, read its stdout as it comes; time to first row, total, rows, RSS samples."""
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            samples.append(_status(pid, "VmRSS"))

    sampler = threading.Thread(target=sample, daemon=True)
    rss_before = _status(pid, "VmRSS")
    _reset_peak(pid)
    started = time.perf_counter()
    sampler.start()
    first_row = 0.0
    lines = 0
    with subprocess.Popen(argv, stdout=subprocess.PIPE, bufsize=0) as proc:
        assert proc.stdout is not None
        while data := proc.stdout.read(1 << 20):
            newlines = data.count(b"\n")
            if not first_row and lines + newlines >= 2:  # the header, then a row
                first_row = time.perf_counter() - started
            lines += newlines
        if proc.wait() != 0:
            raise RuntimeError(f"mariadb exited with {proc.returncode}")
    total = time.perf_counter() - started
    stop.set()
    sampler.join()
    return {
        "rows": lines - 1,
        "first_row_s": first_row,
        "total_s": total,
        "rss_before_mb": rss_before / 1024,
        "peak_mb": _status(pid, "VmHWM") / 1024,
        "max_sampled_mb": max(samples, default=0) / 1024,
    }


def _large_catalog(cache: Path, objects: int, seed: int) -> DemoCatalog:
    directory = cache / f"objects{objects}-seed{seed}-{LARGE_DB}"
    try:
        return read_demo_catalog(directory)
    except (FileNotFoundError, ValueError):
        print(f"writing the large catalog ({objects:,} objects) to {directory}", flush=True)
        return write_demo_catalog(directory, num_objects=objects, seed=seed, database=LARGE_DB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--large-objects", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=20260425)
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/qserv-py-bench-streaming"))
    parser.add_argument("--profile", type=Path, help="also record py-spy profiles into this dir")
    args = parser.parse_args()
    with demo_and_baseline(args.objects, args.seed, PASSWORD, {"ForcedSource"}) as setup:
        cluster, baseline = setup.cluster, setup.baseline
        ours = _cli(cluster.config.frontend_port, "qsmaster", "", DB, QUERY)
        theirs = _cli(baseline.port, "root", PASSWORD, DB, QUERY)

        rows, our_digest = _sorted_digest(ours)
        plain_rows, their_digest = _sorted_digest(theirs)
        same = "identical" if our_digest == their_digest else "DIFFERENT"
        print(f"\n{QUERY}\n{rows:,} rows (plain: {plain_rows:,}); outputs (sorted lines): {same}")
        _reset_peak(_czar_pid(cluster))
        q, cpu = _cpu_profile(cluster, ours, args.repeat)
        czar_peak = _status(_czar_pid(cluster), "VmHWM") / 1024
        plain_pid = baseline.running_pid()
        assert plain_pid is not None
        plain_cpu = _cpu_seconds(plain_pid)
        b = min(_timed_cli(theirs) for _ in range(args.repeat))
        plain_cpu = (_cpu_seconds(plain_pid) - plain_cpu) / args.repeat
        print(f"{'':10} {'best s':>8} {'rows/s':>10}")
        print(f"{'qserv-py':10} {q:8.2f} {rows / q:10,.0f}")
        print(f"{'plain':10} {b:8.2f} {plain_rows / b:10,.0f}")
        print(
            f"ratio qserv-py/plain: {b / q:.2f}; czar peak RSS over these runs {czar_peak:.0f} MB"
        )
        print("CPU s per qserv-py run: " + ", ".join(f"{n} {c:.2f}" for n, c in cpu.items()))
        print(f"CPU s per plain run: mariadbd {plain_cpu:.2f} (and the CLI)")
        if args.profile:
            _py_spy(cluster, ours, args.profile)

        if args.large_objects:
            large = _large_catalog(args.cache_dir, args.large_objects, args.seed)
            started = time.perf_counter()
            tables = [
                TableInput(read_table(t.description_json), t.data_files) for t in large.tables
            ]
            report = asyncio.run(ingest(cluster.config, read_database(large.database_json), tables))
            print(
                f"\nlarge catalog ingested in {time.perf_counter() - started:.0f} s:"
                f" {dict(report.rows)}"
            )
            # --quick: the CLI prints rows as they arrive instead of storing the whole result
            argv = _cli(cluster.config.frontend_port, "qsmaster", "", LARGE_DB, QUERY)
            argv.insert(-3, "--quick")
            figures = _stream_large(argv, _czar_pid(cluster))
            print(
                f"{figures['rows']:,.0f} rows in {figures['total_s']:.1f} s"
                f" ({figures['rows'] / figures['total_s']:,.0f} rows/s);"
                f" first row after {figures['first_row_s']:.2f} s;"
                f" czar RSS before {figures['rss_before_mb']:.0f} MB,"
                f" peak {figures['peak_mb']:.0f} MB (VmHWM),"
                f" max sampled {figures['max_sampled_mb']:.0f} MB"
            )


if __name__ == "__main__":
    main()

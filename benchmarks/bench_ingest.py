"""End-to-end ingest of a DP0.2-like Object CSV into a local cluster, against ``LOAD DATA INFILE``.

Usage: ``python benchmarks/bench_ingest.py [--rows 10000000] [--workers 2] [--repeat R]
[--cache-dir DIR] [--keep-dir DIR]``

What is compared, in one run on one machine:

- **baseline**: server-side ``LOAD DATA INFILE`` of the same file into one MyISAM table of one
  plain ``mariadbd`` (same `MariaDBSettings` as the workers' instances, same column types from
  ``Object.json``, ``STRICT_ALL_TABLES`` as the workers load with), timed from ``CREATE TABLE``
  to the end of the load. Its only key is a non-unique ``KEY (objectId)``: the workers' chunk
  tables also carry ``KEY (subChunkId)``, but the baseline has no chunk columns to index. MyISAM
  builds the non-unique keys of an empty table by sorting after the load, as the workers'
  ``DISABLE KEYS``/``ENABLE KEYS`` does.
- **qserv-py**: `qserv_py.ingest.loader.ingest` of the same file into a fresh cluster of
  ``--workers`` workers, timed around the call: partitioning (home rows plus overlap rows),
  shipping, ``LOAD DATA`` on the workers, key rebuild, the director index in the czar db and the
  catalog commit.

The input is the Object table of `qserv_py.demo.catalog` (the same rows ``write_demo_catalog``
writes for that seed), generated once into ``--cache-dir`` and reused while the row count, seed
and catalog version match. ``write_demo_catalog(forced_per_object=0)`` would still write one
ForcedSource row per object (counts are clipped to >= 1), so only the Object part is generated,
block by block, from the module's own block generator.

The breakdown lines are the step timings the loader reports itself (``IngestReport.steps``), in
the order it runs them; they are context, not part of the figure. CPU seconds
come from ``/proc/<pid>/stat`` of every server process and this process, over each timed run.

The issue's aim is qserv-py/baseline >= 0.5 at 10 M rows and 2 workers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import asyncmy  # type: ignore[import-untyped]
import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `tests.cluster_support` lives beside the package, not in it
    sys.path.insert(0, str(REPO))

from qserv_py.cluster.local import CZAR_DB, LocalCluster  # noqa: E402
from qserv_py.cluster.mariadb import MariaDBServer, create_template  # noqa: E402
from qserv_py.demo import catalog as demo  # noqa: E402
from qserv_py.demo.schema import OBJECT, database_description  # noqa: E402
from qserv_py.ingest import loader  # noqa: E402
from qserv_py.ingest.description import (  # noqa: E402
    CHUNK_COLUMN,
    SUB_CHUNK_COLUMN,
    DatabaseDescription,
    TableDescription,
    read_database,
    read_table,
)
from qserv_py.sql import qualified, quote_ident, quote_string  # noqa: E402
from tests.cluster_support import new_cluster  # noqa: E402
from tests.ports import free_port  # noqa: E402

SEED = 20260425  # write_demo_catalog's default, so the rows equal the demo catalog's
DATABASE = "bench_ingest"
INPUT_MANIFEST = "bench-input.json"
WORKER_SQL_MODE = "STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION"  # WorkerDatabase's session mode


# --- input ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BenchInput:
    database_json: Path
    table_json: Path
    csv: Path
    rows: int


def _object_csv_block(seed: int, block: int, num_objects: int) -> tuple[int, pa.Buffer]:
    """Object rows of one demo-catalog block: the block's stream draws Object rows first, so
    they equal ``write_demo_catalog``'s for any ``forced_per_object``."""
    first = block * demo.BLOCK_SIZE
    n = min(demo.BLOCK_SIZE, num_objects - first)
    seq = np.random.SeedSequence(seed, spawn_key=(demo.OBJECT_STREAM, block))
    objects, _ids, _fluxes = demo._object_block(np.random.Generator(np.random.PCG64(seq)), first, n)
    return objects.num_rows, demo._csv_bytes(objects)


def _object_csv_blocks(seed: int, num_objects: int) -> Iterator[tuple[int, pa.Buffer]]:
    """Encoded blocks in order, two generated ahead (numpy and Arrow release the GIL)."""
    num_blocks = -(-num_objects // demo.BLOCK_SIZE)
    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers, thread_name_prefix="bench-input") as pool:
        pending: deque[Future[tuple[int, pa.Buffer]]] = deque()
        submitted = 0
        try:
            while submitted < num_blocks or pending:
                while submitted < num_blocks and len(pending) < workers:
                    pending.append(pool.submit(_object_csv_block, seed, submitted, num_objects))
                    submitted += 1
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def ensure_input(cache_dir: Path, rows: int, seed: int = SEED) -> BenchInput:
    """The cached input for ``rows``, written first if absent; the manifest is written last."""
    directory = cache_dir / f"object-rows{rows}-seed{seed}"
    manifest = directory / INPUT_MANIFEST
    expected = {"rows": rows, "seed": seed, "catalog_version": demo.CATALOG_VERSION}
    found = BenchInput(
        directory / "database.json", directory / "Object.json", directory / "Object.csv", rows
    )
    try:
        if json.loads(manifest.read_text()) == expected and found.csv.is_file():
            return found
    except (OSError, ValueError):
        pass
    print(f"writing {rows:,} Object rows to {directory} (once) ...", flush=True)
    started = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=True)
    manifest.unlink(missing_ok=True)
    demo._write_json(found.database_json, database_description(DATABASE, 85, 12, 0.01667))
    table_json, csv = demo._describe(directory, DATABASE, OBJECT)
    assert (table_json, csv) == (found.table_json, found.csv)
    written = 0
    with csv.open("wb") as out:
        for n, text in _object_csv_blocks(seed, rows):
            out.write(text)
            written += n
    assert written == rows, (written, rows)
    manifest.write_text(json.dumps(expected))
    print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
    return found


# --- measurement helpers --------------------------------------------------------------------


@dataclass(slots=True)
class Run:
    rows: int
    seconds: float
    chunks: int = 0
    detail: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def _cpu_seconds(pid: int | None) -> float:
    """utime + stime of a live process (children excluded), 0 if it is gone."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used by this process and the given servers between `start` and `stop`."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self._pids = pids
        self._before: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        now = {name: _cpu_seconds(pid) for name, pid in self._pids.items()}
        now["bench process"] = time.process_time()
        return now

    def start(self) -> None:
        self._before = self._now()

    def stop(self) -> dict[str, float]:
        return {k: v - self._before.get(k, 0.0) for k, v in self._now().items()}


# --- the two contenders ---------------------------------------------------------------------


def _baseline_ddl(table: TableDescription) -> str:
    skip = {CHUNK_COLUMN, SUB_CHUNK_COLUMN}
    defs = [f"{quote_ident(c)} {t}" for c, t in table.columns if c not in skip]
    defs.append(f"KEY ({quote_ident(table.director_key)})")
    options = "ENGINE=MyISAM"
    if table.charset:
        options += f" DEFAULT CHARSET={table.charset}"
    if table.collation:
        options += f" COLLATE={table.collation}"
    return f"CREATE TABLE {qualified(DATABASE, table.name)} ({', '.join(defs)}) {options}"


async def run_baseline(server: MariaDBServer, table: TableDescription, csv: Path) -> Run:
    conn = await asyncmy.connect(
        unix_socket=str(server.socket_path), user="root", password="", autocommit=True
    )
    try:
        async with conn.cursor() as cur:
            await cur.execute(f"SET SESSION sql_mode = {quote_string(WORKER_SQL_MODE)}")
            await cur.execute(f"DROP DATABASE IF EXISTS {quote_ident(DATABASE)}")
            await cur.execute(f"CREATE DATABASE {quote_ident(DATABASE)}")
            started = time.perf_counter()
            await cur.execute(_baseline_ddl(table))
            rows = await cur.execute(
                f"LOAD DATA INFILE {quote_string(str(csv))} INTO TABLE "
                f"{qualified(DATABASE, table.name)} {table.dialect.load_data_clause()}"
            )
            seconds = time.perf_counter() - started
    finally:
        conn.close()
    return Run(int(rows), seconds)


async def run_qserv(
    cluster: LocalCluster, database: DatabaseDescription, table: TableDescription, csv: Path
) -> Run:
    """One ingest into a database of its own (a repeat cannot reuse a published table)."""
    last_block = 0.0
    started = 0.0

    def progress(_table: str, _rows: int, _bytes: int) -> None:
        nonlocal last_block
        last_block = time.perf_counter() - started

    started = time.perf_counter()
    report = await loader.ingest(
        cluster.config, database, [loader.TableInput(table, (csv,))], progress=progress
    )
    seconds = time.perf_counter() - started
    detail = {f"{k} s": v for k, v in report.steps.items()}
    detail["last block read s"] = last_block
    detail["home rows"] = report.rows[table.name]
    detail["overlap rows"] = report.overlap_rows[table.name]
    return Run(report.rows[table.name], seconds, report.chunks[table.name], detail)


# --- driver ---------------------------------------------------------------------------------


async def _start_baseline(base_dir: Path, template: Path) -> MariaDBServer:
    server = MariaDBServer("baseline", base_dir, free_port())
    server.initialise(template)
    await server.start()
    return server


async def _stop(cluster: LocalCluster | None, baseline: MariaDBServer | None) -> None:
    try:
        if cluster is not None:
            await cluster.down()
    finally:
        if baseline is not None:
            try:
                await baseline.stop()
            except Exception:
                baseline.abort()
                raise


async def bench(
    args: argparse.Namespace, data: BenchInput, work_dir: Path
) -> tuple[list[Run], list[Run]]:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)  # clean up, too
    database = read_database(data.database_json)
    table = read_table(data.table_json)
    cluster: LocalCluster | None = None
    baseline: MariaDBServer | None = None
    try:
        cluster = new_cluster(work_dir / "cluster", args.workers)
        template = cluster.config.mariadb_dir / "template"
        await asyncio.to_thread(create_template, template)  # shared: up() finds it in place
        await cluster.up()
        baseline = await _start_baseline(work_dir / "baseline", template)
        servers = {
            f"{w.name} mariadbd": cluster.mariadb(w.name).running_pid()
            for w in cluster.config.workers
        }
        servers |= {
            f"{w.name} service": cluster.worker_process(w).running_pid()
            for w in cluster.config.workers
        }
        servers["czar mariadbd"] = cluster.mariadb(CZAR_DB).running_pid()
        ours: list[Run] = []
        theirs: list[Run] = []
        for attempt in range(args.repeat):
            meter = CpuMeter({"baseline mariadbd": baseline.running_pid()})
            meter.start()
            theirs.append(await run_baseline(baseline, table, data.csv))
            theirs[-1].detail |= {f"cpu {k} s": v for k, v in meter.stop().items()}
            db = replace(database, name=f"{DATABASE}_{attempt + 1}")
            meter = CpuMeter(servers)
            meter.start()
            ours.append(await run_qserv(cluster, db, replace(table, database=db.name), data.csv))
            ours[-1].detail |= {f"cpu {k} s": v for k, v in meter.stop().items()}
            _check_rows(args.rows, theirs[-1], ours[-1])
        return theirs, ours
    finally:
        await _stop(cluster, baseline)


def _check_rows(expected: int, theirs: Run, ours: Run) -> None:
    if theirs.rows != expected or ours.rows != expected:
        raise SystemExit(
            f"row counts differ: input {expected}, baseline {theirs.rows}, qserv-py {ours.rows}"
        )


def report(args: argparse.Namespace, theirs: list[Run], ours: list[Run], csv: Path) -> None:
    best_base = max(theirs, key=lambda r: r.rate)
    best_ours = max(ours, key=lambda r: r.rate)
    size = csv.stat().st_size
    print(
        f"\n{args.rows:,} Object rows ({size / 1e6:,.0f} MB CSV), {args.workers} workers,"
        f" {best_ours.chunks} chunks; best of {args.repeat}"
    )
    print(f"{'':10} {'rows':>12} {'seconds':>9} {'rows/s':>10}  all runs (s)")
    for name, runs, best in (("baseline", theirs, best_base), ("qserv-py", ours, best_ours)):
        all_runs = ", ".join(f"{r.seconds:.2f}" for r in runs)
        print(f"{name:10} {best.rows:12,} {best.seconds:9.2f} {best.rate:10,.0f}  {all_runs}")
    ratio = best_ours.rate / best_base.rate
    print(f"ratio qserv-py/baseline: {ratio:.2f} (aim >= 0.5)")
    d = best_ours.detail
    steps = [("last input block read", "last block read s")] + [
        (name.removesuffix(" s"), name)
        for name in d
        if name.endswith(" s") and not name.startswith("cpu ") and name != "last block read s"
    ]
    print("qserv-py steps (s): " + ", ".join(f"{label} {d.get(k, 0.0):.2f}" for label, k in steps))
    overlap, home = d.get("overlap rows", 0.0), max(1.0, d.get("home rows", 1.0))
    print(f"  overlap rows loaded: {overlap:,.0f} ({overlap / home:.3f} per row)")
    for name, run in (("baseline", best_base), ("qserv-py", best_ours)):
        cpu = ", ".join(
            f"{k.removeprefix('cpu ').removesuffix(' s')} {v:.1f}"
            for k, v in run.detail.items()
            if k.startswith("cpu ")
        )
        print(f"  {name} CPU seconds: {cpu}")
    print("load average (1/5/15 min) at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "qserv-py-bench-ingest",
        help="where the generated input is kept between runs",
    )
    parser.add_argument(
        "--keep-dir",
        type=Path,
        default=None,
        help="put the cluster and baseline data dirs here and keep them (default: a temp dir)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("asyncmy").setLevel(logging.ERROR)  # "database exists" notes from DDL
    if args.rows < 1 or args.workers < 1 or args.repeat < 1:
        parser.error("--rows, --workers and --repeat must be >= 1")
    print("load average (1/5/15 min) at the start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    data = ensure_input(args.cache_dir, args.rows)
    if args.keep_dir is not None:
        args.keep_dir.mkdir(parents=True, exist_ok=True)
        if any(args.keep_dir.iterdir()):
            parser.error(f"--keep-dir {args.keep_dir} is not empty")
        work_dir = args.keep_dir.resolve()
    else:
        work_dir = Path(tempfile.mkdtemp(prefix="qserv-bench-ingest-"))
    try:
        theirs, ours = asyncio.run(bench(args, data, work_dir))
    finally:
        if args.keep_dir is None:
            shutil.rmtree(work_dir, ignore_errors=True)
    report(args, theirs, ours, data.csv)


if __name__ == "__main__":
    main()

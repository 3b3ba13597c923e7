"""One ingest run as one transaction: stage everything on the workers, then publish atomically.

Order of a run (docs/ingest.md):
1. open a transaction in the czar db, connect to every worker, clear leftovers of dead runs;
2. for each table (directors before their children): read blocks, partition, ship pieces;
   directors build the in-memory director index (checked for duplicate keys);
3. rebuild indexes, load the director index into a staging table of the czar db;
4. commit: one ``RENAME TABLE`` per worker, then the catalog rows in one czar-db transaction.
Any failure before the catalog commit aborts the run everywhere: no table becomes visible.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncmy
import asyncmy.errors

from qserv_py.cluster.config import HOST, ClusterConfig
from qserv_py.csv_dialect import CsvDialect
from qserv_py.czar.analysis.plan import DUMMY_CHUNK
from qserv_py.czar.metadata import catalog
from qserv_py.czar.metadata.schema import META_DB, director_index_table
from qserv_py.ingest.description import DatabaseDescription, TableDescription, parse_table
from qserv_py.ingest.director_index import DirectorIndexBuilder, DirectorLookup
from qserv_py.ingest.errors import IngestError
from qserv_py.ingest.index_writer import load_director_index
from qserv_py.ingest.parquet_blocks import PARQUET_DIALECT, is_parquet, read_parquet_blocks
from qserv_py.ingest.partitioner import BlockPartitioner
from qserv_py.ingest.placement import Placement
from qserv_py.ingest.shipper import Shipper
from qserv_py.ingest.text_blocks import TextBlock, read_blocks
from qserv_py.rpc.client import RpcChannel
from qserv_py.rpc.errors import RpcError
from qserv_py.sphgeom.chunker import Chunker
from qserv_py.sql import qualified, quote_ident

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]  # (table, rows so far, input bytes so far)


@dataclass(frozen=True, slots=True)
class TableInput:
    """A table and its data files: all Parquet (by suffix, see `is_parquet`) or all text."""

    description: TableDescription
    files: tuple[Path, ...]

    @property
    def is_parquet(self) -> bool:
        return is_parquet(self.files[0])

    @property
    def dialect(self) -> CsvDialect:
        """The text format of the blocks: the description's, or the fixed one Parquet is read as."""
        return PARQUET_DIALECT if self.is_parquet else self.description.dialect

    def blocks(self, path: Path) -> Iterator[TextBlock]:
        if self.is_parquet:
            return read_parquet_blocks(path, self.description)
        return read_blocks(path, self.description.dialect)


@dataclass(slots=True)
class IngestReport:
    txn: int
    rows: dict[str, int] = field(default_factory=dict)  # home rows per table
    overlap_rows: dict[str, int] = field(default_factory=dict)
    chunks: dict[str, int] = field(default_factory=dict)  # chunks with home rows per table
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)  # wall seconds per step, in order


def chunk_table(table: str, chunk_id: int) -> str:
    return f"{table}_{chunk_id}"


def overlap_table(table: str, chunk_id: int) -> str:
    return f"{table}FullOverlap_{chunk_id}"


def czar_db_args(config: ClusterConfig) -> dict[str, Any]:
    return {
        "host": HOST,
        "port": config.czar_db_port,
        "user": "root",
        "password": config.mariadb_password,
        "autocommit": True,
    }


async def ingest(
    config: ClusterConfig,
    database: DatabaseDescription,
    tables: Sequence[TableInput],
    *,
    replicas: int = 1,
    progress: Progress | None = None,
) -> IngestReport:
    """Load ``tables`` into ``database`` on the cluster, all or nothing."""
    _check_inputs(database, tables)
    conn = await asyncmy.connect(**czar_db_args(config))
    try:
        run = _IngestRun(config, conn, database, tables, replicas, progress)
        return await run.execute()
    finally:
        conn.close()


def _check_inputs(database: DatabaseDescription, tables: Sequence[TableInput]) -> None:
    seen: set[str] = set()
    for item in tables:
        t = item.description
        if t.database != database.name:
            raise IngestError(
                f"table {t.name} belongs to database {t.database!r}, not {database.name!r}"
            )
        if t.name in seen:
            raise IngestError(f"table {t.name} is given twice")
        seen.add(t.name)
        if not item.files:
            raise IngestError(f"no data files given for table {t.name}")
        if len({is_parquet(path) for path in item.files}) > 1:
            raise IngestError(
                f"the data files of table {t.name} mix Parquet and text; give files of one kind"
            )
        for path in item.files:
            if not path.is_file():
                raise IngestError("data file not found", path=path)


class _IngestRun:
    def __init__(
        self,
        config: ClusterConfig,
        conn: Any,
        database: DatabaseDescription,
        tables: Sequence[TableInput],
        replicas: int,
        progress: Progress | None,
    ) -> None:
        self._config = config
        self._conn = conn
        self._db = database
        self._tables = tables
        self._replicas = replicas
        self._progress = progress
        self._channels: dict[str, RpcChannel] = {}
        self._chunker = Chunker(database.num_stripes, database.num_sub_stripes)
        self._directors: dict[str, DirectorLookup] = {}
        self._index_staging: list[tuple[str, str]] = []  # (staging table, final table)
        self._renamed_indexes: list[str] = []  # final names renamed by a commit not yet done
        self._created: dict[str, set[str]] = defaultdict(set)  # worker -> staged tables
        self._chunk_rows: dict[str, dict[int, list[int]]] = {}
        self._rows: dict[str, int] = {}
        self._txn = 0

    async def execute(self) -> IngestReport:
        started = time.monotonic()
        await catalog.ensure_schema(self._conn)
        new_database = await self._check_catalog()
        names = [t.description.name for t in self._tables]
        self._txn = await catalog.begin_transaction(self._conn, self._db.name, names)
        log.info("ingest transaction %d: %s.%s", self._txn, self._db.name, ",".join(names))
        published = False
        steps: dict[str, float] = {}
        clock = time.monotonic()

        def step(name: str) -> None:
            nonlocal clock
            now = time.monotonic()
            steps[name] = now - clock
            clock = now

        try:
            await self._connect_workers()
            placement = Placement(
                [w.name for w in self._config.workers],
                self._replicas,
                await catalog.get_placement(self._conn, self._db.name),
                await catalog.get_worker_load(self._conn),
            )
            for item in self._tables:
                await self._ingest_table(item, placement)
            step("read, partition and load")
            await self._complete_chunk_sets(placement)
            await asyncio.gather(  # workers rebuild keys while the czar db loads the index
                self._call_all("ingest.enable_keys", lambda w: {"names": sorted(self._created[w])}),
                self._stage_director_indexes(),
            )
            step("rebuild keys and write director index")
            await self._commit(placement, new_database)
            step("commit")
            published = True
        except BaseException as exc:
            await self._abort(exc)
            raise
        finally:
            await self._close_channels(finish=published)
        names = [t.description.name for t in self._tables]
        return IngestReport(
            self._txn,
            rows=dict(self._rows),
            overlap_rows={
                t: sum(o for _, o in c.values()) for t, c in self._chunk_rows.items() if t in names
            },
            chunks={
                t: sum(1 for home, _ in c.values() if home)
                for t, c in self._chunk_rows.items()
                if t in names
            },
            seconds=time.monotonic() - started,
            steps=steps,
        )

    async def _check_catalog(self) -> bool:
        existing = await catalog.get_database(self._conn, self._db.name)
        if existing is not None:
            same = (existing.num_stripes, existing.num_sub_stripes, existing.overlap) == (
                self._db.num_stripes,
                self._db.num_sub_stripes,
                self._db.overlap,
            )
            if not same:
                raise IngestError(
                    f"database {self._db.name} exists with num_stripes={existing.num_stripes},"
                    f" num_sub_stripes={existing.num_sub_stripes}, overlap={existing.overlap};"
                    " the description given differs"
                )
        known = await catalog.get_tables(self._conn, self._db.name)
        for item in self._tables:
            t = item.description
            if t.name in known:
                raise IngestError(
                    f"table {self._db.name}.{t.name} already exists;"
                    f" drop it first (qserv-py drop {self._db.name}.{t.name})"
                )
            if t.kind == "child":
                director = t.director_table
                in_run = any(
                    i.description.name == director and i.description.kind == "director"
                    for i in self._tables[: self._tables.index(item)]
                )
                if not in_run and (director not in known or known[director].kind != "director"):
                    raise IngestError(
                        f"{t.name}'s director table {director} is neither in the catalog nor"
                        " ingested before it in this run"
                    )
        return existing is None

    async def _connect_workers(self) -> None:
        async def connect(name: str, port: int) -> tuple[str, RpcChannel]:
            try:
                channel = await RpcChannel.connect(HOST, port, self._config.rpc_secret, timeout=10)
            except RpcError as exc:
                raise IngestError(f"worker {name} is not reachable: {exc}") from exc
            return name, channel

        pairs = await asyncio.gather(
            *(connect(w.name, w.rpc_port) for w in self._config.workers), return_exceptions=True
        )
        for pair in pairs:
            if isinstance(pair, tuple):
                self._channels[pair[0]] = pair[1]
        for pair in pairs:
            if isinstance(pair, BaseException):
                raise pair
        keep = await catalog.running_transactions(self._conn)
        await self._call_all("ingest.cleanup", lambda _w: {"keep": keep})
        await self._call_all("ingest.begin", lambda _w: {"txn": self._txn})

    async def _call_all(
        self, method: str, params: Callable[[str], dict[str, Any]], timeout: float = 600.0
    ) -> None:
        async def call(worker: str) -> None:
            try:
                await self._channels[worker].call(
                    method, {"txn": self._txn, **params(worker)}, timeout=timeout
                )
            except RpcError as exc:
                raise IngestError(f"worker {worker}: {method} failed: {exc}") from exc

        await asyncio.gather(*(call(w) for w in sorted(self._channels)))

    async def _ingest_table(self, item: TableInput, placement: Placement) -> None:
        table = item.description
        shipper = Shipper(self._txn, self._channels, item.dialect)
        try:
            if table.is_partitioned:
                await self._ingest_partitioned(item, placement, shipper)
            else:
                await self._ingest_regular(item, shipper)
            await shipper.finish()
        except BaseException:
            await shipper.abort()
            raise
        if table.is_partitioned:  # home rows only: overlap rows are copies
            self._rows[table.name] = sum(c[0] for c in self._chunk_rows[table.name].values())
        else:  # every worker loaded a full copy
            self._rows[table.name] = shipper.rows_loaded // len(self._channels)

    async def _ingest_regular(self, item: TableInput, shipper: Shipper) -> None:
        table = item.description
        await self._create(table, {w: [table.name] for w in self._channels}, table.name)
        everyone = tuple(sorted(self._channels))
        done_bytes = 0
        rows = 0
        for path in item.files:
            for block in item.blocks(path):
                await shipper.add(table.name, everyone, block.data, path, block.lines, block.unit)
                rows += len(block)
                done_bytes += len(block.data)
                self._report(table.name, rows, done_bytes)

    async def _ingest_partitioned(
        self, item: TableInput, placement: Placement, shipper: Shipper
    ) -> None:
        table = item.description
        director = await self._director_for(table)
        partitioner = BlockPartitioner(
            table, self._chunker, self._db.overlap, director, item.dialect
        )
        builder = (
            DirectorIndexBuilder(table.name, table.director_key)
            if table.kind == "director"
            else None
        )
        counts = self._chunk_rows.setdefault(table.name, {})
        rows = 0
        done_bytes = 0
        for path in item.files:
            for block in item.blocks(path):
                part = await asyncio.to_thread(partitioner.partition, block)
                new = sorted({p.chunk_id for p in part.pieces} - counts.keys())
                if new:
                    await self._create_chunks(table, new, placement)
                    for chunk in new:
                        counts[chunk] = [0, 0]
                for piece in part.pieces:
                    name = (overlap_table if piece.overlap else chunk_table)(
                        table.name, piece.chunk_id
                    )
                    counts[piece.chunk_id][1 if piece.overlap else 0] += int(piece.lines.size)
                    workers = placement.workers_for(piece.chunk_id)
                    await shipper.add(name, workers, piece.data, path, piece.lines, block.unit)
                if builder is not None and part.keys is not None:
                    builder.add(
                        path,
                        part.keys,
                        part.home_chunks,
                        part.home_sub_chunks,
                        block.lines,
                        block.unit,
                    )
                rows += len(block)
                done_bytes += len(block.data)
                self._report(table.name, rows, done_bytes)
        if builder is not None:
            self._directors[table.name] = builder.build(unique=table.unique_primary_key)

    async def _director_for(self, table: TableDescription) -> DirectorLookup | None:
        if table.kind != "child" or table.has_position:
            return None
        if table.director_table in self._directors:
            return self._directors[table.director_table]
        known = await catalog.get_tables(self._conn, self._db.name)
        record = known[table.director_table]
        keys, chunks, subs = await catalog.get_director_index(
            self._conn, self._db.name, table.director_table, record.director_key
        )
        lookup = DirectorLookup(keys, chunks, subs)
        self._directors[table.director_table] = lookup
        return lookup

    async def _complete_chunk_sets(self, placement: Placement) -> None:
        """Give every partitioned table of the database a table for every chunk of it.

        Per-chunk queries and chunk-local joins then never meet a missing table: a child has a
        (maybe empty) table where its director only has overlap rows, and tables loaded by
        earlier runs get empty tables for the chunks this run added.
        """
        everything = set(placement.all_chunks)
        for item in self._tables:
            table = item.description
            if table.is_partitioned:
                await self._create_dummy_chunk(table)
                counts = self._chunk_rows[table.name]
                missing = sorted(everything - counts.keys())
                if missing:
                    await self._create_chunks(table, missing, placement)
                    for chunk in missing:
                        counts[chunk] = [0, 0]
        here = {t.description.name for t in self._tables}
        known = await catalog.get_tables(self._conn, self._db.name)
        for name, record in sorted(known.items()):
            if name in here or record.kind == "regular":
                continue
            table = parse_table(json.loads(record.description), Path(f"<catalog {name}>"))
            present = await catalog.get_chunks(self._conn, self._db.name, name)
            missing = sorted(everything - present)
            if missing:
                await self._create_chunks(table, missing, placement)
                self._chunk_rows.setdefault(name, {}).update({c: [0, 0] for c in missing})

    async def _create_dummy_chunk(self, table: TableDescription) -> None:
        """Empty tables for Qserv's dummy chunk on every worker.

        A query whose chunk set is empty still needs its result columns (and an aggregate its
        one row): the czar runs it on the dummy chunk, as Qserv does.
        """
        names = [chunk_table(table.name, DUMMY_CHUNK)]
        if table.kind == "director":
            names.append(overlap_table(table.name, DUMMY_CHUNK))
        await self._create(table, {w: list(names) for w in self._channels}, f"{table.name}__dummy")

    async def _create_chunks(
        self, table: TableDescription, chunks: list[int], placement: Placement
    ) -> None:
        by_worker: dict[str, list[str]] = defaultdict(list)
        for chunk in chunks:
            for worker in placement.workers_for(chunk):
                by_worker[worker].append(chunk_table(table.name, chunk))
                if table.kind == "director":
                    by_worker[worker].append(overlap_table(table.name, chunk))
        await self._create(table, by_worker, f"{table.name}__prototype")

    async def _create(
        self, table: TableDescription, by_worker: dict[str, list[str]], prototype: str
    ) -> None:
        keys: list[dict[str, Any]] = []
        if table.director_key:
            keys.append({"kind": "index", "columns": [table.director_key]})
        if table.is_partitioned:
            keys.append({"kind": "index", "columns": ["subChunkId"]})

        async def create(worker: str, names: list[str]) -> None:
            params = {
                "txn": self._txn,
                "names": names,
                "prototype": prototype,
                "columns": [list(c) for c in table.columns],
                "keys": keys,
                "charset": table.charset,
                "collation": table.collation,
            }
            try:
                await self._channels[worker].call("ingest.create_tables", params, timeout=600)
            except RpcError as exc:
                raise IngestError(f"worker {worker}: cannot create {table.name}: {exc}") from exc
            self._created[worker].update(names)

        await asyncio.gather(*(create(w, n) for w, n in sorted(by_worker.items()) if n))

    async def _stage_director_indexes(self) -> None:
        """Load each director's index of this run into a staging table of the czar db."""
        for item in self._tables:
            table = item.description
            if table.kind != "director":
                continue
            final = director_index_table(self._db.name, table.name)
            staging = qualified(META_DB, f"{final}__txn{self._txn}")
            key = quote_ident(table.director_key)
            index = "PRIMARY KEY" if table.unique_primary_key else "KEY"
            await catalog.execute(self._conn, f"DROP TABLE IF EXISTS {staging}")
            await catalog.execute(
                self._conn,
                f"CREATE TABLE {staging} ({key} {table.column_type(table.director_key)},"
                f" chunkId INT NOT NULL, subChunkId INT NOT NULL, {index} ({key})) ENGINE=InnoDB",
            )
            self._index_staging.append((f"{final}__txn{self._txn}", final))
            await asyncio.to_thread(
                load_director_index,
                czar_db_args(self._config),
                staging,
                self._directors[table.name],
            )

    async def _commit(self, placement: Placement, new_database: bool) -> None:
        await self._call_all("ingest.commit", lambda _w: {"database": self._db.name})
        for staging, final in self._index_staging:
            await catalog.execute(
                self._conn,
                f"RENAME TABLE {qualified(META_DB, staging)} TO {qualified(META_DB, final)}",
            )
            self._renamed_indexes.append(final)
        records = [
            catalog.TableRecord(
                db=self._db.name,
                name=t.description.name,
                kind=t.description.kind,
                director_table=t.description.director_table,
                director_key=t.description.director_key,
                longitude_key=t.description.longitude_key,
                latitude_key=t.description.latitude_key,
                overlap=self._db.overlap if t.description.kind == "director" else 0.0,
                unique_primary_key=t.description.unique_primary_key,
                description=t.description.raw,
            )
            for t in self._tables
        ]
        chunk_rows = {
            name: {c: (v[0], v[1]) for c, v in per_chunk.items()}
            for name, per_chunk in self._chunk_rows.items()
        }
        await catalog.publish(
            self._conn,
            catalog.DatabaseRecord(
                self._db.name, self._db.num_stripes, self._db.num_sub_stripes, self._db.overlap
            ),
            new_database,
            records,
            self._rows,
            placement.new_chunks,
            chunk_rows,
            self._txn,
        )

    async def _abort(self, exc: BaseException) -> None:
        log.warning("ingest transaction %d aborted: %s", self._txn, exc)
        for worker in self._config.workers:
            channel = self._channels.get(worker.name)
            try:
                if channel is None or channel.broken:
                    # a cancelled sender leaves its channel out of step: use a fresh one
                    channel = await RpcChannel.connect(
                        HOST, worker.rpc_port, self._config.rpc_secret, timeout=5
                    )
                    self._channels[worker.name] = channel
                await channel.call("ingest.abort", {"txn": self._txn}, timeout=120)
            except (RpcError, OSError) as err:
                log.warning(
                    "worker %s could not abort transaction %d (the next ingest will): %s",
                    worker.name,
                    self._txn,
                    err,
                )
        try:
            for staging, _final in self._index_staging:
                await catalog.execute(
                    self._conn, f"DROP TABLE IF EXISTS {qualified(META_DB, staging)}"
                )
            for final in self._renamed_indexes:  # the catalog commit did not happen
                await catalog.execute(
                    self._conn, f"DROP TABLE IF EXISTS {qualified(META_DB, final)}"
                )
            await catalog.end_transaction(self._conn, self._txn, "ABORTED", str(exc)[:60000])
        except asyncmy.errors.MySQLError as err:
            log.warning("czar db cleanup of transaction %d failed: %s", self._txn, err)

    async def _close_channels(self, *, finish: bool) -> None:
        for channel in self._channels.values():
            if finish and not channel.broken:
                with contextlib.suppress(RpcError, OSError):
                    await channel.call("ingest.finish", {"txn": self._txn}, timeout=120)
            await channel.close()

    def _report(self, table: str, rows: int, done_bytes: int) -> None:
        if self._progress is not None:
            self._progress(table, rows, done_bytes)

"""The czar's query engine: analysis, chunk selection, dispatch, merge, results to the client.

1. ``analyse`` turns the SELECT into a ``QueryPlan`` against a catalog snapshot.
2. The chunk set is resolved: all chunks with rows, the area's chunks, or the chunks the
   director index names for the keys given (a lookup in the czar db).
3. Without a merge, rows stream to the client as the chunks deliver them, and a LIMIT without
   ORDER BY stops dispatch once enough rows went out. With a merge, every chunk's rows go into a
   result table in the czar db, and the merge statement streams from MariaDB to the client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

import asyncmy
import asyncmy.errors
import sqlglot
from mysql_mimic import ResultColumn, ResultSet
from sqlglot import exp

from qserv_py.cluster.config import HOST, ClusterConfig
from qserv_py.czar.analysis import (
    AllChunks,
    AnalysisFailure,
    CatalogView,
    ChunkList,
    DirectorLookup,
    QueryPlan,
    SingleRun,
    analyse,
)
from qserv_py.czar.analysis.plan import DUMMY_CHUNK, CatalogCount, KeyBound
from qserv_py.czar.czar_db_results import CzarDbQueries
from qserv_py.czar.dispatch import (
    INTERACTIVE_CHUNK_LIMIT,
    ChunkBatch,
    DispatchError,
    run_chunks,
)
from qserv_py.czar.frontend.columns import result_column
from qserv_py.czar.frontend.errors import mysql_error
from qserv_py.czar.frontend.plain_select import SESSION_TOKENS
from qserv_py.czar.frontend.streaming import RowBatches, interrupted
from qserv_py.czar.metadata.schema import META_DB, QUERY_USER, RESULT_DB, director_index_table
from qserv_py.czar.metadata.snapshot import CatalogCache, CatalogSnapshot
from qserv_py.czar.query_registry import Client, QueryRecord, QueryRegistry
from qserv_py.czar.workers import WorkerChannels
from qserv_py.ingest.loader import czar_db_args
from qserv_py.results.codec import Schema
from qserv_py.sql import qualified, quote_ident

log = logging.getLogger(__name__)
CHUNK_TIMEOUT = 3600.0
_UNKNOWN_NAME = frozenset({1049, 1054, 1146})  # unknown database, column, table


def catalog_view(snapshot: CatalogSnapshot) -> CatalogView:
    databases = [
        {
            "name": db.name,
            "num_stripes": db.num_stripes,
            "num_sub_stripes": db.num_sub_stripes,
            "overlap": db.overlap,
            "chunks": db.chunks,
        }
        for db in snapshot.databases.values()
    ]
    tables = [
        {
            "db": t.db,
            "name": t.name,
            "kind": t.kind,
            "columns": [[c.name, c.definition] for c in t.columns],
            "director_table": t.director_table,
            "director_key": t.director_key,
            "longitude_key": t.longitude_key,
            "latitude_key": t.latitude_key,
            "row_count": t.row_count,
        }
        for db in snapshot.databases.values()
        for t in db.tables.values()
    ]
    return CatalogView.from_dicts(databases, tables)


class QueryEngine:
    def __init__(self, config: ClusterConfig, catalog: CatalogCache) -> None:
        self._config = config
        self._catalog = catalog
        self._czar_db = CzarDbQueries(
            {
                "host": HOST,
                "port": config.czar_db_port,
                "user": QUERY_USER,
                "password": config.mariadb_password,
                "database": RESULT_DB,
            }
        )
        self._channels = WorkerChannels(config)
        self._meta: Any = None
        self.registry = QueryRegistry()
        self._collations: dict[int, str] = {}
        self._views: tuple[CatalogSnapshot, CatalogView] | None = None

    async def start(self) -> None:
        await self._czar_db.open()
        self._meta = await asyncmy.create_pool(minsize=1, maxsize=8, **czar_db_args(self._config))
        async with self._meta.acquire() as conn, conn.cursor() as cur:
            await cur.execute("SELECT ID, COLLATION_NAME FROM information_schema.COLLATIONS")
            rows = await cur.fetchall()
            self._collations = {int(i): str(n) for i, n in rows if i is not None}

    async def close(self) -> None:
        await self._channels.close()
        await self._czar_db.close()
        if self._meta is not None:
            self._meta.close()
            await self._meta.wait_closed()

    def _view(self, snapshot: CatalogSnapshot) -> CatalogView:
        """The analysis view of ``snapshot``, built once per snapshot (it costs 0.2-0.4 ms)."""
        cached = self._views
        if cached is None or cached[0] is not snapshot:
            cached = self._views = (snapshot, catalog_view(snapshot))
        return cached[1]

    async def evaluate(self, sql: str) -> ResultSet:
        return await self._czar_db.stream(sql)

    async def execute(
        self,
        expression: exp.Expression | None,
        sql: str,
        database: str | None,
        client: Client | None = None,
    ) -> ResultSet:
        """Run one SELECT; ``expression`` is mysql-mimic's tree of it, or None when the front
        end passed the client's text straight through (``frontend/plain_select.py``).

        The query is in ``registry`` from here until its last row went out; a KILL or CANCEL
        of it (``QueryRegistry.cancel``) ends it with MariaDB's error 1317.
        """
        text = sql
        if expression is not None and not _verbatim(sql, expression):
            text = expression.sql(dialect="mysql")
        who = client or Client(None, "", asyncio.current_task())
        record = self.registry.start(who.connection_id, who.user, database, text, who.task)
        try:
            result = await self._execute(record, text, database)
        except BaseException as exc:
            raise self._ended(record, exc) from None
        rows = RowBatches(self._tracked(record, result.rows), killed=lambda: record.killed)
        return ResultSet(rows, result.columns)

    def _ended(self, record: QueryRecord, exc: BaseException) -> BaseException:
        """Record how the query ended; the exception to raise (1317 for a KILL or CANCEL)."""
        if isinstance(exc, asyncio.CancelledError | GeneratorExit):
            reason = "killed" if record.killed else "cancelled: the client went away"
            self.registry.finish(record, "ABORTED", reason)
            if isinstance(exc, asyncio.CancelledError) and record.killed:
                return interrupted()
            return exc
        self.registry.finish(record, "FAILED", str(getattr(exc, "msg", exc)))
        return exc

    async def _tracked(
        self, record: QueryRecord, rows: RowBatches
    ) -> AsyncIterator[Sequence[Sequence[Any]]]:
        """The result's batches, counted; the record ends with the last one (or the error)."""
        batches = rows.batches
        try:
            async for batch in batches:
                record.rows += len(batch)
                yield batch
        except BaseException as exc:
            raise self._ended(record, exc) from None
        finally:
            close = getattr(batches, "aclose", None)
            if close is not None:
                await close()  # the producer's cleanup (cancel chunks, drop tables) runs now
        self.registry.finish(record, "COMPLETED")

    def _alone(self, record: QueryRecord) -> bool:
        """No other scan runs on this czar (then a scan's chunks need not share reads)."""
        return not any(
            other is not record and other.chunks_total > INTERACTIVE_CHUNK_LIMIT
            for other in self.registry.running()
        )

    async def _execute(self, record: QueryRecord, text: str, database: str | None) -> ResultSet:
        snapshot = await self._catalog.get()
        result = analyse(text, self._view(snapshot), database)
        if isinstance(result, AnalysisFailure) and result.mysql_code in _UNKNOWN_NAME:
            # The catalog snapshot may be up to CatalogCache's age old: a table ingested a
            # moment ago is not in it yet. Look again before saying it does not exist.
            fresh = await self._catalog.get(max_age=0)
            if fresh is not snapshot:
                snapshot = fresh
                result = analyse(text, self._view(snapshot), database)
        if isinstance(result, AnalysisFailure):
            raise mysql_error(result.mysql_code, result.message)
        plan = result
        if isinstance(plan.chunks, CatalogCount):
            return await self._catalog_count(plan, plan.chunks, text, database)
        query_id = record.query_id
        chunks, replicas = await self._chunks(plan, snapshot)
        record.chunks_total = len(chunks)
        record.scan_rating = snapshot.scan_rating(plan.tables)
        log.info("query %d: %d chunks, merge=%s: %s", query_id, len(chunks), plan.needs_merge, text)
        if plan.needs_merge:
            return await self._merge(record, plan, chunks, replicas)
        return await self._stream(record, plan, chunks, replicas)

    async def _catalog_count(
        self, plan: QueryPlan, count: CatalogCount, text: str, database: str | None
    ) -> ResultSet:
        """Answer from the catalog's row count, once the czar db confirms it is current.

        The snapshot may be up to ``CatalogCache``'s age old; a table dropped or loaded again
        since then has another (or no) row in ``qservMeta.tables``. Then the query is planned
        again against a fresh snapshot, which gives the new count or the 1146 error.
        """
        async with self._meta.acquire() as conn, conn.cursor() as cur:
            await cur.execute(
                f"SELECT row_count FROM {qualified(META_DB, 'tables')} WHERE db = %s AND name = %s",
                (count.database, count.table),
            )
            rows = await cur.fetchall()
        if not rows or int(rows[0][0]) != count.row_count:
            fresh = analyse(text, self._view(await self._catalog.get(max_age=0)), database)
            if isinstance(fresh, AnalysisFailure):
                raise mysql_error(fresh.mysql_code, fresh.message)
            if not isinstance(fresh.chunks, CatalogCount):  # cannot happen: same query, kind
                raise mysql_error(1105, "the catalog changed while planning; run the query again")
            plan = fresh
        log.info("query answered from the catalog's row count: %s", text)
        return await self._czar_db.stream(plan.chunk_template)

    async def _chunks(
        self, plan: QueryPlan, snapshot: CatalogSnapshot
    ) -> tuple[list[int], dict[int, tuple[str, ...]]]:
        selection = plan.chunks
        if isinstance(selection, SingleRun):
            everyone = tuple(self._channels.workers)
            return [DUMMY_CHUNK], {DUMMY_CHUNK: everyone}
        db = snapshot.databases[selection.database]
        if isinstance(selection, AllChunks | ChunkList):
            chunks = list(selection.chunk_ids)
        elif isinstance(selection, DirectorLookup):
            chunks = await self._director_chunks(selection, db.chunks)
        else:  # CatalogCount: execute answers it with _catalog_count, no chunk runs
            raise AssertionError(f"{selection!r} has no chunks to dispatch")
        return chunks, dict(db.replicas)

    async def _director_chunks(self, lookup: DirectorLookup, with_rows: Sequence[int]) -> list[int]:
        if lookup.values is not None and not lookup.values:
            return []
        table = qualified(META_DB, director_index_table(lookup.database, lookup.director_table))
        key = quote_ident(lookup.key_column)
        if lookup.values is not None:
            where = f"{key} IN ({', '.join(['%s'] * len(lookup.values))})"
            args: tuple[int, ...] = tuple(lookup.values)
        else:  # a key range: one index range scan
            parts = [(b.sql(key, side), b.value) for side, b in _bounds(lookup)]
            if not parts:  # no bound at all (analysis never plans this): every chunk
                return sorted(set(with_rows) if lookup.within is None else set(lookup.within))
            where = " AND ".join(p for p, _ in parts)
            args = tuple(v for _, v in parts)
        async with self._meta.acquire() as conn, conn.cursor() as cur:
            await cur.execute(f"SELECT DISTINCT chunkId FROM {table} WHERE {where}", args)
            found = {int(r[0]) for r in await cur.fetchall()}
        allowed = set(with_rows) if lookup.within is None else set(lookup.within)
        return sorted(found & allowed)

    def _dispatch(
        self,
        record: QueryRecord,
        plan: QueryPlan,
        chunks: list[int],
        replicas: dict[int, tuple[str, ...]],
        *,
        text: bool,
    ) -> AsyncGenerator[ChunkBatch, None]:
        """The query's chunk tasks on the workers; with no chunk to read, Qserv's dummy chunk
        (empty tables every worker has) still gives the columns and an aggregate's one row."""
        if not chunks:
            chunks, replicas = [DUMMY_CHUNK], {DUMMY_CHUNK: tuple(self._channels.workers)}
        return run_chunks(
            self._channels,
            record.query_id,
            chunks,
            plan.render,
            replicas,
            CHUNK_TIMEOUT,
            text=text,
            scan_rating=record.scan_rating,
            on_done=record.chunks_finished,
            alone=self._alone(record),
        )

    async def _stream(
        self,
        record: QueryRecord,
        plan: QueryPlan,
        chunks: list[int],
        replicas: dict[int, tuple[str, ...]],
    ) -> ResultSet:
        # MariaDB's text rows pass through to the client; as row tuples for prepared statements
        batches = self._dispatch(record, plan, chunks, replicas, text=True)
        try:
            first = await anext(batches)
        except DispatchError as exc:
            raise _query_error(exc) from exc
        except StopAsyncIteration:
            raise mysql_error(1105, "no result from any chunk") from None
        columns = _result_columns(first.schema, plan.result_columns)
        return ResultSet(RowBatches(_limited(first, batches, plan)), columns)

    async def _merge(
        self,
        record: QueryRecord,
        plan: QueryPlan,
        chunks: list[int],
        replicas: dict[int, tuple[str, ...]],
    ) -> ResultSet:
        table = f"r_{record.query_id}"
        try:
            async with self._czar_db.merge(RESULT_DB, table, self._collations) as merge:
                async for batch in self._dispatch(record, plan, chunks, replicas, text=False):
                    await merge.insert(batch.schema, batch.rows)
                return await merge.stream(plan.render_merge(RESULT_DB, table))
        except DispatchError as exc:
            raise _query_error(exc) from exc


def _bounds(lookup: DirectorLookup) -> list[tuple[str, KeyBound]]:
    sides = (("lower", lookup.lower), ("upper", lookup.upper))
    return [(side, bound) for side, bound in sides if bound is not None]


async def _limited(
    first: ChunkBatch, rest: AsyncGenerator[ChunkBatch, None], plan: QueryPlan
) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """Rows of every chunk; with LIMIT (and no ORDER BY) stop once enough have gone out."""
    skip = plan.offset
    remaining = plan.limit
    try:
        batch: ChunkBatch | None = first
        while batch is not None:
            rows: Sequence[Sequence[Any]] = batch.rows
            if skip:
                taken = min(skip, len(rows))
                rows, skip = rows[taken:], skip - taken
            if remaining is not None:
                rows = rows[:remaining]
                remaining -= len(rows)
            if rows:
                yield rows
            if remaining == 0:
                return
            try:
                batch = await anext(rest)
            except StopAsyncIteration:
                batch = None
            except DispatchError as exc:
                raise _query_error(exc) from exc
    finally:
        await rest.aclose()  # cancels chunks still running


def _result_columns(schema: Schema, names: Sequence[str]) -> list[ResultColumn]:
    use_names = len(names) == len(schema.columns)
    return [
        result_column(names[i] if use_names else c.name, c.type_code, c.charset)
        for i, c in enumerate(schema.columns)
    ]


def _query_error(exc: DispatchError) -> Exception:
    code = exc.error.details.get("mariadb_code")
    if isinstance(code, int) and code:
        return mysql_error(code, f"{exc.error.message} (in {exc.where})")
    return mysql_error(
        1105, f"query failed on {exc.where}: {exc.error.message}; no replica could run it"
    )


def _verbatim(sql: str, expression: exp.Expression) -> bool:
    """Whether the client's text is the statement mysql-mimic handed over, unchanged.

    Its first middleware replaces session functions and ``@@`` variables in the tree; only when
    the text may hold one (or several statements) is the tree compared with a fresh parse,
    which costs a whole parse per query.
    """
    if not SESSION_TOKENS.search(sql) and ";" not in sql.strip().rstrip(";"):
        return True
    return _same_statement(sql, expression)


def _same_statement(sql: str, expression: exp.Expression) -> bool:
    try:
        statements = [e for e in sqlglot.parse(sql, read="mysql") if e is not None]
    except sqlglot.errors.ParseError:
        return False
    return len(statements) == 1 and statements[0] == expression

"""Remove a table or a whole database from the catalog and from every worker.

The catalog rows go first (in one transaction), so queries stop seeing the table before any
worker drops its chunk tables.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncmy

from qserv_py.cluster.config import HOST, ClusterConfig
from qserv_py.czar.analysis.plan import DUMMY_CHUNK
from qserv_py.czar.metadata import catalog
from qserv_py.czar.metadata.schema import META_DB, director_index_table
from qserv_py.ingest.errors import IngestError
from qserv_py.ingest.loader import chunk_table, czar_db_args, overlap_table
from qserv_py.rpc.client import RpcChannel
from qserv_py.sql import qualified


async def drop(config: ClusterConfig, database: str, table: str | None = None) -> list[str]:
    """Drop ``database.table`` (or every table of ``database``); returns the tables dropped."""
    conn = await asyncmy.connect(**czar_db_args(config))
    try:
        await catalog.ensure_schema(conn)
        tables = await catalog.get_tables(conn, database)
        if await catalog.get_database(conn, database) is None:
            raise IngestError(f"no database {database} in the catalog")
        if table is not None and table not in tables:
            raise IngestError(f"no table {database}.{table} in the catalog")
        names = [table] if table is not None else sorted(tables)
        chunk_rows = await catalog.fetchall(
            conn,
            f"SELECT table_name, chunk_id FROM {META_DB}.chunk_rows WHERE db = %s",
            (database,),
        )
        worker_tables: list[str] = []
        for name in names:
            record = tables[name]
            if record.kind == "regular":
                worker_tables.append(name)
            chunks = [int(c) for t, c in chunk_rows if t == name]
            if record.kind != "regular":
                chunks.append(DUMMY_CHUNK)
            for chunk in chunks:
                worker_tables.append(chunk_table(name, chunk))
                if record.kind == "director":
                    worker_tables.append(overlap_table(name, chunk))
        await _forget(conn, database, names, whole=table is None)
        for name in names:
            if tables[name].kind == "director":
                index = qualified(META_DB, director_index_table(database, name))
                await catalog.execute(conn, f"DROP TABLE IF EXISTS {index}")
    finally:
        conn.close()
    await asyncio.gather(
        *(
            _drop_on_worker(config, w.rpc_port, database, worker_tables, table is None)
            for w in config.workers
        )
    )
    return names


async def _forget(conn: Any, database: str, names: list[str], *, whole: bool) -> None:
    await catalog.execute(conn, "START TRANSACTION")
    try:
        for name in names:
            await catalog.execute(
                conn,
                f"DELETE FROM {META_DB}.`tables` WHERE db = %s AND name = %s",
                (database, name),
            )
            await catalog.execute(
                conn,
                f"DELETE FROM {META_DB}.chunk_rows WHERE db = %s AND table_name = %s",
                (database, name),
            )
        if whole:
            await catalog.execute(
                conn, f"DELETE FROM {META_DB}.chunk_replicas WHERE db = %s", (database,)
            )
            await catalog.execute(
                conn, f"DELETE FROM {META_DB}.`databases` WHERE name = %s", (database,)
            )
        await catalog.execute(conn, "COMMIT")
    except BaseException:
        await catalog.execute(conn, "ROLLBACK")
        raise


async def _drop_on_worker(
    config: ClusterConfig, port: int, database: str, names: list[str], whole: bool
) -> None:
    channel = await RpcChannel.connect(HOST, port, config.rpc_secret, timeout=10)
    try:
        await channel.call(
            "tables.drop",
            {"database": database, "names": names, "drop_database": whole},
            timeout=600,
        )
    finally:
        await channel.close()

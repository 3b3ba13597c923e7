"""Reads and writes of the czar db catalog (``qservMeta``) used by ingest and, later, the czar.

A table is visible to queries once its row is in ``qservMeta.tables``; ingest writes that row
last, inside the same transaction as its chunk placement and row counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from qserv_py.czar.metadata.schema import (
    DEFAULT_SCAN_RATING,
    MAX_SCAN_RATING,
    META_DB,
    STATEMENTS,
    director_index_table,
)
from qserv_py.sql import qualified, quote_ident


@dataclass(frozen=True, slots=True)
class DatabaseRecord:
    name: str
    num_stripes: int
    num_sub_stripes: int
    overlap: float


@dataclass(frozen=True, slots=True)
class TableRecord:
    db: str
    name: str
    kind: str
    director_table: str
    director_key: str
    longitude_key: str
    latitude_key: str
    overlap: float
    unique_primary_key: bool
    description: str
    row_count: int = 0
    scan_rating: int = DEFAULT_SCAN_RATING


async def fetchall(conn: Any, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
    async with conn.cursor() as cur:
        await cur.execute(sql, args)
        return list(await cur.fetchall())


async def execute(conn: Any, sql: str, args: Any = None) -> int:
    async with conn.cursor() as cur:
        return int(await cur.execute(sql, args))


async def ensure_schema(conn: Any) -> None:
    for statement in STATEMENTS:
        await execute(conn, statement)


async def get_database(conn: Any, name: str) -> DatabaseRecord | None:
    rows = await fetchall(
        conn,
        f"SELECT name, num_stripes, num_sub_stripes, overlap FROM {META_DB}.`databases`"
        " WHERE name = %s",
        (name,),
    )
    if not rows:
        return None
    r = rows[0]
    return DatabaseRecord(str(r[0]), int(r[1]), int(r[2]), float(r[3]))


async def get_tables(conn: Any, db: str) -> dict[str, TableRecord]:
    rows = await fetchall(
        conn,
        "SELECT db, name, kind, director_table, director_key, longitude_key, latitude_key,"
        f" overlap, unique_primary_key, description, row_count, scan_rating"
        f" FROM {META_DB}.`tables`"
        " WHERE db = %s",
        (db,),
    )
    return {
        str(r[1]): TableRecord(
            db=str(r[0]),
            name=str(r[1]),
            kind=str(r[2]),
            director_table=str(r[3]),
            director_key=str(r[4]),
            longitude_key=str(r[5]),
            latitude_key=str(r[6]),
            overlap=float(r[7]),
            unique_primary_key=bool(r[8]),
            description=str(r[9]),
            row_count=int(r[10]),
            scan_rating=int(r[11]),
        )
        for r in rows
    }


async def set_scan_rating(conn: Any, db: str, table: str, rating: int) -> bool:
    """Set a table's scan rating (0-100, Qserv's scale: FASTEST 0, FAST 10, MEDIUM 20, SLOW
    30, SLOWEST 100); False if there is no such table. Queries planned after the czar's
    catalog cache renews (2 s) use it."""
    if not 0 <= rating <= MAX_SCAN_RATING:
        raise ValueError(f"a scan rating is 0..{MAX_SCAN_RATING}, not {rating}")
    await execute(
        conn,
        f"UPDATE {META_DB}.`tables` SET scan_rating = %s WHERE db = %s AND name = %s",
        (rating, db, table),
    )
    rows = await fetchall(
        conn, f"SELECT 1 FROM {META_DB}.`tables` WHERE db = %s AND name = %s", (db, table)
    )
    return bool(rows)


async def get_scan_ratings(conn: Any, db: str | None = None) -> list[tuple[str, str, int]]:
    """``(db, table, rating)`` of every table, or of one database's, sorted."""
    where, args = ("WHERE db = %s", (db,)) if db else ("", ())
    rows = await fetchall(
        conn, f"SELECT db, name, scan_rating FROM {META_DB}.`tables` {where} ORDER BY 1, 2", args
    )
    return [(str(d), str(n), int(r)) for d, n, r in rows]


async def get_placement(conn: Any, db: str) -> dict[int, list[str]]:
    rows = await fetchall(
        conn, f"SELECT chunk_id, worker FROM {META_DB}.chunk_replicas WHERE db = %s", (db,)
    )
    placement: dict[int, list[str]] = {}
    for chunk_id, worker in rows:
        placement.setdefault(int(chunk_id), []).append(str(worker))
    return placement


async def get_chunks(conn: Any, db: str, table: str) -> set[int]:
    rows = await fetchall(
        conn,
        f"SELECT chunk_id FROM {META_DB}.chunk_rows WHERE db = %s AND table_name = %s",
        (db, table),
    )
    return {int(r[0]) for r in rows}


async def get_worker_load(conn: Any) -> dict[str, int]:
    rows = await fetchall(
        conn, f"SELECT worker, COUNT(*) FROM {META_DB}.chunk_replicas GROUP BY worker"
    )
    return {str(w): int(n) for w, n in rows}


async def get_director_index(
    conn: Any, db: str, table: str, key: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keys (sorted), chunks and sub-chunks of a director already in the catalog."""
    rows = await fetchall(
        conn,
        f"SELECT {quote_ident(key)}, chunkId, subChunkId FROM"
        f" {qualified(META_DB, director_index_table(db, table))} ORDER BY 1",
    )
    keys = np.asarray([r[0] for r in rows])
    chunks = np.asarray([r[1] for r in rows], dtype=np.int32)
    subs = np.asarray([r[2] for r in rows], dtype=np.int32)
    return keys, chunks, subs


async def begin_transaction(conn: Any, db: str, tables: Iterable[str]) -> int:
    async with conn.cursor() as cur:
        await cur.execute(
            f"INSERT INTO {META_DB}.ingest_transactions (db, state, tables)"
            " VALUES (%s, 'STARTED', %s)",
            (db, ",".join(tables)),
        )
        return int(cur.lastrowid)


async def end_transaction(conn: Any, txn: int, state: str, error: str | None = None) -> None:
    await execute(
        conn,
        f"UPDATE {META_DB}.ingest_transactions SET state = %s, finished = NOW(), error = %s"
        " WHERE id = %s",
        (state, error, txn),
    )


async def running_transactions(conn: Any) -> list[int]:
    rows = await fetchall(
        conn, f"SELECT id FROM {META_DB}.ingest_transactions WHERE state = 'STARTED'"
    )
    return [int(r[0]) for r in rows]


async def publish(
    conn: Any,
    database: DatabaseRecord,
    new_database: bool,
    tables: list[TableRecord],
    row_counts: Mapping[str, int],
    new_chunks: Mapping[int, tuple[str, ...]],
    chunk_rows: Mapping[str, Mapping[int, tuple[int, int]]],
    txn: int,
) -> None:
    """One transaction: the database, placement, row counts, the tables, the txn's end."""
    await execute(conn, "START TRANSACTION")
    try:
        if new_database:
            await execute(
                conn,
                f"INSERT INTO {META_DB}.`databases` (name, num_stripes, num_sub_stripes, overlap)"
                " VALUES (%s, %s, %s, %s)",
                (database.name, database.num_stripes, database.num_sub_stripes, database.overlap),
            )
        replicas = [(database.name, c, w) for c, ws in sorted(new_chunks.items()) for w in ws]
        if replicas:
            async with conn.cursor() as cur:
                await cur.executemany(
                    f"INSERT INTO {META_DB}.chunk_replicas (db, chunk_id, worker)"
                    " VALUES (%s, %s, %s)",
                    replicas,
                )
        counts = [
            (database.name, table, chunk, home, overlap)
            for table, per_chunk in sorted(chunk_rows.items())
            for chunk, (home, overlap) in sorted(per_chunk.items())
        ]
        if counts:
            async with conn.cursor() as cur:
                await cur.executemany(
                    f"INSERT INTO {META_DB}.chunk_rows"
                    " (db, table_name, chunk_id, row_count, overlap_row_count)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    counts,
                )
        for t in tables:
            await execute(
                conn,
                f"INSERT INTO {META_DB}.`tables` (db, name, kind, director_table, director_key,"
                " longitude_key, latitude_key, overlap, unique_primary_key, row_count, description)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    t.db,
                    t.name,
                    t.kind,
                    t.director_table,
                    t.director_key,
                    t.longitude_key,
                    t.latitude_key,
                    t.overlap,
                    int(t.unique_primary_key),
                    row_counts[t.name],
                    t.description,
                ),
            )
        await execute(
            conn,
            f"UPDATE {META_DB}.ingest_transactions SET state = 'COMMITTED', finished = NOW()"
            " WHERE id = %s",
            (txn,),
        )
        await execute(conn, "COMMIT")
    except BaseException:
        await execute(conn, "ROLLBACK")
        raise

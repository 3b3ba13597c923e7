"""Worker side of an ingest transaction: stage, load, then publish tables atomically.

Everything an ingest run creates lives in the staging database ``qserv_txn_<id>`` until commit,
so queries never see half-loaded tables. Commit is one ``RENAME TABLE`` statement (atomic in
MariaDB) into the user's database; the list of published tables is kept on disk until the
transaction is finished, so the czar can still roll a commit back if another worker failed.
Data arrives in pieces (bodies of ``ingest.load``); each piece is written to a file and loaded
with server-side ``LOAD DATA INFILE`` under ``STRICT_ALL_TABLES``, so MariaDB itself rejects bad
values and reports the row, which the client maps back to the input file's line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from qserv_py.csv_dialect import CsvDialect
from qserv_py.rpc.errors import RpcError
from qserv_py.rpc.server import Handler
from qserv_py.sql import is_plain_identifier, qualified, quote_ident, quote_string
from qserv_py.worker.database import WorkerDatabase

STAGING_PREFIX = "qserv_txn_"
_ROW_IN_MESSAGE = re.compile(r"\b(?:at row|Row) (\d+)")


def staging_database(txn: int) -> str:
    return f"{STAGING_PREFIX}{txn}"


class IngestService:
    def __init__(self, database: WorkerDatabase, staging_dir: Path) -> None:
        self._db = database
        self._staging_dir = staging_dir

    def handlers(self) -> dict[str, Handler]:
        return {
            "ingest.begin": self.begin,
            "ingest.create_tables": self.create_tables,
            "ingest.load": self.load,
            "ingest.enable_keys": self.enable_keys,
            "ingest.commit": self.commit,
            "ingest.abort": self.abort,
            "ingest.finish": self.finish,
            "ingest.cleanup": self.cleanup,
            "tables.drop": self.drop_tables,
            "tables.list": self.list_tables,
        }

    def _txn_dir(self, txn: int) -> Path:
        return self._staging_dir / str(txn)

    async def begin(self, params: dict[str, Any], _body: bytes) -> tuple[dict[str, Any], bytes]:
        txn = _txn(params)
        self._txn_dir(txn).mkdir(parents=True, exist_ok=True)
        stage = staging_database(txn)
        await self._db.execute(f"CREATE DATABASE IF NOT EXISTS {quote_ident(stage)}")
        return {"staging_database": staging_database(txn)}, b""

    async def create_tables(
        self, params: dict[str, Any], _body: bytes
    ) -> tuple[dict[str, Any], bytes]:
        """Create one prototype table, then each named table ``LIKE`` it, keys disabled."""
        txn = _txn(params)
        stage = staging_database(txn)
        names = [_name(n) for n in params.get("names", [])]
        prototype = _name(str(params["prototype"]))
        columns = params.get("columns") or []
        if not columns:
            raise RpcError("bad_request", "create_tables needs columns")
        defs = [f"{quote_ident(str(c))} {t}" for c, t in columns]
        for key in params.get("keys", []):
            cols = ", ".join(quote_ident(str(c)) for c in key["columns"])
            kind = "PRIMARY KEY" if key.get("kind") == "primary" else "KEY"
            defs.append(f"{kind} ({cols})")
        options = "ENGINE=MyISAM"
        if params.get("charset"):
            options += f" DEFAULT CHARSET={_name(str(params['charset']))}"
        if params.get("collation"):
            options += f" COLLATE={_name(str(params['collation']))}"
        await self._db.execute(
            f"CREATE TABLE {qualified(stage, prototype)} ({', '.join(defs)}) {options}"
        )
        for name in names:
            if name == prototype:
                continue
            await self._db.execute(
                f"CREATE TABLE {qualified(stage, name)} LIKE {qualified(stage, prototype)}"
            )
        for name in names:
            await self._db.execute(f"ALTER TABLE {qualified(stage, name)} DISABLE KEYS")
        if prototype not in names:
            await self._db.execute(f"DROP TABLE {qualified(stage, prototype)}")
        return {"created": len(names)}, b""

    async def load(self, params: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes]:
        """Load one piece of rows into a staging table; errors carry the piece's row number."""
        txn = _txn(params)
        table = _name(str(params["table"]))
        dialect = CsvDialect.from_wire(params.get("dialect") or {})
        piece = self._txn_dir(txn) / f"{table}.{params.get('piece', 0)}.load"
        piece.write_bytes(body)
        try:
            rows = await self._db.execute(
                f"LOAD DATA INFILE {quote_string(str(piece))} INTO TABLE "
                f"{qualified(staging_database(txn), table)} {dialect.load_data_clause()}"
            )
        except RpcError as exc:
            match = _ROW_IN_MESSAGE.search(exc.message)
            if match:
                exc.details["row"] = int(match.group(1))
            exc.details["table"] = table
            exc.code = "load"
            exc.retryable = False
            raise
        finally:
            piece.unlink(missing_ok=True)
        return {"rows": rows}, b""

    async def enable_keys(
        self, params: dict[str, Any], _body: bytes
    ) -> tuple[dict[str, Any], bytes]:
        """Rebuild the disabled (non-unique) indexes by sorting, once all rows are in."""
        txn = _txn(params)
        for name in params.get("names", []):
            await self._db.execute(
                f"ALTER TABLE {qualified(staging_database(txn), _name(name))} ENABLE KEYS"
            )
        return {}, b""

    async def commit(self, params: dict[str, Any], _body: bytes) -> tuple[dict[str, Any], bytes]:
        """Publish every staging table into ``database`` with one atomic RENAME."""
        txn = _txn(params)
        database = _name(str(params["database"]))
        stage = staging_database(txn)
        names = [r[0] for r in await self._db.fetchall(f"SHOW TABLES FROM {quote_ident(stage)}")]
        await self._db.execute(f"CREATE DATABASE IF NOT EXISTS {quote_ident(database)}")
        existing = {
            r[0] for r in await self._db.fetchall(f"SHOW TABLES FROM {quote_ident(database)}")
        }
        clash = sorted(set(names) & existing)
        if clash:
            raise RpcError(
                "conflict",
                f"tables already exist in {database}: {', '.join(clash[:5])}"
                + (" ..." if len(clash) > 5 else ""),
            )
        self._write_committed(txn, database, names)
        if names:
            renames = ", ".join(
                f"{qualified(stage, n)} TO {qualified(database, n)}" for n in sorted(names)
            )
            await self._db.execute(f"RENAME TABLE {renames}")
        return {"published": len(names)}, b""

    async def abort(self, params: dict[str, Any], _body: bytes) -> tuple[dict[str, Any], bytes]:
        """Drop everything the transaction made, including tables a commit already published."""
        txn = _txn(params)
        committed = self._read_committed(txn)
        if committed is not None:
            database, names = committed
            await self._drop(database, names)
        await self._db.execute(f"DROP DATABASE IF EXISTS {quote_ident(staging_database(txn))}")
        shutil.rmtree(self._txn_dir(txn), ignore_errors=True)
        return {}, b""

    async def finish(self, params: dict[str, Any], _body: bytes) -> tuple[dict[str, Any], bytes]:
        txn = _txn(params)
        await self._db.execute(f"DROP DATABASE IF EXISTS {quote_ident(staging_database(txn))}")
        shutil.rmtree(self._txn_dir(txn), ignore_errors=True)
        return {}, b""

    async def cleanup(self, params: dict[str, Any], _body: bytes) -> tuple[dict[str, Any], bytes]:
        """Abort leftovers of transactions the czar no longer knows as running."""
        keep = {int(t) for t in params.get("keep", [])}
        rows = await self._db.fetchall("SHOW DATABASES LIKE %s", (STAGING_PREFIX + "%",))
        suffixes = [str(r[0])[len(STAGING_PREFIX) :] for r in rows]
        txns = {int(s) for s in suffixes if s.isdigit()}
        if self._staging_dir.exists():
            txns |= {int(p.name) for p in self._staging_dir.iterdir() if p.name.isdigit()}
        aborted = sorted(txns - keep)
        for txn in aborted:
            await self.abort({"txn": txn}, b"")
        return {"aborted": aborted}, b""

    async def drop_tables(
        self, params: dict[str, Any], _body: bytes
    ) -> tuple[dict[str, Any], bytes]:
        database = _name(str(params["database"]))
        await self._drop(database, [_name(n) for n in params.get("names", [])])
        if params.get("drop_database"):
            await self._db.execute(f"DROP DATABASE IF EXISTS {quote_ident(database)}")
        return {}, b""

    async def list_tables(
        self, params: dict[str, Any], _body: bytes
    ) -> tuple[dict[str, Any], bytes]:
        database = _name(str(params["database"]))
        rows = await self._db.fetchall(
            "SELECT table_name, table_rows FROM information_schema.tables WHERE table_schema = %s",
            (database,),
        )
        return {"tables": {str(r[0]): int(r[1] or 0) for r in rows}}, b""

    async def _drop(self, database: str, names: list[str]) -> None:
        for start in range(0, len(names), 500):
            batch = ", ".join(qualified(database, n) for n in names[start : start + 500])
            if batch:
                await self._db.execute(f"DROP TABLE IF EXISTS {batch}")

    def _write_committed(self, txn: int, database: str, names: list[str]) -> None:
        path = self._txn_dir(txn) / "committed.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"database": database, "tables": names}))
        os.replace(tmp, path)

    def _read_committed(self, txn: int) -> tuple[str, list[str]] | None:
        path = self._txn_dir(txn) / "committed.json"
        if not path.exists():
            return None
        record = json.loads(path.read_text())
        return str(record["database"]), [str(n) for n in record["tables"]]


def _txn(params: dict[str, Any]) -> int:
    try:
        return int(params["txn"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RpcError("bad_request", "missing or bad transaction id") from exc


def _name(name: str) -> str:
    if not is_plain_identifier(name):
        raise RpcError("bad_request", f"invalid database or table name {name!r}")
    return name

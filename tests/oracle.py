"""The correctness oracle: the same data loaded unpartitioned into one plain MariaDB.

Qserv's integration tests compare against such a reference database; so do ours.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pymysql

from qserv_py.cluster.mariadb import MariaDBServer
from qserv_py.sql import quote_ident, quote_string
from tests.cluster_support import gunzip_to


class Oracle:
    def __init__(self, server: MariaDBServer, password: str) -> None:
        self.server = server
        self._password = password

    def connect(self, database: str | None = None) -> pymysql.connections.Connection[Any]:
        return pymysql.connect(
            **self.server.connect_args(self._password, database), autocommit=True
        )

    def query(self, sql: str, database: str | None = None) -> list[tuple[Any, ...]]:
        conn = self.connect(database)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return list(cur.fetchall())
        finally:
            conn.close()

    def load_table(
        self,
        database: str,
        schema_sql: str,
        table: str,
        data_file: Path,
        ingest_json: Path,
        scratch: Path,
    ) -> None:
        """CREATE the table from its schema, then LOAD DATA the file with the JSON's dialect."""
        description = json.loads(ingest_json.read_text())
        separator = description.get("fields_terminated_by") or "\t"
        enclosed = description.get("fields_enclosed_by") or ""
        plain = gunzip_to(data_file, scratch) if data_file.suffix == ".gz" else data_file
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS {quote_ident(database)}")
                cur.execute(f"USE {quote_ident(database)}")
                cur.execute(f"DROP TABLE IF EXISTS {quote_ident(table)}")
                cur.execute(schema_sql)
                enclosure = f" OPTIONALLY ENCLOSED BY {quote_string(enclosed)}" if enclosed else ""
                cur.execute(
                    f"LOAD DATA INFILE {quote_string(str(plain))} INTO TABLE {quote_ident(table)}"
                    f" FIELDS TERMINATED BY {quote_string(separator)}{enclosure}"
                    " ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'"
                )
        finally:
            conn.close()


def schema_from_ingest_json(path: Path) -> tuple[str, str]:
    """(table, CREATE TABLE) built from a Qserv ingest JSON, minus the chunk columns."""
    description = json.loads(path.read_text())
    columns = [
        f"{quote_ident(c['name'])} {c['type'].strip()}"
        for c in description["schema"]
        if not (description.get("is_partitioned") and c["name"] in ("chunkId", "subChunkId"))
    ]
    table = str(description["table"])
    return table, f"CREATE TABLE {quote_ident(table)} ({', '.join(columns)}) ENGINE=MyISAM"


def fingerprint_sql(database: str, table: str, columns: list[str]) -> str:
    """Row count and an order-independent checksum of a table's rows (NULLs distinguished).

    Compares big tables in the server instead of shipping every row to the test.
    """
    quoted = ", ".join(f"QUOTE({quote_ident(c)})" for c in columns)
    return (
        f"SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|', {quoted}))), 0)"
        f" FROM {quote_ident(database)}.{quote_ident(table)}"
    )

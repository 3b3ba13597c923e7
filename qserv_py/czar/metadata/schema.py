"""DDL of the czar db (``qservMeta``): catalog, chunk placement, row counts, ingest transactions.

The director index of table ``T`` in database ``D`` is ``qservMeta.D__T`` with columns
``(<director key>, chunkId, subChunkId)``, named and shaped as in Qserv
(reference/qserv-behaviour.md 1.3), so the same lookup SQL works.
"""

from __future__ import annotations

from qserv_py.sql import quote_string

META_DB = "qservMeta"
RESULT_DB = "qservResult"  # merge and result tables of user queries
QUERY_USER = "qserv_query"  # what user SQL runs as on the czar db: no FILE, no other database
DEFAULT_SCAN_RATING = 1  # a new table's scan rating: the fast lane (docs/shared-scans.md)
MAX_SCAN_RATING = 100  # Qserv's SLOWEST

STATEMENTS: tuple[str, ...] = (
    f"CREATE DATABASE IF NOT EXISTS {META_DB}",
    f"CREATE DATABASE IF NOT EXISTS {RESULT_DB}",
    f"""CREATE TABLE IF NOT EXISTS {META_DB}.`databases` (
        name VARCHAR(64) NOT NULL PRIMARY KEY,
        num_stripes INT NOT NULL,
        num_sub_stripes INT NOT NULL,
        overlap DOUBLE NOT NULL,
        created TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
    ) ENGINE=InnoDB""",
    f"""CREATE TABLE IF NOT EXISTS {META_DB}.`tables` (
        db VARCHAR(64) NOT NULL,
        name VARCHAR(64) NOT NULL,
        kind ENUM('director', 'child', 'regular') NOT NULL,
        director_table VARCHAR(64) NOT NULL DEFAULT '',
        director_key VARCHAR(64) NOT NULL DEFAULT '',
        longitude_key VARCHAR(64) NOT NULL DEFAULT '',
        latitude_key VARCHAR(64) NOT NULL DEFAULT '',
        overlap DOUBLE NOT NULL DEFAULT 0,
        unique_primary_key TINYINT NOT NULL DEFAULT 1,
        scan_rating INT NOT NULL DEFAULT 1,
        row_count BIGINT NOT NULL DEFAULT 0,
        description JSON NOT NULL,
        created TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
        PRIMARY KEY (db, name)
    ) ENGINE=InnoDB""",
    f"""CREATE TABLE IF NOT EXISTS {META_DB}.chunk_replicas (
        db VARCHAR(64) NOT NULL,
        chunk_id INT NOT NULL,
        worker VARCHAR(64) NOT NULL,
        PRIMARY KEY (db, chunk_id, worker),
        KEY (worker)
    ) ENGINE=InnoDB""",
    f"""CREATE TABLE IF NOT EXISTS {META_DB}.chunk_rows (
        db VARCHAR(64) NOT NULL,
        table_name VARCHAR(64) NOT NULL,
        chunk_id INT NOT NULL,
        row_count BIGINT NOT NULL,
        overlap_row_count BIGINT NOT NULL,
        PRIMARY KEY (db, table_name, chunk_id)
    ) ENGINE=InnoDB""",
    f"""CREATE TABLE IF NOT EXISTS {META_DB}.ingest_transactions (
        id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        db VARCHAR(64) NOT NULL,
        state ENUM('STARTED', 'COMMITTED', 'ABORTED') NOT NULL,
        tables TEXT NOT NULL,
        started TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
        finished TIMESTAMP NULL,
        error TEXT NULL
    ) ENGINE=InnoDB""",
)


def query_user_statements(password: str) -> tuple[str, ...]:
    """The restricted account the czar runs user SQL with (merge statements, SELECT w/o FROM).

    Only the result database: no FILE privilege (so no LOAD_FILE / INTO OUTFILE), no access to
    the catalog or the mysql database.
    """
    quoted = quote_string(password)
    account = f"'{QUERY_USER}'@'127.0.0.1'"
    return (
        f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {quoted}",
        f"ALTER USER {account} IDENTIFIED BY {quoted}",
        f"GRANT SELECT, INSERT, CREATE, DROP, INDEX, ALTER, CREATE TEMPORARY TABLES"
        f" ON {RESULT_DB}.* TO {account}",
    )


def director_index_table(database: str, table: str) -> str:
    return f"{database}__{table}"

"""Write a director index into the czar db with ``LOAD DATA LOCAL INFILE``.

Batched INSERTs cost about 7 us per row in the client alone (measured at 10 M rows); writing the
sorted arrays with pyarrow and letting MariaDB parse them is several times faster, and sorted
input is the cheapest order for the InnoDB primary key. PyMySQL is used because asyncmy's
``LOCAL INFILE`` is broken; it runs in a thread.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pymysql

from qserv_py.ingest.director_index import DirectorLookup
from qserv_py.sql import quote_string


def load_director_index(
    connect_args: dict[str, Any], qualified_table: str, lookup: DirectorLookup
) -> int:
    """Load ``lookup`` (key, chunkId, subChunkId) into an existing table; returns rows loaded."""
    columns = pa.table(
        {"key": pa.array(lookup.keys), "chunk": lookup.chunks, "sub": lookup.sub_chunks}
    )
    with tempfile.TemporaryDirectory(prefix="qserv-index-") as tmp:
        path = Path(tmp) / "index.csv"
        pacsv.write_csv(
            columns,
            path,
            write_options=pacsv.WriteOptions(
                include_header=False, delimiter=",", quoting_style="needed"
            ),
        )
        conn = pymysql.connect(**connect_args, local_infile=True)
        try:
            with conn.cursor() as cur:
                cur.execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES'")
                return int(
                    cur.execute(
                        f"LOAD DATA LOCAL INFILE {quote_string(str(path))} INTO TABLE"
                        f" {qualified_table} FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"'"
                        " ESCAPED BY '' LINES TERMINATED BY '\\n'"
                    )
                )
        finally:
            conn.close()

"""Query management statements: SHOW [FULL] PROCESSLIST, KILL [QUERY|CONNECTION] n, CANCEL id,
and the ``information_schema`` tables ``processlist`` and ``queries``.

They are recognised from the text (``CANCEL`` is Qserv's and not SQL sqlglot knows), before
mysql-mimic parses anything, and answered from the engine's ``QueryRegistry`` and the server's
connections (``CzarControl``). As in MariaDB, a user may kill only their own connections and
queries; an id that does not exist gives 1094 ("Unknown thread id"), a finished query an error
that says how it ended.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from mysql_mimic.connection import Connection
from mysql_mimic.constants import KillKind
from mysql_mimic.control import LocalControl

from qserv_py.czar.frontend.errors import mysql_error
from qserv_py.czar.query_registry import QueryRecord, QueryRegistry

__all__ = [
    "PROCESSLIST_COLUMNS",
    "QUERIES_COLUMNS",
    "CzarControl",
    "management_statement",
    "processlist_rows",
    "queries_rows",
]

INFO_WIDTH = 100  # SHOW PROCESSLIST cuts Info here; SHOW FULL PROCESSLIST does not
_SHOW = re.compile(r"\A\s*SHOW\s+(FULL\s+)?PROCESSLIST\s*;?\s*\Z", re.I)
_KILL = re.compile(r"\A\s*KILL\s+(?:(QUERY|CONNECTION)\s+)?(\d+)\s*;?\s*\Z", re.I)
_CANCEL = re.compile(r"\A\s*CANCEL\s+(\d+)\s*;?\s*\Z", re.I)

PROCESSLIST_COLUMNS = {
    "ID": "BIGINT",
    "USER": "TEXT",
    "HOST": "TEXT",
    "DB": "TEXT",
    "COMMAND": "TEXT",
    "TIME": "INT",
    "STATE": "TEXT",
    "INFO": "TEXT",
    "PROGRESS": "DECIMAL",
    "QUERY_ID": "BIGINT",
}
QUERIES_COLUMNS = {
    "QUERY_ID": "BIGINT",
    "CONNECTION_ID": "BIGINT",
    "USER": "TEXT",
    "DB": "TEXT",
    "STATUS": "TEXT",
    "SUBMITTED": "DATETIME",
    "FINISHED": "DATETIME",
    "SECONDS": "DOUBLE",
    "CHUNKS_TOTAL": "INT",
    "CHUNKS_DONE": "INT",
    "ROWS": "BIGINT",
    "ERROR": "TEXT",
    "QUERY": "TEXT",
}


class CzarControl(LocalControl):
    """mysql-mimic's in-memory connection list, readable: SHOW PROCESSLIST lists it."""

    def connections(self) -> Mapping[int, Connection]:
        return dict(self._connections)


def management_statement(
    sql: str, registry: QueryRegistry, connection: Connection, user: str
) -> Any:
    """The answer to a query-management statement, or None when ``sql`` is not one.

    Answers are mysql-mimic results: ``(rows, column names)``, or ``([], [])`` for OK.
    """
    if (show := _SHOW.match(sql)) is not None:
        names = ["Id", "User", "Host", "db", "Command", "Time", "State", "Info", "Progress"]
        rows = [row[:9] for row in processlist_rows(registry, connection, sql, bool(show[1]))]
        return rows, names
    if (kill := _KILL.match(sql)) is not None:
        _kill(registry, connection, user, int(kill[2]), (kill[1] or "CONNECTION").upper())
        return [], []
    if (cancel := _CANCEL.match(sql)) is not None:
        _cancel(registry, user, int(cancel[1]))
        return [], []
    return None


def _control(connection: Connection) -> CzarControl:
    control = connection.control
    if not isinstance(control, CzarControl):
        raise mysql_error(1105, "this server cannot list its connections")
    return control


def _kill(
    registry: QueryRegistry, connection: Connection, user: str, target: int, kind: str
) -> None:
    other = _control(connection).connections().get(target)
    if other is None:
        raise mysql_error(1094, f"Unknown thread id: {target}")
    if _user(other) != user:
        raise mysql_error(1095, f"You are not owner of thread {target}")
    if kind == "QUERY":
        record = registry.on_connection(target)
        if record is not None:
            registry.cancel(record)
        return
    other.kill(KillKind.CONNECTION)


def _cancel(registry: QueryRegistry, user: str, query_id: int) -> None:
    record = registry.get(query_id)
    if record is None:
        raise mysql_error(1094, f"Unknown query id: {query_id} (see information_schema.queries)")
    if record.user != user:
        raise mysql_error(1095, f"You are not owner of query {query_id}")
    if record.finished is not None or not registry.cancel(record):
        raise mysql_error(1094, f"Query {query_id} is not running: it ended {record.status}")


def _user(connection: Connection) -> str:
    return str(connection.session.username or "")


def _host(connection: Connection) -> str:
    writer = getattr(connection.stream, "writer", None)
    peer = writer.get_extra_info("peername") if writer is not None else None
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return "localhost"


def processlist_rows(
    registry: QueryRegistry, current: Connection, current_sql: str, full: bool
) -> list[tuple[Any, ...]]:
    """One row per client connection, as MariaDB's processlist: a running query shows as
    Command ``Query`` with its chunk progress in State and Progress (percent)."""
    rows: list[tuple[Any, ...]] = []
    for connection_id, connection in sorted(_control(current).connections().items()):
        record = registry.on_connection(connection_id)
        who = (connection_id, _user(connection), _host(connection), connection.session.database)
        if record is not None:
            total = record.chunks_total
            progress = Decimal(100 * record.chunks_done / total if total else 0)
            info: str | None = record.sql if full else record.sql[:INFO_WIDTH]
            rows.append(
                (
                    *who,
                    "Query",
                    int(record.elapsed),
                    record.progress,
                    info,
                    progress.quantize(Decimal("0.001")),
                    record.query_id,
                )
            )
            continue
        busy = connection is current  # the statement listing the processes
        text = current_sql.strip()
        info = (text if full else text[:INFO_WIDTH]) if busy else None
        rows.append((*who, "Query" if busy else "Sleep", 0, "", info, Decimal("0.000"), None))
    return rows


def queries_rows(records: Iterable[QueryRecord]) -> list[tuple[Any, ...]]:
    """``information_schema.queries``: finished queries (the last ``HISTORY``) and running ones."""
    return [
        (
            r.query_id,
            r.connection_id,
            r.user,
            r.database,
            r.status,
            _datetime(r.submitted),
            _datetime(r.finished) if r.finished is not None else None,
            round(r.elapsed, 6),
            r.chunks_total,
            r.chunks_done,
            r.rows,
            r.error,
            r.sql,
        )
        for r in records
    ]


def _datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC).replace(tzinfo=None)

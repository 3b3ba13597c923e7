"""MySQL error packets with MariaDB's codes and SQLSTATEs, so clients react as they would to
MariaDB itself (e.g. SQLAlchemy maps 42S02 to NoSuchTableError)."""

from __future__ import annotations

from mysql_mimic import errors as mimic_errors
from mysql_mimic.errors import MysqlError

# MariaDB's SQLSTATE for the codes the czar sends; mysql-mimic knows only a handful.
SQLSTATES: dict[int, bytes] = {
    1044: b"42000",  # access denied to database
    1046: b"3D000",  # no database selected
    1049: b"42000",  # unknown database
    1054: b"42S22",  # unknown column
    1064: b"42000",  # parse error
    1094: b"HY000",  # unknown thread id
    1146: b"42S02",  # no such table
    1235: b"42000",  # not supported yet
    1290: b"HY000",  # the server is running with an option that prevents this statement
    1305: b"42000",  # function does not exist
    1317: b"70100",  # query execution was interrupted
}


def register_sqlstates() -> None:
    """Teach mysql-mimic's packet writer our codes' SQLSTATEs (idempotent, static data)."""
    for code, state in SQLSTATES.items():
        mimic_errors.SQLSTATES.setdefault(code, state)


def mysql_error(code: int, message: str) -> Exception:
    """An exception mysql-mimic sends as an error packet with this code and message."""
    error: Exception = MysqlError(message, code)
    return error

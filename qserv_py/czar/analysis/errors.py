"""Typed analysis errors, each with the MariaDB error code and SQLSTATE a client expects.

Passes raise these; ``pipeline.analyse()`` is the one boundary that turns them into an
``AnalysisFailure`` value, which the front end sends as a MySQL error packet (STYLE 3, "Errors
meet one boundary"). Where MariaDB has a message for the same mistake (unknown column, no
database selected, ...) the text starts exactly as MariaDB's, so tools that match on it keep
working, and ends with what to write instead. Nothing matches on message text inside qserv-py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "AmbiguousColumn",
    "AnalysisBug",
    "AnalysisError",
    "AnalysisFailure",
    "DuplicateColumnName",
    "InvalidAreaRestrictor",
    "InvalidGroupFunction",
    "NoDatabaseSelected",
    "NonUniqueTable",
    "ParseError",
    "ReadOnly",
    "UnknownColumn",
    "UnknownDatabase",
    "UnknownTable",
    "UnknownTableInStar",
    "UnsupportedQuery",
    "WrongGroupField",
]


class AnalysisError(Exception):
    """A query the czar cannot plan, with the MySQL error it becomes."""

    mysql_code: ClassVar[int] = 1105
    sqlstate: ClassVar[str] = "HY000"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"ERROR {self.mysql_code} ({self.sqlstate}): {self.message}"


class UnsupportedQuery(AnalysisError):
    """Valid SQL that qserv-py does not run (yet); the message says how to rewrite it.

    ER_NOT_SUPPORTED_YET, as MariaDB itself answers for SQL it parses but does not implement.
    """

    mysql_code = 1235
    sqlstate = "42000"


class DuplicateColumnName(UnsupportedQuery):
    """Two result columns with the same name (Qserv's DuplSelectExprPlugin refuses these too)."""

    mysql_code = 1060
    sqlstate = "42S21"


class UnknownDatabase(AnalysisError):
    mysql_code = 1049
    sqlstate = "42000"


class UnknownTable(AnalysisError):
    mysql_code = 1146
    sqlstate = "42S02"


class UnknownTableInStar(UnknownTable):
    """``SELECT t.* ...`` where ``t`` names no table of the FROM clause (ER_BAD_TABLE_ERROR)."""

    mysql_code = 1051


class UnknownColumn(AnalysisError):
    mysql_code = 1054
    sqlstate = "42S22"


class AmbiguousColumn(AnalysisError):
    mysql_code = 1052
    sqlstate = "23000"


class NonUniqueTable(AnalysisError):
    mysql_code = 1066
    sqlstate = "42000"


class NoDatabaseSelected(AnalysisError):
    mysql_code = 1046
    sqlstate = "3D000"


class ParseError(AnalysisError):
    """Not SQL. ``line`` and ``column`` (1-based) locate the first offending token."""

    mysql_code = 1064
    sqlstate = "42000"

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


class ReadOnly(AnalysisError):
    """DML or DDL from a SQL client: users' SQL is read-only; data arrives through ingest.

    ER_OPTION_PREVENTS_STATEMENT is what MariaDB answers under ``--read-only``, so clients and
    ORMs already treat it as "this server does not take writes".
    """

    mysql_code = 1290
    sqlstate = "HY000"


class InvalidAreaRestrictor(AnalysisError):
    """A ``qserv_areaspec_*`` whose arguments describe no region.

    ER_WRONG_PARAMETERS_TO_NATIVE_FCT, MariaDB's answer to bad arguments of a built-in.
    """

    mysql_code = 1583
    sqlstate = "42000"


class InvalidGroupFunction(AnalysisError):
    """An aggregate where none is allowed (WHERE, ON, GROUP BY, inside another aggregate)."""

    mysql_code = 1111
    sqlstate = "HY000"


class WrongGroupField(AnalysisError):
    """GROUP BY naming an aggregate result (ER_WRONG_GROUP_FIELD)."""

    mysql_code = 1056
    sqlstate = "42000"


class AnalysisBug(AnalysisError):
    """A broken invariant inside qserv-py: a pass ran without its preconditions, for instance."""

    mysql_code = 1105
    sqlstate = "HY000"


@dataclass(frozen=True, slots=True)
class AnalysisFailure:
    """The value ``analyse()`` returns instead of a plan: everything an error packet needs."""

    mysql_code: int
    sqlstate: str
    message: str
    error: str
    """The error class name (``UnknownColumn``...), for logs and metrics, never for control flow."""

    @classmethod
    def from_error(cls, error: AnalysisError) -> AnalysisFailure:
        return cls(error.mysql_code, error.sqlstate, error.message, type(error).__name__)

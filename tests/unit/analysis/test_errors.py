"""Typed errors: MySQL codes and SQLSTATEs, and their one conversion into AnalysisFailure."""

from __future__ import annotations

import pytest

from qserv_py.czar.analysis import AnalysisFailure, analyse
from qserv_py.czar.analysis.errors import (
    AmbiguousColumn,
    AnalysisBug,
    AnalysisError,
    DuplicateColumnName,
    InvalidAreaRestrictor,
    InvalidGroupFunction,
    NoDatabaseSelected,
    NonUniqueTable,
    ParseError,
    ReadOnly,
    UnknownColumn,
    UnknownDatabase,
    UnknownTable,
    UnknownTableInStar,
    UnsupportedQuery,
    WrongGroupField,
)
from tests.unit.analysis.helpers import demo_view

CODES = [
    (UnsupportedQuery, 1235, "42000"),
    (DuplicateColumnName, 1060, "42S21"),
    (UnknownDatabase, 1049, "42000"),
    (UnknownTable, 1146, "42S02"),
    (UnknownTableInStar, 1051, "42S02"),
    (UnknownColumn, 1054, "42S22"),
    (AmbiguousColumn, 1052, "23000"),
    (NonUniqueTable, 1066, "42000"),
    (NoDatabaseSelected, 1046, "3D000"),
    (ParseError, 1064, "42000"),
    (ReadOnly, 1290, "HY000"),
    (InvalidAreaRestrictor, 1583, "42000"),
    (InvalidGroupFunction, 1111, "HY000"),
    (WrongGroupField, 1056, "42000"),
    (AnalysisBug, 1105, "HY000"),
]


@pytest.mark.parametrize(("cls", "code", "sqlstate"), CODES)
def test_codes(cls: type[AnalysisError], code: int, sqlstate: str) -> None:
    error = cls("what to write instead")
    assert (error.mysql_code, error.sqlstate) == (code, sqlstate)
    assert isinstance(error, AnalysisError)
    assert str(error) == f"ERROR {code} ({sqlstate}): what to write instead"
    failure = AnalysisFailure.from_error(error)
    assert failure == AnalysisFailure(code, sqlstate, "what to write instead", cls.__name__)


def test_parse_errors_carry_their_position() -> None:
    failure = analyse("SELECT objectId,\n  coord_ra dec x\nFROM Object", demo_view(), None)
    assert isinstance(failure, AnalysisFailure) and failure.mysql_code == 1064
    assert failure.message.endswith("near 'x\nFROM Object' at line 2")
    from qserv_py.czar.analysis.context import PlanContext
    from qserv_py.czar.analysis.parse import parse

    ctx = PlanContext(view=demo_view(), default_db=None, sql="")
    with pytest.raises(ParseError) as error:
        parse("SELECT a b c FROM t", ctx)
    assert (error.value.line, error.value.column) == (1, 12)


@pytest.mark.parametrize(
    "sql", ["", ";", "   ", "SELECT", "(((", "SELECT 'unterminated", "SELECT é FROM Object"]
)
def test_odd_inputs_become_failures_not_exceptions(sql: str) -> None:
    result = analyse(sql, demo_view(), "demo_dp02")
    assert isinstance(result, AnalysisFailure)
    assert result.mysql_code in (1054, 1064, 1235)

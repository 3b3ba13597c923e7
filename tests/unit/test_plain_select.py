"""Which statements skip mysql-mimic's parse: only SELECTs its middlewares would pass on."""

from __future__ import annotations

import pytest

from qserv_py.czar.frontend.plain_select import plain_select


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM Object WHERE objectId = 5",
        "select objectId from demo_dp02.Object",
        "  /* a comment */ SELECT a FROM t;",
        "-- note\nSELECT a FROM t",
        "SELECT (SELECT 1) AS x FROM t",
        "SELECT 'information' FROM t",
    ],
)
def test_plain_selects_go_straight_to_the_engine(sql: str) -> None:
    assert plain_select(sql, "demo_dp02")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",  # no FROM: evaluated by MariaDB itself (session middleware)
        "SELECT 'from x'",
        "SELECT (SELECT a FROM t)",  # FROM only inside parentheses
        "SELECT DATABASE() FROM t",  # session functions are replaced by mysql-mimic
        "SELECT NOW() FROM t",
        "SELECT @@version FROM t",
        "SELECT a FROM t WHERE b = @v",
        "SELECT /*+ SET_VAR(x=1) */ a FROM t",
        "SELECT * FROM information_schema.tables",
        "SELECT * FROM mysql.user",
        "SELECT a FROM t; SELECT b FROM t",
        "SHOW TABLES",
        "SET NAMES utf8",
        "INSERT INTO t SELECT a FROM t",
        "(SELECT a FROM t)",
        "SELECT 'unterminated FROM t",
    ],
)
def test_everything_else_takes_mysql_mimics_path(sql: str) -> None:
    assert not plain_select(sql, "demo_dp02")


def test_information_schema_as_current_database() -> None:
    assert not plain_select("SELECT * FROM tables", "INFORMATION_SCHEMA")
    assert plain_select("SELECT * FROM tables", None)

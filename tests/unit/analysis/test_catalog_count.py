"""COUNT(*) of a whole partitioned table from the catalog: the view carries the counts, the
plan is a constant statement for the czar's own db, and anything more is planned as usual."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from qserv_py.czar.analysis import CatalogCount, QueryPlan, analyse
from qserv_py.czar.engine import catalog_view
from qserv_py.czar.metadata.snapshot import (
    CatalogSnapshot,
    ColumnInfo,
    DatabaseInfo,
    TableInfo,
)
from tests.unit.analysis.helpers import COUNTED_ROWS, counted_view, demo_view


def _plan(sql: str, counted: bool = True) -> QueryPlan:
    result = analyse(sql, counted_view() if counted else demo_view(), "demo_dp02")
    assert isinstance(result, QueryPlan), result
    return result


def test_engine_view_carries_the_snapshot_row_counts() -> None:
    key = ColumnInfo("objectId", "bigint(20)", False, "bigint(20) NOT NULL")
    ra = ColumnInfo("ra", "double", False, "double NOT NULL")
    dec = ColumnInfo("decl", "double", False, "double NOT NULL")
    obj = TableInfo("db1", "Obj", "director", (key, ra, dec), "", "objectId", "ra", "decl", 77)
    database = DatabaseInfo("db1", 85, 12, 0.01, {"Obj": obj}, (1, 2), {1: ("w1",), 2: ("w2",)})
    view = catalog_view(CatalogSnapshot({"db1": database}))
    assert view.table("db1", "Obj").row_count == 77
    plan = analyse("SELECT COUNT(*) FROM Obj", view, "db1")
    assert isinstance(plan, QueryPlan)
    assert plan.chunks == CatalogCount("db1", "Obj", 77)


def test_the_answer_is_a_bigint_constant_named_as_written() -> None:
    plan = _plan("SELECT count(*) AS total FROM Object")
    assert plan.chunks == CatalogCount("demo_dp02", "Object", COUNTED_ROWS["Object"])
    assert plan.scope == "single" and not plan.needs_merge and plan.result_columns == ("total",)
    tree = sqlglot.parse_one(plan.chunk_template, read="mysql")
    assert tree.find(exp.Table) is None  # evaluated by the czar's MariaDB, no table read
    assert plan.chunk_template == ("SELECT CAST(CAST(3000 AS DECIMAL(20, 0)) AS SIGNED) AS `total`")


def test_only_the_plain_form_is_answered_from_the_catalog() -> None:
    answered = [
        "SELECT COUNT(*) FROM Object",
        "SELECT COUNT(*) FROM ForcedSource LIMIT 5",
        "SELECT COUNT(*) c1, COUNT(*) c2 FROM demo_dp02.Object o",
    ]
    planned = [
        "SELECT COUNT(*) FROM Object WHERE objectId > 3",
        "SELECT COUNT(*) FROM Object WHERE qserv_areaspec_box(0, 0, 1, 1)",
        "SELECT COUNT(*) FROM Object GROUP BY tract",
        "SELECT COUNT(*) n FROM Object HAVING n > 0",
        "SELECT COUNT(*) n FROM Object ORDER BY n",
        "SELECT DISTINCT COUNT(*) FROM Object",
        "SELECT COUNT(1) FROM Object",
        "SELECT COUNT(DISTINCT objectId) FROM Object",
        "SELECT COUNT(*), SUM(tract) FROM Object",
        "SELECT COUNT(*) FROM ForcedSource JOIN CcdVisit USING (ccdVisitId)",
        "SELECT COUNT(*) FROM CcdVisit",
    ]
    for sql in answered:
        assert isinstance(_plan(sql).chunks, CatalogCount), sql
    for sql in planned:
        assert not isinstance(_plan(sql).chunks, CatalogCount), sql
    assert not isinstance(_plan("SELECT COUNT(*) FROM Object", counted=False).chunks, CatalogCount)

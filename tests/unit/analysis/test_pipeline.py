"""The pipeline: PASSES decides the order, passes check it, each step is traced and logged."""

from __future__ import annotations

import logging

import pytest
import sqlglot

from qserv_py.czar.analysis import AnalysisFailure, QueryPlan, analyse, plan_query
from qserv_py.czar.analysis.parse import select_item_texts
from qserv_py.czar.analysis.pipeline import PASSES, Passes
from qserv_py.czar.analysis.sql_text import to_sql
from tests.unit.analysis.helpers import demo_view

QUERY = (
    "SELECT band, COUNT(*) AS n FROM ForcedSource"
    " WHERE objectId IN (1, 2) GROUP BY band ORDER BY n DESC LIMIT 3"
)


def _names(passes: tuple[object, ...]) -> list[str]:
    return [getattr(p, "__name__", "?") for p in passes]


def test_passes_in_phases() -> None:
    assert _names(PASSES.logical) == [
        "check_supported",
        "qualify_tables",
        "check_joins",
        "qualify_columns",
        "classify_joins",
        "infer_area",
        "restrict_area",
        "restrict_director",
        "restrict_sub_chunks",
        "rewrite_scisql",
        "count_from_catalog",
    ]
    assert _names(PASSES.physical) == ["split_aggregates", "place_post", "template_tables"]
    assert _names(PASSES.final) == ["select_chunks"]


def test_trace_sees_every_step_in_order() -> None:
    steps: list[tuple[str, str, str | None]] = []
    plan_query(QUERY, demo_view(), "demo_dp02", trace=lambda *step: steps.append(step))
    names = [name for name, _, _ in steps]
    assert names == ["parse", *_names(PASSES.logical), *_names(PASSES.physical)]
    merges = {name: merge for name, _, merge in steps}
    assert merges["restrict_director"] is None and merges["split_aggregates"] is not None
    assert "%CC%" in steps[-1][1] and "%CC%" not in steps[-2][1]


def test_debug_log_shows_the_sql_after_each_pass(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="qserv_py.czar.analysis.pipeline"):
        analyse(QUERY, demo_view(), "demo_dp02")
    messages = [r.getMessage() for r in caplog.records]
    assert any(
        m.startswith("after qualify_columns: SELECT `ForcedSource`.`band`") for m in messages
    )
    assert any(m.startswith("after template_tables:") and " ;; merge: " in m for m in messages)


def test_out_of_order_passes_fail_as_bugs() -> None:
    logical = list(PASSES.logical)
    logical[0], logical[1] = logical[1], logical[0]  # qualify_tables before check_supported
    swapped = Passes(tuple(logical), PASSES.physical, PASSES.final)
    failure = analyse(QUERY, demo_view(), "demo_dp02", passes=swapped)
    assert isinstance(failure, AnalysisFailure)
    assert (failure.mysql_code, failure.error) == (1105, "AnalysisBug")
    assert "check_supported must run first" in failure.message
    no_final = Passes(PASSES.logical, PASSES.physical, ())
    failure = analyse(QUERY, demo_view(), "demo_dp02", passes=no_final)
    assert isinstance(failure, AnalysisFailure) and "select_chunks" in failure.message


def test_plans_are_deterministic_and_independent() -> None:
    first = analyse(QUERY, demo_view(), "demo_dp02")
    analyse("SELECT AVG(psfFlux), MIN(psfFlux) FROM ForcedSource", demo_view(), "demo_dp02")
    again = analyse(QUERY, demo_view(), "demo_dp02")
    assert isinstance(first, QueryPlan) and first == again


def test_generated_sql_is_mariadb() -> None:
    plan = analyse(
        "SELECT objectId FROM Object WHERE CAST(objectId AS CHAR) REGEXP '^11'"
        " AND NOT (tract RLIKE '3') AND patch != 2",
        demo_view(),
        "demo_dp02",
    )
    assert isinstance(plan, QueryPlan)
    assert "REGEXP_LIKE" not in plan.chunk_template  # MySQL 8 only; MariaDB has the operator
    assert "CAST(`Object`.`objectId` AS CHAR) REGEXP '^11'" in plan.chunk_template
    assert "`Object`.`patch` <> 2" in plan.chunk_template
    assert sqlglot.parse_one(plan.render(1), read="mysql") is not None
    assert to_sql(sqlglot.parse_one("SELECT a REGEXP b", read="mysql")) == "SELECT `a` REGEXP `b`"


@pytest.mark.parametrize(
    ("sql", "items"),
    [
        ("SELECT a, b FROM t", ("a", "b")),
        ("SELECT DISTINCT count( * ) , f(a, (b)) x FROM t", ("count( * )", "f(a, (b)) x")),
        ("select 1+1", ("1+1",)),
        ("SELECT a /* c */ + 1, 'x,y' FROM t WHERE z", ("a /* c */ + 1", "'x,y'")),
        ("SELECT CASE WHEN a THEN 1 ELSE 2 END, b FROM t", ("CASE WHEN a THEN 1 ELSE 2 END", "b")),
        ("SELECT a FROM t ORDER BY b, c", ("a",)),
    ],
)
def test_select_item_texts(sql: str, items: tuple[str, ...]) -> None:
    tokens = sqlglot.Dialect.get_or_raise("mysql").tokenize(sql)
    assert select_item_texts(sql, tokens) == items


def test_plan_lists_the_tables_it_reads() -> None:
    """The engine rates a scan by these tables' scan ratings (shared-scan lanes)."""
    plan = plan_query(
        "SELECT f.band, COUNT(*) FROM ForcedSource AS f JOIN CcdVisit AS v"
        " ON f.ccdVisitId = v.ccdVisitId GROUP BY f.band",
        demo_view(),
        "demo_dp02",
    )
    assert plan.tables == (("demo_dp02", "CcdVisit"), ("demo_dp02", "ForcedSource"))

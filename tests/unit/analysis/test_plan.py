"""QueryPlan: rendering per chunk, the merge table, and the tokens that make it safe."""

from __future__ import annotations

import dataclasses

import pytest

from qserv_py.czar.analysis import (
    CHUNK_TOKEN,
    MERGE_TABLE_TOKEN,
    AnalysisFailure,
    QueryPlan,
    analyse,
)
from qserv_py.czar.analysis.plan import SingleRun, display_sql
from tests.unit.analysis.helpers import demo_view


def _plan(sql: str) -> QueryPlan:
    plan = analyse(sql, demo_view(), "demo_dp02")
    assert isinstance(plan, QueryPlan), plan
    return plan


def test_render_substitutes_the_chunk_id_only_in_table_names() -> None:
    plan = _plan("SELECT objectId FROM Object WHERE tract = '%CC%' AND patch = '%C%'")
    assert plan.chunk_template.count(CHUNK_TOKEN) == 1
    sql = plan.render(1234)
    assert "`demo_dp02`.`Object_1234` AS `Object`" in sql
    assert "'%CC%'" in sql and "'%C%'" in sql  # user strings are never touched
    assert plan.render(7) != plan.render(8)
    escaped = _plan("SELECT objectId FROM Object WHERE tract = '%C\\aC%'")  # MariaDB: '\a' is 'a'
    assert escaped.render(5).count("5") == 1


def test_tokens_cannot_come_from_users() -> None:
    assert "\x07" in CHUNK_TOKEN and "\x07" in MERGE_TABLE_TOKEN
    failure = analyse("SELECT objectId FROM Object WHERE tract = '%C\x07C%'", demo_view(), None)
    assert isinstance(failure, AnalysisFailure) and failure.mysql_code == 1235
    assert "CHAR(7)" in failure.message


def test_render_merge_reads_the_given_table() -> None:
    plan = _plan("SELECT band, COUNT(*) FROM ForcedSource GROUP BY band")
    assert plan.needs_merge and plan.merge_sql is not None
    merge = plan.render_merge("qservResult", "result_7_m")
    assert "FROM `qservResult`.`result_7_m`" in merge and MERGE_TABLE_TOKEN not in merge
    no_merge = _plan("SELECT objectId FROM Object")
    with pytest.raises(ValueError, match="no merge"):
        no_merge.render_merge("qservResult", "result_7_m")


def test_single_run_template_has_no_token() -> None:
    plan = _plan("SELECT band FROM CcdVisit")
    assert plan.scope == "single" and isinstance(plan.chunks, SingleRun)
    assert plan.render(1) == plan.render(2) == plan.chunk_template


def test_plans_are_frozen_values() -> None:
    plan = _plan("SELECT objectId FROM Object LIMIT 3")
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.limit = 4  # type: ignore[misc]
    assert plan == _plan("SELECT objectId FROM Object LIMIT 3")


def test_display_sql_shows_tokens_readably() -> None:
    text = f"SELECT 1 FROM `db`.`T_{CHUNK_TOKEN}`, `{MERGE_TABLE_TOKEN}`"
    assert display_sql(text) == "SELECT 1 FROM `db`.`T_%CC%`, `%RR%`"

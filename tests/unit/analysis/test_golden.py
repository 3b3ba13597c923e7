"""Golden files: each input's chunk template, merge SQL, result names and chunks, or its error.

See ``helpers.py`` for the format. Besides the text, every plan is checked for what dispatch
and merge rely on: both statements parse back with sqlglot, ``render`` leaves no token
behind, the merge reads only its token table, and the early-stop hints only come without a
merge.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from qserv_py.czar.analysis import (
    CHUNK_TOKEN,
    MERGE_TABLE_TOKEN,
    AllChunks,
    AnalysisFailure,
    CatalogCount,
    ChunkList,
    DirectorLookup,
    QueryPlan,
    SingleRun,
)
from qserv_py.czar.analysis.plan import OVERLAP_TOKEN
from tests.unit.analysis.helpers import (
    REGENERATE,
    Case,
    describe,
    golden_files,
    read_cases,
    rewrite,
)


def _cases(invalid: bool) -> list[tuple[Path, Case]]:
    return [(path, case) for path in golden_files(invalid) for case in read_cases(path)]


def _ids(items: list[tuple[Path, Case]]) -> list[str]:
    return [f"{path.stem}:{case.line}" for path, case in items]


if REGENERATE:  # QSERV_PY_REGEN_GOLDEN=1: rewrite the expectations before collecting them
    for _path in [*golden_files(False), *golden_files(True)]:
        rewrite(_path)

VALID = _cases(invalid=False)
INVALID = _cases(invalid=True)


def test_golden_files_exist() -> None:
    assert len(VALID) >= 50 and len(INVALID) >= 30


@pytest.mark.parametrize(("path", "case"), VALID, ids=_ids(VALID))
def test_plan(path: Path, case: Case) -> None:
    result = case.run()
    assert describe(result) == case.expected, f"{path.name}:{case.line}: {case.sql}"
    assert isinstance(result, QueryPlan)
    check_plan(result)


@pytest.mark.parametrize(("path", "case"), INVALID, ids=_ids(INVALID))
def test_error(path: Path, case: Case) -> None:
    result = case.run()
    assert describe(result) == case.expected, f"{path.name}:{case.line}: {case.sql}"
    assert isinstance(result, AnalysisFailure)


def check_plan(plan: QueryPlan) -> None:
    """What dispatch and merge rely on, whatever the query."""
    rendered = plan.render(100)
    assert CHUNK_TOKEN not in rendered and MERGE_TABLE_TOKEN not in rendered
    chunk_tree = sqlglot.parse_one(rendered, read="mysql")
    if plan.overlap:  # near-neighbour: home x home, then home x overlap
        assert OVERLAP_TOKEN not in rendered
        assert isinstance(chunk_tree, exp.Union) and not chunk_tree.args.get("distinct")
        home, overlap = (_unwrapped(side) for side in (chunk_tree.this, chunk_tree.expression))
        assert isinstance(home, exp.Select) and isinstance(overlap, exp.Select)
        names = [{t.name for t in side.find_all(exp.Table)} for side in (home, overlap)]
        assert any(n.endswith("FullOverlap_100") for n in names[1])
        assert not any("FullOverlap" in n for n in names[0])
        chunk_tree = home
    assert isinstance(chunk_tree, exp.Select)
    if plan.scope == "single":
        assert isinstance(plan.chunks, SingleRun | CatalogCount)
        assert CHUNK_TOKEN not in plan.chunk_template and plan.merge_sql is None
        if isinstance(plan.chunks, CatalogCount):  # the czar evaluates it: no table at all
            assert chunk_tree.find(exp.Table) is None
    else:
        assert not isinstance(plan.chunks, SingleRun)
        assert CHUNK_TOKEN in plan.chunk_template
    assert plan.needs_merge == (plan.merge_sql is not None)
    if plan.merge_sql is not None:
        assert plan.limit is None and plan.offset == 0
        merge = plan.render_merge("qservResult", "result_42_m")
        merge_tree = sqlglot.parse_one(merge, read="mysql")
        tables = {(t.db, t.name) for t in merge_tree.find_all(exp.Table)}
        assert tables == {("qservResult", "result_42_m")}
        assert len(merge_tree.expressions) == len(plan.result_columns)
    chunks = plan.chunks
    if isinstance(chunks, (AllChunks, ChunkList)):
        assert list(chunks.chunk_ids) == sorted(set(chunks.chunk_ids))
    if isinstance(chunks, DirectorLookup):
        if chunks.values is not None:
            assert list(chunks.values) == sorted(set(chunks.values))
            assert chunks.lower is None and chunks.upper is None  # the range thinned them
        else:
            assert chunks.lower is not None or chunks.upper is not None


def _unwrapped(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Subquery | exp.Paren):
        node = node.this
    return node

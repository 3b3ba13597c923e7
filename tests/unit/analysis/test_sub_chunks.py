"""Sub-chunk lists never leave out a sub-chunk that holds a matching row (property checks).

For random areaspecs (circles, boxes, ellipses, polygons; small and large; centred anywhere and
on sub-stripe edges), points are drawn in and around the area, some of them exactly on
sub-stripe edge latitudes. A point matches when sciSQL's own predicate (``scisql.model``, the
UDF transcribed) says 1; its chunk and sub-chunk are where ingest puts it
(``Chunker.locate``). The plan must read that sub-chunk: the chunk is chosen, and either read
whole or its list names the sub-chunk. Seeds are fixed; the failing SQL is in the message.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from qserv_py.czar.analysis import ChunkList, QueryPlan, analyse
from qserv_py.czar.scisql import model
from qserv_py.sphgeom.chunker import Chunker
from tests.unit.analysis.helpers import demo_view

CHUNKER = Chunker(85, 12)
SUB_STRIPE_DEG = 180.0 / (85 * 12)


def _plan(sql: str) -> QueryPlan:
    result = analyse(sql, demo_view(), "demo_dp02")
    assert isinstance(result, QueryPlan), result
    return result


def _area(rng: np.random.Generator) -> tuple[str, list[float], float, float, float]:
    """(kind, areaspec arguments, centre lon, centre lat, size in deg) of a random area."""
    lon = float(rng.uniform(0, 360))
    if rng.random() < 0.5:  # on a sub-stripe edge
        lat = -90.0 + SUB_STRIPE_DEG * int(rng.integers(30, 990))
    else:
        lat = float(rng.uniform(-85, 85))
    size = float(rng.choice([0.01, 0.05, 0.2, 1.0]))
    kind = str(rng.choice(["circle", "box", "ellipse", "poly"]))
    if kind == "circle":
        return kind, [lon, lat, size], lon, lat, size
    if kind == "box":
        lo = max(lat - size, -90.0)
        hi = min(lat + size, 90.0)
        return kind, [max(lon - size, 0.0), lo, min(lon + size, 360.0), hi], lon, lat, size
    if kind == "ellipse":
        major = size * 3600
        minor = major * float(rng.uniform(0.2, 1.0))
        return kind, [lon, lat, major, minor, float(rng.uniform(0, 180))], lon, lat, size
    scale = size / max(math.cos(math.radians(lat)), 0.05)
    verts = [lon - scale, lat - size, lon + scale, lat - size, lon, lat + size]
    return kind, verts, lon, lat, size


def _matches(kind: str, args: list[float], lon: float, lat: float) -> bool:
    udf = {
        "circle": model.udf_s2_pt_in_circle,
        "box": model.udf_s2_pt_in_box,
        "ellipse": model.udf_s2_pt_in_ellipse,
        "poly": model.udf_s2_pt_in_cpoly,
    }[kind]
    return udf(lon, lat, *args) == 1


@pytest.mark.parametrize("seed", range(60))
def test_sub_chunk_lists_keep_every_matching_row(seed: int) -> None:
    rng = np.random.default_rng(seed)
    kind, args, lon, lat, size = _area(rng)
    sql = (
        f"SELECT objectId FROM Object WHERE qserv_areaspec_{kind}"
        f"({', '.join(repr(a) for a in args)})"
    )
    plan = _plan(sql)
    assert isinstance(plan.chunks, ChunkList), sql
    chosen = set(plan.chunks.chunk_ids)
    lists = plan.sub_chunks or {}
    reach = 2.0 * size
    dlat = rng.uniform(-reach, reach, 4000)
    lats = np.clip(lat + dlat, -90, 90)
    edge = rng.random(4000) < 0.3  # snap some latitudes onto sub-stripe edges
    lats[edge] = -90.0 + SUB_STRIPE_DEG * np.round((lats[edge] + 90.0) / SUB_STRIPE_DEG)
    lons = np.mod(
        lon + rng.uniform(-reach, reach, 4000) / max(math.cos(math.radians(lat)), 0.05), 360
    )
    chunks, subs = CHUNKER.locate(lons, lats)
    matched = 0
    for p_lon, p_lat, chunk, sub in zip(lons, lats, chunks, subs, strict=True):
        if not _matches(kind, args, float(p_lon), float(p_lat)):
            continue
        matched += 1
        assert int(chunk) in chosen, f"{sql}: chunk of ({p_lon!r}, {p_lat!r}) dropped"
        listed = lists.get(int(chunk))
        assert listed is None or int(sub) in listed, (
            f"{sql}: sub-chunk {sub} of chunk {chunk} left out for ({p_lon!r}, {p_lat!r})"
        )
    assert matched, f"{sql}: no sample point in the area; widen the sampling"


def test_a_small_cone_reads_a_few_sub_chunks() -> None:
    plan = _plan("SELECT objectId FROM Object WHERE qserv_areaspec_circle(62, -37, 0.05)")
    assert plan.sub_chunk_column == "`Object`.`subChunkId`"
    assert plan.sub_chunks is not None and set(plan.sub_chunks) == {4273}
    assert 1 <= len(plan.sub_chunks[4273]) <= 4
    sql = plan.render(4273)
    listed = ", ".join(map(str, plan.sub_chunks[4273]))
    assert f"WHERE `Object`.`subChunkId` IN ({listed}) AND " in sql
    assert "\x07" not in plan.render(99)  # a chunk without a list is read whole
    assert "WHERE 1 AND " in plan.render(99)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT objectId FROM Object WHERE objectId = 5",  # no area
        "SELECT objectId FROM Object WHERE coord_dec > -80",  # a range box: an area too
        "SELECT * FROM CcdVisit",  # regular table
    ],
)
def test_no_placeholder_without_an_area_of_one_table(sql: str) -> None:
    plan = _plan(sql)
    if plan.sub_chunk_column is None:
        assert "\x07S" not in plan.chunk_template
    else:  # a range box is an area: lists only where they narrow a chunk down
        assert all(plan.sub_chunks is None or len(s) for s in (plan.sub_chunks or {}).values())

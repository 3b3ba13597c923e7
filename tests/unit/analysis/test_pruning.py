"""Chunk pruning never drops a chunk that holds a qualifying row (property checks).

Range comparisons and ORs of areas on the position columns (``infer_area``), and director key
ranges (``restrict_director``), against random predicates. A row's chunk is where ingest puts
it: ``qserv_py.sphgeom.chunker.Chunker.locate``, the partitioner's own code. Seeds are fixed,
so a failure repeats; the failing SQL is in the assertion message.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import lsst.sphgeom
import numpy as np
import pytest

from qserv_py.czar.analysis import (
    AllChunks,
    CatalogView,
    ChunkList,
    DirectorLookup,
    QueryPlan,
    analyse,
)
from qserv_py.czar.analysis.infer_area import RANGE_MARGIN_DEG, range_box
from qserv_py.sphgeom.chunker import Chunker
from tests.unit.analysis.helpers import _demo_tables, all_chunks, demo_view

CHUNKER = Chunker(85, 12)
ALL = frozenset(all_chunks(85, 12))


@functools.cache
def view_with_position_type(sql_type: str) -> CatalogView:
    """demo_dp02 with Object's coord_ra/coord_dec declared as ``sql_type``."""
    tables = _demo_tables()
    for table in tables:
        if table["name"] == "Object":
            table["columns"] = [
                [name, sql_type] if name in ("coord_ra", "coord_dec") else [name, kind]
                for name, kind in table["columns"]
            ]
    database = {"name": "demo_dp02", "num_stripes": 85, "num_sub_stripes": 12}
    return CatalogView.from_dicts([{**database, "chunks": sorted(ALL)}], tables)


def plan(sql: str, view: CatalogView | None = None) -> QueryPlan:
    result = analyse(sql, view or demo_view(), "demo_dp02")
    assert isinstance(result, QueryPlan), result
    return result


def chosen(result: QueryPlan) -> frozenset[int]:
    chunks = result.chunks
    if isinstance(chunks, AllChunks):
        return ALL
    assert isinstance(chunks, ChunkList), chunks
    return frozenset(chunks.chunk_ids)


def home_chunks(lon: Any, lat: Any) -> set[int]:
    chunk_ids, _ = CHUNKER.locate(np.asarray(lon, float), np.asarray(lat, float))
    return {int(c) for c in chunk_ids}


# ---------------------------------------------------------------------------------------------
# Range boxes


def _edge_value(rng: np.random.Generator, axis: str) -> float:
    """A bound: anywhere, on a chunk edge (and an ulp off it), or at/beyond the limits."""
    limit = 360.0 if axis == "lon" else 90.0
    low = 0.0 if axis == "lon" else -90.0
    choice = rng.integers(0, 5)
    if choice == 0:
        return float(rng.uniform(low - 5, limit + 5))
    if choice == 1:
        return float(rng.choice([low, limit, low - 1, limit + 1]))
    box = CHUNKER.chunk_bounds(int(rng.choice(sorted(ALL))))
    edge = box.lon_min if axis == "lon" else box.lat_min
    if choice == 2:
        return float(edge)
    return float(np.nextafter(edge, -math.inf if choice == 3 else math.inf))


def _terms(rng: np.random.Generator, column: str, axis: str) -> tuple[list[str], float, float]:
    """Random range terms on ``column`` and the closed interval of values they allow."""
    lo, hi = -math.inf, math.inf
    terms = []
    for _ in range(rng.integers(1, 3)):
        a, b = _edge_value(rng, axis), _edge_value(rng, axis)
        kind = rng.integers(0, 6)
        if kind == 0:
            a, b = sorted((a, b)) if rng.random() < 0.9 else (a, b)
            terms.append(f"{column} BETWEEN {a!r} AND {b!r}")
            lo, hi = max(lo, a), min(hi, b)
        elif kind == 1:
            terms.append(f"{column} {rng.choice(['>', '>='])} {a!r}")
            lo = max(lo, a)
        elif kind == 2:
            terms.append(f"{column} {rng.choice(['<', '<='])} {a!r}")
            hi = min(hi, a)
        elif kind == 3:
            terms.append(f"{a!r} {rng.choice(['<', '<='])} {column}")  # flipped: a lower bound
            lo = max(lo, a)
        elif kind == 4:
            terms.append(f"{a!r} {rng.choice(['>', '>='])} {column}")
            hi = min(hi, a)
        else:
            terms.append(f"{column} = {a!r}")
            lo, hi = max(lo, a), min(hi, a)
    return terms, lo, hi


def _points_in(
    rng: np.random.Generator, lon: tuple[float, float], lat: tuple[float, float], n: int = 200
) -> tuple[np.ndarray, np.ndarray] | None:
    """Stored positions ingest accepts with lon and lat in the closed intervals (ends too)."""
    lon_lo, lon_hi = max(lon[0], 0.0), min(lon[1], 360.0)
    lat_lo, lat_hi = max(lat[0], -90.0), min(lat[1], 90.0)
    if lon_lo > lon_hi or lat_lo > lat_hi:
        return None
    lons = np.concatenate([rng.uniform(lon_lo, lon_hi, n), [lon_lo, lon_hi, lon_lo, lon_hi]])
    lats = np.concatenate([rng.uniform(lat_lo, lat_hi, n), [lat_lo, lat_hi, lat_hi, lat_lo]])
    return lons, lats


@pytest.mark.parametrize("seed", range(8))
def test_range_pruning_keeps_every_qualifying_row(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(25):
        lon_terms, lon_lo, lon_hi = (
            _terms(rng, "coord_ra", "lon")
            if rng.random() < 0.8
            else (
                [],
                -math.inf,
                math.inf,
            )
        )
        lat_terms, lat_lo, lat_hi = _terms(rng, "coord_dec", "lat")
        sql = "SELECT objectId FROM Object WHERE " + " AND ".join(lon_terms + lat_terms)
        kept = chosen(plan(sql))
        points = _points_in(rng, (lon_lo, lon_hi), (lat_lo, lat_hi))
        if points is None:
            assert not kept, f"no row can match, yet chunks were kept: {sql}"
            continue
        missing = home_chunks(*points) - kept
        assert not missing, f"{sql}: rows in chunks {sorted(missing)[:5]} were pruned"


def test_float_columns_round_within_the_margin() -> None:
    """A FLOAT position is stored rounded (to the float32 value s) but located where the input
    said (anywhere within half an ulp of s): the box must still hold that chunk."""
    view = view_with_position_type("float DEFAULT NULL")
    rng = np.random.default_rng(7)
    for _ in range(60):
        box = CHUNKER.chunk_bounds(int(rng.choice(sorted(ALL))))
        lon_edge = float(np.float32(box.lon_min))
        lat_edge = float(np.float32(box.lat_max))
        sql = (
            f"SELECT objectId FROM Object WHERE coord_ra <= {lon_edge!r}"
            f" AND coord_ra >= {lon_edge - 1!r} AND coord_dec >= {lat_edge!r}"
            f" AND coord_dec <= {lat_edge + 0.5!r}"
        )
        kept = chosen(plan(sql, view))
        stored_lon = np.float32(lon_edge)
        stored_lat = np.float32(lat_edge)
        ulp_lon = float(np.spacing(stored_lon)) / 2
        ulp_lat = float(np.spacing(stored_lat)) / 2
        located = home_chunks(
            np.clip(float(stored_lon) + np.array([-ulp_lon, ulp_lon]) * 0.999, 0, 360),
            np.clip(float(stored_lat) + np.array([-ulp_lat, ulp_lat]) * 0.999, -90, 90),
        )
        assert located <= kept, sql
    assert float(np.spacing(np.float32(360.0))) < RANGE_MARGIN_DEG


@pytest.mark.parametrize("sql_type", ["decimal(9,4) NOT NULL", "int(11) NOT NULL"])
def test_no_pruning_on_other_column_types(sql_type: str) -> None:
    view = view_with_position_type(sql_type)
    sql = "SELECT objectId FROM Object WHERE coord_ra BETWEEN 10 AND 11 AND coord_dec > 80"
    assert isinstance(plan(sql, view).chunks, AllChunks)


def test_range_box_edges() -> None:
    assert range_box(350, 10, -90, 90).isEmpty()  # BETWEEN 350 AND 10 holds nothing
    assert range_box(-math.inf, math.inf, 91, math.inf).isEmpty()
    assert range_box(-math.inf, math.inf, -math.inf, math.inf).isFull()
    band = range_box(-math.inf, math.inf, 10, 20)
    assert band.getLon().isFull() and not band.isFull()
    edge = range_box(359.5, 400, -1, 1)  # never wraps past 360 into the chunks at 0
    assert not edge.getLon().wraps()
    assert edge.getLon().getB().asDegrees() == pytest.approx(360.0)


# ---------------------------------------------------------------------------------------------
# OR of areas


def _branch(rng: np.random.Generator) -> tuple[str, Any]:
    """SQL for one OR branch and a sampler of points that satisfy it."""
    if rng.random() < 0.5:
        lon_lo = float(rng.uniform(0, 359))
        lat_lo = float(rng.uniform(-89, 88))
        lon_hi, lat_hi = lon_lo + float(rng.uniform(0, 1)), lat_lo + float(rng.uniform(0, 1))
        sql = (
            f"(coord_ra BETWEEN {lon_lo!r} AND {lon_hi!r}"
            f" AND coord_dec BETWEEN {lat_lo!r} AND {lat_hi!r})"
        )
        return sql, lambda r: _points_in(r, (lon_lo, lon_hi), (lat_lo, lat_hi), 50)
    lon, lat, radius = float(rng.uniform(0, 360)), float(rng.uniform(-80, 80)), 0.5
    circle = lsst.sphgeom.Circle(
        lsst.sphgeom.UnitVector3d(lsst.sphgeom.LonLat.fromDegrees(lon, lat)),
        lsst.sphgeom.Angle.fromDegrees(radius),
    )

    def inside(r: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        lons = (lon + r.uniform(-3, 3, 400)) % 360.0
        lats = np.clip(lat + r.uniform(-0.6, 0.6, 400), -90, 90)
        keep = [
            circle.contains(lsst.sphgeom.UnitVector3d(lsst.sphgeom.LonLat.fromDegrees(a, b)))
            for a, b in zip(lons, lats, strict=True)
        ]
        return lons[keep], lats[keep]

    sql = f"scisql_s2PtInCircle(coord_ra, coord_dec, {lon!r}, {lat!r}, {radius!r}) = 1"
    return sql, inside


@pytest.mark.parametrize("seed", range(4))
def test_or_of_areas_keeps_every_branch(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    for _ in range(10):
        branches = [_branch(rng) for _ in range(int(rng.integers(2, 4)))]
        sql = "SELECT objectId FROM Object WHERE " + " OR ".join(b for b, _ in branches)
        kept = chosen(plan(sql))
        assert len(kept) < len(ALL), sql
        for _, sample in branches:
            points = sample(rng)
            assert points is not None
            missing = home_chunks(*points) - kept
            assert not missing, f"{sql}: rows in chunks {sorted(missing)[:5]} were pruned"


def test_or_with_a_branch_that_is_no_area_does_not_prune() -> None:
    sql = "SELECT objectId FROM Object WHERE coord_dec > 89 OR (coord_dec < -89 OR tract = 3)"
    assert isinstance(plan(sql).chunks, AllChunks)


def test_or_prunes_to_the_union() -> None:
    north = chosen(plan("SELECT objectId FROM Object WHERE coord_dec > 89"))
    south = chosen(plan("SELECT objectId FROM Object WHERE coord_dec < -89"))
    both = chosen(plan("SELECT objectId FROM Object WHERE (coord_dec > 89 OR coord_dec < -89)"))
    assert both == north | south and north and south and not north & south


# ---------------------------------------------------------------------------------------------
# Director key ranges


def _key_term(rng: np.random.Generator) -> tuple[str, Any]:
    a, b = (int(v) for v in rng.integers(-12, 12, 2))
    kind = int(rng.integers(0, 8))
    if kind == 0:
        return f"objectId BETWEEN {a} AND {b}", lambda k: a <= k <= b
    if kind == 1:
        return f"objectId > {a}", lambda k: k > a
    if kind == 2:
        return f"objectId >= {a}", lambda k: k >= a
    if kind == 3:
        return f"{a} > objectId", lambda k: k < a
    if kind == 4:
        return f"{a} >= objectId", lambda k: k <= a
    if kind == 5:
        return f"objectId < {a}", lambda k: k < a
    if kind == 6:
        values = sorted({int(v) for v in rng.integers(-12, 12, 4)})
        return f"objectId IN ({', '.join(map(str, values))})", lambda k: k in values
    return f"objectId = {a}", lambda k: k == a


def _looked_up(lookup: DirectorLookup, key: int) -> bool:
    """Whether ``SELECT ... FROM <index> WHERE <the lookup's condition>`` finds ``key``."""
    if lookup.values is not None:
        return key in lookup.values
    lower, upper = lookup.lower, lookup.upper
    if lower is not None and not (key > lower.value or (lower.inclusive and key == lower.value)):
        return False
    return upper is None or key < upper.value or (upper.inclusive and key == upper.value)


@pytest.mark.parametrize("table", ["Object", "ForcedSource"])
def test_director_ranges_find_exactly_the_matching_keys(table: str) -> None:
    rng = np.random.default_rng(11)
    for _ in range(300):
        terms = [_key_term(rng) for _ in range(int(rng.integers(1, 4)))]
        sql = f"SELECT * FROM {table} WHERE " + " AND ".join(t for t, _ in terms)
        lookup = plan(sql).chunks
        assert isinstance(lookup, DirectorLookup), sql
        for key in range(-15, 16):
            expected = all(check(key) for _, check in terms)
            assert _looked_up(lookup, key) == expected, f"{sql}: key {key}"


def test_director_range_sql() -> None:
    lookup = plan("SELECT * FROM Object WHERE objectId > 5 AND objectId <= 9").chunks
    assert isinstance(lookup, DirectorLookup) and lookup.values is None
    assert lookup.lower is not None and lookup.upper is not None
    assert lookup.lower.sql("`objectId`", "lower") == "`objectId` > %s"
    assert lookup.upper.sql("`objectId`", "upper") == "`objectId` <= %s"

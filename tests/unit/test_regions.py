"""qserv_py.sphgeom.regions: qserv_areaspec_* arguments to sphgeom regions and chunk coverage."""

from __future__ import annotations

import math

import lsst.sphgeom as sg
import numpy as np
import pytest

from qserv_py.sphgeom.chunker import Chunker
from qserv_py.sphgeom.regions import (
    RegionError,
    RegionIndex,
    areaspec_region,
    chunks_intersecting,
    sub_chunks_intersecting,
)


def _point(lon: float, lat: float) -> sg.UnitVector3d:
    return sg.UnitVector3d(sg.LonLat.fromDegrees(lon, lat))


def test_box_in_degrees_and_across_ra_zero() -> None:
    box = areaspec_region("box", [2, 2, 3, 3])
    assert isinstance(box, sg.Box)
    assert box == sg.Box.fromDegrees(2, 2, 3, 3)
    assert box.contains(_point(2.5, 2.5)) and not box.contains(_point(3.5, 2.5))
    wrap = areaspec_region("BOX", (359.5, -1.0, 0.5, 1.0))
    assert isinstance(wrap, sg.Box) and wrap.getLon().wraps()
    assert wrap.contains(_point(0.2, 0.0)) and wrap.contains(_point(359.8, 0.0))
    assert not wrap.contains(_point(180.0, 0.0))
    # lonMin <= lonMax outside [0, 360] is range-reduced, as sciSQL does
    assert areaspec_region("box", [-10, 0, 10, 1]).contains(_point(355.0, 0.5))


def test_circle_radius_in_degrees() -> None:
    circle = areaspec_region("circle", [62.0, -37.0, 0.05])
    assert isinstance(circle, sg.Circle)
    assert circle.getOpeningAngle().asDegrees() == pytest.approx(0.05)
    assert circle.contains(_point(62.0, -37.04)) and not circle.contains(_point(62.0, -37.06))


def test_ellipse_axes_in_arcsec() -> None:
    ellipse = areaspec_region("ellipse", [62.0, -37.0, 300.0, 100.0, 30.0])
    assert isinstance(ellipse, sg.Ellipse)
    assert ellipse.getAlpha().asDegrees() == pytest.approx(300.0 / 3600.0)
    assert ellipse.getBeta().asDegrees() == pytest.approx(100.0 / 3600.0)
    assert ellipse.contains(_point(62.0, -37.0))
    # 250" along the major axis (PA 30 deg east of north) is inside, 250" across it is not
    d = 250.0 / 3600.0
    pa = math.radians(30.0)
    along = (62.0 + d * math.sin(pa) / math.cos(math.radians(37.0)), -37.0 + d * math.cos(pa))
    across = (62.0 + d * math.cos(pa) / math.cos(math.radians(37.0)), -37.0 - d * math.sin(pa))
    assert ellipse.contains(_point(*along)) and not ellipse.contains(_point(*across))


def test_poly_is_convex_hull_of_vertices() -> None:
    poly = areaspec_region("poly", [0, 0, 1, 0, 1, 1, 0, 1])
    assert isinstance(poly, sg.ConvexPolygon)
    assert poly.contains(_point(0.5, 0.5)) and not poly.contains(_point(1.5, 0.5))
    # vertices out of order still give the square (the czar's convex hull)
    shuffled = areaspec_region("poly", [0, 0, 1, 1, 1, 0, 0, 1])
    assert shuffled.contains(_point(0.5, 0.5))


@pytest.mark.parametrize(
    ("kind", "args", "message"),
    [
        ("box", [1, 2, 3], "takes 4 arguments"),
        ("box", [0, -91, 1, 0], r"latMin -91.0 is outside \[-90, 90\]"),
        ("box", [0, 0, 1, 90.5], "latMax 90.5 is outside"),
        ("box", [0, 2, 1, 1], "latMin 2.0 > latMax 1.0"),
        ("box", [10, 0, -5, 1], "across RA 0"),
        ("box", [370, 0, 365, 1], "across RA 0"),
        ("box", [0, math.nan, 1, 1], "argument 2 is not a finite number"),
        ("circle", [1, 2], "takes 3 arguments"),
        ("circle", [1, 2, -0.1], r"radius -0.1 is outside \[0, 180\]"),
        ("circle", [1, 2, 181], "radius 181.0"),
        ("circle", [1, 95, 1], "center latitude 95.0"),
        ("circle", [math.inf, 2, 1], "argument 1 is not a finite"),
        ("ellipse", [1, 2, 3, 4], "takes 5 arguments"),
        ("ellipse", [1, 2, 100, 200, 0], "semiMinor <= semiMajor"),
        ("ellipse", [1, 2, 100, -1, 0], "semiMinor <= semiMajor"),
        ("ellipse", [1, 2, 40000, 10, 0], "36000 arcsec"),
        ("ellipse", [1, -90.5, 10, 5, 0], "center latitude"),
        ("poly", [0, 0, 1, 0], "3 to 20 vertices, got 4 arguments"),
        ("poly", [0, 0, 1, 0, 1, 1, 0], "got 7 arguments"),
        ("poly", [0.0] * 42, "got 42 arguments"),
        ("poly", [0, 0, 1, 0, 1, 91], "latitude of vertex 3"),
        ("poly", [0, 0, 1, 0, 2, 0], "non-coplanar"),
        ("poly", [5, 5, 5, 5, 5, 5], "distinct"),
        ("hull", [0, 0, 1, 0, 1, 1], "not supported"),
        ("square", [0, 0, 1], "unknown area restrictor qserv_areaspec_square"),
    ],
)
def test_bad_arguments(kind: str, args: list[float], message: str) -> None:
    with pytest.raises(RegionError, match=message):
        areaspec_region(kind, args)


def test_region_error_is_value_error() -> None:
    assert issubclass(RegionError, ValueError)


@pytest.mark.parametrize("config", [(85, 12), (340, 3)])
def test_coverage_matches_sphgeom(config: tuple[int, int]) -> None:
    index = RegionIndex(*config)
    s = sg.Chunker(*config)
    regions = [
        areaspec_region("box", [359.5, -1, 0.5, 1]),
        areaspec_region("circle", [62, -37, 0.05]),
        areaspec_region("circle", [150, 89.9, 0.5]),
        areaspec_region("ellipse", [62, -37, 300, 100, 30]),
        areaspec_region("poly", [0, 0, 1, 0, 1, 1, 0, 1]),
    ]
    for region in regions:
        chunks = index.chunks_intersecting(region)
        assert chunks == s.getChunksIntersecting(region) == sorted(chunks)
        assert chunks_intersecting(*config, region) == chunks
        subs = index.sub_chunks_intersecting(region)
        assert subs == dict(s.getSubChunksIntersecting(region))
        assert sub_chunks_intersecting(*config, region) == subs
        assert list(subs) == sorted(subs) and set(subs) <= set(chunks)


def test_coverage_contains_located_points() -> None:
    """Points sampled inside a region are located (by our Chunker) in its covering sub-chunks."""
    rng = np.random.default_rng(5)
    chunker, index = Chunker(85, 12), RegionIndex(85, 12)
    region = areaspec_region("circle", [0.3, 10.0, 2.0])
    lon = (0.3 + rng.uniform(-2.1, 2.1, 4000)) % 360.0
    lat = 10.0 + rng.uniform(-2.1, 2.1, 4000)
    inside = np.asarray(region.contains(np.radians(lon), np.radians(lat)), dtype=bool)
    chunk_ids, sub_ids = chunker.locate(lon[inside], lat[inside])
    covered = index.sub_chunks_intersecting(region)
    assert inside.sum() > 1000
    for chunk_id, sub_id in zip(chunk_ids.tolist(), sub_ids.tolist(), strict=True):
        assert sub_id in covered[chunk_id]


def test_region_index_rejects_bad_partitioning() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        RegionIndex(0, 3)
    assert repr(RegionIndex(340, 3)) == "RegionIndex(340, 3)"
    assert RegionIndex(340, 3).chunker == sg.Chunker(340, 3)

"""Area restrictors (``qserv_areaspec_*``) as lsst-sphgeom regions, and their chunk coverage.

The czar turns an area restrictor into a sphgeom region exactly as Qserv's
``src/qproc/geomAdapter.h`` does, then asks ``lsst.sphgeom.Chunker.getSubChunksIntersecting``
which chunks to query (``src/qproc/IndexMap.cc``). Region-vs-box ``relate()`` is subtle C++, so
we use the lsst-sphgeom wheel rather than re-implementing it (reference section 1.6 and 4).

Arguments are checked before any region is built, with sciSQL's rules (reference section 3):
arguments that make the worker's ``scisql_s2PtIn*`` predicate return NULL (latitude outside
[-90, 90], non-finite values, a bad radius or axes, a bad box) raise ``RegionError`` here, so the
user gets one clear error instead of a silently empty result. Units are Qserv's (section 5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, TypeAlias

import lsst.sphgeom

__all__ = [
    "AreaspecKind",
    "RegionError",
    "RegionIndex",
    "areaspec_region",
    "chunks_intersecting",
    "sub_chunks_intersecting",
]

AreaspecKind = Literal["box", "circle", "ellipse", "poly"]
Region: TypeAlias = lsst.sphgeom.Region

#: sciSQL's limits: ellipse axes at most 10 deg, polygons of 3 to 20 vertices.
MAX_ELLIPSE_AXIS_ARCSEC = 36000.0
MAX_POLY_VERTICES = 20


class RegionError(ValueError):
    """The arguments of a ``qserv_areaspec_*`` restrictor do not describe a region."""


def areaspec_region(kind: str, args: Sequence[float]) -> Region:
    """The sphgeom region of ``qserv_areaspec_<kind>(*args)``, in Qserv's units.

    ``box``: lonMin, latMin, lonMax, latMax (deg; lonMin > lonMax wraps through RA 0).
    ``circle``: lon, lat, radius (deg). ``ellipse``: lon, lat (deg), semi-major and semi-minor
    axes (arcsec), position angle (deg east of north). ``poly``: lon, lat pairs (deg), at least
    3 vertices; like Qserv, the region is their convex hull.
    """
    name = kind.lower()
    values = [float(a) for a in args]
    bad = [i for i, v in enumerate(values) if not math.isfinite(v)]
    if bad:
        raise RegionError(f"qserv_areaspec_{name}: argument {bad[0] + 1} is not a finite number")
    if name == "box":
        return _box(values)
    if name == "circle":
        return _circle(values)
    if name == "ellipse":
        return _ellipse(values)
    if name == "poly":
        return _poly(values)
    if name == "hull":
        raise RegionError("qserv_areaspec_hull is not supported (Qserv does not handle it either)")
    raise RegionError(
        f"unknown area restrictor qserv_areaspec_{name}; expected box, circle, ellipse or poly"
    )


def _check_count(name: str, values: list[float], expected: int, meaning: str) -> None:
    if len(values) != expected:
        raise RegionError(
            f"qserv_areaspec_{name} takes {expected} arguments ({meaning}), got {len(values)}"
        )


def _check_lat(name: str, what: str, lat: float) -> None:
    if not -90.0 <= lat <= 90.0:
        raise RegionError(f"qserv_areaspec_{name}: {what} {lat!r} is outside [-90, 90] deg")


def _center(name: str, lon: float, lat: float) -> lsst.sphgeom.UnitVector3d:
    _check_lat(name, "center latitude", lat)
    return lsst.sphgeom.UnitVector3d(lsst.sphgeom.LonLat.fromDegrees(lon, lat))


def _box(values: list[float]) -> Region:
    _check_count("box", values, 4, "lonMin, latMin, lonMax, latMax in deg")
    lon_min, lat_min, lon_max, lat_max = values
    _check_lat("box", "latMin", lat_min)
    _check_lat("box", "latMax", lat_max)
    if lat_min > lat_max:
        raise RegionError(f"qserv_areaspec_box: latMin {lat_min!r} > latMax {lat_max!r}")
    if lon_max < lon_min and (lon_max < 0.0 or lon_min > 360.0):
        # sciSQL returns NULL and sphgeom refuses: a wrapping box needs both ends in [0, 360].
        raise RegionError(
            f"qserv_areaspec_box: lonMin {lon_min!r} > lonMax {lon_max!r}, which only makes "
            "sense (a box across RA 0) with both in [0, 360] deg"
        )
    return lsst.sphgeom.Box.fromDegrees(lon_min, lat_min, lon_max, lat_max)


def _circle(values: list[float]) -> Region:
    _check_count("circle", values, 3, "lon, lat, radius in deg")
    lon, lat, radius = values
    center = _center("circle", lon, lat)
    if not 0.0 <= radius <= 180.0:
        raise RegionError(f"qserv_areaspec_circle: radius {radius!r} is outside [0, 180] deg")
    return lsst.sphgeom.Circle(center, lsst.sphgeom.Angle.fromDegrees(radius))


def _ellipse(values: list[float]) -> Region:
    _check_count(
        "ellipse",
        values,
        5,
        "lon, lat in deg, semiMajor, semiMinor in arcsec, posAngle in deg east of north",
    )
    lon, lat, semi_major, semi_minor, pos_angle = values
    center = _center("ellipse", lon, lat)
    if not 0.0 <= semi_minor <= semi_major <= MAX_ELLIPSE_AXIS_ARCSEC:
        raise RegionError(
            f"qserv_areaspec_ellipse: axes must satisfy 0 <= semiMinor <= semiMajor <= "
            f"{MAX_ELLIPSE_AXIS_ARCSEC:g} arcsec, got semiMajor={semi_major!r}, "
            f"semiMinor={semi_minor!r} (they are in arcsec, not deg)"
        )
    # Qserv divides by 3600 before converting: Angle::fromDegrees(arcsec / 3600.).
    return lsst.sphgeom.Ellipse(
        center,
        lsst.sphgeom.Angle.fromDegrees(semi_major / 3600.0),
        lsst.sphgeom.Angle.fromDegrees(semi_minor / 3600.0),
        lsst.sphgeom.Angle.fromDegrees(pos_angle),
    )


def _poly(values: list[float]) -> Region:
    n = len(values)
    if n < 6 or n % 2 != 0 or n > 2 * MAX_POLY_VERTICES:
        raise RegionError(
            f"qserv_areaspec_poly takes lon, lat pairs (deg) of 3 to {MAX_POLY_VERTICES} "
            f"vertices, got {n} arguments"
        )
    vertices = []
    for i in range(0, n, 2):
        _check_lat("poly", f"latitude of vertex {i // 2 + 1}", values[i + 1])
        lon_lat = lsst.sphgeom.LonLat.fromDegrees(values[i], values[i + 1])
        vertices.append(lsst.sphgeom.UnitVector3d(lon_lat))
    try:
        return lsst.sphgeom.ConvexPolygon(vertices)
    except ValueError as exc:  # fewer than 3 distinct, non-coplanar vertices
        raise RegionError(f"qserv_areaspec_poly: {exc}") from exc


class RegionIndex:
    """Chunk coverage of regions for one partitioning (stripes, sub-stripes per stripe).

    Holds one ``lsst.sphgeom.Chunker`` (about 0.1 ms to build), so a czar keeps one per
    partitioning family instead of a module-level cache. Results are conservative: a chunk is
    listed unless sphgeom proves it disjoint from the region, as in Qserv.
    """

    __slots__ = ("_chunker",)

    def __init__(self, num_stripes: int, num_sub_stripes: int) -> None:
        try:
            self._chunker = lsst.sphgeom.Chunker(num_stripes, num_sub_stripes)
        except RuntimeError as exc:
            raise ValueError(f"Chunker({num_stripes}, {num_sub_stripes}): {exc}") from exc

    def __repr__(self) -> str:
        c = self._chunker
        return f"RegionIndex({c.numStripes}, {c.numSubStripesPerStripe})"

    @property
    def chunker(self) -> lsst.sphgeom.Chunker:
        return self._chunker

    def chunks_intersecting(self, region: Region) -> list[int]:
        """Ids of the chunks that may intersect ``region``, ascending."""
        return [int(c) for c in self._chunker.getChunksIntersecting(region)]

    def sub_chunks_intersecting(self, region: Region) -> dict[int, list[int]]:
        """chunkId -> sub-chunk ids that may intersect ``region``; chunks ascending.

        This is what Qserv's czar uses to pick chunks (``IndexMap::getChunks``): a chunk is
        listed only if at least one of its sub-chunks is.
        """
        return {
            int(chunk): [int(s) for s in subs]
            for chunk, subs in self._chunker.getSubChunksIntersecting(region)
        }


def chunks_intersecting(num_stripes: int, num_sub_stripes: int, region: Region) -> list[int]:
    """One-off ``RegionIndex(...).chunks_intersecting(region)``; keep a RegionIndex to reuse."""
    return RegionIndex(num_stripes, num_sub_stripes).chunks_intersecting(region)


def sub_chunks_intersecting(
    num_stripes: int, num_sub_stripes: int, region: Region
) -> dict[int, list[int]]:
    """One-off ``RegionIndex(...).sub_chunks_intersecting(region)``."""
    return RegionIndex(num_stripes, num_sub_stripes).sub_chunks_intersecting(region)

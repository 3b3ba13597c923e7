"""infer_area: terms on the partitioning columns that also prune chunks; the SQL is unchanged.

Qserv's reverse inference (reference/qserv-behaviour.md 1.2), extended. Among the top-level AND
terms of WHERE, each of these restricts the rows to a region, so only chunks that intersect it
can hold results (the term itself still filters rows on the workers):

- ``scisql_s2PtIn{Box,Circle,Ellipse,CPoly}(lon, lat, <numeric literals>)``, bare, ``= 1`` or
  ``1 =``, as in Qserv. Stricter than Qserv, as the reference recommends: ``lon, lat`` must be
  the longitude and latitude keys of one partitioned table, and the other side of ``=`` must
  be 1. Arguments the region code rejects (sciSQL returns NULL for them) give no pruning,
  never an error: the query means what it says and simply scans.
- range comparisons of a position column with a numeric literal: ``lon BETWEEN a AND b``,
  ``lat > a``, ``a <= lat`` ... (``<``, ``<=``, ``>``, ``>=``, ``=``). Those of one table form
  one box; latitude alone gives a band of all longitudes. Qserv does not prune on them.
- an OR whose every branch is one of the above, or an AND of them, on one table: the union
  of the branches' regions (``lon > 359 OR lon < 1``, two circles ...). Qserv does not either.

In a near-neighbour join only terms on the home tables prune (``ctx.selects_chunks``): a pair's
other row may come from a neighbouring chunk's overlap. Several restricting terms, with or
without areaspecs, all restrict: ``select_chunks``
intersects their chunk lists. Runs before ``restrict_area``, so it reads only the terms the
user wrote.

Why a range box never drops a row (ranges work on stored values, regions on the sphere):
ingest refuses positions outside longitude [0, 360] and latitude [-90, 90] and locates each row
from the value MariaDB stores (parsed as a double, like MariaDB does), so the stored values of
matching rows lie in the box ``[max(lo, 0), min(hi, 360)] x [max(lo, -90), min(hi, 90)]``
(strict comparisons are treated as closed: the box is only larger). The box is widened by
``RANGE_MARGIN_DEG`` (0.36 arcsec) on every side, which covers the rounding of FLOAT columns
(a FLOAT holds a position to about 1.5e-5 deg) and sphgeom's chunk edges disagreeing by ulps
with the partitioner's, but not beyond longitude 0 or 360: the partitioner never wraps a
longitude (360 goes to the last chunk of its stripe), so a range ending at 360 cannot hold a
row of the chunks starting at 0. ``lo > hi`` leaves an empty box (no row can match: no
chunk); ``lon BETWEEN 350 AND 10`` is such a range in SQL, while ``lon >= 350 OR lon <= 10``
is the union of two boxes. Only DOUBLE, FLOAT and REAL position columns count (a DECIMAL may
round a stored value further away than the margin).

Examples (``examples.py`` catalog; the circle touches one chunk):

>>> from qserv_py.czar.analysis.examples import show, show_plan
>>> show_plan("SELECT objectId FROM Object"
...           " WHERE scisql_s2PtInCircle(coord_ra, coord_dec, 62, -37, 0.05) = 1")
chunk: SELECT `Object`.`objectId` FROM `demo_dp02`.`Object_%CC%` AS `Object`
    WHERE `%SS%` AND CASE WHEN CAST(`Object`.`coord_ra` AS DOUBLE) IS NULL ... END = 1
columns: objectId
chunks: [4273] of demo_dp02
sub-chunks: 4273: [2, 3]
>>> show_plan("SELECT objectId FROM Object"
...           " WHERE coord_ra BETWEEN 10.2 AND 10.3 AND coord_dec >= 2.5 AND coord_dec < 2.6")
chunk: SELECT `Object`.`objectId` FROM `demo_dp02`.`Object_%CC%` AS `Object`
    WHERE `%SS%` AND (`Object`.`coord_ra` BETWEEN 10.2 AND 10.3
    AND `Object`.`coord_dec` >= 2.5 AND `Object`.`coord_dec` < 2.6)
columns: objectId
chunks: [7314] of demo_dp02
sub-chunks: 7314: [561, 562]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import lsst.sphgeom
from sqlglot import exp

from qserv_py.czar.analysis.context import AreaRestriction, PlanContext
from qserv_py.czar.analysis.predicates import (
    conjuncts,
    numeric_literal,
    strip_parens,
    truth_call,
)
from qserv_py.sphgeom.regions import RegionError, areaspec_region

__all__ = ["RANGE_MARGIN_DEG", "infer_area", "range_box"]

RANGE_MARGIN_DEG = 1e-4
"""How much a range box is widened on each side (see the module docstring)."""

_KINDS = {
    "scisql_s2ptinbox": "box",
    "scisql_s2ptincircle": "circle",
    "scisql_s2ptinellipse": "ellipse",
    "scisql_s2ptincpoly": "poly",
}
_FLOATING = frozenset({"double", "float", "real"})
_LOWER = (exp.GT, exp.GTE)  # column > literal: a lower bound
_UPPER = (exp.LT, exp.LTE)


@dataclass(slots=True)
class _Ranges:
    """The bounds the range terms on one table put on its longitude and latitude."""

    lon_lo: float = -math.inf
    lon_hi: float = math.inf
    lat_lo: float = -math.inf
    lat_hi: float = math.inf

    def add(self, axis: str, lo: float, hi: float) -> None:
        if axis == "lon":
            self.lon_lo, self.lon_hi = max(self.lon_lo, lo), min(self.lon_hi, hi)
        else:
            self.lat_lo, self.lat_hi = max(self.lat_lo, lo), min(self.lat_hi, hi)

    def area(self) -> AreaRestriction | None:
        """The box, or None when it is the whole sky (nothing to prune)."""
        box = range_box(self.lon_lo, self.lon_hi, self.lat_lo, self.lat_hi)
        if box.isFull():
            return None
        args = (self.lon_lo, self.lat_lo, self.lon_hi, self.lat_hi)
        return AreaRestriction("box", args, box, "range")


def range_box(lon_lo: float, lon_hi: float, lat_lo: float, lat_hi: float) -> lsst.sphgeom.Box:
    """A box holding every stored position with lon in [lon_lo, lon_hi], lat in [lat_lo, lat_hi].

    Bounds may be infinite (no bound) or anything a user wrote; see the module docstring.
    """
    m = RANGE_MARGIN_DEG
    lat_lo, lat_hi = max(lat_lo - m, -90.0), min(lat_hi + m, 90.0)
    lon_lo, lon_hi = max(lon_lo - m, 0.0), min(lon_hi + m, 360.0)
    if lat_lo > lat_hi or lon_lo > lon_hi:
        return lsst.sphgeom.Box.empty()
    lat = lsst.sphgeom.AngleInterval.fromDegrees(lat_lo, lat_hi)
    if lon_hi - lon_lo >= 360.0:
        lon = lsst.sphgeom.NormalizedAngleInterval.full()
    else:  # 0 <= lon_lo <= lon_hi <= 360: never wraps
        lon = lsst.sphgeom.NormalizedAngleInterval.fromDegrees(lon_lo, lon_hi)
    return lsst.sphgeom.Box(lon, lat)


def infer_area(select: exp.Select, ctx: PlanContext) -> exp.Select:
    ctx.require("qualify_columns", "classify_joins")
    ranges: dict[str, _Ranges] = {}
    for term in conjuncts(select):
        area = _scisql_area(term, ctx)
        if area is not None:
            ctx.areas.append(area[1])
            continue
        bound = _range(term, ctx)
        if bound is not None:
            alias, axis, lo, hi = bound
            ranges.setdefault(alias, _Ranges()).add(axis, lo, hi)
            continue
        union = _union_area(term, ctx)
        if union is not None:
            ctx.areas.append(union)
    for alias in sorted(ranges):
        box = ranges[alias].area()
        if box is not None:
            ctx.areas.append(box)
    return select


def _scisql_area(term: exp.Expr, ctx: PlanContext) -> tuple[str, AreaRestriction] | None:
    """The table alias and region of a ``scisql_s2PtIn*(lon, lat, ...) [= 1]`` term."""
    call = truth_call(term)
    if not isinstance(call, exp.Anonymous):
        return None
    kind = _KINDS.get(call.name.lower())
    if kind is None or len(call.expressions) < 3:
        return None
    lon, lat = call.expressions[0], call.expressions[1]
    if not _on_position_columns(lon, lat, ctx):
        return None
    values = [numeric_literal(arg) for arg in call.expressions[2:]]
    args = [v for v in values if v is not None]
    if len(args) != len(values):
        return None
    try:
        region = areaspec_region(kind, args)
    except RegionError:
        return None
    assert isinstance(lon, exp.Column)
    return lon.table, AreaRestriction(kind, tuple(args), region, "scisql")


def _range(term: exp.Expr, ctx: PlanContext) -> tuple[str, str, float, float] | None:
    """``(alias, "lon" | "lat", lo, hi)`` for a range comparison of a position column."""
    term = strip_parens(term)
    if isinstance(term, exp.Between):
        if term.args.get("symmetric"):
            return None
        column = _position_axis(term.this, ctx)
        lo, hi = numeric_literal(term.args["low"]), numeric_literal(term.args["high"])
        if column is None or lo is None or hi is None:
            return None
        return (*column, lo, hi)
    if not isinstance(term, (*_LOWER, *_UPPER, exp.EQ)):
        return None
    left, right = term.this, term.expression
    flipped = False
    column = _position_axis(left, ctx)
    value = numeric_literal(right)
    if column is None:
        column, value, flipped = _position_axis(right, ctx), numeric_literal(left), True
    if column is None or value is None:
        return None
    if isinstance(term, exp.EQ):
        return (*column, value, value)
    lower = isinstance(term, _LOWER) != flipped  # lat > 5, or 5 < lat
    return (*column, value, math.inf) if lower else (*column, -math.inf, value)


def _union_area(term: exp.Expr, ctx: PlanContext) -> AreaRestriction | None:
    """An OR of area terms (or of ANDs of them) on one table: the union of their regions."""
    if not isinstance(strip_parens(term), exp.Or):
        return None
    regions: list[lsst.sphgeom.Region] = []
    aliases: set[str] = set()
    for branch in _disjuncts(term):
        found = _branch_region(branch, ctx)
        if found is None:
            return None
        aliases.add(found[0])
        regions.append(found[1])
    if len(aliases) != 1:
        return None
    return AreaRestriction("union", (), lsst.sphgeom.UnionRegion(*regions), "or")


def _branch_region(branch: exp.Expr, ctx: PlanContext) -> tuple[str, lsst.sphgeom.Region] | None:
    """The region of one OR branch: its terms (ANDed) are all area terms on one table."""
    aliases: set[str] = set()
    regions: list[lsst.sphgeom.Region] = []
    ranges = _Ranges()
    has_range = False
    for term in _and_terms(branch):
        area = _scisql_area(term, ctx)
        if area is not None:
            aliases.add(area[0])
            regions.append(area[1].region)
            continue
        bound = _range(term, ctx)
        if bound is None:
            return None  # a term that says nothing about position: the branch may be anywhere
        alias, axis, lo, hi = bound
        aliases.add(alias)
        ranges.add(axis, lo, hi)
        has_range = True
    if len(aliases) != 1:
        return None
    if has_range:
        regions.append(range_box(ranges.lon_lo, ranges.lon_hi, ranges.lat_lo, ranges.lat_hi))
    region = regions[0] if len(regions) == 1 else lsst.sphgeom.IntersectionRegion(*regions)
    return aliases.pop(), region


def _disjuncts(term: exp.Expr) -> list[exp.Expr]:
    node = strip_parens(term)
    if isinstance(node, exp.Or):
        return [*_disjuncts(node.this), *_disjuncts(node.expression)]
    return [node]


def _and_terms(term: exp.Expr) -> list[exp.Expr]:
    node = strip_parens(term)
    if isinstance(node, exp.And):
        return [*_and_terms(node.this), *_and_terms(node.expression)]
    return [node]


def _position_axis(node: exp.Expr, ctx: PlanContext) -> tuple[str, str] | None:
    """``(alias, "lon" | "lat")`` when ``node`` is a floating-point position column."""
    node = strip_parens(node)
    if not isinstance(node, exp.Column) or not node.table or not ctx.selects_chunks(node.table):
        return None
    table = ctx.ref(node.table).table
    if not (table.is_partitioned and table.has_position):
        return None
    name = node.name.lower()
    if name == table.longitude_key.lower():
        axis = "lon"
    elif name == table.latitude_key.lower():
        axis = "lat"
    else:
        return None
    column = table.column(node.name)
    sql_type = column.sql_type.strip().split("(")[0].split()[0].lower() if column else ""
    if sql_type not in _FLOATING:
        return None
    return node.table, axis


def _on_position_columns(lon: exp.Expr, lat: exp.Expr, ctx: PlanContext) -> bool:
    if not (isinstance(lon, exp.Column) and isinstance(lat, exp.Column)):
        return False
    if lon.table != lat.table or not ctx.selects_chunks(lon.table):
        return False
    table = ctx.ref(lon.table).table
    return (
        table.is_partitioned
        and table.has_position
        and lon.name.lower() == table.longitude_key.lower()
        and lat.name.lower() == table.latitude_key.lower()
    )

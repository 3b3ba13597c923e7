"""qserv_py.sphgeom.chunker against lsst-sphgeom and a scalar transcription of sph-partition.

``_ScalarPartitioner`` below is a line-by-line transcription of ``lsst/qserv
src/partition/Chunker.cc`` (``_initialize``, ``locate``, ``_upDownOverlap``), written apart from
the module under test, one row at a time: the vectorised code must match it bit for bit.
"""

from __future__ import annotations

import math

import lsst.sphgeom as sg
import numpy as np
import pytest

from qserv_py.sphgeom.chunker import Chunker

CONFIGS = [(85, 12), (340, 3), (85, 14), (18, 100)]
# (stripes, sub-stripes, overlaps): each configuration's real overlap, and a large one.
OVERLAPS = {(85, 12): (0.01667, 0.1), (340, 3): (0.01667, 0.15), (85, 14): (0.001, 0.1),
            (18, 100): (0.01, 0.08)}  # fmt: skip

DEG_PER_RAD = 57.2957795130823208767981548141
RAD_PER_DEG = 0.0174532925199432957692369076849


def _segments(lat_min: float, lat_max: float, width: float) -> int:
    lat = max(abs(lat_min), abs(lat_max))
    if lat > 90.0 - 1 / 3600.0:
        return 1
    if width >= 180.0:
        return 1
    lat *= RAD_PER_DEG
    cw = math.cos(width * RAD_PER_DEG)
    sl, cl = math.sin(lat), math.cos(lat)
    x = cw - sl * sl
    u = cl * cl
    y = math.sqrt(abs(u * u - x * x))
    return math.floor(360.0 / abs(DEG_PER_RAD * math.atan2(y, x)))


def _max_alpha(r: float, center_lat: float) -> float:
    if r == 0.0:
        return 0.0
    lat = min(max(center_lat, -90.0), 90.0)
    if abs(lat) + r > 90.0 - 1 / 3600.0:
        return 180.0
    r *= RAD_PER_DEG  # converted before the subtraction, as in C++: it changes the last ulp
    lat *= RAD_PER_DEG
    x = math.sqrt(abs(math.cos(lat - r) * math.cos(lat + r)))
    return DEG_PER_RAD * abs(math.atan(math.sin(r) / x))


def _clamp_lon(lon: float) -> float:
    return 360.0 if lon > 360.0 - 0.001 / 3600 else lon


def _clamp_lat(lat: float) -> float:
    return -90.0 if lat < -90.0 else 90.0 if lat > 90.0 else lat


class _ScalarPartitioner:
    """sph-partition's Chunker, one row at a time."""

    def __init__(self, overlap: float, ns: int, nss: int) -> None:
        self.overlap, self.ns, self.nss = overlap, ns, nss
        self.nsub = ns * nss
        self.h = 180.0 / self.nsub
        sh = 180.0 / ns
        self.nc: list[int] = []
        self.nsc: list[int] = []
        self.scw: list[float] = []
        self.alpha: list[float] = []
        for i in range(ns):
            nc = _segments(i * sh - 90.0, (i + 1) * sh - 90.0, sh)
            self.nc.append(nc)
            for j in range(nss):
                ss = i * nss + j
                lat_min, lat_max = ss * self.h - 90.0, (ss + 1) * self.h - 90.0
                nsc = _segments(lat_min, lat_max, self.h) // nc
                self.nsc.append(nsc)
                self.scw.append(360.0 / (nsc * nc))
                self.alpha.append(_max_alpha(overlap, max(abs(lat_min), abs(lat_max))))
        self.m = max(self.nsc)

    def ids(self, stripe: int, ss: int, chunk: int, sc: int) -> tuple[int, int]:
        return stripe * 2 * self.ns + chunk, (ss - stripe * self.nss) * self.m + (
            sc - chunk * self.nsc[ss]
        )

    def locate(self, lon: float, lat: float) -> list[tuple[int, int, bool]]:
        ss = math.floor((lat + 90.0) / self.h)
        ss = min(ss, self.nsub - 1)
        stripe = ss // self.nss
        sc = math.floor(lon / self.scw[ss])
        nc, nscpc = self.nc[stripe], self.nsc[ss]
        n = nc * nscpc
        sc = min(sc, n - 1)
        chunk = sc // nscpc
        out = [(*self.ids(stripe, ss, chunk, sc), False)]
        if self.overlap == 0.0:
            return out
        lon_min = sc * self.scw[ss]
        lon_max = _clamp_lon((sc + 1) * self.scw[ss])
        lat_min = _clamp_lat(ss * self.h - 90.0)
        lat_max = _clamp_lat((ss + 1) * self.h - 90.0)
        if ss > 0 and lat < lat_min + self.overlap:
            self._up_down(lon, (ss - 1) // self.nss, ss - 1, out)
        if ss < self.nsub - 1 and lat >= lat_max - self.overlap:
            self._up_down(lon, (ss + 1) // self.nss, ss + 1, out)
        if n == 1:
            return out
        a = self.alpha[ss]
        if lon < lon_min + a:
            osc = n - 1 if sc == 0 else sc - 1
            out.append((*self.ids(stripe, ss, osc // nscpc, osc), True))
        if lon > lon_max - a:
            osc = 0 if sc == n - 1 else sc + 1
            out.append((*self.ids(stripe, ss, osc // nscpc, osc), True))
        return out

    def _up_down(self, lon: float, stripe: int, ss: int, out: list[tuple[int, int, bool]]) -> None:
        nscpc = self.nsc[ss]
        n = self.nc[stripe] * nscpc
        w, a = self.scw[ss], self.alpha[ss]
        lo = math.floor((lon - a) / w)
        hi = math.floor((lon + a) / w)
        if lo < 0:
            lo += n
        if hi >= n:
            hi -= n
        runs = [range(lo, n), range(0, hi + 1)] if lo > hi else [range(lo, hi + 1)]
        for run in runs:
            for sc in run:
                out.append((*self.ids(stripe, ss, sc // nscpc, sc), True))


def _adversarial(c: Chunker, ref: _ScalarPartitioner, rng: np.random.Generator) -> np.ndarray:
    """Positions on and 1 ulp around sub-stripe, sub-chunk and overlap edges, RA 0/360, poles."""
    h, r = ref.h, ref.overlap
    n = ref.nsub
    ss = np.unique(np.concatenate([[0, 1, 2, n - 3, n - 2, n - 1], rng.integers(0, n, 250)]))
    lat_edges = ss * h - 90.0
    lats = np.concatenate([lat_edges, lat_edges + r, lat_edges - r, [-90.0, 90.0, 89.9999999]])
    lats = np.concatenate([lats, np.nextafter(lats, -np.inf), np.nextafter(lats, np.inf)])
    lats = np.clip(lats, -90.0, 90.0)
    pts = [np.column_stack([rng.uniform(0, 360, lats.size), lats])]
    pts.append(np.column_stack([np.zeros(lats.size), lats]))
    pts.append(np.column_stack([np.full(lats.size, 360.0), lats]))
    pts.append(np.column_stack([np.full(lats.size, np.nextafter(360.0, 0)), lats]))
    # sub-chunk edges (the first few, some random ones, the last) in sampled sub-stripes
    for s in [*rng.choice(ref.nsub, size=min(ref.nsub, 80), replace=False).tolist(), 0]:
        n = ref.nc[s // ref.nss] * ref.nsc[s]
        w, a = ref.scw[s], ref.alpha[s]
        k = np.unique(np.concatenate([[0, 1, 2, n - 2, n - 1, n], rng.integers(0, n + 1, 8)]))
        k = k[(k >= 0) & (k <= n)]
        lons = np.concatenate([k * w, k * w + a, k * w - a])
        lons = np.concatenate([lons, np.nextafter(lons, -np.inf), np.nextafter(lons, np.inf)])
        lons = np.clip(lons, 0.0, 360.0)
        in_band = [s * h - 90.0, (s + 0.5) * h - 90.0, (s + 1) * h - 90.0 - r / 2]
        for lat in in_band:
            pts.append(np.column_stack([lons, np.full(lons.size, min(max(lat, -90.0), 90.0))]))
    return np.concatenate(pts)


def _random(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.column_stack(
        [rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))]
    )


@pytest.fixture(scope="module", params=CONFIGS, ids=[f"{a}x{b}" for a, b in CONFIGS])
def config(request: pytest.FixtureRequest) -> tuple[int, int]:
    return request.param  # type: ignore[no-any-return]


def test_bad_arguments() -> None:
    for args in [(0, 1), (1, 0), (-3, 12)]:
        with pytest.raises(ValueError, match="must be positive"):
            Chunker(*args)
    with pytest.raises(ValueError, match="too small"):
        Chunker(1000, 1000)
    c = Chunker(85, 12)
    for bad in (-0.1, 10.5, math.nan):
        with pytest.raises(ValueError, match=r"range \[0, 10\]"):
            c.check_overlap(bad)
    with pytest.raises(ValueError, match="sub-stripe height"):
        c.check_overlap(0.2)
    with pytest.raises(ValueError, match="sub-chunk width"):
        Chunker(1, 18).check_overlap(10.0)


def test_tables_match_sphgeom(config: tuple[int, int]) -> None:
    c, s = Chunker(*config), sg.Chunker(*config)
    chunks = c.all_chunks()
    assert chunks.dtype == np.int32
    np.testing.assert_array_equal(chunks, s.getAllChunks())
    assert all(c.valid_chunk(int(x)) for x in chunks[:: max(1, chunks.size // 500)])
    assert not c.valid_chunk(-1) and not c.valid_chunk(int(chunks[-1]) + 1)
    ref = _ScalarPartitioner(0.0, *config)
    assert c.max_sub_chunks_per_chunk == ref.m
    step = 2 * config[0]
    for stripe, nc in enumerate(ref.nc):
        assert not c.valid_chunk(stripe * step + nc)
        for chunk_id in (stripe * step, stripe * step + nc - 1):
            assert c.stripe_of(chunk_id) == s.getStripe(chunk_id) == stripe
            np.testing.assert_array_equal(c.all_sub_chunks(chunk_id), s.getAllSubChunks(chunk_id))


def test_known_locations() -> None:
    """Values from reference section 4 (sph-partition 85/12)."""
    lon = [0.0, 62.0, 150.1, 359.999, 10.0, 180.0]
    lat = [0.0, -37.0, 2.2, 89.99, -89.9, 45.0]
    chunk_ids, sub_ids = Chunker(85, 12).locate(lon, lat)
    assert chunk_ids.tolist() == [7140, 4273, 7380, 14280, 0, 10769]
    assert sub_ids.tolist() == [345, 3, 419, 759, 0, 627]
    assert Chunker(85, 12).max_sub_chunks_per_chunk == 69
    assert Chunker(340, 3).max_sub_chunks_per_chunk == 12


def test_locate_matches_scalar_partitioner(config: tuple[int, int]) -> None:
    rng = np.random.default_rng(20240501)
    c = Chunker(*config)
    ref = _ScalarPartitioner(OVERLAPS[config][0], *config)
    pts = np.concatenate([_adversarial(c, ref, rng), _random(rng, 3000)])
    assert not c.invalid_positions(pts[:, 0], pts[:, 1]).any()
    chunk_ids, sub_ids = c.locate(pts[:, 0], pts[:, 1])
    expected = np.array([ref.locate(lon, lat)[0][:2] for lon, lat in pts.tolist()])
    np.testing.assert_array_equal(chunk_ids, expected[:, 0])
    np.testing.assert_array_equal(sub_ids, expected[:, 1])


def test_locate_agrees_with_sphgeom(config: tuple[int, int]) -> None:
    rng = np.random.default_rng(7)
    c, s = Chunker(*config), sg.Chunker(*config)
    ref = _ScalarPartitioner(0.0, *config)
    adversarial = _adversarial(c, ref, rng)
    extremes = [(0.0, -90.0), (0.0, 90.0), (360.0, -90.0), (360.0, 90.0), (360.0, 0.0),
                (np.nextafter(360.0, 0.0), 0.0), (180.0, np.nextafter(90.0, 0.0)), (0.0, 0.0),
                (5.0, np.nextafter(-90.0, 0.0)), (359.9999999, 89.9999999)]  # fmt: skip
    pts = np.concatenate(
        [extremes, adversarial[rng.choice(len(adversarial), 1500)], _random(rng, 500)]
    )
    chunk_ids, sub_ids = c.locate(pts[:, 0], pts[:, 1])
    step = 2 * config[0]
    for (lon, lat), chunk_id, sub_id in zip(pts.tolist(), chunk_ids.tolist(), sub_ids.tolist(),
                                            strict=True):  # fmt: skip
        p = sg.UnitVector3d(sg.LonLat.fromDegrees(lon, lat))
        stripe = chunk_id // step
        assert s.getChunkBoundingBox(stripe, chunk_id - stripe * step).contains(p), (lon, lat)
        assert s.getSubChunkBoundingBox(*c.global_sub_chunk(chunk_id, sub_id)).contains(p)
        tiny = sg.Circle(p, sg.Angle.fromDegrees(1e-7))
        assert chunk_id in s.getChunksIntersecting(tiny)
        assert sub_id in dict(s.getSubChunksIntersecting(tiny))[chunk_id]


def test_invalid_positions_mask() -> None:
    lon = np.array([0.0, 360.0, -1e-300, 360.0000001, np.nan, 10.0, 10.0, np.inf, 5.0])
    lat = np.array([-90.0, 90.0, 0.0, 0.0, 0.0, 90.0000001, np.nan, 0.0, -np.inf])
    mask = Chunker.invalid_positions(lon, lat)
    assert mask.tolist() == [False, False, True, True, True, True, True, True, True]


def test_locate_empty_and_multi_block() -> None:
    c = Chunker(85, 12)
    chunk_ids, sub_ids = c.locate(np.empty(0), np.empty(0))
    assert chunk_ids.size == sub_ids.size == 0
    rng = np.random.default_rng(3)
    pts = _random(rng, 200_001)  # several blocks, the last one partial
    whole = c.locate(pts[:, 0], pts[:, 1])
    part = c.locate(pts[-5:, 0], pts[-5:, 1])
    np.testing.assert_array_equal(whole[0][-5:], part[0])
    np.testing.assert_array_equal(whole[1][-5:], part[1])


# ---------------------------------------------------------------------------------- overlap


def _scalar_overlap(ref: _ScalarPartitioner, pts: np.ndarray) -> list[tuple[int, int, int]]:
    return [
        (row, chunk_id, sub_id)
        for row, (lon, lat) in enumerate(pts.tolist())
        for chunk_id, sub_id, overlap in ref.locate(lon, lat)
        if overlap
    ]


@pytest.mark.parametrize("which", [0, 1])
def test_overlap_matches_scalar_partitioner(config: tuple[int, int], which: int) -> None:
    rng = np.random.default_rng(11 + which)
    overlap = OVERLAPS[config][which]
    c = Chunker(*config)
    ref = _ScalarPartitioner(overlap, *config)
    pts = np.concatenate([_adversarial(c, ref, rng), _random(rng, 2000)])
    rows, chunk_ids, sub_ids = c.locate_overlap(pts[:, 0], pts[:, 1], overlap)
    assert rows.dtype == np.int64 and chunk_ids.dtype == sub_ids.dtype == np.int32
    got = list(zip(rows.tolist(), chunk_ids.tolist(), sub_ids.tolist(), strict=True))
    assert got == _scalar_overlap(ref, pts)


def test_overlap_zero_and_two_sub_chunk_rings() -> None:
    c = Chunker(85, 12)
    rows, _, _ = c.locate_overlap([0.0, 10.0], [0.0, 89.99], 0.0)
    assert rows.size == 0
    # Near the pole a sub-stripe can have 2 sub-chunks: left and right are then the same one,
    # and Qserv writes the row twice.
    c = Chunker(2, 1)
    ref = _ScalarPartitioner(10.0, 2, 1)
    pts = np.array([[1.0, 45.0], [179.0, -45.0], [359.0, 1.0], [90.0, -89.0]])
    rows, chunk_ids, sub_ids = c.locate_overlap(pts[:, 0], pts[:, 1], 10.0)
    got = list(zip(rows.tolist(), chunk_ids.tolist(), sub_ids.tolist(), strict=True))
    assert got == _scalar_overlap(ref, pts)


def _ang_dist(lon1: np.ndarray, lat1: np.ndarray, lon2: float, lat2: float) -> np.ndarray:
    """Haversine distance in degrees (accurate for the small distances tested)."""
    p1, p2 = np.radians(lat1), math.radians(lat2)
    dl = np.radians(lon1 - lon2)
    a = np.sin((p1 - p2) / 2) ** 2 + np.cos(p1) * math.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(np.degrees(2 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))))


def _in_lon_range(lon: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.mod(lon - lo, 360.0) <= hi - lo


def _dist_to_box(lon: np.ndarray, lat: np.ndarray, box: tuple[float, ...]) -> np.ndarray:
    """Angular distance (deg) from each point to a lon/lat box (0 inside)."""
    lo, hi, la, lb = box
    inside = (lat >= la) & (lat <= lb) & _in_lon_range(lon, lo, hi)
    cands = [_ang_dist(lon, lat, x, y) for x in (lo, hi) for y in (la, lb)]
    in_range = _in_lon_range(lon, lo, hi)
    for y in (la, lb):  # parallels: nearest point has the same longitude
        cands.append(np.where(in_range, np.abs(lat - y), np.inf))
    for x in (lo, hi):  # meridian arcs: foot of the perpendicular, if on the arc
        dl = np.radians(lon - x)
        p = np.radians(lat)
        foot = np.degrees(np.arctan2(np.sin(p), np.cos(p) * np.cos(dl)))
        d = np.degrees(np.arcsin(np.abs(np.cos(p) * np.sin(dl))))
        cands.append(np.where((foot >= la) & (foot <= lb), d, np.inf))
    return np.where(inside, 0.0, np.min(cands, axis=0))


def test_overlap_is_complete_and_within_dilated_box(config: tuple[int, int]) -> None:
    """Every point within ``overlap`` of a sub-chunk (but located elsewhere) is in its overlap,
    and every overlap row lies in the sub-chunk's box dilated by (alpha, overlap)."""
    rng = np.random.default_rng(99)
    c = Chunker(*config)
    chunks = c.all_chunks()
    near = 0
    for overlap in OVERLAPS[config]:
        ref = _ScalarPartitioner(overlap, *config)
        picked = [*chunks[rng.integers(0, chunks.size, 25)].tolist(), 0, int(chunks[-1])]
        for chunk_id in picked:
            subs = c.all_sub_chunks(chunk_id)
            for sub_id in rng.choice(subs, min(6, subs.size), replace=False).tolist():
                near += _check_sub_chunk_overlap(c, ref, rng, chunk_id, sub_id, overlap)
    assert near > 1000  # the samples do reach the borders


def _check_sub_chunk_overlap(
    c: Chunker,
    ref: _ScalarPartitioner,
    rng: np.random.Generator,
    chunk_id: int,
    sub_id: int,
    overlap: float,
) -> int:
    """Check one sub-chunk; return how many sampled points were within ``overlap`` of it."""
    b = c.sub_chunk_bounds(chunk_id, sub_id)
    box = (b.lon_min, b.lon_max, b.lat_min, b.lat_max)
    ss, _ = c.global_sub_chunk(chunk_id, sub_id)
    alpha = ref.alpha[ss]
    pole = max(abs(b.lat_min), abs(b.lat_max)) + 2 * overlap
    margin = 180.0 if pole >= 89.9 else 2 * overlap / math.cos(math.radians(pole))
    lon = rng.uniform(b.lon_min - margin, b.lon_max + margin, 600) % 360.0
    lat = np.clip(rng.uniform(b.lat_min - 1.5 * overlap, b.lat_max + 1.5 * overlap, 600), -90, 90)
    home_chunk, home_sub = c.locate(lon, lat)
    rows, chunk_ids, sub_ids = c.locate_overlap(lon, lat, overlap)
    mine = np.zeros(lon.size, dtype=bool)
    mine[rows[(chunk_ids == chunk_id) & (sub_ids == sub_id)]] = True
    home = (home_chunk == chunk_id) & (home_sub == sub_id)
    assert not (mine & home).any(), "an overlap row repeats the home location"
    dist = _dist_to_box(lon, lat, box)
    must = ~home & (dist < overlap - 1e-9)
    missing = np.flatnonzero(must & ~mine)
    assert missing.size == 0, (chunk_id, sub_id, lon[missing[:3]], lat[missing[:3]])
    # Qserv's box approximation: lat within overlap, lon within alpha of the box.
    lat_ok = (lat[mine] >= b.lat_min - overlap - 1e-9) & (lat[mine] <= b.lat_max + overlap + 1e-9)
    w = b.lon_max - b.lon_min
    lon_ok = _in_lon_range(lon[mine], b.lon_min - alpha - 1e-9, b.lon_min + w + alpha + 1e-9)
    assert lat_ok.all() and (lon_ok | (alpha >= 180.0)).all(), (chunk_id, sub_id)
    return int(must.sum())

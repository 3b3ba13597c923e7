"""Qserv's spherical chunking, bit-identical to the partitioner ``sph-partition``.

The sky is cut into ``num_stripes`` latitude stripes, each stripe into chunks of roughly equal
width, each stripe into ``num_sub_stripes`` sub-stripes and each chunk into sub-chunks. The
tables are computed exactly as ``lsst/qserv src/partition/Chunker.cc`` does (in degrees, with
scalar ``math``, i.e. the platform libm like the C++), and give the same tables as sphgeom's
radians version (tested). Points are located with the same floating-point operations in the
same order, so ingest written by this module and by ``sph-partition`` agree row for row,
including the overlap rows. See ``reference/sphgeom-and-scisql.md`` sections 1.1-1.7 and 2.3.

Identifiers are not dense: ``chunkId = stripe * 2 * num_stripes + chunk`` and
``subChunkId = subStripeInChunk * max_sub_chunks_per_chunk + subChunkInChunk``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["MAX_SUB_STRIPES", "Chunker", "DegreeBox"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]

# The partitioner's constants (src/partition/Constants.h), parsed exactly as the C++ compiler does.
_DEG_PER_RAD = 57.2957795130823208767981548141
_RAD_PER_DEG = 0.0174532925199432957692369076849
_EPSILON_DEG = 0.001 / 3600.0  # 1 mas
_POLE_CUTOFF_DEG = 90.0 - 1.0 / 3600.0

#: sphgeom refuses sub-stripes thinner than 1 arcsec ("Sub-stripes are too small").
MAX_SUB_STRIPES = 180 * 3600
_INT32_MAX = 2**31 - 1
# Rows per block: keeps the temporaries of ``locate`` in L2 cache (measured fastest).
_BLOCK = 1 << 16


def _segments(lat_min: float, lat_max: float, width: float) -> int:
    """How many pieces of at least ``width`` degrees the band [lat_min, lat_max] is cut into.

    Transcribes ``partition::segments``. Its ``width < 1/3600`` branch is unreachable here
    because the constructor rejects more than ``MAX_SUB_STRIPES`` sub-stripes.
    """
    lat = max(abs(lat_min), abs(lat_max))
    if lat > _POLE_CUTOFF_DEG or width >= 180.0:
        return 1
    lat *= _RAD_PER_DEG
    cw = math.cos(width * _RAD_PER_DEG)
    sl = math.sin(lat)
    cl = math.cos(lat)
    x = cw - sl * sl
    u = cl * cl
    y = math.sqrt(abs(u * u - x * x))
    return math.floor(360.0 / abs(_DEG_PER_RAD * math.atan2(y, x)))


def _max_alpha(r: float, center_lat: float) -> float:
    """Half-width in longitude of a circle of radius ``r`` at ``center_lat`` (``maxAlpha``)."""
    if r == 0.0:
        return 0.0
    lat = _clamp_lat(center_lat)
    if abs(lat) + r > _POLE_CUTOFF_DEG:
        return 180.0
    r *= _RAD_PER_DEG
    lat *= _RAD_PER_DEG
    y = math.sin(r)
    x = math.sqrt(abs(math.cos(lat - r) * math.cos(lat + r)))
    return _DEG_PER_RAD * abs(math.atan(y / x))


def _clamp_lon(lon: float) -> float:
    """``clampLon``: ``k * width`` may miss 360 by an ulp for the last (sub-)chunk."""
    return 360.0 if lon > 360.0 - _EPSILON_DEG else lon


def _clamp_lat(lat: float) -> float:
    return min(max(lat, -90.0), 90.0)


@dataclass(frozen=True, slots=True)
class DegreeBox:
    """An undilated longitude/latitude box in degrees, as the partitioner's ``SphericalBox``."""

    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float


@dataclass(frozen=True, slots=True)
class _OverlapTables:
    """Per-sub-stripe thresholds of ``Chunker::locate(pos, -1, locs)`` for one overlap radius.

    Thresholds that must never fire (no sub-stripe below the first, none above the last, no
    left/right neighbour in a one-sub-chunk sub-stripe) are +-inf, so no per-row test is needed.
    """

    alpha: FloatArray  # longitude half-width of the overlap, used by up/down
    alpha_lr: FloatArray  # alpha, or -inf where the sub-stripe has a single sub-chunk
    below_if_lat_lt: FloatArray  # latMin + overlap
    above_if_lat_ge: FloatArray  # latMax - overlap


class Chunker:
    """Qserv's chunk/sub-chunk grid for ``num_stripes`` stripes of ``num_sub_stripes`` each.

    The per-sub-stripe tables below are indexed by the global sub-stripe ``ss``; everything a
    row needs is one table lookup, so ``locate`` is a handful of numpy passes per block.
    """

    __slots__ = (
        "_chunk_base",
        "_lat_max",
        "_lat_min",
        "_max_sub_chunks",
        "_nsc",
        "_nsub",
        "_nsub_last",
        "_num_chunks",
        "_num_stripes",
        "_num_sub_stripes",
        "_overlap_cache",
        "_sub_base",
        "_sub_chunk_width",
        "_sub_stripe_height",
    )

    def __init__(self, num_stripes: int, num_sub_stripes: int) -> None:
        if num_stripes < 1 or num_sub_stripes < 1:
            raise ValueError(
                "The number of stripes and sub-stripes per stripe must be positive, got "
                f"num_stripes={num_stripes}, num_sub_stripes={num_sub_stripes}"
            )
        n_sub = num_stripes * num_sub_stripes
        if n_sub > MAX_SUB_STRIPES:
            raise ValueError(
                f"Sub-stripes are too small: {num_stripes}*{num_sub_stripes} = {n_sub} "
                f"sub-stripes, at most {MAX_SUB_STRIPES} (1 arcsec high) are allowed"
            )
        self._num_stripes = num_stripes
        self._num_sub_stripes = num_sub_stripes
        stripe_height = 180.0 / num_stripes
        h = 180.0 / n_sub
        self._sub_stripe_height = h
        num_chunks: list[int] = []
        nsc: list[int] = []
        for i in range(num_stripes):
            nc = _segments(i * stripe_height - 90.0, (i + 1) * stripe_height - 90.0, stripe_height)
            num_chunks.append(nc)
            for j in range(num_sub_stripes):
                ss = i * num_sub_stripes + j
                nsc.append(_segments(ss * h - 90.0, (ss + 1) * h - 90.0, h) // nc)
        m = max(nsc)
        if (num_stripes - 1) * 2 * num_stripes + num_chunks[-1] > _INT32_MAX or (
            num_sub_stripes * m > _INT32_MAX
        ):
            # Qserv's C++ would silently overflow int32 here.
            raise ValueError(f"{num_stripes}/{num_sub_stripes}: chunk ids overflow int32")
        self._max_sub_chunks = m
        self._num_chunks = np.array(num_chunks, dtype=np.int32)
        ss_all = np.arange(n_sub, dtype=np.int64)
        stripe_of_ss = ss_all // num_sub_stripes
        self._nsc = np.array(nsc, dtype=np.int32)
        self._nsub = (self._num_chunks[stripe_of_ss] * self._nsc).astype(np.int32)
        self._nsub_last = self._nsub - 1
        self._sub_chunk_width = np.array([360.0 / n for n in self._nsub.tolist()], dtype=np.float64)
        self._chunk_base = (stripe_of_ss * 2 * num_stripes).astype(np.int32)
        self._sub_base = ((ss_all - stripe_of_ss * num_sub_stripes) * m).astype(np.int32)
        self._lat_min = np.array([_clamp_lat(ss * h - 90.0) for ss in range(n_sub)])
        self._lat_max = np.array([_clamp_lat((ss + 1) * h - 90.0) for ss in range(n_sub)])
        self._overlap_cache: dict[float, _OverlapTables] = {}
        for table in (self._num_chunks, self._nsc, self._nsub, self._sub_chunk_width):
            table.flags.writeable = False

    def __repr__(self) -> str:
        return f"Chunker({self._num_stripes}, {self._num_sub_stripes})"

    @property
    def num_stripes(self) -> int:
        return self._num_stripes

    @property
    def num_sub_stripes(self) -> int:
        """Sub-stripes per stripe (``part.num-sub-stripes``)."""
        return self._num_sub_stripes

    @property
    def max_sub_chunks_per_chunk(self) -> int:
        """The multiplier M in ``subChunkId``; sphgeom's Python binding does not expose it."""
        return self._max_sub_chunks

    # ---------------------------------------------------------------- enumeration and bounds

    def stripe_of(self, chunk_id: int) -> int:
        return chunk_id // (2 * self._num_stripes)

    def valid_chunk(self, chunk_id: int) -> bool:
        stripe = self.stripe_of(chunk_id)
        if not 0 <= stripe < self._num_stripes:
            return False
        return chunk_id - stripe * 2 * self._num_stripes < int(self._num_chunks[stripe])

    def valid_sub_chunk(self, chunk_id: int, sub_chunk_id: int) -> bool:
        if not self.valid_chunk(chunk_id) or sub_chunk_id < 0:
            return False
        k, x = divmod(sub_chunk_id, self._max_sub_chunks)
        ss = self.stripe_of(chunk_id) * self._num_sub_stripes + k
        return k < self._num_sub_stripes and x < int(self._nsc[ss])

    def all_chunks(self) -> IntArray:
        """Every chunk id, ascending (sphgeom ``getAllChunks``)."""
        step = 2 * self._num_stripes
        return np.concatenate(
            [s * step + np.arange(n, dtype=np.int32) for s, n in enumerate(self._num_chunks)]
        ).astype(np.int32)

    def all_sub_chunks(self, chunk_id: int) -> IntArray:
        """Every sub-chunk id of ``chunk_id``, ascending (sphgeom ``getAllSubChunks``)."""
        self._check_chunk(chunk_id)
        first = self.stripe_of(chunk_id) * self._num_sub_stripes
        m = self._max_sub_chunks
        per_sub_stripe = self._nsc[first : first + self._num_sub_stripes].tolist()
        return np.concatenate(
            [k * m + np.arange(n, dtype=np.int32) for k, n in enumerate(per_sub_stripe)]
        ).astype(np.int32)

    def global_sub_chunk(self, chunk_id: int, sub_chunk_id: int) -> tuple[int, int]:
        """(global sub-stripe, index within it): what sphgeom's ``getSubChunkBoundingBox`` takes."""
        if not self.valid_sub_chunk(chunk_id, sub_chunk_id):
            raise ValueError(f"invalid sub-chunk {sub_chunk_id} of chunk {chunk_id} in {self!r}")
        stripe = self.stripe_of(chunk_id)
        chunk = chunk_id - stripe * 2 * self._num_stripes
        k, x = divmod(sub_chunk_id, self._max_sub_chunks)
        ss = stripe * self._num_sub_stripes + k
        return ss, chunk * int(self._nsc[ss]) + x

    def chunk_bounds(self, chunk_id: int) -> DegreeBox:
        """The partitioner's ``getChunkBounds``: undilated, lonMax clamped to 360."""
        self._check_chunk(chunk_id)
        stripe = self.stripe_of(chunk_id)
        chunk = chunk_id - stripe * 2 * self._num_stripes
        width = 360.0 / int(self._num_chunks[stripe])
        nss, h = self._num_sub_stripes, self._sub_stripe_height
        return DegreeBox(
            chunk * width,
            _clamp_lon((chunk + 1) * width),
            _clamp_lat(stripe * nss * h - 90.0),
            _clamp_lat((stripe + 1) * nss * h - 90.0),
        )

    def sub_chunk_bounds(self, chunk_id: int, sub_chunk_id: int) -> DegreeBox:
        """The partitioner's ``getSubChunkBounds``: undilated, lonMax clamped to 360."""
        ss, sc = self.global_sub_chunk(chunk_id, sub_chunk_id)
        w = float(self._sub_chunk_width[ss])
        return DegreeBox(
            sc * w, _clamp_lon((sc + 1) * w), float(self._lat_min[ss]), float(self._lat_max[ss])
        )

    def _check_chunk(self, chunk_id: int) -> None:
        if not self.valid_chunk(chunk_id):
            raise ValueError(f"invalid chunk id {chunk_id} for {self!r}")

    # ---------------------------------------------------------------- point location

    @staticmethod
    def invalid_positions(lon_deg: npt.ArrayLike, lat_deg: npt.ArrayLike) -> BoolArray:
        """Mask of rows ``locate`` must not be given: NaN, inf, lon outside [0, 360] or lat
        outside [-90, 90]. sph-partition aborts on NULL and misbehaves on the rest."""
        lon = np.asarray(lon_deg, dtype=np.float64)
        lat = np.asarray(lat_deg, dtype=np.float64)
        ok = (lon >= 0.0) & (lon <= 360.0) & (lat >= -90.0) & (lat <= 90.0)
        return np.asarray(~ok, dtype=np.bool_)

    def locate(self, lon_deg: npt.ArrayLike, lat_deg: npt.ArrayLike) -> tuple[IntArray, IntArray]:
        """(chunkId, subChunkId) of each position, as sph-partition's non-overlap ``locate()``.

        The caller validates first (``invalid_positions``): no range reduction is done, and for
        invalid rows the ids are meaningless (never an error). Inputs are flattened.
        ``lon == 360`` falls into the last sub-chunk and ``lat == 90`` into the last
        sub-stripe, as in Qserv.
        """
        lon, lat = _as_positions(lon_deg, lat_deg)
        n = lon.size
        chunk_ids = np.empty(n, dtype=np.int32)
        sub_chunk_ids = np.empty(n, dtype=np.int32)
        block = min(n, _BLOCK)
        ss = np.empty(block, dtype=np.int32)
        sc = np.empty(block, dtype=np.int32)
        for start in range(0, n, _BLOCK):
            stop = min(n, start + _BLOCK)
            m = stop - start
            self._home(lon[start:stop], lat[start:stop], ss[:m], sc[:m])
            self._ids(ss[:m], sc[:m], chunk_ids[start:stop], sub_chunk_ids[start:stop])
        return chunk_ids, sub_chunk_ids

    def _home(self, lon: FloatArray, lat: FloatArray, ss: IntArray, sc: IntArray) -> None:
        """Global sub-stripe and sub-chunk index within it, into ``ss`` and ``sc``.

        C++ does ``static_cast<int32_t>(floor(x))``; for valid input x >= 0, so the truncating
        cast numpy does is the same. ``ss`` is clipped at 0 too, so that invalid input cannot
        index outside the tables.
        """
        t = (lat + 90.0) / self._sub_stripe_height
        ss[...] = t
        np.clip(ss, 0, self._nsc.size - 1, out=ss)
        np.take(self._sub_chunk_width, ss, out=t)
        np.divide(lon, t, out=t)
        sc[...] = t
        np.minimum(sc, self._nsub_last[ss], out=sc)

    def _ids(self, ss: IntArray, sc: IntArray, chunk_ids: IntArray, sub_ids: IntArray) -> None:
        """chunkId and subChunkId of sub-chunk ``sc`` of global sub-stripe ``ss``.

        The chunk is derived from the sub-chunk (``sc // nsc``), never from ``lon / chunkWidth``:
        the two can disagree by an ulp at chunk edges.
        """
        nsc = self._nsc[ss]
        chunk = sc // nsc
        np.add(self._chunk_base[ss], chunk, out=chunk_ids)
        np.multiply(chunk, nsc, out=chunk)
        np.subtract(sc, chunk, out=sub_ids)
        np.add(sub_ids, self._sub_base[ss], out=sub_ids)

    # ---------------------------------------------------------------- overlap

    def check_overlap(self, overlap_deg: float) -> None:
        """Raise ValueError unless sph-partition accepts ``part.overlap = overlap_deg`` here.

        Qserv's rules: in [0, 10] deg, at most the sub-stripe height, and its longitude
        half-width ``alpha`` at most the sub-chunk width in every sub-stripe.
        """
        self._overlap_tables(overlap_deg)

    def _overlap_tables(self, overlap_deg: float) -> _OverlapTables:
        """Validate ``overlap_deg`` and build its per-sub-stripe tables (cached per instance)."""
        cached = self._overlap_cache.get(overlap_deg)
        if cached is not None:
            return cached
        if not (0.0 <= overlap_deg <= 10.0):
            raise ValueError(f"The overlap radius must be in range [0, 10] deg, got {overlap_deg}")
        if self._sub_stripe_height < overlap_deg:
            raise ValueError(
                f"The overlap radius {overlap_deg} is greater than the sub-stripe height "
                f"{self._sub_stripe_height} of {self!r}"
            )
        n_sub = self._nsc.size
        h = self._sub_stripe_height
        alpha = np.empty(n_sub)
        for ss in range(n_sub):
            lat_min, lat_max = ss * h - 90.0, (ss + 1) * h - 90.0
            a = _max_alpha(overlap_deg, max(abs(lat_min), abs(lat_max)))
            if a > self._sub_chunk_width[ss]:
                raise ValueError(
                    f"The overlap radius {overlap_deg} is greater than the sub-chunk width "
                    f"in sub-stripe {ss} of {self!r}"
                )
            alpha[ss] = a
        below = self._lat_min + overlap_deg
        below[0] = -np.inf
        above = self._lat_max - overlap_deg
        above[-1] = np.inf
        tables = _OverlapTables(
            alpha=alpha,
            alpha_lr=np.where(self._nsub > 1, alpha, -np.inf),
            below_if_lat_lt=below,
            above_if_lat_ge=above,
        )
        if len(self._overlap_cache) >= 8:  # a catalog uses one or two radii; stay bounded
            self._overlap_cache.clear()
        self._overlap_cache[overlap_deg] = tables
        return tables

    def locate_overlap(
        self, lon_deg: npt.ArrayLike, lat_deg: npt.ArrayLike, overlap_deg: float
    ) -> tuple[npt.NDArray[np.int64], IntArray, IntArray]:
        """Overlap locations of each position, as sph-partition's ``locate(pos, -1, locs)``.

        Returns (row index, chunkId, subChunkId) for the overlap locations only (the home one is
        ``locate``'s), ordered by row and then in Qserv's emission order: the sub-stripe below,
        the sub-stripe above (each up to 3 sub-chunks, west to east across RA 0), then the
        sub-chunk to the left, then the one to the right. A row may appear several times in
        one chunk with different sub-chunks, and, in a 2-sub-chunk sub-stripe, twice with the
        same sub-chunk; all are kept, as Qserv writes them. Same input contract as ``locate``;
        row indexes refer to the flattened input. ``overlap_deg`` is checked as sph-partition
        checks ``part.overlap`` (``check_overlap``).
        """
        lon, lat = _as_positions(lon_deg, lat_deg)
        tables = self._overlap_tables(overlap_deg)
        parts: list[tuple[npt.NDArray[np.int64], IntArray, IntArray]] = []
        if overlap_deg == 0.0:
            return _concat_locations(parts)
        n = lon.size
        for start in range(0, n, _BLOCK):
            stop = min(n, start + _BLOCK)
            rows, chunk_ids, sub_ids = self._overlap_block(lon[start:stop], lat[start:stop], tables)
            parts.append((rows + start, chunk_ids, sub_ids))
        return _concat_locations(parts)

    def _overlap_block(
        self, lon: FloatArray, lat: FloatArray, tables: _OverlapTables
    ) -> tuple[npt.NDArray[np.int64], IntArray, IntArray]:
        ss = np.empty(lon.size, dtype=np.int32)
        sc = np.empty(lon.size, dtype=np.int32)
        self._home(lon, lat, ss, sc)
        width = self._sub_chunk_width[ss]
        alpha_lr = tables.alpha_lr[ss]
        # left: lon < lonMin + alpha; right: lon > clampLon(lonMax) - alpha (both strict).
        left = lon < sc * width + alpha_lr
        lon_max = (sc + 1) * width
        lon_max[lon_max > 360.0 - _EPSILON_DEG] = 360.0
        right = lon > lon_max - alpha_lr
        below = lat < tables.below_if_lat_lt[ss]
        above = lat >= tables.above_if_lat_ge[ss]
        rows = np.flatnonzero(left | right | below | above)
        lon, ss, sc = lon[rows], ss[rows], sc[rows]
        below, above = below[rows], above[rows]
        left, right = left[rows].astype(np.int64), right[rows].astype(np.int64)
        first_b, count_b = self._up_down_range(lon, np.maximum(ss - 1, 0), below, tables)
        first_a, count_a = self._up_down_range(
            lon, np.minimum(ss + 1, self._nsc.size - 1), above, tables
        )
        total = count_b + count_a + left + right
        offset = np.cumsum(total) - total
        size = int(total.sum())
        out_rows = np.repeat(rows.astype(np.int64), total)
        out_ss = np.empty(size, dtype=np.int32)
        out_sc = np.empty(size, dtype=np.int32)
        nsub = self._nsub[ss]
        pieces = (
            (offset, first_b, count_b, ss - 1),
            (offset + count_b, first_a, count_a, ss + 1),
            (offset + count_b + count_a, np.where(sc == 0, nsub - 1, sc - 1), left, ss),
            (offset + count_b + count_a + left, np.where(sc == nsub - 1, 0, sc + 1), right, ss),
        )
        for at, first, count, target_ss in pieces:
            # At most 3 per run, unless alpha equals the sub-chunk width to the last ulp.
            for k in range(int(count.max(initial=0))):
                sel = np.flatnonzero(count > k)
                out_ss[at[sel] + k] = target_ss[sel]
                x = first[sel] + k
                n_target = self._nsub[target_ss[sel]]
                out_sc[at[sel] + k] = np.where(x >= n_target, x - n_target, x)
        chunk_ids = np.empty(size, dtype=np.int32)
        sub_ids = np.empty(size, dtype=np.int32)
        self._ids(out_ss, out_sc, chunk_ids, sub_ids)
        return out_rows, chunk_ids, sub_ids

    def _up_down_range(
        self, lon: FloatArray, target_ss: IntArray, flagged: BoolArray, tables: _OverlapTables
    ) -> tuple[IntArray, npt.NDArray[np.int64]]:
        """``_upDownOverlap``: first sub-chunk and count of the neighbour sub-stripe's run.

        C++ emits ``mn..N-1`` then ``0..mx`` when the range wraps RA 0, else ``mn..mx``; here
        that run is ``(mn + k) mod N`` for ``k < count`` (``mn`` is at most N, so one
        subtraction of N is the modulo). Unflagged rows get count 0.
        """
        width = self._sub_chunk_width[target_ss]
        alpha = tables.alpha[target_ss]
        n = self._nsub[target_ss]
        mn = np.floor((lon - alpha) / width).astype(np.int32)
        mx = np.floor((lon + alpha) / width).astype(np.int32)
        mn = np.where(mn < 0, mn + n, mn)
        mx = np.where(mx >= n, mx - n, mx)
        count = np.where(mn > mx, n - mn + mx + 1, mx - mn + 1).astype(np.int64)
        count[~flagged] = 0
        return mn, count


def _as_positions(lon_deg: npt.ArrayLike, lat_deg: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    lon = np.ravel(np.asarray(lon_deg, dtype=np.float64))
    lat = np.ravel(np.asarray(lat_deg, dtype=np.float64))
    if lon.shape != lat.shape:
        raise ValueError(f"lon and lat differ in length: {lon.size} != {lat.size}")
    return lon, lat


def _concat_locations(
    parts: list[tuple[npt.NDArray[np.int64], IntArray, IntArray]],
) -> tuple[npt.NDArray[np.int64], IntArray, IntArray]:
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.int32), np.empty(0, np.int32)
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )

"""A deterministic DP0.2-like demo catalog, written as Qserv ingest input (CSV + JSON).

Why it exists: the ingest, the partitioner and the query tests need a catalog that is large
enough to spread over many chunks, small enough to write in seconds, and shaped so that the
edge cases of spherical partitioning actually occur. The sky footprint therefore has:

- a DC2-like region (RA 50..75, Dec -44..-28) holding most objects, as DP0.2 does;
- a strip across RA 0/360 (RA 355..5, Dec -6..6), with objects at exactly RA 0.0 and just
  below 360 (never 360 itself, never negative);
- a polar cap (Dec 85..90) including objects within 0.01 deg of the pole;
- dense clusters of hundreds to thousands of objects within a few arcmin: one inside the DC2
  region, one straddling RA 0, one on the pole, one on a stripe boundary of the default
  85-stripe partitioning, and a sub-arcmin group.

Positions are uniform on the sphere inside each region (uniform in sin(dec), and in cos(radius)
inside caps). The Object table is the director; ForcedSource is its child with no position of
its own, so it must follow Object through objectId; CcdVisit is a regular table.

Determinism: objects are generated in blocks of `BLOCK_SIZE`, each block from its own random
stream `SeedSequence(seed, spawn_key=(OBJECT_STREAM, block))`. The block size is part of the
catalog's definition, not a tuning knob, so the same arguments always give byte-identical files,
and blocks can be generated in parallel and written in order. Memory stays bounded by a few
blocks (400 k ForcedSource rows each at the default 20 per object: about 0.5 GB resident).

The files follow MariaDB `LOAD DATA` conventions: ',' separated, no quoting, no header, '\\n'
line ends, NULL as `\\N`. Numbers are written by Arrow's cast to string, i.e. the shortest text
that round-trips (float32 columns as float32, so MariaDB `FLOAT` reads back the same value).
"""

from __future__ import annotations

import json
import math
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from qserv_py.demo.schema import (
    BANDS,
    CCD_VISIT,
    FORCED_SOURCE,
    OBJECT,
    TableSpec,
    database_description,
    table_description,
)

BLOCK_SIZE = 20_000
"""Objects per random block. Changing it changes the catalog (like changing the seed)."""

OBJECT_STREAM, CCD_VISIT_STREAM = 0, 1
MANIFEST_NAME = "manifest.json"
CATALOG_VERSION = 1
"""Bumped whenever the same arguments would give different files, so old caches are refused."""

NULL_STRING = "\\N"
_WRITE_OPTIONS = pacsv.WriteOptions(
    include_header=False, delimiter=",", quoting_style="none", null_string=NULL_STRING
)

_F64 = np.float64
_RA_BELOW_360 = float(np.nextafter(360.0, 0.0))
_OBJECT_ID_BASE = 1 << 60  # DP0.2 objectIds are ~1.2e18; ours are in [2**60, 2**60 + 2**59)
_OBJECT_ID_MULT = 0x2545F4914F6CDD1D  # odd, so i -> i * M mod 2**59 is a bijection
_FORCED_ID_BASE = 1 << 58


@dataclass(frozen=True, slots=True)
class DemoTable:
    """One table of the catalog: its ingest description and its CSV data files."""

    name: str
    description_json: Path
    data_files: tuple[Path, ...]
    row_count: int


@dataclass(frozen=True, slots=True)
class DemoCatalog:
    """A written catalog; `tables` is in ingest order (regular table, director, child)."""

    directory: Path
    database_json: Path
    tables: tuple[DemoTable, ...]


# --- sky footprint --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SkyBox:
    """RA/Dec box; `ra_min` may be negative to cross RA 0 (values are wrapped into [0, 360))."""

    weight: float
    ra_min: float
    ra_max: float
    dec_min: float
    dec_max: float


@dataclass(frozen=True, slots=True)
class SkyCluster:
    """Spherical cap of radius `radius_arcmin` around (ra, dec), uniformly filled."""

    weight: float
    ra: float
    dec: float
    radius_arcmin: float


_STRIPE_BOUNDARY_DEC = -90.0 + 27 * 180.0 / 85  # between stripes 26 and 27 when num_stripes=85

FOOTPRINT: tuple[SkyBox | SkyCluster, ...] = (
    SkyBox(0.838, 50.0, 75.0, -44.0, -28.0),  # DC2-like
    SkyBox(0.090, -5.0, 5.0, -6.0, 6.0),  # across RA 0/360
    SkyBox(0.050, 0.0, 360.0, 85.0, 90.0),  # polar cap
    SkyCluster(0.010, 62.0, -37.0, 3.0),
    SkyCluster(0.005, 0.0, 1.0, 2.5),  # straddles RA 0
    SkyCluster(0.003, 0.0, 90.0, 2.0),  # on the pole
    SkyCluster(0.0035, 70.25, _STRIPE_BOUNDARY_DEC, 1.5),
    SkyCluster(0.0005, 55.0, -30.0, 0.5),
)
"""Regions and the fraction of objects in each (the weights sum to 1)."""


def _wrap_ra(ra: np.ndarray) -> np.ndarray:
    """Degrees into [0, 360): `np.mod` maps -1e-20 to 360.0, which must become 0.0."""
    ra = np.mod(ra, 360.0)
    ra[ra >= 360.0] = 0.0
    return ra


def _box_positions(rng: np.random.Generator, box: SkyBox, n: int) -> tuple[np.ndarray, np.ndarray]:
    ra = _wrap_ra(box.ra_min + (box.ra_max - box.ra_min) * rng.random(n))
    s0, s1 = math.sin(math.radians(box.dec_min)), math.sin(math.radians(box.dec_max))
    dec = np.degrees(np.arcsin(s0 + (s1 - s0) * rng.random(n)))
    return ra, dec


def _cap_positions(
    rng: np.random.Generator, cluster: SkyCluster, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform in the cap: cos(rho) uniform, built with 3-vectors so the pole is not special."""
    cos_r = math.cos(math.radians(cluster.radius_arcmin / 60.0))
    cos_rho = 1.0 - (1.0 - cos_r) * rng.random(n)
    sin_rho = np.sqrt(np.maximum(0.0, 1.0 - cos_rho * cos_rho))
    theta = 2.0 * math.pi * rng.random(n)
    a, d = math.radians(cluster.ra), math.radians(cluster.dec)
    center = np.array([math.cos(d) * math.cos(a), math.cos(d) * math.sin(a), math.sin(d)])
    east = np.array([-math.sin(a), math.cos(a), 0.0])
    north = np.array([-math.sin(d) * math.cos(a), -math.sin(d) * math.sin(a), math.cos(d)])
    offset = np.cos(theta)[:, None] * north + np.sin(theta)[:, None] * east
    p = cos_rho[:, None] * center + sin_rho[:, None] * offset
    ra = _wrap_ra(np.degrees(np.arctan2(p[:, 1], p[:, 0])))
    dec = np.degrees(np.arctan2(p[:, 2], np.hypot(p[:, 0], p[:, 1])))
    return ra, dec


def _positions(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of one block; its first objects are the edge cases, so every block has them."""
    weights = np.array([r.weight for r in FOOTPRINT])
    region = rng.choice(len(FOOTPRINT), size=n, p=weights / weights.sum())
    ra, dec = np.empty(n, _F64), np.empty(n, _F64)
    for k, r in enumerate(FOOTPRINT):
        mask = region == k
        m = int(mask.sum())
        ra[mask], dec[mask] = (
            _box_positions(rng, r, m) if isinstance(r, SkyBox) else _cap_positions(rng, r, m)
        )
    edge_ra, edge_dec = _edge_positions(rng)
    e = min(n, len(edge_ra))
    ra[:e], dec[:e] = edge_ra[:e], edge_dec[:e]
    return ra, np.clip(dec, -90.0, 90.0)


def _edge_positions(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """RA exactly 0.0, RA one ulp below 360, RA within 1e-7 deg of 360, and two objects within
    0.01 deg of the pole (one of them at RA 0.0)."""
    u = rng.random(7)
    strip_dec = -6.0 + 12.0 * u[:3]
    polar_dec = 90.0 - 0.01 * np.sqrt(u[3:5])
    near_360 = min(360.0 - 1e-7 * (1.0 - u[5]), _RA_BELOW_360)
    ra = np.array([0.0, _RA_BELOW_360, near_360, 360.0 * u[6], 0.0])
    dec = np.concatenate([strip_dec, polar_dec])
    return ra, dec


def _tract_patch(ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A ring skymap of 1.75 deg tracts with 7x7 patches, like DP0.2's (not its exact ids)."""
    size = 1.75
    n_rings = math.ceil(180.0 / size)
    centers = -90.0 + (np.arange(n_rings) + 0.5) * size
    per_ring = np.maximum(1, np.floor(360.0 * np.cos(np.radians(centers)) / size)).astype(np.int64)
    ring_start = np.concatenate([[0], np.cumsum(per_ring)[:-1]])
    y = (dec + 90.0) / size
    ring = np.clip(np.floor(y).astype(np.int64), 0, n_rings - 1)
    x = ra / 360.0 * per_ring[ring]
    t = np.minimum(np.floor(x).astype(np.int64), per_ring[ring] - 1)
    px = np.clip(np.floor((x - t) * 7).astype(np.int64), 0, 6)
    py = np.clip(np.floor((y - ring) * 7).astype(np.int64), 0, 6)
    return (ring_start[ring] + t).astype(np.int32), (py * 7 + px).astype(np.int32)


# --- photometry -----------------------------------------------------------------------------

_AB_ZERO_NJY = 31.4  # flux[nJy] = 10**((31.4 - mag) / 2.5)
_COLOR_MEAN = np.array([1.2, 0.5, 0.0, -0.25, -0.4, -0.5])  # m_band - m_r, ugrizy
_COLOR_SIGMA = np.array([0.5, 0.25, 0.0, 0.15, 0.2, 0.25])
_COADD_DEPTH = np.array([25.6, 26.8, 26.9, 26.3, 25.6, 24.8])  # 5-sigma, ugrizy
_VISIT_DEPTH = np.array([23.9, 25.0, 24.7, 24.0, 23.3, 22.1])
_FLUX_NULL_FRACTION = np.array([0.10, 0.02, 0.02, 0.02, 0.03, 0.08])
_REF_BAND_P = np.array([0.02, 0.05, 0.20, 0.60, 0.10, 0.03])


def _flux(mag: np.ndarray) -> np.ndarray:
    return np.power(10.0, (_AB_ZERO_NJY - mag) / 2.5)


def _true_fluxes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """r magnitudes from counts rising as 10**(0.3 m) over 18..27, then colours per band."""
    lo, hi = 10.0 ** (0.3 * 18.0), 10.0 ** (0.3 * 27.0)
    mag_r = np.log10(lo + (hi - lo) * rng.random(n)) / 0.3
    mags = mag_r[:, None] + _COLOR_MEAN + _COLOR_SIGMA * rng.standard_normal((n, len(BANDS)))
    return mag_r, _flux(mags)


def _masked(values: np.ndarray, null: np.ndarray | None, arrow_type: pa.DataType) -> pa.Array:
    return pa.array(values, type=arrow_type, mask=null)


def _band_strings(codes: np.ndarray) -> pa.Array:
    return pc.take(pa.array(BANDS, pa.string()), pa.array(codes.astype(np.int8)))


# --- Object ---------------------------------------------------------------------------------


def _object_ids(index: np.ndarray) -> np.ndarray:
    """Unique, scrambled, DP0.2-sized ids: a bijection of the global object index."""
    mask = np.uint64((1 << 59) - 1)
    scrambled = (index.astype(np.uint64) * np.uint64(_OBJECT_ID_MULT)) & mask
    return scrambled.astype(np.int64) + _OBJECT_ID_BASE


def _object_block(
    rng: np.random.Generator, first: int, n: int
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """One block of Object rows, plus the true fluxes and ids its forced sources are drawn from."""
    ra, dec = _positions(rng, n)
    object_id = _object_ids(np.arange(first, first + n, dtype=np.int64))
    tract, patch = _tract_patch(ra, dec)
    mag_r, true = _true_fluxes(rng, n)
    galaxy = rng.random(n) < 0.2 + 0.7 * (mag_r - 18.0) / 9.0

    sky = _flux(_COADD_DEPTH) / 5.0
    err = np.sqrt(sky**2 + 0.1 * true + (0.003 * true) ** 2)
    err *= np.exp(0.1 * rng.standard_normal(err.shape))
    flux = true + err * rng.standard_normal(err.shape)
    flux_null = rng.random(err.shape) < _FLUX_NULL_FRACTION

    def extendedness(flip: float, null: float) -> pa.Array:
        value = np.where(rng.random(n) < flip, ~galaxy, galaxy).astype(_F64)
        return _masked(value, rng.random(n) < null, pa.float64())

    ebv = 0.01 + 0.02 * (1 + np.sin(np.radians(3 * ra)) * np.cos(np.radians(2 * dec)))
    ebv = np.maximum(ebv + 0.001 * rng.standard_normal(n), 0.0005).astype(np.float32)
    half_trace = 2.2 * np.exp(0.1 * rng.standard_normal(n))
    half_trace += galaxy * np.exp(math.log(3.0) + 0.8 * rng.standard_normal(n))
    e = 0.6 * np.sqrt(rng.random(n))
    angle = 2.0 * math.pi * rng.random(n)
    shape_null = rng.random(n) < 0.03

    columns: list[pa.Array] = [
        pa.array(object_id),
        pa.array(ra),
        pa.array(dec),
        pa.array((rng.random(n) < 0.85).astype(np.int8)),
        pa.array(tract),
        pa.array(patch),
        _band_strings(rng.choice(len(BANDS), size=n, p=_REF_BAND_P)),
        extendedness(0.05, 0.03),
    ]
    for b in range(len(BANDS)):
        columns.append(_masked(flux[:, b], flux_null[:, b], pa.float64()))
        columns.append(_masked(err[:, b], flux_null[:, b], pa.float64()))
    columns += [
        extendedness(0.08, 0.04),
        extendedness(0.08, 0.04),
        pa.array(ebv),
        _masked(half_trace * (1 + e * np.cos(angle)), shape_null, pa.float64()),
        _masked(half_trace * (1 - e * np.cos(angle)), shape_null, pa.float64()),
        _masked(half_trace * e * np.sin(angle), shape_null, pa.float64()),
    ]
    return pa.Table.from_arrays(columns, schema=OBJECT.arrow_schema), object_id, true


# --- CcdVisit and ForcedSource --------------------------------------------------------------

_VISITS_PER_BAND = (20, 28, 40, 40, 36, 36)
_DETECTORS_PER_VISIT = 16
_NUM_DETECTORS = 189
_ZERO_POINT = np.array([26.5, 28.3, 28.2, 27.9, 27.5, 26.6])
_SKY_BG = np.array([80.0, 300.0, 700.0, 1200.0, 1800.0, 2400.0])


@dataclass(frozen=True, slots=True)
class _Visits:
    """The CcdVisit rows ForcedSource draws from: by visit, `_DETECTORS_PER_VISIT` rows each,
    sorted by ccdVisitId."""

    table: pa.Table
    ccd_visit_id: np.ndarray
    band: np.ndarray
    mjd: np.ndarray
    seeing: np.ndarray


def _ccd_visits(seed: int) -> _Visits:
    """About 3,200 CcdVisits: 200 visits over five years, 16 of the 189 LSSTCam detectors each."""
    rng = np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(CCD_VISIT_STREAM,)))
    )
    band_of_visit = rng.permutation(np.repeat(np.arange(len(BANDS)), _VISITS_PER_BAND))
    nv = band_of_visit.size
    visit_id = 159_000 + np.cumsum(rng.integers(1, 5000, nv))
    mjd = 59_580.0 + np.sort(rng.random(nv)) * 1_800.0
    detectors = np.sort(
        np.argsort(rng.random((nv, _NUM_DETECTORS)), axis=1)[:, :_DETECTORS_PER_VISIT], axis=1
    )
    visit_seeing = 0.8 * np.exp(0.2 * rng.standard_normal(nv))
    v = np.repeat(np.arange(nv), _DETECTORS_PER_VISIT)
    n = v.size
    band = band_of_visit[v]
    ccd_visit_id = visit_id[v] * 1000 + detectors.ravel()
    seeing = (visit_seeing[v] * np.exp(0.02 * rng.standard_normal(n))).astype(np.float32)
    zero_point = (_ZERO_POINT[band] + 0.03 * rng.standard_normal(n)).astype(np.float32)
    sky_bg = (_SKY_BG[band] * np.exp(0.2 * rng.standard_normal(n))).astype(np.float32)
    table = pa.Table.from_arrays(
        [
            pa.array(ccd_visit_id),
            pa.array(visit_id[v]),
            pa.array(detectors.ravel().astype(np.int32)),
            _band_strings(band),
            pa.array(mjd[v]),
            pa.array(np.full(n, 30.0, np.float32)),
            pa.array(seeing),
            pa.array(zero_point),
            _masked(sky_bg, rng.random(n) < 0.02, pa.float32()),
        ],
        schema=CCD_VISIT.arrow_schema,
    )
    return _Visits(table, ccd_visit_id, band, mjd[v], seeing.astype(_F64))


def _forced_id_bits(forced_per_object: int) -> int:
    """Bits for the per-object sequence number in forcedSourceId (counts are capped to fit)."""
    return max(4, math.ceil(math.log2(3 * forced_per_object + 32)))


def _forced_block(
    rng: np.random.Generator,
    first: int,
    object_id: np.ndarray,
    true: np.ndarray,
    visits: _Visits,
    forced_per_object: int,
) -> pa.Table:
    """Forced photometry of one block's objects on randomly chosen CcdVisits.

    As in DP0.2, an object is measured at most once per visit (on one of its detectors), so
    (objectId, ccdVisitId) is unique: each object walks the visits with a stride coprime to
    their number, which repeats no visit while an object has fewer sources than there are visits.
    """
    n = object_id.size
    bits = _forced_id_bits(forced_per_object)
    counts = np.clip(rng.poisson(forced_per_object, n), 1, (1 << bits) - 1)
    owner = np.repeat(np.arange(n), counts)
    m = owner.size
    seq = np.arange(m) - np.repeat(np.cumsum(counts) - counts, counts)
    forced_id = _FORCED_ID_BASE + ((first + owner) << bits) + seq
    nv = visits.ccd_visit_id.size // _DETECTORS_PER_VISIT
    strides = np.array([k for k in range(1, nv) if math.gcd(k, nv) == 1] or [1])
    start = rng.integers(0, nv, n)
    stride = strides[rng.integers(0, strides.size, n)]
    visit = (start[owner] + seq * stride[owner]) % nv
    ccd = visit * _DETECTORS_PER_VISIT + rng.integers(0, _DETECTORS_PER_VISIT, m)
    band = visits.band[ccd]
    flux = true[owner, band]
    sky = _flux(_VISIT_DEPTH)[band] / 5.0 * (visits.seeing[ccd] / 0.8)
    err = np.sqrt(sky**2 + 2.0 * flux)
    variable = (rng.random(n) < 0.03)[owner]
    amplitude = 0.3 * flux * np.sin(2 * math.pi * visits.mjd[ccd] / 37.0 + first + owner)
    diff = variable * amplitude + 1.1 * err * rng.standard_normal(m)
    psf_null = rng.random(m) < 0.01
    flag = psf_null | (rng.random(m) < 0.02)
    diff_null = rng.random(m) < 0.015
    return pa.Table.from_arrays(
        [
            pa.array(forced_id),
            pa.array(object_id[owner]),
            pa.array(visits.ccd_visit_id[ccd]),
            _band_strings(band),
            _masked(flux + err * rng.standard_normal(m), psf_null, pa.float64()),
            _masked(err, psf_null, pa.float64()),
            pa.array(flag.astype(np.int8)),
            _masked(diff, diff_null, pa.float64()),
            _masked(1.1 * err, diff_null, pa.float64()),
        ],
        schema=FORCED_SOURCE.arrow_schema,
    )


def _block(
    seed: int, block: int, num_objects: int, visits: _Visits, forced_per_object: int
) -> tuple[pa.Table, pa.Table]:
    """Object and ForcedSource rows of one block, from that block's own random stream."""
    first = block * BLOCK_SIZE
    n = min(BLOCK_SIZE, num_objects - first)
    seq = np.random.SeedSequence(seed, spawn_key=(OBJECT_STREAM, block))
    rng = np.random.Generator(np.random.PCG64(seq))
    objects, object_id, true = _object_block(rng, first, n)
    return objects, _forced_block(rng, first, object_id, true, visits, forced_per_object)


# --- writing --------------------------------------------------------------------------------


def _csv_bytes(table: pa.Table) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, _WRITE_OPTIONS)
    return sink.getvalue()


def _encoded_block(
    seed: int, block: int, num_objects: int, visits: _Visits, forced_per_object: int
) -> tuple[int, pa.Buffer, int, pa.Buffer]:
    objects, forced = _block(seed, block, num_objects, visits, forced_per_object)
    return objects.num_rows, _csv_bytes(objects), forced.num_rows, _csv_bytes(forced)


def _encoded_blocks(
    seed: int, num_objects: int, visits: _Visits, forced_per_object: int
) -> Iterator[tuple[int, pa.Buffer, int, pa.Buffer]]:
    """CSV text of each block, in block order, with `workers` blocks generated ahead.

    Generation and CSV encoding release the GIL for most of their time, so two threads nearly
    halve the wall time; at most `workers + 1` encoded blocks are alive at once.
    """
    num_blocks = -(-num_objects // BLOCK_SIZE)
    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="demo-catalog") as pool:
        pending: deque[Future[tuple[int, pa.Buffer, int, pa.Buffer]]] = deque()
        submitted = 0
        try:
            while submitted < num_blocks or pending:
                while submitted < num_blocks and len(pending) < workers:
                    args = (seed, submitted, num_objects, visits, forced_per_object)
                    pending.append(pool.submit(_encoded_block, *args))
                    submitted += 1
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _write_json(path: Path, body: dict[str, Any]) -> Path:
    """One key per line and one list item (schema column) per line, as Qserv's files are."""

    def value(v: Any) -> str:
        if isinstance(v, list):
            return "[\n" + ",\n".join(f"        {json.dumps(i)}" for i in v) + "\n    ]"
        return json.dumps(v)

    lines = ",\n".join(f"    {json.dumps(k)}: {value(v)}" for k, v in body.items())
    path.write_text("{\n" + lines + "\n}\n", encoding="utf-8")
    return path


def _describe(directory: Path, database: str, spec: TableSpec) -> tuple[Path, Path]:
    """Writes `<Table>.json`; returns it and the path of `<Table>.csv`."""
    description = _write_json(directory / f"{spec.name}.json", table_description(database, spec))
    return description, directory / f"{spec.name}.csv"


def write_demo_catalog(
    directory: Path,
    num_objects: int = 1_000_000,
    seed: int = 20260425,
    forced_per_object: int = 20,
    database: str = "demo_dp02",
    num_stripes: int = 85,
    num_sub_stripes: int = 12,
    overlap: float = 0.01667,
    progress: Callable[[str, int], None] | None = None,
) -> DemoCatalog:
    """Writes the catalog into `directory` and returns what the ingest needs to load it.

    The same arguments give byte-identical files. `progress(table, rows_written)` is called after
    each block. `manifest.json` is removed first and written last, so its presence means that the
    catalog is complete (`read_demo_catalog` reads it back).
    """
    if num_objects < 0 or forced_per_object < 0:
        raise ValueError("num_objects and forced_per_object must be >= 0")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MANIFEST_NAME).unlink(missing_ok=True)
    database_json = _write_json(
        directory / "database.json",
        database_description(database, num_stripes, num_sub_stripes, overlap),
    )
    report = progress or (lambda _table, _rows: None)

    visits = _ccd_visits(seed)
    ccd_json, ccd_csv = _describe(directory, database, CCD_VISIT)
    ccd_csv.write_bytes(_csv_bytes(visits.table).to_pybytes())
    report(CCD_VISIT.name, visits.table.num_rows)

    object_json, object_csv = _describe(directory, database, OBJECT)
    forced_json, forced_csv = _describe(directory, database, FORCED_SOURCE)
    object_rows = forced_rows = 0
    with object_csv.open("wb") as object_file, forced_csv.open("wb") as forced_file:
        for n_obj, obj_text, n_forced, forced_text in _encoded_blocks(
            seed, num_objects, visits, forced_per_object
        ):
            object_file.write(obj_text)
            forced_file.write(forced_text)
            object_rows += n_obj
            forced_rows += n_forced
            report(OBJECT.name, object_rows)
            report(FORCED_SOURCE.name, forced_rows)

    catalog = DemoCatalog(
        directory=directory,
        database_json=database_json,
        tables=(
            DemoTable(CCD_VISIT.name, ccd_json, (ccd_csv,), visits.table.num_rows),
            DemoTable(OBJECT.name, object_json, (object_csv,), object_rows),
            DemoTable(FORCED_SOURCE.name, forced_json, (forced_csv,), forced_rows),
        ),
    )
    parameters = {
        "num_objects": num_objects,
        "seed": seed,
        "forced_per_object": forced_per_object,
        "block_size": BLOCK_SIZE,
    }
    _write_json(directory / MANIFEST_NAME, _manifest(catalog, parameters))
    return catalog


def _manifest(catalog: DemoCatalog, parameters: dict[str, Any]) -> dict[str, Any]:
    def rel(path: Path) -> str:
        return path.relative_to(catalog.directory).as_posix()

    return {
        "generator": "qserv_py.demo.catalog",
        "catalog_version": CATALOG_VERSION,
        "parameters": parameters,
        "database_json": rel(catalog.database_json),
        "tables": [
            {
                "name": t.name,
                "description_json": rel(t.description_json),
                "data_files": [rel(p) for p in t.data_files],
                "row_count": t.row_count,
            }
            for t in catalog.tables
        ],
    }


def read_demo_catalog(directory: Path) -> DemoCatalog:
    """The catalog a finished `write_demo_catalog` left in `directory` (from its manifest).

    Raises FileNotFoundError when the catalog is absent or incomplete (no manifest, a file
    missing) and ValueError when the manifest is unreadable or from another catalog version, so
    a caller can regenerate in both cases.
    """
    directory = Path(directory)
    manifest = json.loads((directory / MANIFEST_NAME).read_text(encoding="utf-8"))
    try:
        if manifest["catalog_version"] != CATALOG_VERSION:
            raise ValueError(
                f"{directory}: demo catalog version {manifest['catalog_version']},"
                f" expected {CATALOG_VERSION}"
            )
        catalog = DemoCatalog(
            directory=directory,
            database_json=directory / manifest["database_json"],
            tables=tuple(
                DemoTable(
                    name=t["name"],
                    description_json=directory / t["description_json"],
                    data_files=tuple(directory / p for p in t["data_files"]),
                    row_count=int(t["row_count"]),
                )
                for t in manifest["tables"]
            ),
        )
    except (KeyError, TypeError) as e:
        raise ValueError(f"{directory / MANIFEST_NAME}: malformed demo manifest ({e!r})") from e
    files = [catalog.database_json]
    files += [p for t in catalog.tables for p in (t.description_json, *t.data_files)]
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: listed in the demo manifest but missing")
    return catalog

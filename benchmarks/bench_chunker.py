"""Throughput of ``Chunker.locate`` and ``Chunker.locate_overlap`` on random sky positions.

Usage: ``python benchmarks/bench_chunker.py [--points N] [--repeat R]``

The baseline, timed in the same run, is the direct whole-array numpy transcription of
sph-partition's ``locate()`` (int64 temporaries, no blocking): the ratio shows what blocking
the work into cache-sized pieces buys. The target is ``locate`` >= 5 M points/s on one core.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import numpy as np

from qserv_py.sphgeom.chunker import Chunker

CONFIGS = ((85, 12, 0.01667), (340, 3, 0.01667))


def _baseline_locate(c: Chunker) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, ...]]:
    """Unblocked numpy transcription of the partitioner's ``locate()`` (the baseline)."""
    ns, nss, m = c.num_stripes, c.num_sub_stripes, c.max_sub_chunks_per_chunk
    n_sub = ns * nss
    h = 180.0 / n_sub
    nc_per_stripe = np.bincount(c.all_chunks() // (2 * ns), minlength=ns)
    nc = np.repeat(nc_per_stripe, nss)
    nsc = np.concatenate(
        [np.bincount(c.all_sub_chunks(s * 2 * ns) // m, minlength=nss) for s in range(ns)]
    )
    width = 360.0 / (nc * nsc)

    def locate(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, ...]:
        ss = np.minimum(np.floor((lat + 90.0) / h).astype(np.int64), n_sub - 1)
        sc = np.minimum(np.floor(lon / width[ss]).astype(np.int64), nc[ss] * nsc[ss] - 1)
        chunk = sc // nsc[ss]
        stripe = ss // nss
        chunk_id = stripe * 2 * ns + chunk
        sub_id = (ss - stripe * nss) * m + sc - chunk * nsc[ss]
        return chunk_id.astype(np.int32), sub_id.astype(np.int32)

    return locate


def _best_time(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(12345)
    n = args.points
    lon = rng.uniform(0.0, 360.0, n)
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))  # uniform on the sphere
    print(f"{n:,} random points, best of {args.repeat}")
    for stripes, sub_stripes, overlap in CONFIGS:
        c = Chunker(stripes, sub_stripes)
        baseline = _baseline_locate(c)
        ours = c.locate(lon, lat)
        expected = baseline(lon, lat)
        assert all(np.array_equal(a, b) for a, b in zip(ours, expected, strict=True))
        t_base = _best_time(partial(baseline, lon, lat), args.repeat)
        t_locate = _best_time(partial(c.locate, lon, lat), args.repeat)
        t_overlap = _best_time(partial(c.locate_overlap, lon, lat, overlap), args.repeat)
        n_overlap = c.locate_overlap(lon, lat, overlap)[0].size
        print(
            f"{stripes}/{sub_stripes}: locate {n / t_locate / 1e6:6.1f} M points/s "
            f"(baseline {n / t_base / 1e6:5.1f} M/s, x{t_base / t_locate:.1f}); "
            f"locate_overlap({overlap}) {n / t_overlap / 1e6:5.1f} M points/s, "
            f"{n_overlap / n:.3f} overlap rows per point"
        )


if __name__ == "__main__":
    main()

"""Throughput of the result codec (``qserv_py.results.codec``) against pickle of the same rows.

Usage: ``python benchmarks/bench_result_codec.py [--rows N] [--batch B] [--repeat R]``

Each workload is cut into batches of ``--batch`` rows, as ``query.run`` sends them; every batch
is encoded and decoded in turn and dropped, as a worker and a czar do, and the best of
``--repeat`` passes counts. The baseline, timed in the same run, is ``pickle`` (protocol 5) of
the same batches: fast, but never to be used across the network (unpickling runs code). The
target is >= 500k rows/s encode + decode for 5 numeric columns (2 BIGINT, 3 DOUBLE).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import pickle
import random
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from qserv_py.results.codec import decode_rows, encode_rows

Rows = list[tuple[Any, ...]]


def numeric_rows(n: int, rng: random.Random) -> Rows:
    return [
        (i, rng.random() * 360, rng.random() * 180 - 90, rng.randrange(10**9), rng.random())
        for i in range(n)
    ]


def mixed_rows(n: int, rng: random.Random) -> Rows:
    """A DP0.2-like mix: ids, doubles with 5% NULLs, names, flags, DECIMAL, DATETIME."""
    start = dt.datetime(2024, 1, 1)
    return [
        (
            i,
            None if rng.random() < 0.05 else rng.gauss(20, 2),
            f"obj{i:09d}",
            rng.randrange(2),
            Decimal(rng.randrange(10**9)).scaleb(-4),
            start + dt.timedelta(microseconds=rng.randrange(10**12)),
        )
        for i in range(n)
    ]


def time_pass(
    batches: list[Rows], encode: Callable[[Rows], bytes], decode: Callable[[bytes], Any]
) -> tuple[float, float, int]:
    encode_s = decode_s = 0.0
    size = 0
    for batch in batches:
        t0 = time.perf_counter()
        data = encode(batch)
        t1 = time.perf_counter()
        decode(data)
        encode_s += t1 - t0
        decode_s += time.perf_counter() - t1
        size += len(data)
    return encode_s, decode_s, size


def bench(name: str, rows: Rows, batch: int, repeat: int) -> None:
    ncols = len(rows[0])
    batches = [rows[i : i + batch] for i in range(0, len(rows), batch)]
    for b in batches:  # correctness first
        assert decode_rows(encode_rows(b, ncols)) == b
    contenders: dict[str, tuple[Callable[[Rows], bytes], Callable[[bytes], Any]]] = {
        "codec": (lambda b: encode_rows(b, ncols), decode_rows),
        "pickle": (lambda b: pickle.dumps(b, protocol=5), pickle.loads),
    }
    best: dict[str, tuple[float, float, int]] = {}
    for _ in range(repeat):
        for label, (enc, dec) in contenders.items():
            gc.collect()
            result = time_pass(batches, enc, dec)
            if label not in best or sum(result[:2]) < sum(best[label][:2]):
                best[label] = result
    n = len(rows)
    print(f"{name}: {n} rows x {ncols} columns, batches of {batch}")
    for label, (enc_s, dec_s, size) in best.items():
        print(
            f"  {label:6s} encode {n / enc_s:12,.0f} rows/s  decode {n / dec_s:12,.0f} rows/s  "
            f"both {n / (enc_s + dec_s):12,.0f} rows/s  {size / n:6.1f} bytes/row"
        )
    ours, base = sum(best["codec"][:2]), sum(best["pickle"][:2])
    print(f"  ratio codec/pickle (encode+decode throughput): {base / ours:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(20261125)
    for name, make in (("5 numeric columns", numeric_rows), ("6 mixed columns", mixed_rows)):
        rows = make(args.rows, rng)
        gc.freeze()  # the input stands in for rows a cursor would hand over batch by batch
        bench(name, rows, args.batch, args.repeat)
        del rows
        gc.unfreeze()


if __name__ == "__main__":
    main()

"""The Python transcription of sciSQL and the constants folded with it, against the golden file.

No database here: ``model`` must reproduce every golden row, and so must a rewritten call whose
arguments are all literals (it folds to a literal). The SQL itself is run on MariaDB in
tests/integration/test_scisql_golden.py.
"""

from __future__ import annotations

import csv
import math
import random
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from qserv_py.czar.scisql import model, rewrite_scisql
from qserv_py.czar.scisql.geometry import MIN_INVERTIBLE
from qserv_py.czar.scisql.photometry import C_MAG, POW10_MAX, SIGMA_MAX
from qserv_py.czar.scisql.terms import as_double, div_finite, literal, mul_finite, render, sub

GOLDEN = Path(__file__).resolve().parents[3] / "shared" / "reference" / "scisql-golden.tsv"

UDFS: dict[str, Callable[..., float | int | None]] = {
    "scisql_angSep": model.udf_ang_sep,
    "scisql_s2PtInBox": model.udf_s2_pt_in_box,
    "scisql_s2PtInCircle": model.udf_s2_pt_in_circle,
    "scisql_s2PtInEllipse": model.udf_s2_pt_in_ellipse,
    "scisql_s2PtInCPoly": model.udf_s2_pt_in_cpoly,
    "scisql_fluxToAbMag": model.udf_flux_to_ab_mag,
    "scisql_fluxToAbMagSigma": model.udf_flux_to_ab_mag_sigma,
    "scisql_nanojanskyToAbMag": model.udf_nanojansky_to_ab_mag,
    "scisql_nanojanskyToAbMagSigma": model.udf_nanojansky_to_ab_mag_sigma,
    "scisql_abMagToFlux": model.udf_ab_mag_to_flux,
    "scisql_abMagToFluxSigma": model.udf_ab_mag_to_flux_sigma,
    "scisql_abMagToNanojansky": model.udf_ab_mag_to_nanojansky,
    "scisql_abMagToNanojanskySigma": model.udf_ab_mag_to_nanojansky_sigma,
}


def golden_rows() -> list[tuple[str, str, str]]:
    with GOLDEN.open(newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    return [(fn, args, res) for fn, args, res in rows[1:]]


def _value(text: str) -> float | None:
    return None if text == "NULL" else float(text)


def test_model_reproduces_every_golden_row() -> None:
    rows = golden_rows()
    assert len(rows) == 2612
    wrong = []
    for fn, args, res in rows:
        got = UDFS[fn](*(_value(a) for a in args.split(",")))
        if not (got == _value(res) or (got is None and res == "NULL")):
            wrong.append(f"{fn}({args}) = {got!r}, want {res}")
    assert not wrong, "\n".join(wrong[:20])


def _literal_result(sql: exp.Expr) -> float | None:
    if isinstance(sql, exp.Null):
        return None
    if isinstance(sql, exp.Neg):
        inner = _literal_result(sql.this)
        assert inner is not None
        return -inner
    assert isinstance(sql, exp.Literal) and not sql.is_string, sql.sql()
    return float(sql.this)


def test_literal_calls_fold_to_the_golden_values() -> None:
    wrong = []
    for fn, args, res in golden_rows():
        select = rewrite_scisql(sqlglot.parse_one(f"SELECT {fn}({args})", read="mysql"))
        got = _literal_result(select.expressions[0])
        if not (got == _value(res) or (got is None and res == "NULL")):
            wrong.append(f"{fn}({args}) -> {select.sql(dialect='mysql')}, want {res}")
    assert not wrong, "\n".join(wrong[:20])


def test_cpoly_to_bin_layout() -> None:
    blob = model.udf_s2_cpoly_to_bin(0.0, 0.0, 10.0, 0.0, 10.0, 10.0)
    assert blob is not None and len(blob) == 24 * 4
    vsum = struct.unpack("<3d", blob[:24])
    assert vsum == pytest.approx((2.954, 0.344, 0.174), abs=1e-3)
    assert model.udf_s2_cpoly_to_bin(*([0.0, 0.0] * 10)) is None  # > 9 vertices: 255 bytes
    assert model.udf_s2_cpoly_to_bin(0.0, 0.0, 10.0, 0.0, 10.0, None) is None


# ---- the thresholds written as constants ----


def test_min_invertible_is_the_exact_reciprocal_threshold() -> None:
    assert math.isfinite(1.0 / MIN_INVERTIBLE)
    assert math.isinf(1.0 / math.nextafter(MIN_INVERTIBLE, 0.0))


def test_pow10_max_is_the_exact_overflow_threshold() -> None:
    assert math.isfinite(model.c_pow(10.0, POW10_MAX))
    assert math.isinf(model.c_pow(10.0, math.nextafter(POW10_MAX, math.inf)))


def test_sigma_max_is_the_exact_overflow_threshold() -> None:
    assert math.isfinite(C_MAG * SIGMA_MAX)
    assert math.isinf(C_MAG * math.nextafter(SIGMA_MAX, math.inf))


# ---- the overflow tests, in the form they take in SQL ----


def _interesting(rng: random.Random) -> float:
    pick = rng.random()
    if pick < 0.2:
        return rng.choice([0.0, 5e-324, 2.2e-308, 1.0, 2.0**512, 2.0**-512, 1.7976931348623157e308])
    if pick < 0.5:  # products and quotients near the overflow boundary
        return math.ldexp(0.5 + 0.5 * rng.random(), rng.randint(500, 1024))
    return math.ldexp(0.5 + 0.5 * rng.random(), rng.randint(-1073, 1024))


def test_scaled_overflow_tests_are_exact() -> None:
    """mul_finite/div_finite with SQL operands emit scaled products and quotients; evaluated
    in IEEE doubles (as MariaDB does), they must agree with C's ``isfinite`` everywhere, and
    must not overflow themselves."""
    rng = random.Random(7)
    scale = 2.0**-512
    for _ in range(200_000):
        a, b = _interesting(rng), _interesting(rng)
        assert ((a * scale) * (b * scale) < 1.0) == math.isfinite(a * b), (a, b)
        if b > 0.0:
            finite = math.isfinite(model.c_div(a, b))
            if b >= 1.0:
                sql = True
            else:
                a_s, b_s = a * scale, b * 2.0**512
                sql = a_s < b_s and a_s / b_s < 1.0
                assert math.isfinite(b_s)
            assert sql == finite, (a, b)
    # at the boundary: products of about sqrt(DBL_MAX), quotients of about DBL_MAX
    big = 1.7976931348623157e308
    root = math.sqrt(big)
    for k in range(-5000, 5000):
        a = root + k * math.ulp(root)
        for b in (root, math.nextafter(root, math.inf), math.nextafter(root, 0.0)):
            assert ((a * scale) * (b * scale) < 1.0) == math.isfinite(a * b)
    for _ in range(20_000):
        b = math.ldexp(0.5 + 0.5 * rng.random(), rng.randint(-1073, 0))
        a = min(big, b * big)
        for _ in range(rng.randint(0, 3)):
            a = math.nextafter(a, rng.choice((0.0, big)))
        a_s, b_s = a * scale, b * 2.0**512
        assert (a_s < b_s and a_s / b_s < 1.0) == math.isfinite(a / b), (a, b)


def test_overflow_tests_render_as_scaled_sql() -> None:
    a, b = as_double(exp.column("a")), as_double(exp.column("b"))
    scale = "7.458340731200207e-155"  # 2**-512
    assert render(mul_finite(a, b)).sql() == (
        f"CAST(a AS DOUBLE) * {scale} * (CAST(b AS DOUBLE) * {scale}) < 1.0e0"
    )
    assert render(div_finite(a, b)).sql().startswith("CASE WHEN CAST(b AS DOUBLE) >= 1.0e0 THEN 1")


# ---- rendering ----


def test_literals_read_back_exactly() -> None:
    rng = random.Random(11)
    for _ in range(2000):
        x = math.ldexp(rng.random(), rng.randint(-1074, 1023)) * rng.choice((1, -1))
        text = literal(x).sql(dialect="mysql")
        assert "e" in text  # DOUBLE, not DECIMAL, in MariaDB
        assert float(text.replace(" ", "")) == x
    assert literal(-0.0).sql() == "-0.0e0"
    assert literal(12.5).sql() == "12.5e0"


def test_rendering_keeps_the_order_of_operations() -> None:
    x, y, z = (as_double(exp.column(c)) for c in "xyz")
    assert render(sub(x, sub(y, z))).sql() == (
        "CAST(x AS DOUBLE) - (CAST(y AS DOUBLE) - CAST(z AS DOUBLE))"
    )
    assert render(sub(sub(x, y), z)).sql() == (
        "CAST(x AS DOUBLE) - CAST(y AS DOUBLE) - CAST(z AS DOUBLE)"
    )


def test_non_finite_literals_are_a_bug() -> None:
    with pytest.raises(AssertionError):
        literal(math.inf)

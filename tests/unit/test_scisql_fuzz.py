"""The generated SQL, evaluated in Python with MariaDB's rules, against the C transcription.

A small interpreter runs the rewritten expression the way MariaDB does: DOUBLE arithmetic that
raises (error 1690) when a result is not finite, NULL for a division by zero or a domain error,
three-valued logic, lazy CASE. Feeding it extreme arguments (±DBL_MAX, subnormals, NULLs, bad
latitudes) finds what a few thousand database rows would miss: a guard that lets an overflow
through, or a branch in the wrong order. The real server runs the same SQL in
tests/integration/test_scisql_golden.py.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence

import pytest
from sqlglot import exp

from qserv_py.czar.scisql import build_call, model

Env = Mapping[str, float | None]
Result = float | int | None


class Overflow(Exception):
    """MariaDB's ER_DATA_OUT_OF_RANGE (1690)."""


def _finite(x: float) -> float:
    if not math.isfinite(x):
        raise Overflow(x)
    return x


_ARITH: dict[type[exp.Expression], Callable[[float, float], float | None]] = {
    exp.Add: lambda a, b: _finite(a + b),
    exp.Sub: lambda a, b: _finite(a - b),
    exp.Mul: lambda a, b: _finite(a * b),
    exp.Div: lambda a, b: None if b == 0.0 else _finite(a / b),
    exp.Mod: lambda a, b: None if b == 0.0 else math.fmod(a, b),
}
_CMP: dict[type[exp.Expression], Callable[[float, float], bool]] = {
    exp.LT: lambda a, b: a < b,
    exp.LTE: lambda a, b: a <= b,
    exp.GT: lambda a, b: a > b,
    exp.GTE: lambda a, b: a >= b,
    exp.EQ: lambda a, b: a == b,
}
_FN: dict[str, Callable[[float], float | None]] = {
    "SIN": math.sin,
    "COS": math.cos,
    "ASIN": lambda x: math.asin(x) if -1.0 <= x <= 1.0 else None,
    "SQRT": lambda x: math.sqrt(x) if x >= 0.0 else None,
    "LOG10": lambda x: math.log10(x) if x > 0.0 else None,
    "ABS": abs,
}


def _truth(v: Result) -> bool | None:
    return None if v is None else v != 0


def evaluate(e: exp.Expr, env: Env) -> Result:
    t = type(e)
    if t is exp.Paren:
        return evaluate(e.this, env)
    if t is exp.Literal:
        text = e.this
        return int(text) if text.isdigit() else float(text)
    if t is exp.Null:
        return None
    if t is exp.Cast:
        assert isinstance(e.this, exp.Column)
        return env[e.this.name]
    if t is exp.Neg:
        v = evaluate(e.this, env)
        return None if v is None else -v
    if t in _ARITH or t in _CMP:
        a, b = evaluate(e.this, env), evaluate(e.expression, env)
        if a is None or b is None:
            return None
        if t in _CMP:
            return int(_CMP[t](float(a), float(b)))
        return _ARITH[t](float(a), float(b))
    if t in (exp.And, exp.Or):
        stop = t is exp.Or  # AND stops at the first false, OR at the first true
        a = _truth(evaluate(e.this, env))
        if a is stop:
            return int(stop)
        b = _truth(evaluate(e.expression, env))
        if b is stop:
            return int(stop)
        return None if a is None or b is None else int(not stop)
    if t is exp.Not:
        v = _truth(evaluate(e.this, env))
        return None if v is None else int(not v)
    if t is exp.Is:
        return int(evaluate(e.this, env) is None)
    if t is exp.Case:
        for branch in e.args["ifs"]:
            if _truth(evaluate(branch.this, env)):
                return evaluate(branch.args["true"], env)
        default = e.args.get("default")
        return None if default is None else evaluate(default, env)
    if t is exp.Pow:
        a, b = evaluate(e.this, env), evaluate(e.expression, env)
        return None if a is None or b is None else _finite(model.c_pow(float(a), float(b)))
    if t is exp.Anonymous:
        args = [evaluate(a, env) for a in e.expressions]
        if any(a is None for a in args):
            return None
        vals = [float(a) for a in args if a is not None]
        if e.name in ("LEAST", "GREATEST"):
            return min(vals) if e.name == "LEAST" else max(vals)
        if e.name == "ATAN2":
            return math.atan2(vals[0], vals[1])
        return _FN[e.name](vals[0])
    raise AssertionError(f"unexpected node {e.sql()}")


EDGES = (
    None,
    0.0,
    -0.0,
    1.0,
    -1.0,
    5e-324,
    -5e-324,
    2.2e-308,
    1e-300,
    0.5,
    10.0,
    90.0,
    -90.0,
    math.nextafter(90.0, math.inf),
    180.0,
    360.0,
    -360.0,
    720.0,
    36000.0,
    1e150,
    1e154,
    -1e300,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    -819.2367888997917,
    -819.2367888997918,
)


def _value(rng: random.Random, kind: str) -> float | None:
    pick = rng.random()
    if pick < 0.25:
        return rng.choice(EDGES)
    if pick < 0.45:
        return math.copysign(
            math.ldexp(0.5 + 0.5 * rng.random(), rng.randint(-1073, 1024)), rng.random() - 0.3
        )
    ranges = {
        "lon": (-720.0, 720.0),
        "lat": (-95.0, 95.0),
        "r": (-1.0, 181.0),
        "axis": (-10.0, 40000.0),
    }
    lo, hi = ranges.get(kind, (-40.0, 40.0))
    return rng.uniform(lo, hi)


Case = tuple[str, tuple[str, ...], Callable[..., Result]]

CASES: list[Case] = [
    ("scisql_angSep", ("lon", "lat", "lon", "lat"), model.udf_ang_sep),
    ("scisql_angSep", ("x",) * 6, model.udf_ang_sep),
    ("scisql_s2PtInBox", ("lon", "lat", "lon", "lat", "lon", "lat"), model.udf_s2_pt_in_box),
    (
        "scisql_s2PtInCircle",
        ("lon", "lat", "lon", "lat", "r"),
        lambda *a: model.udf_s2_pt_in_circle(*a, constant_radius=False),
    ),
    (
        "scisql_s2PtInEllipse",
        ("lon", "lat", "lon", "lat", "axis", "axis", "lon"),
        model.udf_s2_pt_in_ellipse,
    ),
    ("scisql_s2PtInCPoly", ("lon", "lat") * 4, model.udf_s2_pt_in_cpoly),
    ("scisql_fluxToAbMag", ("f",), model.udf_flux_to_ab_mag),
    ("scisql_fluxToAbMagSigma", ("f", "f"), model.udf_flux_to_ab_mag_sigma),
    ("scisql_nanojanskyToAbMag", ("f",), model.udf_nanojansky_to_ab_mag),
    ("scisql_nanojanskyToAbMagSigma", ("f", "f"), model.udf_nanojansky_to_ab_mag_sigma),
    ("scisql_abMagToFlux", ("m",), model.udf_ab_mag_to_flux),
    ("scisql_abMagToFluxSigma", ("m", "f"), model.udf_ab_mag_to_flux_sigma),
    ("scisql_abMagToNanojansky", ("m",), model.udf_ab_mag_to_nanojansky),
    ("scisql_abMagToNanojanskySigma", ("m", "f"), model.udf_ab_mag_to_nanojansky_sigma),
    ("scisql_dnToFlux", ("f", "f"), model.udf_dn_to_flux),
    ("scisql_dnToAbMag", ("f", "f"), model.udf_dn_to_ab_mag),
    ("scisql_dnToFluxSigma", ("f",) * 4, model.udf_dn_to_flux_sigma),
    ("scisql_dnToAbMagSigma", ("f",) * 4, model.udf_dn_to_ab_mag_sigma),
    ("scisql_fluxToDn", ("f", "f"), model.udf_flux_to_dn),
    ("scisql_fluxToDnSigma", ("f",) * 4, model.udf_flux_to_dn_sigma),
    ("scisql_abMagToDn", ("m", "f"), model.udf_ab_mag_to_dn),
    ("scisql_abMagToDnSigma", ("m", "f", "f", "f"), model.udf_ab_mag_to_dn_sigma),
]


def _near_region(rng: random.Random, name: str, values: list[float | None]) -> None:
    """Half the time, put the point within a few degrees of the region's first corner, centre
    or vertex, so that predicates are true often enough to matter."""
    if not name.startswith("scisql_s2PtIn") or rng.random() < 0.5:
        return
    lon, lat = values[2], values[3]
    if lon is not None and lat is not None and abs(lon) < 1e6 and abs(lat) <= 90.0:
        spread = rng.choice((1e-6, 0.01, 1.0, 5.0))
        values[0] = lon + rng.gauss(0.0, spread)
        values[1] = max(-90.0, min(90.0, lat + rng.gauss(0.0, spread)))


def _expected(udf: Callable[..., Result], values: Sequence[float | None], name: str) -> Result:
    big = any(v is not None and abs(v) > 2.0**255 for v in values)
    if name == "scisql_angSep" and len(values) == 6 and big:
        return None  # documented: NULL where C's products may overflow
    got = udf(*values)
    return None if isinstance(got, float) and not math.isfinite(got) else got


@pytest.mark.parametrize(
    ("name", "kinds", "udf"), CASES, ids=[f"{c[0]}/{len(c[1])}" for c in CASES]
)
def test_column_arguments(name: str, kinds: tuple[str, ...], udf: Callable[..., Result]) -> None:
    columns = [f"c{i}" for i in range(len(kinds))]
    sql = build_call(name, [exp.column(c) for c in columns])
    rng = random.Random(f"{name}/{len(kinds)}")
    for _ in range(1500):
        values = [_value(rng, k) for k in kinds]
        _near_region(rng, name, values)
        want = _expected(udf, values, name)
        got = evaluate(sql, dict(zip(columns, values, strict=True)))
        assert got == want or (got is None and want is None), (name, values, got, want)


@pytest.mark.parametrize(("name", "kinds", "udf"), CASES[:6], ids=[c[0] for c in CASES[:6]])
def test_literal_regions(name: str, kinds: tuple[str, ...], udf: Callable[..., Result]) -> None:
    """The usual query: a point from columns, the region as literals (folded in Python)."""
    if name == "scisql_s2PtInCircle":
        udf = model.udf_s2_pt_in_circle  # a literal radius compares squared chords
    n_point = 3 if len(kinds) == 6 and name == "scisql_angSep" else 2
    rng = random.Random(f"literal/{name}/{len(kinds)}")
    for _ in range(150):
        values = [_value(rng, k) for k in kinds]
        args: list[exp.Expr] = [exp.column(f"c{i}") for i in range(n_point)]
        args += [exp.Null() if v is None else _number(v) for v in values[n_point:]]
        sql = build_call(name, args)
        for _ in range(10):
            point = [_value(rng, k) for k in kinds[:n_point]]
            want = _expected(udf, point + values[n_point:], name)
            got = evaluate(sql, {f"c{i}": point[i] for i in range(n_point)})
            assert got == want or (got is None and want is None), (name, point, values, got, want)


def _number(v: float) -> exp.Expression:
    text = repr(abs(v))
    lit = exp.Literal.number(text if "e" in text else text + "e0")
    return exp.Neg(this=lit) if math.copysign(1.0, v) < 0.0 else lit

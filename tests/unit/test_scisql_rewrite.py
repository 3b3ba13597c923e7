"""rewrite_scisql: the shape of the plain SQL, errors, names, nesting and round trips.

The values themselves are checked against real sciSQL results in
tests/integration/test_scisql_golden.py (on MariaDB) and test_scisql_model.py (folding).
"""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from qserv_py.czar.scisql import FUNCTIONS, SUPPORTED, ScisqlError, build_call, rewrite_scisql
from qserv_py.czar.scisql.errors import (
    ER_ILLEGAL_VALUE_FOR_TYPE,
    ER_NOT_SUPPORTED_YET,
    ER_SP_DOES_NOT_EXIST,
    ER_WRONG_PARAMCOUNT_TO_NATIVE_FCT,
)


def parse(sql: str) -> exp.Expr:
    return sqlglot.parse_one(sql, read="mysql")


def rewrite(sql: str) -> str:
    return rewrite_scisql(parse(sql)).sql(dialect="mysql")


def test_photometry_shape() -> None:
    assert rewrite("SELECT scisql_fluxToAbMag(f) FROM t") == (
        "SELECT CASE WHEN CAST(f AS DOUBLE) IS NULL THEN NULL"
        " WHEN CAST(f AS DOUBLE) <= 0.0e0 THEN NULL"
        " ELSE -2.5e0 * LOG10(CAST(f AS DOUBLE)) - 48.6e0 END FROM t"
    )


def test_ab_mag_to_flux_guards_pow_overflow() -> None:
    sql = rewrite("SELECT scisql_abMagToFlux(m) FROM t")
    assert "-0.4e0 * (CAST(m AS DOUBLE) + 48.6e0) > 308.2547155599167e0 THEN NULL" in sql
    assert "ELSE POWER(10.0e0, -0.4e0 * (CAST(m AS DOUBLE) + 48.6e0)) END" in sql


def test_literal_circle_is_folded_to_a_squared_chord_threshold() -> None:
    sql = rewrite("SELECT * FROM t WHERE scisql_s2PtInCircle(ra, decl, 10, 20, 0.05) = 1")
    assert sql.startswith("SELECT * FROM t WHERE CASE WHEN CAST(ra AS DOUBLE) IS NULL OR")
    assert "WHEN ABS(CAST(decl AS DOUBLE) - 20.0e0) > 0.05e0 THEN 0" in sql
    assert sql.endswith("<= 7.615435011377246e-07 END = 1")
    assert "ASIN" not in sql  # the constant radius compares squared chords, as the UDF


def test_column_radius_compares_angles() -> None:
    sql = rewrite("SELECT scisql_s2PtInCircle(ra, decl, 10, 20, r) FROM t")
    assert "ASIN(SQRT(" in sql
    assert "<= CAST(r AS DOUBLE) END" in sql


def test_constant_expression_radius_compares_squared_chords() -> None:
    sql = rewrite("SELECT scisql_s2PtInCircle(ra, decl, 10, 20, 1 / 3600) FROM t")
    assert "ASIN" not in sql
    assert "SIN(CAST(1 / 3600 AS DOUBLE) * 0.5e0 * 0.017453292519943295e0)" in sql


def test_box_is_range_reduced_in_python() -> None:
    sql = rewrite("SELECT scisql_s2PtInBox(ra, decl, 350, -5, 370, 5) FROM t")
    # lonMax 370 reduces to 10: the box wraps, so the test is an OR
    assert ">= 350.0e0 OR" in sql
    assert "<= 10.0e0 END" in sql
    assert "WHEN CAST(decl AS DOUBLE) < -5.0e0 OR CAST(decl AS DOUBLE) > 5.0e0 THEN 0" in sql


def test_polygon_edges_are_literals() -> None:
    sql = rewrite("SELECT scisql_s2PtInCPoly(ra, decl, 0, 0, 10, 0, 10, 10, 0, 10) FROM t")
    assert sql.count(">= 0.0e0") == 4  # one plane per edge
    assert "CAST(ra AS DOUBLE)" in sql
    assert "10.0e0" not in sql  # the vertices only enter through their precomputed edges


def test_ellipse_with_zero_position_angle_skips_the_rotation() -> None:
    rotated = rewrite("SELECT scisql_s2PtInEllipse(ra, decl, 10, 20, 30, 20, 45) FROM t")
    aligned = rewrite("SELECT scisql_s2PtInEllipse(ra, decl, 10, 20, 30, 20, 0) FROM t")
    assert len(aligned) < len(rotated) / 1.5


def test_null_and_invalid_literals() -> None:
    assert rewrite("SELECT scisql_s2PtInBox(ra, decl, NULL, 0, 10, 10) FROM t") == "SELECT 0 FROM t"
    assert rewrite("SELECT scisql_angSep(ra, decl, 0, NULL) FROM t") == "SELECT NULL FROM t"
    assert rewrite("SELECT scisql_angSep(0, 100, 0, 0)") == "SELECT NULL"
    # NULL arguments first (0), then the point's latitude, then the radius (both NULL)
    assert rewrite("SELECT scisql_s2PtInCircle(ra, decl, 10, 20, -1) FROM t") == (
        "SELECT CASE WHEN CAST(ra AS DOUBLE) IS NULL OR CAST(decl AS DOUBLE) IS NULL THEN 0"
        " END FROM t"
    )


def test_all_literal_calls_fold_to_values() -> None:
    assert rewrite("SELECT scisql_angSep(0, 0, 0, 1)") == "SELECT 1.0e0"
    assert rewrite("SELECT scisql_s2PtInBox(5, 5, 0, 0, 10, 10)") == "SELECT 1"
    assert rewrite("SELECT scisql_abMagToFlux(-1000)") == "SELECT NULL"
    assert rewrite("SELECT scisql_fluxToAbMag(-0.0)") == "SELECT NULL"
    assert rewrite("SELECT scisql_getVersion()") == "SELECT '0.3.11'"


def test_names_are_case_insensitive_and_may_carry_the_version() -> None:
    base = rewrite("SELECT scisql_angSep(a, b, c, d) FROM t")
    for name in ("SCISQL_ANGSEP", "Scisql_AngSep", "scisql_angsep", "scisql_angSep_0_3_11"):
        assert rewrite(f"SELECT {name}(a, b, c, d) FROM t") == base


def test_nested_in_other_expressions_and_subqueries() -> None:
    sql = rewrite(
        "SELECT ROUND(scisql_angSep(a.ra, a.decl, b.ra, b.decl) * 3600, 3) AS sep"
        " FROM a JOIN b ON scisql_angSep(a.ra, a.decl, b.ra, b.decl) < 0.01"
        " WHERE a.id IN (SELECT id FROM c WHERE scisql_fluxToAbMag(c.f) < 20)"
    )
    assert "scisql" not in sql.lower()
    assert sql.startswith("SELECT ROUND(CASE WHEN CAST(a.ra AS DOUBLE) IS NULL")
    assert sql.count("LOG10(CAST(c.f AS DOUBLE))") == 1


def test_call_as_argument_of_a_call() -> None:
    sql = rewrite("SELECT scisql_fluxToAbMag(scisql_abMagToFlux(m)) FROM t")
    assert "scisql" not in sql.lower()
    # the inner call is an argument: cast and repeated, never a user function any more
    assert "LOG10(CAST(CASE WHEN CAST(m AS DOUBLE) IS NULL" in sql
    # a literal inner call folds first, so the outer circle gets a literal radius
    folded = rewrite("SELECT scisql_s2PtInCircle(ra, decl, 0, 0, scisql_angSep(0, 0, 0, 1)) FROM t")
    assert folded == rewrite("SELECT scisql_s2PtInCircle(ra, decl, 0, 0, 1) FROM t")


def test_root_call_is_replaced_and_other_trees_are_changed_in_place() -> None:
    call = parse("scisql_fluxToAbMag(1e-30)")
    assert rewrite_scisql(call).sql(dialect="mysql") == "26.4e0"
    select = parse("SELECT scisql_fluxToAbMag(f), x FROM t")
    assert rewrite_scisql(select) is select
    plain = parse("SELECT LOG10(x) FROM t")
    assert rewrite_scisql(plain) is plain
    assert plain.sql(dialect="mysql") == "SELECT LOG(10, x) FROM t"


def test_unknown_function() -> None:
    with pytest.raises(ScisqlError) as info:
        rewrite("SELECT scisql_nope(1)")
    assert info.value.code == ER_SP_DOES_NOT_EXIST
    assert str(info.value).startswith("FUNCTION scisql_nope does not exist")
    assert "scisql_angSep" in str(info.value) and "scisql_s2PtInCPoly" in str(info.value)


@pytest.mark.parametrize(
    ("call", "takes"),
    [
        ("scisql_angSep(1, 2, 3)", "takes 4 or 6 arguments, not 3"),
        ("scisql_s2PtInBox(1, 2, 3, 4, 5)", "takes 6 arguments, not 5"),
        ("scisql_s2PtInCPoly(1, 2, 3, 4, 5, 6)", "takes 2 + 2n for 3 <= n <= 20 vertices"),
        ("scisql_s2PtInCPoly(1, 2, 3, 4, 5, 6, 7, 8, 9)", "arguments, not 9"),
        ("scisql_S2PTINCPOLY(" + ", ".join(["1"] * 44) + ")", "arguments, not 44"),
        ("scisql_fluxToAbMag()", "takes 1 arguments, not 0"),
        ("scisql_getVersion(1)", "takes 0 arguments, not 1"),
    ],
)
def test_wrong_argument_count(call: str, takes: str) -> None:
    with pytest.raises(ScisqlError) as info:
        rewrite(f"SELECT {call}")
    assert info.value.code == ER_WRONG_PARAMCOUNT_TO_NATIVE_FCT
    assert str(info.value).startswith("Incorrect parameter count in the call to native function")
    assert takes in str(info.value)


@pytest.mark.parametrize(
    "call",
    [
        "scisql_s2PtInCPoly(ra, decl, poly)",
        "scisql_s2HtmId(ra, decl, 20)",
        "scisql_median(x)",
        "scisql_s2CPolyToBin(ra, 0, 1, 0, 1, 1)",
        "scisql_angSep(RAND(), 0, 0, 0)",
        "scisql_fluxToAbMag(f + UUID_SHORT())",
        "scisql_fluxToAbMag(@x := f)",
    ],
)
def test_unsupported_forms(call: str) -> None:
    with pytest.raises(ScisqlError) as info:
        rewrite(f"SELECT {call} FROM t")
    assert info.value.code == ER_NOT_SUPPORTED_YET
    assert "doesn't yet support" in str(info.value)


def test_binary_polygon_error_says_what_to_do() -> None:
    with pytest.raises(ScisqlError, match="pass the vertices instead"):
        rewrite("SELECT scisql_s2PtInCPoly(ra, decl, poly) FROM t")


def test_out_of_range_literal() -> None:
    with pytest.raises(ScisqlError) as info:
        rewrite("SELECT scisql_fluxToAbMag(1e999)")
    assert info.value.code == ER_ILLEGAL_VALUE_FOR_TYPE


def test_variables_may_be_read() -> None:
    assert "CAST(@x AS DOUBLE)" in rewrite("SELECT scisql_fluxToAbMag(@x)")


def test_polygon_to_bin_folds_literal_vertices() -> None:
    sql = rewrite("SELECT scisql_s2CPolyToBin(0, 0, 10, 0, 10, 10)")
    assert sql.startswith("SELECT x'") and len(sql) == len("SELECT x''") + 2 * 24 * 4
    ten = ", ".join(f"{i}, 0" for i in range(10))
    assert rewrite(f"SELECT scisql_s2CPolyToBin({ten})") == "SELECT NULL"  # 255-byte buffer


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_generated_sql_parses_back(name: str) -> None:
    function = FUNCTIONS[name]
    n = next(k for k in range(0, 43) if function.accepts(k) and k != 3)
    args: list[exp.Expr] = [exp.column(f"c{i}", "t") for i in range(n)]
    if name == "scisql_s2cpolytobin":  # folded from literals only
        args = [exp.Literal.number(v) for v in (0, 0, 10, 0, 10, 10)]
    out = build_call(function.name, args)
    sql = out.sql(dialect="mysql")
    again = parse(sql).sql(dialect="mysql")
    if "LOG10(" in sql:
        # sqlglot reads LOG10(x) as LOG(10, x), which MariaDB computes as ln(x)/ln(10):
        # the rewrite must be rendered from its tree, never re-parsed.
        assert again == sql.replace("LOG10(", "LOG(10, ")
    else:
        assert again == sql


def test_supported_list_is_sorted_and_complete() -> None:
    assert list(SUPPORTED) == sorted(SUPPORTED, key=str.lower)
    assert len(SUPPORTED) == 23
    assert {s.lower() for s in SUPPORTED} == set(FUNCTIONS)


def test_rewrite_is_deterministic() -> None:
    sql = "SELECT scisql_s2PtInEllipse(ra, decl, cra, cdec, maj, mnr, pa) FROM t"
    assert rewrite(sql) == rewrite(sql)

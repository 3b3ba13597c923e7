"""``rewrite_scisql``: every sciSQL UDF call in a query becomes plain MariaDB SQL.

Qserv workers run sciSQL as a MariaDB plugin; ours run plain MariaDB 10.11. The czar therefore
replaces each ``scisql_*`` call by an expression that gives the UDF's values bit for bit, NULL
and invalid input included (reference/sphgeom-and-scisql.md §3; checked against every row of
reference/scisql-golden.tsv by tests/integration/test_scisql_golden.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from sqlglot import exp

from qserv_py.czar.scisql import geometry, photometry, polygons
from qserv_py.czar.scisql.errors import (
    ER_NOT_SUPPORTED_YET,
    ER_SP_DOES_NOT_EXIST,
    ER_WRONG_PARAMCOUNT_TO_NATIVE_FCT,
    ScisqlError,
)

Builder = Callable[[Sequence[exp.Expr]], exp.Expression]

SCISQL_VERSION = "0.3.11"
_VERSION_SUFFIX = "_0_3_11"  # sciSQL also registers each UDF as e.g. scisql_angSep_0_3_11


@dataclass(frozen=True, slots=True)
class Function:
    """One supported sciSQL function: its name as documented, argument counts, builder."""

    name: str
    arity: str  # for messages: "4 or 6", "between 8 and 42 (an even number)"
    accepts: Callable[[int], bool]
    build: Builder


def _exactly(*counts: int) -> Callable[[int], bool]:
    return lambda n: n in counts


def _version(args: Sequence[exp.Expr]) -> exp.Expression:
    del args
    return exp.Literal.string(SCISQL_VERSION)


def _functions() -> dict[str, Function]:
    table = [
        Function("scisql_angSep", "4 or 6", _exactly(4, 6), geometry.ang_sep),
        Function("scisql_s2PtInBox", "6", _exactly(6), geometry.s2_pt_in_box),
        Function("scisql_s2PtInCircle", "5", _exactly(5), geometry.s2_pt_in_circle),
        Function("scisql_s2PtInEllipse", "7", _exactly(7), geometry.s2_pt_in_ellipse),
        Function(
            "scisql_s2PtInCPoly",
            "2 + 2n for 3 <= n <= 20 vertices",
            lambda n: n == 3 or (8 <= n <= 42 and n % 2 == 0),
            polygons.s2_pt_in_cpoly,
        ),
        Function(
            "scisql_s2CPolyToBin",
            "2n for 3 <= n <= 20 vertices",
            lambda n: 6 <= n <= 40 and n % 2 == 0,
            polygons.s2_cpoly_to_bin,
        ),
        Function("scisql_fluxToAbMag", "1", _exactly(1), photometry.flux_to_ab_mag),
        Function("scisql_fluxToAbMagSigma", "2", _exactly(2), photometry.flux_to_ab_mag_sigma),
        Function("scisql_abMagToFlux", "1", _exactly(1), photometry.ab_mag_to_flux),
        Function("scisql_abMagToFluxSigma", "2", _exactly(2), photometry.ab_mag_to_flux_sigma),
        Function("scisql_nanojanskyToAbMag", "1", _exactly(1), photometry.nanojansky_to_ab_mag),
        Function(
            "scisql_nanojanskyToAbMagSigma",
            "2",
            _exactly(2),
            photometry.nanojansky_to_ab_mag_sigma,
        ),
        Function("scisql_abMagToNanojansky", "1", _exactly(1), photometry.ab_mag_to_nanojansky),
        Function(
            "scisql_abMagToNanojanskySigma",
            "2",
            _exactly(2),
            photometry.ab_mag_to_nanojansky_sigma,
        ),
        Function("scisql_dnToFlux", "2", _exactly(2), photometry.dn_to_flux),
        Function("scisql_dnToAbMag", "2", _exactly(2), photometry.dn_to_ab_mag),
        Function("scisql_dnToFluxSigma", "4", _exactly(4), photometry.dn_to_flux_sigma),
        Function("scisql_dnToAbMagSigma", "4", _exactly(4), photometry.dn_to_ab_mag_sigma),
        Function("scisql_fluxToDn", "2", _exactly(2), photometry.flux_to_dn),
        Function("scisql_fluxToDnSigma", "4", _exactly(4), photometry.flux_to_dn_sigma),
        Function("scisql_abMagToDn", "2", _exactly(2), photometry.ab_mag_to_dn),
        Function("scisql_abMagToDnSigma", "4", _exactly(4), photometry.ab_mag_to_dn_sigma),
        Function("scisql_getVersion", "0", _exactly(0), _version),
    ]
    return {f.name.lower(): f for f in table}


FUNCTIONS = MappingProxyType(_functions())
SUPPORTED = tuple(sorted((f.name for f in FUNCTIONS.values()), key=str.lower))
# sciSQL UDFs with no plain-SQL equivalent here (HTM indexing, aggregates, blob access).
UNSUPPORTED = frozenset(
    name.lower()
    for name in (
        "scisql_s2HtmId",
        "scisql_s2HtmLevel",
        "scisql_s2CircleHtmRanges",
        "scisql_s2CPolyHtmRanges",
        "scisql_median",
        "scisql_percentile",
        "scisql_extractInt64",
        "scisql_raiseError",
    )
)


def is_scisql_call(node: exp.Expr) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.lower().startswith("scisql_")


def lookup(name: str) -> Function:
    """The supported function called ``name`` (any case, with or without ``_0_3_11``)."""
    key = name.lower()
    if key.endswith(_VERSION_SUFFIX) and key != "scisql_getversion" + _VERSION_SUFFIX:
        key = key[: -len(_VERSION_SUFFIX)]
    function = FUNCTIONS.get(key)
    if function is not None:
        return function
    supported = ", ".join(SUPPORTED)
    if key in UNSUPPORTED:
        raise ScisqlError(
            f"This version of Qserv doesn't yet support '{name}' (sciSQL calls run as plain SQL;"
            f" supported: {supported})",
            ER_NOT_SUPPORTED_YET,
        )
    raise ScisqlError(
        f"FUNCTION {name} does not exist (supported sciSQL functions: {supported})",
        ER_SP_DOES_NOT_EXIST,
    )


def build_call(name: str, args: Sequence[exp.Expr]) -> exp.Expression:
    """The plain SQL for ``name(args)``; raises ScisqlError for unknown names or arities."""
    function = lookup(name)
    if not function.accepts(len(args)):
        raise ScisqlError(
            f"Incorrect parameter count in the call to native function '{name}'"
            f" ({function.name} takes {function.arity} arguments, not {len(args)})",
            ER_WRONG_PARAMCOUNT_TO_NATIVE_FCT,
        )
    return function.build(args)


def rewrite_scisql(expr: exp.Expr) -> exp.Expr:
    """Replace every sciSQL call in ``expr`` by plain MariaDB SQL; ``expr`` is changed in place
    (the caller copies it first) and returned, unless ``expr`` is itself a call.

    Calls nested in other calls are rewritten innermost first; a call whose arguments are all
    literals folds to its value. Names are matched case-insensitively. Unknown ``scisql_*``
    names, wrong argument counts, the binary-polygon form of ``scisql_s2PtInCPoly`` and
    non-deterministic arguments raise ScisqlError, whose ``code`` is the MySQL error number.

    The result must be rendered from the tree (``.sql(dialect="mysql")``): re-parsing the text
    with sqlglot turns ``LOG10(x)`` into ``LOG(10, x)``, which MariaDB computes differently.

    >>> import sqlglot
    >>> q = sqlglot.parse_one("SELECT scisql_fluxToAbMag(f) FROM t", read="mysql")
    >>> print(rewrite_scisql(q).sql(dialect="mysql", pretty=True))
    SELECT
      CASE
        WHEN CAST(f AS DOUBLE) IS NULL
        THEN NULL
        WHEN CAST(f AS DOUBLE) <= 0.0e0
        THEN NULL
        ELSE -2.5e0 * LOG10(CAST(f AS DOUBLE)) - 48.6e0
      END
    FROM t
    >>> q = sqlglot.parse_one("SELECT scisql_angSep(0, 0, 0, 1)", read="mysql")
    >>> print(rewrite_scisql(q).sql(dialect="mysql"))
    SELECT 1.0e0
    """
    calls = [n for n in expr.find_all(exp.Anonymous, bfs=False) if is_scisql_call(n)]
    for node in reversed(calls):  # pre-order reversed: arguments before the calls around them
        replacement = build_call(node.name, node.expressions)
        if node is expr:
            return replacement
        node.replace(replacement)
    return expr

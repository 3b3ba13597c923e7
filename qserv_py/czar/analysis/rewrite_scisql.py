"""Rewrite sciSQL calls into plain MariaDB SQL (workers have no sciSQL plugin).

Runs after the restrictor passes, which read ``scisql_s2PtIn*`` calls (``restrict_area`` also
writes them), and before the physical passes, so the chunk statement and the merge statement
are both plain SQL. The values equal sciSQL 0.3.11's (``qserv_py.czar.scisql``, checked against
the real UDFs' golden values).

>>> from qserv_py.czar.analysis.examples import show
>>> show("SELECT scisql_nanojanskyToAbMag(g_cModelFlux) AS g FROM Object", "rewrite_scisql")
... # doctest: +ELLIPSIS
SELECT ... AS `g` FROM `demo_dp02`.`Object` AS `Object`
"""

from __future__ import annotations

from sqlglot import exp

from qserv_py.czar.analysis.context import PlanContext
from qserv_py.czar.analysis.errors import AnalysisError
from qserv_py.czar.scisql import ScisqlError
from qserv_py.czar.scisql import rewrite_scisql as rewrite_calls


class ScisqlCallError(AnalysisError):
    """A sciSQL call that cannot run: unknown name (1305), wrong arguments (1582), a form
    qserv-py refuses (1235), a literal out of range (1367)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.mysql_code = code  # type: ignore[misc]
        self.sqlstate = "42000" if code in (1305, 1582, 1235) else "22003"  # type: ignore[misc]


def rewrite_scisql(select: exp.Select, ctx: PlanContext) -> exp.Select:
    ctx.require("infer_area", "restrict_area", "restrict_director")
    if not ctx.areas and "scisql_" not in ctx.sql.lower():
        return select  # neither the user nor restrict_area wrote a sciSQL call: nothing to do
    try:
        result = rewrite_calls(select)
    except ScisqlError as exc:
        raise ScisqlCallError(str(exc), exc.code) from exc
    assert isinstance(result, exp.Select)
    return result

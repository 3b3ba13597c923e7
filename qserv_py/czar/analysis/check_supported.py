"""check_supported: refuse, with advice, the SELECT forms qserv-py does not plan.

Runs first, on the parsed tree, so later passes may assume one query block of plain tables:

- subqueries of any kind, WITH, LATERAL: one query block only (Qserv: same);
- window functions, user variables (``@v``, ``@@v``), ``?`` placeholders;
- ``INTO``, ``FOR UPDATE`` / ``LOCK IN SHARE MODE``, ``WITH ROLLUP``, select modifiers
  (``SQL_NO_CACHE``, ``STRAIGHT_JOIN``, ...), index hints, partition selection;
- NATURAL and RIGHT joins (write a LEFT JOIN with the tables swapped, or ON/USING);
- table functions and anything in FROM that is not a plain ``[db.]table``;
- aggregates where MariaDB forbids them (WHERE, ON, GROUP BY, inside another aggregate):
  MariaDB's own error 1111, raised here so the user does not wait for the workers.

Joins between partitioned tables need table metadata and are judged by ``check_joins``.

Example (``examples.py`` catalog; a supported query comes back unchanged):

>>> from qserv_py.czar.analysis.examples import show, show_plan
>>> show("SELECT * FROM Object WHERE objectId IN (SELECT objectId FROM ForcedSource)",
...      through="check_supported")
ERROR 1235: subqueries are not supported; run the inner query first and use its values
    (e.g. objectId IN (1, 2, 3)), or write it as a join
"""

from __future__ import annotations

from sqlglot import exp

from qserv_py.czar.analysis.aggregates import is_aggregate
from qserv_py.czar.analysis.context import PlanContext
from qserv_py.czar.analysis.errors import InvalidGroupFunction, UnsupportedQuery
from qserv_py.czar.analysis.sql_text import to_sql, written

__all__ = ["check_supported"]

_SELECT_ARGS = frozenset(
    {"expressions", "distinct", "from_", "joins", "where", "group", "having", "order", "limit"}
    | {"offset"}
)
_TABLE_ARGS = frozenset({"this", "db", "alias"})
_JOIN_ARGS = frozenset({"this", "on", "using", "side", "kind"})
_CLAUSE_WORDS = {
    "with_": "WITH (common table expressions)",
    "into": "SELECT ... INTO",
    "locks": "FOR UPDATE / LOCK IN SHARE MODE",
    "windows": "the WINDOW clause",
    "hint": "optimizer hints",
    "laterals": "LATERAL",
}
_ADVICE = {
    "with_": "write the inner query's conditions into the main query, or run it first",
    "into": "results go back to the client; save them there",
    "locks": "qserv-py is read-only for users, so there is nothing to lock: remove it",
}


def check_supported(select: exp.Select, ctx: PlanContext) -> exp.Select:
    _check_clauses(select)
    _check_one_block(select)
    _check_from(select)
    _check_nodes(select, ctx.sql)
    _check_aggregate_places(select, ctx.sql)
    return select


def _unsupported(what: str, advice: str, verb: str = "is") -> UnsupportedQuery:
    return UnsupportedQuery(f"{what} {verb} not supported; {advice}")


def _check_clauses(select: exp.Select) -> None:
    for key, value in select.args.items():
        if key in _SELECT_ARGS or value in (None, [], False):
            continue
        if key == "operation_modifiers":
            words = " ".join(to_sql(v) for v in value)
            raise _unsupported(words, "remove it (a modifier changes nothing about the rows)")
        what = _CLAUSE_WORDS.get(key, f"the {key.rstrip('_').upper()} clause")
        raise _unsupported(what, _ADVICE.get(key, "remove it"))
    distinct = select.args.get("distinct")
    if distinct is not None and distinct.args.get("on") is not None:
        raise _unsupported("DISTINCT ON", "use GROUP BY")
    group = select.args.get("group")
    if group is not None:
        extra = [k for k, v in group.args.items() if k != "expressions" and v]
        if extra:
            raise _unsupported(
                "GROUP BY ... WITH ROLLUP (or CUBE, GROUPING SETS)",
                "run one query per grouping level",
            )
    limit = select.args.get("limit")
    if isinstance(limit, exp.Fetch):
        raise _unsupported("FETCH FIRST", "use LIMIT")


def _check_one_block(select: exp.Select) -> None:
    # One walk (sqlglot's scope builder cost 0.1 ms per query to say the same): any query
    # nested anywhere (derived table, subquery, EXISTS, UNION) is a second block. WITH and
    # LATERAL are refused by _check_clauses, table functions by _check_from.
    nested = any(
        node is not select and isinstance(node, exp.Query | exp.Subquery | exp.Exists)
        for node in select.walk()
    )
    if nested:
        raise _unsupported(
            "subqueries",
            "run the inner query first and use its values (e.g. objectId IN (1, 2, 3)), or"
            " write it as a join",
            "are",
        )


def _check_from(select: exp.Select) -> None:
    from_ = select.args.get("from_")
    sources: list[exp.Expr] = [from_.this] if from_ is not None else []
    for join in select.args.get("joins") or []:
        extra = sorted(k for k, v in join.args.items() if k not in _JOIN_ARGS and v)
        if join.args.get("method"):
            raise _unsupported(
                f"{join.args['method']} JOIN", "name the join columns with USING (...) or ON"
            )
        if extra:
            raise _unsupported(f"this join ({', '.join(extra)})", "use JOIN ... ON or USING")
        side = str(join.args.get("side") or "").upper()
        kind = str(join.args.get("kind") or "").upper()
        if side in ("RIGHT", "FULL"):
            raise _unsupported(
                f"{side} JOIN", "write it as a LEFT JOIN with the two tables swapped"
            )
        if kind not in ("", "INNER", "CROSS", "OUTER"):
            raise _unsupported(kind, "use JOIN ... ON")
        sources.append(join.this)
    for source in sources:
        if not isinstance(source, exp.Table) or not isinstance(source.this, exp.Identifier):
            raise _unsupported(
                f"{to_sql(source)} in FROM", "FROM takes tables, written [database.]table"
            )
        extra = sorted(k for k, v in source.args.items() if k not in _TABLE_ARGS and v)
        if "catalog" in extra:
            raise _unsupported(f"the table name {to_sql(source)}", "write database.table")
        if "hints" in extra:
            raise _unsupported(f"index hints on {source.name}", "remove them", "are")
        if extra:
            raise _unsupported(f"{', '.join(extra)} on {source.name}", "remove it")


def _check_nodes(select: exp.Select, sql: str) -> None:
    for node in select.walk():
        if isinstance(node, exp.Window):
            raise _unsupported(
                "window functions (OVER ...)",
                "use GROUP BY, or compute them in the client",
                "are",
            )
        if isinstance(node, (exp.Parameter, exp.SessionParameter)):
            raise _unsupported(f"variables ({written(node, sql)})", "write the value itself", "are")
        if isinstance(node, exp.Placeholder):
            raise _unsupported("placeholders (?)", "write the values into the query", "are")


def _check_aggregate_places(select: exp.Select, ctx_sql: str) -> None:
    places: list[tuple[str, exp.Expr | None]] = [("WHERE", select.args.get("where"))]
    places += [("ON", join.args.get("on")) for join in select.args.get("joins") or []]
    group = select.args.get("group")
    places += [("GROUP BY", e) for e in (group.expressions if group is not None else [])]
    for clause, node in places:
        if node is not None and any(is_aggregate(n) for n in node.walk()):
            raise InvalidGroupFunction(
                f"Invalid use of group function: an aggregate cannot be used in {clause};"
                " filter on aggregates with HAVING"
            )
    for node in select.walk():
        if is_aggregate(node) and any(is_aggregate(n) for n in node.walk() if n is not node):
            raise InvalidGroupFunction(
                f"Invalid use of group function: {written(node, ctx_sql)} nests aggregates"
            )

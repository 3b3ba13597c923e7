"""relation_graph: whether a join of partitioned tables runs chunk by chunk, and how.

The one place that reads join conditions to decide locality (Qserv's ``qana/RelationGraph.h``,
reference/qserv-behaviour.md 1.4). Regular tables are on every worker, so only the partitioned
table references matter. The argument:

1. **Key classes.** Equalities ``a.x = b.y`` between columns, from the top-level AND terms
   of WHERE and of inner joins' ON clauses, and ``USING`` columns, make classes of equal
   columns (union-find over ``alias.column``; equalities through a regular table count). A
   director row lives in one chunk, and so does every row of its children (ingest places a
   child row with its director row, or by the director's position); so two partitioned
   references whose director-key columns (a director's key, a child's column holding it) of
   the *same director table* are in one class always meet inside one chunk. References are
   grouped so: a **key group**.
2. **One group**: every result row is built from one chunk's rows; the query runs per chunk
   unchanged (``kind = "chunk"``). Director-child joins in every spelling land here.
3. **Two groups linked by a near-neighbour term** ``scisql_angSep(a.lon, a.lat, b.lon,
   b.lat) < r`` (or ``<=``, either order), with ``a`` and ``b`` director references on their
   own position columns, ``r`` a literal at most the database's overlap: ``kind =
   "near_neighbour"``. One group is *home*, the other must be the director ``b`` alone (the
   *overlap* reference). A pair (a, b) within ``r`` is found in a's home chunk C and home
   sub-chunk S: ``b`` is either a home row of S, or (anywhere else) an overlap row of C
   listed with ``subChunkId = S``, because the partitioner copies every row into the
   overlap of each sub-chunk whose box dilated by the overlap contains it
   (sphgeom-and-scisql.md 2.3). So each chunk runs the query twice, ``b`` read from
   ``<T>_C`` and from ``<T>FullOverlap_C``, each time with ``a.subChunkId = b.subChunkId``:
   every pair once, by a's home sub-chunk. (A partitioning with a two-sub-chunk sub-stripe
   lists some rows twice for one sub-chunk; such a partitioning is refused.)
   The home group is the one the restrictors name (director keys first, then positions),
   since only its restrictions may choose chunks: b's rows come from other chunks too.
4. **Anything else** is refused with error 1235 naming the reason: a join on non-key
   columns, keys of different directors, different databases (each places its chunks
   independently), a distance beyond the overlap, no join condition at all, more than two
   groups (Qserv's 2^N overlap rewrite is not done), outer near-neighbour joins.

``LEFT JOIN`` to a partitioned table (beyond Qserv) is chunk-local when its own ON or USING
equates its key with the key of a partitioned table on the left in the same group: every
match of a left row is in the left row's chunk, so unmatched rows are the same per chunk as
globally.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from sqlglot import exp

from qserv_py.czar.analysis.catalog_view import TableInfo
from qserv_py.czar.analysis.context import PlanContext, TableRef
from qserv_py.czar.analysis.errors import UnsupportedQuery
from qserv_py.czar.analysis.predicates import numeric_literal, strip_parens
from qserv_py.sphgeom.chunker import Chunker

__all__ = ["JoinPlan", "join_plan"]

_NodeKey = tuple[str, str]  # (alias, lower-cased column name)
_ANGSEP = "scisql_angsep"


@dataclass(frozen=True, slots=True)
class JoinPlan:
    """How a query over partitioned tables runs per chunk.

    ``chunk_aliases``: the references whose restrictions (areas, director keys) may choose
    chunks (all of them for a chunk join, the home group for a near-neighbour join).
    ``overlap_alias``: the director read from its chunk and overlap tables, joined on
    ``subChunkId`` with ``home_alias`` (near-neighbour only); ``radius`` the distance in deg.
    """

    kind: Literal["chunk", "near_neighbour"]
    chunk_aliases: frozenset[str]
    home_alias: str | None = None
    overlap_alias: str | None = None
    radius: float | None = None


@dataclass(frozen=True, slots=True)
class _NearNeighbour:
    first: str
    second: str
    radius: float


class _Classes:
    """Union-find over column nodes."""

    def __init__(self) -> None:
        self._parent: dict[_NodeKey, _NodeKey] = {}

    def find(self, node: _NodeKey) -> _NodeKey:
        parent = self._parent.setdefault(node, node)
        while parent != node:
            grand = self._parent.setdefault(parent, parent)
            self._parent[node] = grand
            node, parent = parent, grand
        return node

    def union(self, a: _NodeKey, b: _NodeKey) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self._parent[max(ra, rb)] = min(ra, rb)


def join_plan(select: exp.Select, ctx: PlanContext) -> JoinPlan | None:
    """The plan for a query with two or more partitioned references; None with fewer."""
    partitioned = ctx.partitioned()
    if len(partitioned) < 2:
        return None
    _check_same_database(partitioned)
    inner, left_joins = _conditions(select, ctx)
    classes = _Classes()
    for term in inner:
        for a, b in _equalities(term):
            classes.union(a, b)
    for _right, terms in left_joins:
        for term in terms:
            for a, b in _equalities(term):
                classes.union(a, b)
    groups = _key_groups(partitioned, classes, ctx)
    for right, terms in left_joins:
        _check_left_join(right, terms, groups, ctx)
    if len(groups) == 1:
        return JoinPlan("chunk", frozenset(ref.alias for ref in partitioned))
    if left_joins and any(r.table.is_partitioned for r, _ in left_joins):
        raise UnsupportedQuery(
            "LEFT JOIN is not supported in a near-neighbour join (as in Qserv); use an inner join"
        )
    near = [nn for term in inner if (nn := _near_neighbour(term, ctx)) is not None]
    if len(groups) > 2:
        raise _not_local(
            groups,
            "more than two groups of tables not joined on their director key; a query may"
            " join at most two such groups, with one near-neighbour condition",
        )
    return _near_neighbour_plan(select, ctx, groups, near, inner)


def _check_same_database(partitioned: tuple[TableRef, ...]) -> None:
    dbs = sorted({ref.table.db for ref in partitioned})
    if len(dbs) > 1:
        names = ", ".join(f"{ref.table.qualified_name} AS {ref.alias}" for ref in partitioned)
        raise UnsupportedQuery(
            f"partitioned tables of different databases ({names}) cannot be joined: each"
            " database places its chunks on the workers independently, so no chunk holds"
            " both; join tables of one database, or query each database on its own"
        )


def _conditions(
    select: exp.Select, ctx: PlanContext
) -> tuple[list[exp.Expr], list[tuple[TableRef, list[exp.Expr]]]]:
    """Top-level AND terms that hold for every result row (WHERE, inner ON, inner USING),
    and per LEFT JOIN its right table and its own ON / USING terms."""
    inner: list[exp.Expr] = (
        list(_and_terms(select.args["where"].this)) if select.args.get("where") else []
    )
    left_joins: list[tuple[TableRef, list[exp.Expr]]] = []
    for position, join in enumerate(select.args.get("joins") or [], start=1):
        right = ctx.tables[position]
        terms: list[exp.Expr] = []
        on = join.args.get("on")
        if on is not None:
            terms += _and_terms(on)
        for ident in join.args.get("using") or []:
            owners = [r for r in ctx.tables[:position] if r.table.column(ident.name)]
            if len(owners) == 1:  # qualify_columns refused the other cases
                left_col = exp.column(ident.name, table=owners[0].alias)
                right_col = exp.column(ident.name, table=right.alias)
                terms.append(exp.EQ(this=left_col, expression=right_col))
        if str(join.args.get("side") or "").upper() == "LEFT":
            left_joins.append((right, terms))
        else:
            inner += terms
    return inner, left_joins


def _and_terms(node: exp.Expr) -> list[exp.Expr]:
    inner = strip_parens(node)
    if isinstance(inner, exp.And):
        return [*_and_terms(inner.this), *_and_terms(inner.expression)]
    return [inner]


def _equalities(term: exp.Expr) -> list[tuple[_NodeKey, _NodeKey]]:
    if not isinstance(term, exp.EQ):
        return []
    left, right = strip_parens(term.this), strip_parens(term.expression)
    if not (isinstance(left, exp.Column) and isinstance(right, exp.Column)):
        return []
    if left.table and right.table and left.table != right.table:
        return [((left.table, left.name.lower()), (right.table, right.name.lower()))]
    return []


def _key_identity(table: TableInfo, ctx: PlanContext) -> tuple[str, str]:
    director = ctx.view.director_of(table)
    return director.db, director.name


def _key_groups(
    partitioned: tuple[TableRef, ...], classes: _Classes, ctx: PlanContext
) -> list[list[TableRef]]:
    """Partitioned references grouped by (director table, class of their key column)."""
    groups: dict[tuple[tuple[str, str], _NodeKey], list[TableRef]] = {}
    for ref in partitioned:
        node = classes.find((ref.alias, ref.table.director_key.lower()))
        groups.setdefault((_key_identity(ref.table, ctx), node), []).append(ref)
    return list(groups.values())  # in FROM order of their first member


def _check_left_join(
    right: TableRef, terms: list[exp.Expr], groups: list[list[TableRef]], ctx: PlanContext
) -> None:
    if not right.table.is_partitioned:
        return
    position = ctx.tables.index(right)
    left = {ref.alias for ref in ctx.tables[:position] if ref.table.is_partitioned}
    if not left:
        return  # check_joins refused it already (a regular table on the left)
    key = right.table.director_key.lower()
    for term in terms:
        for a, b in _equalities(term):
            mine, other = (a, b) if a[0] == right.alias else (b, a)
            if mine != (right.alias, key) or other[0] not in left:
                continue
            partner = ctx.ref(other[0]).table
            if other[1] == partner.director_key.lower() and _key_identity(
                partner, ctx
            ) == _key_identity(right.table, ctx):
                return
    if any(_angsep_term(term) for term in terms):
        raise UnsupportedQuery(
            f"LEFT JOIN to {right.table.qualified_name} AS {right.alias} on a distance"
            " (scisql_angSep) is not supported (outer near-neighbour joins are not, as in"
            " Qserv); use an inner join"
        )
    raise UnsupportedQuery(
        f"LEFT JOIN to the partitioned table {right.table.qualified_name} AS {right.alias} is"
        " supported only when its ON (or USING) equates its director key"
        f" ({right.alias}.{right.table.director_key}) with the key of a table on its left"
        " with the same director, so that all its matches are in the same chunk"
    )


def _near_neighbour(term: exp.Expr, ctx: PlanContext) -> _NearNeighbour | None:
    """``scisql_angSep(a.lon, a.lat, b.lon, b.lat) < r`` (``<=``; or ``r > ...``)."""
    call: exp.Expr
    if isinstance(term, (exp.LT, exp.LTE)):
        call, bound = strip_parens(term.this), term.expression
    elif isinstance(term, (exp.GT, exp.GTE)):
        call, bound = strip_parens(term.expression), term.this
    else:
        return None
    if not isinstance(call, exp.Anonymous) or call.name.lower() != _ANGSEP:
        return None
    radius = numeric_literal(bound)
    args = [strip_parens(a) for a in call.expressions]
    if radius is None or len(args) != 4 or not all(isinstance(a, exp.Column) for a in args):
        return None
    first, second = _position_alias(args[0], args[1], ctx), _position_alias(args[2], args[3], ctx)
    if first is None or second is None or first == second:
        return None
    return _NearNeighbour(first, second, radius)


def _position_alias(lon: exp.Expr, lat: exp.Expr, ctx: PlanContext) -> str | None:
    assert isinstance(lon, exp.Column) and isinstance(lat, exp.Column)
    if not lon.table or lon.table != lat.table:
        return None
    table = ctx.ref(lon.table).table
    if table.kind != "director":
        return None
    if lon.name.lower() != table.longitude_key.lower():
        return None
    if lat.name.lower() != table.latitude_key.lower():
        return None
    return lon.table


def _near_neighbour_plan(
    select: exp.Select,
    ctx: PlanContext,
    groups: list[list[TableRef]],
    near: list[_NearNeighbour],
    inner: list[exp.Expr],
) -> JoinPlan:
    group_of = {ref.alias: index for index, group in enumerate(groups) for ref in group}
    linking = [nn for nn in near if group_of[nn.first] != group_of[nn.second]]
    db = ctx.view.database(groups[0][0].table.db)
    overlap = db.overlap
    if not linking:
        raise _not_local(groups, _no_link_reason(groups, inner, ctx, overlap))
    nn = min(linking, key=lambda n: n.radius)
    if not nn.radius <= overlap:
        raise UnsupportedQuery(
            f"the near-neighbour distance {nn.radius:g} deg ({nn.radius * 3600:g} arcsec) of"
            f" {nn.first} and {nn.second} is larger than the overlap of {db.name},"
            f" {overlap:g} deg ({overlap * 3600:g} arcsec): pairs farther apart than the"
            " overlap are not in the same chunk's data; use a distance of at most the overlap"
        )
    if _has_two_sub_chunk_stripes(db.num_stripes, db.num_sub_stripes):
        raise UnsupportedQuery(
            f"near-neighbour joins are not supported in {db.name}: its partitioning"
            f" ({db.num_stripes} stripes, {db.num_sub_stripes} sub-stripes) has sub-stripes"
            " of two sub-chunks, whose overlap lists some rows twice"
        )
    candidates = [
        (group_of[nn.first], nn.first, nn.second),
        (group_of[nn.second], nn.second, nn.first),
    ]
    # the overlap side must be the director alone in its group
    usable = [c for c in candidates if len(groups[group_of[c[2]]]) == 1]
    if not usable:
        raise _not_local(
            groups,
            f"in a near-neighbour join one side ({nn.first} or {nn.second}) must be a director"
            " table joined with nothing else partitioned: only directors have overlap rows",
        )
    scores = _restriction_scores(select, ctx)
    home_group, home, other = max(
        usable,
        key=lambda c: (max(scores.get(r.alias, 0) for r in groups[c[0]]), -c[0]),
    )
    return JoinPlan(
        "near_neighbour",
        frozenset(ref.alias for ref in groups[home_group]),
        home_alias=home,
        overlap_alias=other,
        radius=nn.radius,
    )


@functools.lru_cache(maxsize=8)
def _has_two_sub_chunk_stripes(num_stripes: int, num_sub_stripes: int) -> bool:
    """Whether a sub-stripe of this partitioning has exactly two sub-chunks (its overlap rows
    may be listed twice for one sub-chunk, sphgeom-and-scisql.md 2.3). Pure, so cached."""
    counts = getattr(Chunker(num_stripes, num_sub_stripes), "_nsub", ())
    return any(int(n) == 2 for n in counts)


def _restriction_scores(select: exp.Select, ctx: PlanContext) -> dict[str, int]:
    """Per alias, how well the WHERE terms on it alone may choose chunks: 2 for a director
    key compared with literals, 1 for its position columns, 0 otherwise."""
    scores: dict[str, int] = {}
    where = select.args.get("where")
    for term in _and_terms(where.this) if where is not None else []:
        columns = list(term.find_all(exp.Column))
        aliases = {c.table for c in columns}
        if len(aliases) != 1 or not columns:
            continue
        alias = aliases.pop()
        table = ctx.ref(alias).table
        if not table.is_partitioned:
            continue
        names = {c.name.lower() for c in columns}
        score = 0
        if names == {table.director_key.lower()}:
            score = 2
        elif table.has_position and names <= {
            table.longitude_key.lower(),
            table.latitude_key.lower(),
        }:
            score = 1
        scores[alias] = max(scores.get(alias, 0), score)
    return scores


def _no_link_reason(
    groups: list[list[TableRef]], inner: list[exp.Expr], ctx: PlanContext, overlap: float
) -> str:
    named = {ref.alias for group in groups for ref in group}
    other_equalities = [
        (a, b) for term in inner for a, b in _equalities(term) if a[0] in named and b[0] in named
    ]
    limit = f"{overlap:g} deg ({overlap * 3600:g} arcsec)"
    if other_equalities:
        (a1, c1), (a2, c2) = other_equalities[0]
        c1, c2 = _spelled(a1, c1, ctx), _spelled(a2, c2, ctx)
        return (
            f"the join condition {a1}.{c1} = {a2}.{c2} is not on the director key of one"
            " director table, so matching rows may be in different chunks; join on the"
            " director key (e.g. USING (objectId)), or use a near-neighbour condition"
            f" scisql_angSep(...) < r with r at most the overlap, {limit}"
        )
    if any(_angsep_term(term) for term in inner):
        return (
            "its scisql_angSep condition is not a near-neighbour condition Qserv can evaluate"
            " per chunk: write scisql_angSep(a.lon, a.lat, b.lon, b.lat) < r on the position"
            f" columns of two director tables, with r a number at most the overlap, {limit}"
        )
    return (
        "no join condition links them on their director key or by distance; join on the"
        " director key (e.g. USING (objectId)), or add scisql_angSep(a.lon, a.lat, b.lon,"
        f" b.lat) < r with r at most the overlap, {limit}"
    )


def _spelled(alias: str, name: str, ctx: PlanContext) -> str:
    column = ctx.ref(alias).table.column(name)
    return column.name if column is not None else name


def _angsep_term(term: exp.Expr) -> bool:
    return any(
        isinstance(node, exp.Anonymous) and node.name.lower() == _ANGSEP for node in term.walk()
    )


def _not_local(groups: list[list[TableRef]], reason: str) -> UnsupportedQuery:
    names = " and ".join(
        "(" + ", ".join(f"{ref.table.qualified_name} AS {ref.alias}" for ref in group) + ")"
        for group in groups
    )
    return UnsupportedQuery(
        f"the join of {names} cannot be evaluated using only partition-local data: {reason}"
    )

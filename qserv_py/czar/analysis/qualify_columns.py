"""qualify_columns: every column is bound to a table of FROM, as MariaDB binds it.

After this pass (and ``qualify_tables``) the query is self-contained against the catalog view:

- each column is ``alias.column`` with the catalog's spelling (column names are
  case-insensitive in MariaDB, table names and aliases are not);
- ``*`` and ``t.*`` are expanded to the columns in catalog order;
- names in GROUP BY, HAVING and ORDER BY that refer to select items (aliases, positions such
  as ``ORDER BY 2``) are replaced by a copy of the item's expression, with MariaDB's lookup
  order: GROUP BY looks at table columns first, ORDER BY at select items first, HAVING at
  select items unless the name is a grouped column;
- the result column names are recorded in ``ctx.result_columns``, as MariaDB would name them
  (alias, column name as written, or the item's text), and duplicates are refused as Qserv
  does (a merge table cannot hold two columns of one name).

The query is one block of plain tables (``check_supported`` ran), so the only scope is the
query itself: each column resolves against ``ctx.tables`` (``qualify_tables``), nothing else.
Errors are MariaDB's: 1054 unknown column (with a "did you mean"), 1052 ambiguous column,
1051 unknown table in ``t.*``, 1056 GROUP BY an aggregate, 1060 duplicate result names.

Example (``examples.py`` catalog, default database ``demo_dp02``):

>>> from qserv_py.czar.analysis.examples import show, show_plan
>>> show("SELECT objectId, coord_ra AS ra FROM Object o WHERE detect_isPrimary = 1"
...      " ORDER BY ra", through="qualify_columns")
SELECT `o`.`objectId`, `o`.`coord_ra` AS `ra` FROM `demo_dp02`.`Object` AS `o`
    WHERE `o`.`detect_isPrimary` = 1 ORDER BY `o`.`coord_ra`

Results stay the same because every name is bound exactly as MariaDB binds it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp

from qserv_py.czar.analysis.aggregates import contains_aggregate
from qserv_py.czar.analysis.context import PlanContext, TableRef
from qserv_py.czar.analysis.errors import (
    AmbiguousColumn,
    DuplicateColumnName,
    UnknownColumn,
    UnknownTableInStar,
    UnsupportedQuery,
    WrongGroupField,
)
from qserv_py.czar.analysis.predicates import integer_literal
from qserv_py.czar.analysis.sql_text import to_sql

__all__ = ["qualify_columns"]

_RESERVED_ALIAS = re.compile(r"^QS\d+_", re.IGNORECASE)
_CLAUSES = {
    "expressions": "field list",
    "where": "where clause",
    "joins": "on clause",
    "group": "group statement",
    "having": "having clause",
    "order": "order clause",
}


def qualify_columns(select: exp.Select, ctx: PlanContext) -> exp.Select:
    ctx.require("qualify_tables", "check_joins")
    refs = ctx.tables
    using = _using_columns(select, refs)
    aliases = frozenset(i.alias.lower() for i in select.expressions if isinstance(i, exp.Alias))
    resolver = _Resolver(refs, using, aliases)
    names = _expand_select_list(select, ctx, resolver)
    ctx.result_columns = _check_names(names)
    items = _select_items(select)
    for key in ("where", "joins"):
        for node in _clause_nodes(select, key):
            _resolve_tree(node, _CLAUSES[key], resolver, lambda _c: None)
    _resolve_group(select, resolver, items)
    _resolve_having(select, resolver, items)
    _resolve_order(select, resolver, items)
    return select


def _using_columns(select: exp.Select, refs: tuple[TableRef, ...]) -> dict[str, str]:
    """Lower-cased USING column -> alias of the left table that supplies it."""
    using: dict[str, str] = {}
    for position, join in enumerate(select.args.get("joins") or [], start=1):
        names = join.args.get("using") or []
        right = refs[position]
        for ident in names:
            name = ident.name
            left = [ref for ref in refs[:position] if ref.table.column(name)]
            if not left or right.table.column(name) is None:
                raise UnknownColumn(
                    f"Unknown column '{name}' in 'from clause' (USING needs a column both"
                    " joined tables have)"
                )
            if len(left) > 1:
                raise AmbiguousColumn(
                    f"Column '{name}' in from clause is ambiguous; use JOIN ... ON with"
                    " qualified columns instead of USING"
                )
            column = right.table.column(name)
            assert column is not None
            ident.replace(exp.to_identifier(column.name, quoted=True))
            using.setdefault(name.lower(), left[0].alias)
    return using


class _Resolver:
    """Binds column names to the FROM clause's tables, with MariaDB's errors."""

    def __init__(
        self, refs: tuple[TableRef, ...], using: dict[str, str], aliases: frozenset[str]
    ) -> None:
        self.refs = refs
        self.using = using
        self.aliases = aliases
        """Lower-cased select aliases, only for advice: WHERE and ON cannot see them."""

    def has(self, name: str) -> bool:
        return any(ref.table.column(name) for ref in self.refs)

    def bind(self, column: exp.Column, clause: str) -> exp.Column:
        name = column.name
        table = column.table
        if table:
            db = column.text("db")
            written = ".".join(p for p in (db, table, name) if p)
            matches = [r for r in self.refs if r.alias == table and (not db or r.table.db == db)]
            if not matches:
                raise UnknownColumn(
                    f"Unknown column '{written}' in '{clause}' ({self._aliases_hint()})"
                )
            return self._column(matches[0], name, written, clause)
        owners = [r for r in self.refs if r.table.column(name)]
        if len(owners) > 1 and name.lower() in self.using:
            owners = [r for r in owners if r.alias == self.using[name.lower()]]
        if len(owners) > 1:
            choices = " or ".join(f"{r.alias}.{name}" for r in owners)
            raise AmbiguousColumn(f"Column '{name}' in {clause} is ambiguous; write {choices}")
        if not owners:
            if name.lower() in self.aliases:
                raise UnknownColumn(
                    f"Unknown column '{name}' in '{clause}'; {name} is a select alias, which"
                    " WHERE and ON cannot use: repeat its expression there"
                )
            raise UnknownColumn(f"Unknown column '{name}' in '{clause}'{self._suggest(name)}")
        return self._column(owners[0], name, name, clause)

    def _column(self, ref: TableRef, name: str, written: str, clause: str) -> exp.Column:
        column = ref.table.column(name)
        if column is None:
            raise UnknownColumn(
                f"Unknown column '{written}' in '{clause}'{self._suggest(name, (ref,))}"
            )
        return exp.column(column.name, table=ref.alias, quoted=True)

    def _aliases_hint(self) -> str:
        return "tables here: " + ", ".join(r.alias for r in self.refs)

    def _suggest(self, name: str, refs: tuple[TableRef, ...] | None = None) -> str:
        for ref in refs or self.refs:
            close = ref.table.suggest(name)
            if close:
                return f"; did you mean {ref.alias}.{close}?"
        if not self.refs:
            return "; this query reads no table"
        tables = ", ".join(r.table.qualified_name for r in refs or self.refs)
        return f"; DESCRIBE {tables} lists the columns"


_Fallback = Callable[[exp.Column], exp.Expr | None]


def _resolve_tree(node: exp.Expr, clause: str, resolver: _Resolver, fallback: _Fallback) -> None:
    """Bind every column under ``node``; ``fallback`` may claim a name first (select items)."""
    for column in list(node.find_all(exp.Column)):
        if isinstance(column.this, exp.Star):
            continue
        replacement = fallback(column)
        if replacement is None:
            replacement = resolver.bind(column, clause)
        elif column.parent is not None and not isinstance(
            column.parent, (exp.Ordered, exp.Group, exp.Having)
        ):
            replacement = _parenthesised(replacement)
        column.replace(replacement)


def _parenthesised(node: exp.Expr) -> exp.Expr:
    if isinstance(node, (exp.Column, exp.Literal, exp.Func, exp.Paren)):
        return node
    return exp.Paren(this=node)


def _clause_nodes(select: exp.Select, key: str) -> list[exp.Expr]:
    if key == "joins":
        return [j.args["on"] for j in select.args.get("joins") or [] if j.args.get("on")]
    node = select.args.get(key)
    return [node] if node is not None else []


def _expand_select_list(select: exp.Select, ctx: PlanContext, resolver: _Resolver) -> list[str]:
    """Expand stars, bind the select list's columns; return the result column names."""
    texts = ctx.item_texts if len(ctx.item_texts) == len(select.expressions) else ()
    items: list[exp.Expr] = []
    names: list[str] = []
    for index, item in enumerate(select.expressions):
        if isinstance(item, exp.Star) or (
            isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
        ):
            for column in _star_columns(item, resolver):
                items.append(column)
                names.append(column.name)
            continue
        names.append(_item_name(item, texts[index] if texts else None))
        holder = exp.Tuple(expressions=[item])
        _resolve_tree(holder, "field list", resolver, lambda _c: None)
        items.append(holder.expressions[0])
    select.set("expressions", items)
    return names


def _star_columns(item: exp.Expr, resolver: _Resolver) -> list[exp.Column]:
    if isinstance(item, exp.Column) and item.table:
        refs = [r for r in resolver.refs if r.alias == item.table]
        if not refs:
            raise UnknownTableInStar(f"Unknown table '{item.table}' ({resolver._aliases_hint()})")
    else:
        refs = list(resolver.refs)
        if not refs:
            raise UnsupportedQuery("SELECT * needs a FROM clause")
        if resolver.using:
            raise UnsupportedQuery(
                "SELECT * with JOIN ... USING is not supported; name the columns you need"
            )
    return [exp.column(c.name, table=r.alias, quoted=True) for r in refs for c in r.table.columns]


def _item_name(item: exp.Expr, text: str | None) -> str:
    """MariaDB's name for a result column: alias, column as written, string value, text."""
    if isinstance(item, exp.Alias):
        return item.alias
    if isinstance(item, exp.Column):
        return item.name
    if isinstance(item, exp.Literal) and item.is_string:
        return str(item.this)
    return text if text else to_sql(item)


def _check_names(names: list[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for name in names:
        folded = name.lower()
        if folded in seen:
            raise DuplicateColumnName(
                f"Duplicate column name '{name}': result columns need distinct names (a"
                " '*' counts too); name them with AS, e.g. SELECT a.x AS a_x, b.x AS b_x"
            )
        seen[folded] = name
        if _RESERVED_ALIAS.match(name):
            raise UnsupportedQuery(
                f"the column name '{name}' is reserved for qserv-py's intermediate results"
                " (QS<n>_...); choose another alias"
            )
    return tuple(names)


def _select_items(select: exp.Select) -> list[tuple[str | None, exp.Expr]]:
    """(name usable as a reference, expression) per select item, after binding."""
    items: list[tuple[str | None, exp.Expr]] = []
    for item in select.expressions:
        if isinstance(item, exp.Alias):
            items.append((item.alias, item.this))
        elif isinstance(item, exp.Column):
            items.append((item.name, item))
        else:
            items.append((None, item))
    return items


def _by_alias(items: list[tuple[str | None, exp.Expr]], name: str) -> exp.Expr | None:
    folded = name.lower()
    for alias, expression in items:
        if alias is not None and alias.lower() == folded:
            return expression
    return None


def _by_position(
    node: exp.Expr, items: list[tuple[str | None, exp.Expr]], clause: str
) -> exp.Expr | None:
    position = integer_literal(node)
    if position is None or not isinstance(node, exp.Literal):
        return None
    if not 1 <= position <= len(items):
        raise UnknownColumn(
            f"Unknown column '{position}' in '{clause}' (the select list has only {len(items)})"
        )
    return items[position - 1][1].copy()


def _resolve_group(
    select: exp.Select, resolver: _Resolver, items: list[tuple[str | None, exp.Expr]]
) -> None:
    group = select.args.get("group")
    if group is None:
        return
    clause = _CLAUSES["group"]

    def fallback(column: exp.Column) -> exp.Expr | None:
        if column.table or resolver.has(column.name):
            return None  # table columns come first in GROUP BY
        target = _by_alias(items, column.name)
        if target is not None and contains_aggregate(target):
            raise WrongGroupField(
                f"Can't group on '{column.name}': it is an aggregate; filter groups on it"
                " with HAVING instead"
            )
        return target.copy() if target is not None else None

    expressions = []
    for expression in group.expressions:
        positional = _by_position(expression, items, clause)
        if positional is not None:
            if contains_aggregate(positional):
                raise WrongGroupField(f"Can't group on '{to_sql(positional)}': it is an aggregate")
            expressions.append(positional)
            continue
        holder = exp.Tuple(expressions=[expression])
        _resolve_tree(holder, clause, resolver, fallback)
        expressions.append(holder.expressions[0])
    group.set("expressions", expressions)


def _resolve_having(
    select: exp.Select, resolver: _Resolver, items: list[tuple[str | None, exp.Expr]]
) -> None:
    having = select.args.get("having")
    if having is None:
        return
    group = select.args.get("group")
    grouped = {c.name.lower() for c in (group.find_all(exp.Column) if group is not None else [])}

    def fallback(column: exp.Column) -> exp.Expr | None:
        if column.table or column.name.lower() in grouped:
            return None
        target = _by_alias(items, column.name)
        return target.copy() if target is not None else None

    _resolve_tree(having, _CLAUSES["having"], resolver, fallback)


def _resolve_order(
    select: exp.Select, resolver: _Resolver, items: list[tuple[str | None, exp.Expr]]
) -> None:
    order = select.args.get("order")
    if order is None:
        return
    clause = _CLAUSES["order"]

    def fallback(column: exp.Column) -> exp.Expr | None:
        if column.table:
            return None
        target = _by_alias(items, column.name)  # select items first in ORDER BY
        return target.copy() if target is not None else None

    for ordered in order.expressions:
        positional = _by_position(ordered.this, items, clause)
        if positional is not None:
            ordered.set("this", positional)
            continue
        _resolve_tree(ordered, clause, resolver, fallback)

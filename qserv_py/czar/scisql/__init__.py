"""sciSQL UDF calls rewritten as plain MariaDB SQL (workers have no sciSQL plugin).

``rewrite_scisql(expr)`` is the pass; ``FUNCTIONS`` maps each supported name (lower case) to its
builder, which takes the call's sqlglot arguments and returns a sqlglot expression. ``model``
holds the same functions in Python floats, transcribed from the C sources.
"""

from qserv_py.czar.scisql.errors import ScisqlError
from qserv_py.czar.scisql.rewrite import (
    FUNCTIONS,
    SCISQL_VERSION,
    SUPPORTED,
    build_call,
    is_scisql_call,
    rewrite_scisql,
)

__all__ = [
    "FUNCTIONS",
    "SCISQL_VERSION",
    "SUPPORTED",
    "ScisqlError",
    "build_call",
    "is_scisql_call",
    "rewrite_scisql",
]

"""The czar's query analysis: SQL text and a catalog view in, a ``QueryPlan`` out (pure).

``analyse(sql, view, default_db)`` returns a ``QueryPlan`` or an ``AnalysisFailure`` (a MySQL
error code, SQLSTATE and message). See ``pipeline.py`` for the passes and their order.
"""

from qserv_py.czar.analysis.catalog_view import (
    CatalogView,
    Column,
    DatabaseInfo,
    TableInfo,
    columns_from_schema_json,
)
from qserv_py.czar.analysis.errors import AnalysisError, AnalysisFailure
from qserv_py.czar.analysis.pipeline import PASSES, analyse, plan_query
from qserv_py.czar.analysis.plan import (
    CHUNK_TOKEN,
    MERGE_TABLE_TOKEN,
    AllChunks,
    CatalogCount,
    ChunkList,
    ChunkSelection,
    DirectorLookup,
    KeyBound,
    QueryPlan,
    SingleRun,
)

__all__ = [
    "CHUNK_TOKEN",
    "MERGE_TABLE_TOKEN",
    "PASSES",
    "AllChunks",
    "AnalysisError",
    "AnalysisFailure",
    "CatalogCount",
    "CatalogView",
    "ChunkList",
    "ChunkSelection",
    "Column",
    "DatabaseInfo",
    "DirectorLookup",
    "KeyBound",
    "QueryPlan",
    "SingleRun",
    "TableInfo",
    "analyse",
    "columns_from_schema_json",
    "plan_query",
]

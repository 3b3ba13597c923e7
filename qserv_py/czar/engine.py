"""The czar's query engine: analysis, dispatch to workers, merge, results to the front end.

This version answers only what the front end cannot: it refuses queries on tables with a
clear error until the query path (analysis, dispatch, merge) lands.
"""

from __future__ import annotations

from mysql_mimic import ResultSet
from sqlglot import exp

from qserv_py.cluster.config import HOST, ClusterConfig
from qserv_py.czar.czar_db_results import CzarDbQueries
from qserv_py.czar.frontend.errors import mysql_error
from qserv_py.czar.metadata.schema import QUERY_USER, RESULT_DB
from qserv_py.czar.metadata.snapshot import CatalogCache

READ_ONLY = (exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Alter, exp.TruncateTable)


class QueryEngine:
    def __init__(self, config: ClusterConfig, catalog: CatalogCache) -> None:
        self._config = config
        self._catalog = catalog
        self._czar_db = CzarDbQueries(
            {
                "host": HOST,
                "port": config.czar_db_port,
                "user": QUERY_USER,
                "password": config.mariadb_password,
                "database": RESULT_DB,
            }
        )

    async def start(self) -> None:
        await self._czar_db.open()

    async def close(self) -> None:
        await self._czar_db.close()

    async def evaluate(self, sql: str) -> ResultSet:
        return await self._czar_db.stream(sql)

    async def execute(
        self, expression: exp.Expression, sql: str, database: str | None
    ) -> ResultSet:
        if isinstance(expression, READ_ONLY):
            raise mysql_error(
                1290,
                "qserv-py is read-only for users: INSERT, UPDATE, DELETE and DDL are refused;"
                " load data with `qserv-py ingest`",
            )
        raise mysql_error(
            1235,
            "queries on tables are not supported by this version of qserv-py yet;"
            " SHOW, DESCRIBE, information_schema and SELECT without FROM work",
        )

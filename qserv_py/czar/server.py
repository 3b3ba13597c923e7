"""The czar process: the MySQL front end on port 4040 over the catalog and the query engine."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncmy
from mysql_mimic import MysqlServer

from qserv_py.cluster.config import ClusterConfig
from qserv_py.czar.engine import QueryEngine
from qserv_py.czar.frontend.auth import ConfiguredUsers
from qserv_py.czar.frontend.errors import register_sqlstates
from qserv_py.czar.frontend.processes import CzarControl
from qserv_py.czar.frontend.session import CzarSession
from qserv_py.czar.metadata.snapshot import CatalogCache, CatalogSnapshot, load_snapshot
from qserv_py.ingest.loader import czar_db_args

log = logging.getLogger(__name__)


class Czar:
    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self._pool: Any = None
        self.catalog = CatalogCache(self._load_catalog)
        self.engine = QueryEngine(config, self.catalog)
        self._server = MysqlServer(
            session_factory=self._new_session,
            identity_provider=ConfiguredUsers(config.users),
            control=CzarControl(),
        )

    def _new_session(self) -> CzarSession:
        return CzarSession(self.catalog, self.engine)

    async def _load_catalog(self) -> CatalogSnapshot:
        async with self._pool.acquire() as conn:
            return await load_snapshot(conn)

    async def start(self, host: str, port: int) -> None:
        register_sqlstates()
        self._pool = await asyncmy.create_pool(minsize=1, maxsize=4, **czar_db_args(self.config))
        await self.engine.start()
        await self._server.start_server(host=host, port=port)
        log.info("czar serving MySQL clients on %s:%d", host, port)

    async def close(self) -> None:
        try:
            self._server.close()
            async with asyncio.timeout(5):
                await self._server.wait_closed()
        except TimeoutError:
            log.warning("czar: client connections still open at shutdown")
        finally:
            await self.engine.close()
            if self._pool is not None:
                self._pool.close()
                await self._pool.wait_closed()

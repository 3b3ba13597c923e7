"""The local cluster's configuration, kept in ``<data-dir>/cluster.json`` (mode 0600).

It is written once by ``qserv-py up`` on a new data dir and read by every process of the cluster,
so the czar, workers, ingest and tests agree on ports and secrets. Ports derive from one base
port: the czar front end on ``base_port`` (4040, Qserv's), the czar db on ``base_port + 1``, and
worker ``i`` with MariaDB on ``base_port + 10 + 2i`` and RPC on ``base_port + 11 + 2i``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from qserv_py.rpc.auth import new_secret

CONFIG_FILE = "cluster.json"
DEFAULT_BASE_PORT = 4040
HOST = "127.0.0.1"


class ConfigError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    name: str
    mariadb_port: int
    rpc_port: int


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    data_dir: Path
    base_port: int
    workers: tuple[WorkerConfig, ...]
    rpc_secret: str
    mariadb_password: str
    users: dict[str, str] = field(default_factory=lambda: {"qsmaster": ""})

    @property
    def frontend_port(self) -> int:
        return self.base_port

    @property
    def czar_db_port(self) -> int:
        return self.base_port + 1

    def worker(self, name: str) -> WorkerConfig:
        for worker in self.workers:
            if worker.name == name:
                return worker
        raise ConfigError(f"no worker named {name!r} in {self.data_dir / CONFIG_FILE}")

    @property
    def mariadb_dir(self) -> Path:
        return self.data_dir / "mariadb"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    def worker_dir(self, name: str) -> Path:
        return self.data_dir / "workers" / name

    def save(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        record = asdict(self)
        record["data_dir"] = str(self.data_dir)
        path = self.data_dir / CONFIG_FILE
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(record, out, indent=2)
        os.replace(tmp, path)

    @classmethod
    def load(cls, data_dir: Path) -> ClusterConfig:
        path = data_dir / CONFIG_FILE
        try:
            record = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(
                f"no cluster in {data_dir}: start one with `qserv-py up --data-dir {data_dir}`"
            ) from exc
        except ValueError as exc:
            raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
        return cls(
            data_dir=data_dir,
            base_port=int(record["base_port"]),
            workers=tuple(WorkerConfig(**w) for w in record["workers"]),
            rpc_secret=str(record["rpc_secret"]),
            mariadb_password=str(record["mariadb_password"]),
            users={str(k): str(v) for k, v in record.get("users", {}).items()},
        )

    @classmethod
    def new(
        cls, data_dir: Path, num_workers: int, base_port: int = DEFAULT_BASE_PORT
    ) -> ClusterConfig:
        if num_workers < 1:
            raise ConfigError("a cluster needs at least one worker")
        workers = tuple(
            WorkerConfig(
                name=f"worker-{i}",
                mariadb_port=base_port + 10 + 2 * i,
                rpc_port=base_port + 11 + 2 * i,
            )
            for i in range(num_workers)
        )
        return cls(
            data_dir=data_dir,
            base_port=base_port,
            workers=workers,
            rpc_secret=new_secret(),
            mariadb_password=new_secret()[:32],
        )


def default_data_dir() -> Path:
    return Path(os.environ.get("QSERV_PY_DATA_DIR", Path.home() / ".qserv-py"))

"""Detached Python service processes (workers, later the czar) tracked by pid files.

Like the mariadbd instances, a service outlives the ``qserv-py up`` that started it; its pid file
plus a check of its command line is the only link, so ``down`` and ``status`` work from any shell
and a recycled pid is never mistaken for ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from qserv_py.cluster.pids import (
    alive,
    cmdline,
    kill_and_wait,
    read_pid,
    send_signal,
    spawn_detached,
    wait_exit,
)


@dataclass(frozen=True, slots=True)
class ServiceProcess:
    name: str
    module: str
    args: tuple[str, ...]
    run_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    def running_pid(self) -> int | None:
        """The pid in the pid file, if that process is alive and is this service."""
        pid = read_pid(self.pid_file)
        if pid is None or not alive(pid):
            return None
        argv = cmdline(pid)
        return pid if self.module in argv and self.name in argv else None

    def clear_stale_pid_file(self) -> bool:
        """Remove a pid file whose process is gone; True if one was removed."""
        if self.pid_file.exists() and self.running_pid() is None:
            self.pid_file.unlink(missing_ok=True)
            return True
        return False

    def spawn(self) -> int:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        pid = spawn_detached([sys.executable, "-m", self.module, *self.args], self.log_file)
        self.pid_file.write_text(f"{pid}\n")
        return pid

    def reap(self) -> None:
        """Collect the exit status if the service was our child and has exited (no zombie)."""
        pid = read_pid(self.pid_file)
        if pid is not None:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL; removes the pid file. Idempotent."""
        pid = self.running_pid()
        if pid is not None:
            send_signal(pid, signal.SIGTERM)
            deadline = asyncio.get_running_loop().time() + timeout
            if not await wait_exit(pid, deadline):
                kill_and_wait(pid)
            self.reap()
        self.pid_file.unlink(missing_ok=True)

    def tail_log(self, lines: int = 15) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

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
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


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
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        if self.module.encode() in cmdline and self.name.encode() in cmdline:
            return pid
        return None

    def clear_stale_pid_file(self) -> bool:
        """Remove a pid file whose process is gone; True if one was removed."""
        if self.pid_file.exists() and self.running_pid() is None:
            self.pid_file.unlink(missing_ok=True)
            return True
        return False

    def spawn(self) -> int:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", self.module, *self.args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        # The service outlives this Popen object: mark it settled so Popen does not warn, and
        # let _alive() reap it with waitpid if it exits while we are still its parent.
        proc.returncode = 0
        return proc.pid

    async def stop(self, timeout: float = 10.0) -> None:
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and _alive(pid):
            await asyncio.sleep(0.05)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)

    def tail_log(self, lines: int = 15) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _alive(pid: int) -> bool:
    try:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return False
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"

"""Process primitives for services that outlive the command that started them.

mariadbd instances and worker services are started detached (own session, output to a log), and
found again later through pid files, so ``down`` and ``status`` work from any shell. Liveness
reads ``/proc`` because a zombie with threads still exiting holds its port a little longer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from pathlib import Path

log = logging.getLogger(__name__)

KILL_GRACE = 5.0  # seconds the kernel gets to remove a process after SIGKILL
POLL_FIRST = 0.005
POLL_MAX = 0.025


def spawn_detached(argv: list[str], log_file: Path) -> int:
    """Start ``argv`` in a new session, stdin from /dev/null, stdout and stderr to ``log_file``.

    ``posix_spawn`` leaves no Popen object to warn when garbage-collected while the service
    outlives us; the owner reaps it (``waitpid``) if it exits while we still run.
    Raises OSError if ``argv[0]`` cannot be run.
    """
    fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
    try:
        return os.posix_spawn(
            argv[0],
            argv,
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, fd, 1),
                (os.POSIX_SPAWN_DUP2, fd, 2),
            ],
            setsid=True,
            setsigmask=(),
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),  # Python ignores them; children should not
        )
    finally:
        os.close(fd)


def read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs or holds resources (its port, its files).

    A zombie with one thread left is dead: an exited child of ours stays one until reaped, and
    an orphan stays one until PID 1 gets round to reaping it (seconds, in our containers). But
    right after SIGKILL the group leader shows as a zombie while its other threads still exit
    and the listening socket is still bound (measured: ~13 ms), so count threads too.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    state = fields.get("State", "").split()[:1]
    return state not in (["Z"], ["X"]) or int(fields.get("Threads", "1")) > 1


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]


def send_signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


async def wait_exit(pid: int, deadline: float) -> bool:
    loop = asyncio.get_running_loop()
    delay = POLL_FIRST
    while alive(pid):
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, POLL_MAX)
    return True


def kill_and_wait(pid: int) -> None:
    """SIGKILL and wait (blocking, at most `KILL_GRACE`), for cleanup paths that cannot await."""
    send_signal(pid, signal.SIGKILL)
    end = time.monotonic() + KILL_GRACE
    while alive(pid):
        if time.monotonic() >= end:
            log.error("pid %d is still alive %.0f s after SIGKILL", pid, KILL_GRACE)
            return
        time.sleep(0.01)

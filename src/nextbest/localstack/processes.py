"""Shared plumbing for :mod:`nextbest.localstack`: paths, child processes, pid files, waiting.

Private module: import the public names from :mod:`nextbest.localstack`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "LocalService",
    "LocalStackError",
    "cache_root",
    "log_tail",
    "pid_alive",
    "read_pid",
    "repo_root",
    "spawn",
    "state_root",
    "wait_until",
]


class LocalStackError(RuntimeError):
    """A local service could not be fetched, started, reached or stopped."""

    __module__ = "nextbest.localstack"


@dataclass
class LocalService:
    """A local Kafka or Redis, either started by us or found already running.

    ``stop()`` only ever touches a process this module started (``started=True``, or a pid file
    written by an earlier ``up``); a reused service is left alone. Calling it twice is harmless.
    """

    name: str
    address: str
    started: bool
    pid: int | None = None
    log_path: Path | None = None
    pid_file: Path | None = field(default=None, repr=False)
    marker: str = field(default="", repr=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)
    _stopped: bool = field(default=False, repr=False, compare=False)

    def stop(self, *, timeout: float = 30.0) -> None:
        """SIGTERM what we started, wait up to ``timeout`` seconds, then SIGKILL."""
        if self._stopped or not self.started or self.pid is None:
            self._stopped = True
            return
        self._stopped = True
        if self._proc is None and not pid_alive(self.pid, marker=self.marker):
            self._remove_pid_file()
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        if not self._wait_gone(timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            if not self._wait_gone(10.0):
                raise LocalStackError(f"{self.name} (pid {self.pid}) did not exit after SIGKILL")
        self._remove_pid_file()

    def _wait_gone(self, timeout: float) -> bool:
        if self._proc is not None:
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        assert self.pid is not None
        return wait_until(lambda: not pid_alive(self.pid or 0), timeout=timeout)

    def _remove_pid_file(self) -> None:
        if self.pid_file is not None and read_pid(self.pid_file) == self.pid:
            self.pid_file.unlink(missing_ok=True)


# src/nextbest/localstack/processes.py -> the checkout
_CHECKOUT = Path(__file__).resolve().parents[3]


def repo_root() -> Path:
    """The source checkout this package lives in (holds ``deploy/local``)."""
    root = _CHECKOUT
    if not (root / "deploy" / "local").is_dir():
        raise LocalStackError(
            f"deploy/local not found next to {Path(__file__).parent}: the local stack runs from a "
            "source checkout of nextbest (pip install -e .)"
        )
    return root


def state_root() -> Path:
    """Where data dirs, pid files and logs go: ``$NEXTBEST_VAR_DIR``, ``<repo>/var``, or tmp."""
    env = os.environ.get("NEXTBEST_VAR_DIR")
    if env:
        return Path(env).expanduser()
    candidate = _CHECKOUT
    if (candidate / "pyproject.toml").is_file() and os.access(candidate, os.W_OK):
        return candidate / "var"
    return Path(tempfile.gettempdir()) / f"nextbest-{os.getuid()}"


def cache_root() -> Path:
    """Download cache: ``$NEXTBEST_CACHE_DIR``, ``$XDG_CACHE_HOME/nextbest`` or ``~/.cache``."""
    env = os.environ.get("NEXTBEST_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "nextbest"


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def pid_alive(pid: int, *, marker: str = "") -> bool:
    """True if ``pid`` runs and (on Linux) its command line contains ``marker``."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return not marker
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return False
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            return False
        return marker in cmdline
    return True


def spawn(
    argv: Sequence[str], *, log_path: Path, pid_file: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` detached (own session, stdin closed, output to ``log_path``)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(f"{proc.pid}\n")
    return proc


def log_tail(path: Path | None, *, lines: int = 25) -> str:
    if path is None or not path.is_file():
        return "(no log written)"
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join("    " + line for line in text)


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.25,
    proc: subprocess.Popen[bytes] | None = None,
) -> bool:
    """Poll ``check`` until it is true (True), ``timeout`` passes or ``proc`` exits (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if proc is not None and proc.poll() is not None:
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)

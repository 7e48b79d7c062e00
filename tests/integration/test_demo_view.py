"""The demo's live view in a real terminal: ``nextbest demo`` runs in tmux against the test
broker and Redis (its own topics, port and folder) and the screen is read twice."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from nextbest.cli.worker_process import free_port

SECTIONS = ("Traffic", "Latency event -> decision", "Decisions by type", "Verdicts",
            "Dead letters by reason", "Models", "Example decision")
HEADER = "nextbest demo  "


class Terminal:
    """A tmux server of its own (its own socket), one window of a fixed size."""

    def __init__(self, width: int, height: int) -> None:
        tmux = shutil.which("tmux")
        assert tmux, "tmux is needed (deploy/local/test.sh installs it)"
        self.base = [tmux, "-L", f"nextbest-test-{uuid.uuid4().hex[:8]}"]
        self.size = (str(width), str(height))

    def run(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], check=True, capture_output=True,
                              text=True).stdout

    def start(self, command: str, cwd: Path) -> None:
        self.run("new-session", "-d", "-s", "demo", "-x", self.size[0], "-y", self.size[1],
                 "-c", str(cwd), command)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "demo")

    def everything(self) -> str:
        """The screen and all that scrolled off it."""
        return self.run("capture-pane", "-p", "-S", "-", "-t", "demo")

    def scrolled(self) -> int:
        return int(self.run("display-message", "-p", "-t", "demo", "#{history_size}"))

    def stop(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True)


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal(110, 50)
    try:
        yield term
    finally:
        term.stop()


def wait_for(terminal: Terminal, check: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = terminal.screen()
        if re.search(check, shown):
            return shown
        time.sleep(0.5)
    raise AssertionError(f"the screen never showed {check!r}; it shows:\n{shown}")


def sent_count(shown: str) -> int:
    found = re.search(r"messages sent\s+([\d,]+)", shown)
    assert found, shown
    return int(found.group(1).replace(",", ""))


def test_the_demo_dashboard_refreshes_in_place(
    kafka_bootstrap: str, redis_url: str, topic_prefix: str, tmp_path: Path,
    terminal: Terminal,
) -> None:
    port = free_port()
    env = {"LANG": "C.UTF-8", "NEXTBEST_KAFKA_BROKER": kafka_bootstrap,
           "NEXTBEST_REDIS_URL": redis_url, "NEXTBEST_TOPIC_PREFIX": f"{topic_prefix}.",
           "NEXTBEST_WEB_PORT": str(port)}
    demo = [sys.executable, "-m", "nextbest.cli", "demo", "--rate", "60", "--customers", "80",
            "--malformed-share", "0.05", "--duration", "45"]
    settings = shlex.join(f"{k}={v}" for k, v in env.items())
    command = (f"env -u NEXTBEST_API_TOKEN -u COLUMNS -u LINES {settings} {shlex.join(demo)}; "
               "echo demo-exit-$?; sleep 30")
    terminal.start(command, tmp_path)

    first = wait_for(terminal, rf"customer 360: http://127\.0\.0\.1:{port}/360/nb-", 50)
    scrolled = terminal.scrolled()
    time.sleep(3)
    second = terminal.screen()

    for title in SECTIONS:
        assert second.count(title) == 1, second
    assert sent_count(second) > sent_count(first) > 0  # new numbers ...
    assert terminal.scrolled() == scrolled  # ... drawn over the old ones, nothing scrolled
    assert terminal.everything().count(HEADER) == 1
    assert re.search(r"events in \(valid\)\s+[\d,]+\s+[\d,.]+/s", second)
    assert re.search(r"(bad_magic_byte|truncated|invalid_json|schema_validation_failed|"
                     r"empty_value|no_customer_identifier|invalid_value)\s+\d+", second)
    assert re.search(r"│ sent\s+\d+ │", second)  # a verdict
    assert re.search(r"p50\s+([\d.]+ ms|-)", second)  # a number once a decision is matched
    assert "events learnt" in second and "recommender" in second
    assert "why: " in second

    terminal.run("send-keys", "-t", "demo", "C-c")
    last = wait_for(terminal, "demo-exit-", 40)
    assert "demo-exit-0" in last
    assert terminal.everything().count(HEADER) == 1  # the last frame stays, once

"""Fault drills' own services and traffic: a broker and a Redis that a drill may stop and start
(the session's shared ones are left alone), and a stream whose every event is accounted for.

Each customer of a drill's stream places an order, browses, and writes to support with a legal
word; the engine escalates each such message at once, so every customer's escalation is the
proof that their events were stepped (the events before it are in the profile it was made
from). Malformed messages among them must come out as dead letters, one each.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nextbest.identity.graph import new_customer_id
from nextbest.localstack import LocalService, ensure_kafka, ensure_redis
from tests.events import MINUTE, click, order, support

T0 = 1_767_225_600_000


def free_port_pair() -> int:
    """A port that is free with the next one free too (the broker's controller takes it)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port < 65535:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free pair of ports")


@dataclass
class Restartable:
    """A local Kafka or Redis on its own port and data directory, stopped and started at will
    (its data survives a stop: a broker restart, not a new cluster)."""

    kind: str
    data_dir: Path
    port: int = field(default_factory=free_port_pair)
    service: LocalService | None = None
    downtime: float = 0.0
    """Seconds it was down in the last outage."""

    @property
    def address(self) -> str:
        return (f"127.0.0.1:{self.port}" if self.kind == "kafka"
                else f"redis://127.0.0.1:{self.port}/0")

    def start(self) -> None:
        ensure = ensure_kafka if self.kind == "kafka" else ensure_redis
        self.service = ensure(port=self.port, data_dir=self.data_dir)
        assert self.service.started, f"{self.kind} on {self.port} was already running"

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
            self.service = None

    def outage(self, seconds: float, *, during: Callable[[], None] | None = None) -> None:
        """Down for ``seconds`` (``during`` runs meanwhile, its time included), then back."""
        began = time.monotonic()
        self.stop()
        if during is not None:
            during()
        time.sleep(max(0.0, seconds - (time.monotonic() - began)))
        self.start()
        self.downtime = time.monotonic() - began


@dataclass
class Stream:
    """``customers`` customers' events, ``malformed`` bad messages among them."""

    run: str
    customers: int
    malformed: int = 0

    def email(self, i: int) -> str:
        return f"{self.run}-{i}@example.com"

    def customer_id(self, i: int) -> str:
        return new_customer_id(f"email:{self.email(i)}")

    def events(self, first: int = 0, last: int | None = None) -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        for i in range(first, self.customers if last is None else last):
            who = {"email": self.email(i)}
            t = T0 + i * MINUTE
            out.append(("purchase", order(t, f"{self.run}-o{i}", total=30.0 + i, customer=who)))
            out.extend(("clickstream", click(t + k, "page_view", customer=who))
                       for k in range(1, 5))
            out.append(("support", support(t + 10, f"{self.run}-c{i}", "my lawyer will call",
                                           customer=who)))
        return out

    def bad_messages(self) -> list[bytes]:
        return [b"\x00\x00\x00\x00\x63 not avro " + str(i).encode()
                for i in range(self.malformed)]


def escalated(decisions: list[dict[str, Any]]) -> set[str]:
    return {d["customer_id"] for d in decisions if d["decision_type"] == "escalation"}


def everyone_escalated(stream: Stream) -> Callable[[list[dict[str, Any]]], bool]:
    want = {stream.customer_id(i) for i in range(stream.customers)}
    return lambda decisions: want <= escalated(decisions)


def assert_accounted(stream: Stream, decisions: list[dict[str, Any]],
                     deadletters: list[Any]) -> None:
    """Every customer's events stepped (their escalation is out), no decision sent twice, every
    malformed message dead-lettered (at least once: a worker stopped before it committed the
    router's offsets dead-letters them again on replay; the source coordinates in the headers
    tell copies apart) and nothing else."""
    twice = [i for i, n in Counter(d["decision_id"] for d in decisions).items() if n > 1]
    assert twice == []
    missing = [i for i in range(stream.customers) if stream.customer_id(i) not in escalated(
        decisions)]
    assert missing == []
    assert Counter(d["decision_type"] for d in decisions)["escalation"] == stream.customers
    sources = {(dict(m.headers)["nextbest.dlq.topic"], dict(m.headers)["nextbest.dlq.partition"],
                dict(m.headers)["nextbest.dlq.offset"]) for m in deadletters}
    assert len(sources) == stream.malformed


def healthy(url: str, *, timeout: float = 60.0) -> bool:
    """The worker answers ready (200) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health/ready", timeout=2) as response:
                if response.status == 200:
                    return True
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.5)
    return False


class GatedPublisher:
    """Publishes a drill's stream in the background, ``chunk`` events at a time with ``pause``
    seconds between, and holds between chunks while the gate is closed (so no event is half
    published when a drill takes the broker away)."""

    def __init__(self, publish: Callable[[str, list[dict[str, Any]]], None],
                 events: list[tuple[str, dict[str, Any]]], *, pause: float,
                 chunk: int = 30) -> None:
        self._publish = publish
        self.events = events
        self.pause, self.chunk = pause, chunk
        self.open = threading.Event()
        self.open.set()
        self.holding = threading.Event()
        self.done = threading.Event()
        self.sent = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> GatedPublisher:
        self._thread.start()
        return self

    def hold(self) -> None:
        """Close the gate and wait until the chunk in hand is published."""
        self.open.clear()
        while not (self.holding.is_set() or self.done.is_set()):
            time.sleep(0.05)

    def resume(self) -> None:
        self.holding.clear()
        self.open.set()

    def join(self, timeout: float = 120.0) -> None:
        self._thread.join(timeout)
        if self.error is not None:
            raise self.error
        assert self.done.is_set(), f"published {self.sent} of {len(self.events)}"

    def _run(self) -> None:
        try:
            for start in range(0, len(self.events), self.chunk):
                if not self.open.is_set():
                    self.holding.set()
                    self.open.wait()
                part = self.events[start:start + self.chunk]
                for family in dict.fromkeys(f for f, _ in part):
                    self._publish(family, [e for f, e in part if f == family])
                self.sent += len(part)
                time.sleep(self.pause)
        except BaseException as exc:
            self.error = exc
        finally:
            self.done.set()

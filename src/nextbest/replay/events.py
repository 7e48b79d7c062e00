"""Recorded customer events run again through identity, the engine and the wakes.

``nextbest replay events FILE`` reads JSON events, one per line, in the form a JSON producer
sends them (``{"family": "purchase", ...fields}``, :func:`~nextbest.codec.dump_json_event`);
``nextbest replay events --topics`` reads the input topics of a running system from their
beginning to their current end (Avro or JSON, as published). Every event passes the same codec
as on the way in: one that would be dead-lettered is counted with its reason and skipped.

The events are run in event-time order, ties broken by family (reference data first, then
identity, then the customer's own events) and event id (``nextbest.event_order``), so the same
events give the same decisions whatever order they were recorded or fetched in, and two runs
write identical output. Wakes happen as event time passes, as in the stream
(:class:`~nextbest.driver.InProcess`); a run ends at the last event's time, without waking
customers not yet due.

Each decision the engine made is written as its decision-log record (``schemas/decision.avsc``:
sent, control, suppressed or deferred), with ``created_at`` set to the decision's event time so
the output depends on the events alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nextbest.codec import Codec, CodecError, default_codec
from nextbest.driver import Fed, InProcess
from nextbest.engine import Engine, StepResult
from nextbest.errors import UnprocessableEvent
from nextbest.event_order import OrderKey, order_key
from nextbest.settings import EngineSettings


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    family: str
    event: dict[str, Any]

    @property
    def order_key(self) -> OrderKey:
        return order_key(self.family, self.event)


@dataclass(slots=True)
class Replayed:
    """What a replay ran and what it left out."""

    events: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    """Decision-log records written, by status."""

    def to_dict(self) -> dict[str, Any]:
        return {"events": self.events, "dead_letters": dict(sorted(self.dead_letters.items())),
                "decisions": dict(sorted(self.decisions.items()))}


def decode_all(values: Iterable[bytes], replayed: Replayed, codec: Codec | None = None,
               family_hint: str | None = None) -> Iterator[RecordedEvent]:
    """Each value decoded as on the way in; what the codec refuses is counted, by reason."""
    codec = codec or default_codec()
    for value in values:
        try:
            decoded = codec.decode(value, family_hint)
        except CodecError as error:
            replayed.dead_letters[error.reason] += 1
            continue
        yield RecordedEvent(decoded.family, decoded.event)


def read_file(path: Path, replayed: Replayed, codec: Codec | None = None
              ) -> list[RecordedEvent]:
    """The JSON events of a file, one per line (blank lines skipped)."""
    with path.open("rb") as lines:
        return list(decode_all((line for line in lines if line.strip()), replayed, codec))


def in_event_time_order(events: Iterable[RecordedEvent]) -> list[RecordedEvent]:
    """Event time, then family, then event id: the one order a replay runs in.

    >>> later = RecordedEvent("purchase", {"event_time": 2, "event_id": "a"})
    >>> linked = RecordedEvent("identity", {"event_time": 1, "event_id": "z"})
    >>> bought = RecordedEvent("purchase", {"event_time": 1, "event_id": "b"})
    >>> [e.event["event_id"] for e in in_event_time_order([later, bought, linked])]
    ['z', 'b', 'a']
    """
    return sorted(events, key=lambda recorded: recorded.order_key)


def decision_log(results: Iterable[StepResult]) -> Iterator[dict[str, Any]]:
    """The decision-log records of what the steps and wakes decided, in the order made."""
    for result in results:
        for logged in result.logged:
            decision = logged.decision
            yield decision.to_record(created_at=decision.decided_at, status=logged.status,
                                     suppressed_by=logged.rule)


def replay(events: Iterable[RecordedEvent], settings: EngineSettings | None = None,
           replayed: Replayed | None = None) -> Iterator[dict[str, Any]]:
    """Every decision-log record the events lead to, run in event-time order."""
    replayed = replayed if replayed is not None else Replayed()
    loop = InProcess(Engine(settings or EngineSettings()))
    for recorded in in_event_time_order(events):
        try:
            fed: Fed = loop.feed(recorded.family, recorded.event)
        except UnprocessableEvent as error:
            replayed.dead_letters[error.reason] += 1
            continue
        replayed.events += 1
        for record in decision_log(fed.results):
            replayed.decisions[record["status"]] += 1
            yield record

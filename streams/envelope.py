"""Messages on nextbest's internal topics (JSON via orjson; internal, not a public contract).

On ``nextbest.customer-events``, keyed by canonical customer:

* ``{"k": "event", "cid", "f": family, "e": event, "t0": ms}`` - an event for a customer;
* ``{"k": "merge", "absorbed", "survivor"}`` - to the absorbed customer's partition;
* ``{"k": "absorb", "survivor", "profile"}`` - the absorbed profile, to the survivor's partition;
* ``{"k": "tick", "now": ms}`` - event time passing (to every partition);
* ``{"k": "erase", "cid", "request", "requested_at", "identifiers"}``;
* ``{"k": "split", "absorbed", "survivor"}`` - a merge undone, to the absorbed customer's
  partition, which restores the profile its tombstone kept;
* ``{"k": "release", "survivor", "profile"}`` - that profile, to the survivor's partition,
  which takes out what it brought.

On ``nextbest.identity-requests`` (one writer): ``{"rid", "ref", "at"}`` to resolve a customer
reference that changes the graph (``at``: the event's time, for the merge records),
``{"rid", "erase": event}``, ``{"rid", "split": event}``, or ``{"rid", "refs": [{"ref",
"provisional", "at"}]}`` for first sightings a router already routed (no reply). On
``nextbest.identity-replies``: ``{"rid", "cid"}``, sent once the graph entries the answer made
are acked, with ``"shared"`` (the identifiers it left out as shared) and ``"reason"`` when the
reference resolves nobody (``cid`` None: the event is dead-lettered).

``t0`` is the Kafka timestamp of the original input message: event -> decision latency is measured
from it.
"""

from __future__ import annotations

from typing import Any

import orjson

EVENT = "event"
MERGE = "merge"
ABSORB = "absorb"
TICK = "tick"
ERASE = "erase"
SPLIT = "split"
RELEASE = "release"


def pack(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message)


def unpack(blob: bytes) -> dict[str, Any]:
    message: dict[str, Any] = orjson.loads(blob)
    return message

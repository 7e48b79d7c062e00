"""Messages on nextbest's internal topics (JSON via orjson; internal, not a public contract).

* to the identity stage: ``{"k": "event", "f": family, "e": event, "t0": ms}``
* to the customer stage: the same plus ``"cid"``; or ``{"k": "merge", "absorbed", "survivor"}``,
  ``{"k": "absorb", "survivor", "profile"}``, ``{"k": "tick", "now": ms}`` and
  ``{"k": "erase", "cid", "request", "requested_at", "identifiers"}``.

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


def pack(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message)


def unpack(blob: bytes) -> dict[str, Any]:
    message: dict[str, Any] = orjson.loads(blob)
    return message

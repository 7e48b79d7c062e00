"""Fault injection for the drills, loaded by a worker process started with this folder on its
``PYTHONPATH`` (Python imports ``sitecustomize`` at start-up). Never on a production path.

``NEXTBEST_DRILL_RAISE_ON=<text>``: the engine raises on every event whose event id contains
``<text>``, as a bug in a policy or model would.
"""

from __future__ import annotations

import os

_RAISE_ON = os.environ.get("NEXTBEST_DRILL_RAISE_ON")

if _RAISE_ON:
    from typing import Any

    from nextbest.engine import Engine

    _step = Engine.step

    def _failing_step(self: Engine, profile: Any, customer_id: str, family: str,
                      event: dict[str, Any]) -> Any:
        if _RAISE_ON in str(event.get("event_id")):
            raise RuntimeError(f"drill: the engine fails on {event.get('event_id')}")
        return _step(self, profile, customer_id, family, event)

    Engine.step = _failing_step  # type: ignore[method-assign]

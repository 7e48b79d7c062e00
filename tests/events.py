"""Small builders of schema-shaped events for tests (every field present, like the codec gives)."""

from __future__ import annotations

import itertools
from typing import Any

from nextbest.settings import EngineSettings

DAY = 86_400_000
MINUTE = 60_000
_ids = itertools.count(1)


RELAXED: dict[str, Any] = {
    "quiet_hours_start": 0, "quiet_hours_end": 0, "behavioural_delay_hours": 0.0,
    "holdout_share": 0.0, "frequency_cap_per_day": 100, "frequency_cap_per_week": 100,
    "send_time_types": (),
}
"""Timing guardrails and the holdout out of the way, for tests of what a policy decides or of
the pipeline's mechanics (tests/unit/test_guardrails.py and tests/integration/test_decisions.py
test the guardrails themselves)."""


def policy_settings(**overrides: Any) -> EngineSettings:
    return EngineSettings(**{**RELAXED, **overrides})


def _base(time: int, customer: dict[str, Any] | None, event_id: str | None) -> dict[str, Any]:
    ref = {k: None for k in ("customer_id", "email", "phone", "device_id", "loyalty_id", "pos_id")}
    ref.update(customer or {"email": "lisa@example.com"})
    return {"event_id": event_id or f"ev-{next(_ids)}", "event_time": time, "customer": ref}


def click(time: int, action: str, *, item_id: str | None = None, category: str | None = None,
          price: float | None = None, customer: dict[str, Any] | None = None,
          event_id: str | None = None) -> dict[str, Any]:
    return {**_base(time, customer, event_id), "action": action, "item_id": item_id,
            "category": category, "price": price, "quantity": None, "query": None, "url": None,
            "decision_id": None, "context": None}


def order(time: int, order_id: str, *, total: float = 50.0, category: str = "dresses",
          item_id: str = "dress-1", customer: dict[str, Any] | None = None,
          event_id: str | None = None, kind: str = "order", reason: str | None = None,
          channel: str = "web") -> dict[str, Any]:
    return {**_base(time, customer, event_id), "kind": kind, "order_id": order_id,
            "lines": [{"item_id": item_id, "category": category, "quantity": 1,
                       "unit_price": total}],
            "total": total, "currency": "EUR", "channel": channel, "discount_codes": [],
            "return_reason": reason, "decision_id": None}


def support(time: int, conversation_id: str, text: str | None, *, kind: str = "message",
            author: str = "customer", refund: float | None = None,
            customer: dict[str, Any] | None = None, event_id: str | None = None,
            order_id: str | None = None) -> dict[str, Any]:
    return {**_base(time, customer, event_id), "kind": kind, "conversation_id": conversation_id,
            "channel": "sms", "author": author, "text": text, "order_id": order_id,
            "refund_requested": refund}


def identity(time: int, kind: str, *, customer: dict[str, Any] | None = None,
             channel: str | None = None, event_id: str | None = None) -> dict[str, Any]:
    return {**_base(time, customer, event_id), "kind": kind, "consent_channel": channel,
            "timezone": None, "country": None}


def review(time: int, item_id: str, rating: int, text: str | None, *,
           customer: dict[str, Any] | None = None, event_id: str | None = None,
           review_id: str | None = None) -> dict[str, Any]:
    base = _base(time, customer, event_id)
    return {**base, "review_id": review_id or f"r-{base['event_id']}", "item_id": item_id,
            "rating": rating, "text": text, "source": "site"}


def shipment(time: int, order_id: str, kind: str, *, promised: int | None = None,
             expected: int | None = None, reason: str | None = None, carrier: str | None = "DHL",
             tracking_url: str | None = None, customer: dict[str, Any] | None = None,
             event_id: str | None = None) -> dict[str, Any]:
    """A fulfilment event: ``shipped``, ``delayed`` (``promised`` and ``expected``, the new
    date) or ``delivered``."""
    return {**_base(time, customer, event_id), "kind": kind, "order_id": order_id,
            "promised_delivery": promised, "expected_delivery": expected,
            "delay_reason": reason, "carrier": carrier, "tracking_url": tracking_url}

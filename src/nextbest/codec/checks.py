"""Semantic rules Avro cannot express, applied to every decoded or encoded record.

* every record with a ``customer`` reference names at least one identifier
  (a decision: a non-empty ``customer_id``)  → ``no_customer_identifier``;
* times (``event_time``, a decision's ``decided_at``/``created_at``) are > 0 → ``invalid_value``;
* a review's ``rating`` is 1..5 → ``invalid_value``;
* a fulfilment ``delayed`` event names the promised and the new delivery date, the new one
  later than the promised one; delivery dates are > 0 → ``invalid_value``;
* the ids the engine keys on (``event_id``, a catalog ``item_id``, ``order_id``, ...) are not
  empty → ``invalid_value``;
* an input event's numbers are finite: Avro carries NaN and infinities, JSON (and so the engine's
  internal topics) cannot → ``invalid_value``. The codec's normalizer of each input family
  checks that as it visits every float and double (``NotFinite``): no second walk.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nextbest.codec.errors import ConstraintViolation

OUTPUT_FAMILIES = frozenset({"decision", "outcome", "erasure_ack", "sentiment_digest"})
"""Records nextbest writes (decisions and what follows them), as opposed to input events."""
RATING_RANGE = (1, 5)
_TIME_FIELDS = {"decision": ("decided_at", "created_at"),
                "fulfilment": ("event_time", "promised_delivery", "expected_delivery")}
_KEY_FIELDS = {
    "catalog": ("event_id", "item_id"),
    "purchase": ("event_id", "order_id"),
    "support": ("event_id", "conversation_id"),
    "review": ("event_id", "review_id"),
    "fulfilment": ("event_id", "order_id"),
    "decision": ("decision_id", "causing_event_id"),
}


def check_record(family: str, record: Mapping[str, Any]) -> None:
    """Raise :class:`ConstraintViolation` if ``record`` breaks a semantic rule.

    >>> check_record("review", {"event_time": 1, "customer": {"email": "a@b"}, "rating": 6})
    Traceback (most recent call last):
    ...
    nextbest.codec.errors.ConstraintViolation: rating: 6 is outside 1..5
    """
    for name in _TIME_FIELDS.get(family, ("event_time",)):
        moment = record.get(name)
        if isinstance(moment, int) and moment <= 0:
            raise ConstraintViolation(f"{name}: {moment} is not a positive epoch-ms time")
    for name in _KEY_FIELDS.get(family, ("event_id",)):
        if record.get(name) == "":
            raise ConstraintViolation(f"{name}: must not be empty")
    customer = record.get("customer")
    if isinstance(customer, Mapping):
        if not any(isinstance(v, str) and v.strip() for v in customer.values()):
            raise ConstraintViolation(
                "customer: at least one identifier must be set", reason="no_customer_identifier"
            )
    elif family == "decision" and not str(record.get("customer_id") or "").strip():
        raise ConstraintViolation(
            "customer_id: a decision needs a customer", reason="no_customer_identifier"
        )
    if family == "review":
        rating = record.get("rating")
        low, high = RATING_RANGE
        if isinstance(rating, int) and not low <= rating <= high:
            raise ConstraintViolation(f"rating: {rating} is outside {low}..{high}")
    elif family == "fulfilment" and record.get("kind") == "delayed":
        check_delay(record)


def check_delay(record: Mapping[str, Any]) -> None:
    """A delay names the date promised and the new one, which must be later.

    >>> check_delay({"promised_delivery": 5, "expected_delivery": 9})
    >>> for promised, expected in ((5, None), (9, 5)):
    ...     try:
    ...         check_delay({"promised_delivery": promised, "expected_delivery": expected})
    ...     except ConstraintViolation as error:
    ...         print(error.reason, "-", error)
    invalid_value - expected_delivery: a delay needs the new delivery date
    invalid_value - expected_delivery: 5 is not after promised_delivery 9 (not a delay)
    """
    promised, expected = record.get("promised_delivery"), record.get("expected_delivery")
    if promised is None:
        raise ConstraintViolation("promised_delivery: a delay needs the promised delivery date")
    if expected is None:
        raise ConstraintViolation("expected_delivery: a delay needs the new delivery date")
    if expected <= promised:
        raise ConstraintViolation(
            f"expected_delivery: {expected} is not after promised_delivery {promised} "
            "(not a delay)")


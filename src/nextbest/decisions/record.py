"""The decision record: what nextbest tells a downstream system to do, and why."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason behind a decision: a stable code and a sentence for people."""

    code: str
    text: str


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision for one customer, caused by one event (or by the passing of time).

    The id is derived from the customer, the decision type and the trigger, so the same trigger
    always yields the same id: consumers can de-duplicate on it and the engine refuses to emit an
    id it has already emitted for that customer.

    >>> d = Decision.create(
    ...     decision_type="escalation", customer_id="nb-1", trigger="conv-9",
    ...     action="route_to_agent", channel="support_desk", payload={"tier": 3},
    ...     reasons=(Reason("legal_words", "The customer mentions a lawyer."),),
    ...     causing_event_id="e-1", causing_event_time=1_000, decided_at=1_000, ttl_ms=60_000)
    >>> d.decision_id == Decision.make_id("escalation", "nb-1", "conv-9")
    True
    >>> d.to_record()["expires_at"]
    61000
    """

    decision_id: str
    decision_type: str
    customer_id: str
    action: str
    channel: str | None
    payload: dict[str, Any]
    reasons: tuple[Reason, ...]
    causing_event_id: str
    causing_event_time: int
    decided_at: int
    expires_at: int | None = None
    scores: dict[str, float] = field(default_factory=dict)
    model_versions: dict[str, str] = field(default_factory=dict)
    experiment_arm: str | None = None

    @staticmethod
    def make_id(decision_type: str, customer_id: str, trigger: str) -> str:
        digest = hashlib.blake2b(
            f"{decision_type}\x1f{customer_id}\x1f{trigger}".encode(), digest_size=12
        )
        return f"{decision_type}-{digest.hexdigest()}"

    @classmethod
    def create(
        cls,
        *,
        decision_type: str,
        customer_id: str,
        trigger: str,
        action: str,
        channel: str | None,
        payload: dict[str, Any],
        reasons: tuple[Reason, ...],
        causing_event_id: str,
        causing_event_time: int,
        decided_at: int,
        ttl_ms: int | None,
        scores: dict[str, float] | None = None,
    ) -> Decision:
        return cls(
            decision_id=cls.make_id(decision_type, customer_id, trigger),
            decision_type=decision_type,
            customer_id=customer_id,
            action=action,
            channel=channel,
            payload=payload,
            reasons=reasons,
            causing_event_id=causing_event_id,
            causing_event_time=causing_event_time,
            decided_at=decided_at,
            expires_at=decided_at + ttl_ms if ttl_ms is not None else None,
            scores=scores or {},
        )

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Decision:
        """The decision back from :meth:`to_record`'s dict (held decisions live in profiles)."""
        payload = record["payload"]
        return cls(
            decision_id=record["decision_id"],
            decision_type=record["decision_type"],
            customer_id=record["customer_id"],
            action=record["action"],
            channel=record.get("channel"),
            payload=orjson.loads(payload) if isinstance(payload, str | bytes) else payload,
            reasons=tuple(Reason(r["code"], r["text"]) for r in record.get("reasons", ())),
            causing_event_id=record["causing_event_id"],
            causing_event_time=record["causing_event_time"],
            decided_at=record["decided_at"],
            expires_at=record.get("expires_at"),
            scores=dict(record.get("scores") or {}),
            model_versions=dict(record.get("model_versions") or {}),
            experiment_arm=record.get("experiment_arm"),
        )

    def to_record(
        self, *, created_at: int | None = None, status: str = "sent",
        suppressed_by: str | None = None,
    ) -> dict[str, Any]:
        """The Avro-shaped dict of ``schemas/decision.avsc``."""
        return {
            "decision_id": self.decision_id,
            "decision_type": self.decision_type,
            "customer_id": self.customer_id,
            "channel": self.channel,
            "action": self.action,
            "payload": orjson.dumps(self.payload).decode(),
            "reasons": [{"code": r.code, "text": r.text} for r in self.reasons],
            "scores": dict(self.scores),
            "model_versions": dict(self.model_versions),
            "causing_event_id": self.causing_event_id,
            "causing_event_time": self.causing_event_time,
            "decided_at": self.decided_at,
            "expires_at": self.expires_at,
            "experiment_arm": self.experiment_arm,
            "created_at": created_at if created_at is not None else self.decided_at,
            "status": status,
            "suppressed_by": suppressed_by,
        }

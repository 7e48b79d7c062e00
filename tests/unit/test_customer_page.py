"""The customer-360 page rendered from a served view: what it shows, how it words verdicts, and
that nothing a customer (or a producer) wrote can become markup."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import orjson

from nextbest.decisions.record import Decision, Reason
from nextbest.profile.snapshot import event_summary, snapshot
from nextbest.profile.state import Conversation, CustomerProfile, Message, OrderSummary
from nextbest.streams.customer360.page import customer_page
from nextbest.streams.customer360.timeline import timeline
from tests.events import DAY, MINUTE, click, order, review, support

T0 = 1_767_268_800_000  # 2026-01-01T12:00Z
XSS = '<script>window.pwned=1</script><img src=x onerror="window.pwned=1">'


def record(kind: str, n: int, *, status: str = "sent", rule: str | None = None,
           text: str | None = None, arm: str | None = None, reason: str = "Why not.",
           cause: str = "e0", payload: dict[str, Any] | None = None) -> dict[str, Any]:
    decision = Decision.create(
        decision_type=kind, customer_id="nb-lisa", trigger=f"t{n}", action="send_message",
        channel="email", payload=payload or {}, reasons=(Reason("code", reason),),
        causing_event_id=cause, causing_event_time=T0, decided_at=T0 + n * MINUTE, ttl_ms=None,
        scores={"churn_risk": 0.42})
    return {**decision.to_record(status=status, suppressed_by=rule), "experiment_arm": arm,
            "verdict_text": text}


def lisa(**changes: Any) -> dict[str, Any]:
    profile = CustomerProfile(
        "nb-lisa", first_seen=T0 - 30 * DAY, last_seen=T0, country="DE",
        identifiers={"email": ["lisa@example.com"], "phone": ["+491701234567"]},
        consent={"email": True, "sms": False}, orders=2, revenue=118.0,
        category_affinity={"dresses": 3.0, "shoes": 1.0},
        recent_orders=[OrderSummary("o-1", T0 - DAY, 59.0, "web", ["dress-1"], ["dresses"])],
        conversation=Conversation("conv-1", "chat", T0 - MINUTE, "o-1", [
            Message(T0 - MINUTE, "customer", "The zip of my dress broke.")]),
        scores={"churn_risk": 0.27, "value_tier": "top", "expected_value": 310.5,
                "value_horizon_days": 90, "next_order_at": T0 + 20 * DAY})
    for name, value in changes.items():
        setattr(profile, name, value)
    view = snapshot(profile)
    view.update(customer_id="nb-lisa", recent_decisions=[], recent_withheld=[],
                recent_events=[])
    return view


def text_of(html: str) -> str:
    """The page's visible text, as a reader sees it."""
    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.parts: list[str] = []
            self.skip = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.skip = tag in ("style", "title")

        def handle_endtag(self, tag: str) -> None:
            self.skip = False

        def handle_data(self, data: str) -> None:
            if not self.skip:
                self.parts.append(data)

    parser = Text()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def test_the_page_shows_the_profile_scores_consent_and_conversation() -> None:
    page = text_of(customer_page(lisa()))
    assert "lisa@example.com" in page and "nb-lisa" in page
    assert "top value tier" in page and "27% churn risk" in page
    assert "expected next order 2026-01-21 12:00 UTC" in page
    assert "expected value (90 days) 310.50" in page
    assert "email granted" in page and "sms revoked" in page
    assert "push no record (allowed)" in page
    assert "The zip of my dress broke." in page and "open" in page
    assert "o-1" in page and "dresses" in page


def test_what_the_models_did_not_score_yet_is_said_not_invented() -> None:
    page = text_of(customer_page(lisa(scores={}, conversation=None, category_affinity={},
                                      recent_orders=[])))
    assert "Not scored by the models yet." in page and "value tier" not in page
    assert "No support conversation." in page
    assert "No category interest seen yet." in page and "No orders yet." in page
    assert "No events or decisions kept yet." in page


def test_the_affinity_chart_has_a_bar_per_category_strongest_first() -> None:
    html = customer_page(lisa())
    chart = html[html.index("<svg"):html.index("</svg>")]
    assert chart.count("<rect") == 2
    assert chart.index("dresses") < chart.index("shoes")
    assert 'aria-label="Category affinity: dresses 100%, shoes 33%"' in chart


def test_the_timeline_says_each_verdict_and_why() -> None:
    view = lisa()
    view["recent_events"] = [event_summary("purchase", order(
        T0, "o-2", kind="return", reason="defective", event_id="e-ret"))]
    view["recent_decisions"] = [record(
        "service_recovery", 3, reason="The dress came back defective.", cause="e-ret",
        payload={"offer": {"title": "20% off"}}, arm=None)]
    view["recent_withheld"] = [
        record("winback", 2, status="suppressed", rule="frequency_cap",
               text="One email a day at most."),
        record("cart_reminder", 1, status="control", arm="holdout",
               text="In the holdout group: logged, not sent."),
        record("next_best_offer", 4, status="deferred", rule="quiet_hours",
               text="Waits for the morning."),
    ]
    entries = timeline(view)
    assert [(e.title, e.verdict.label if e.verdict else None) for e in entries] == [
        ("Next best offer", "deferred by quiet_hours"),
        ("Service recovery", "sent"),
        ("Winback", "suppressed by frequency_cap"),
        ("Cart reminder", "held out (holdout group)"),
        ("Return o-2", None),
    ]
    page = text_of(customer_page(view))
    assert "Service recovery sent" in page
    assert "Why this: The dress came back defective." in page
    assert "caused by: Return o-2" in page and "offer: 20% off" in page
    assert "suppressed by frequency_cap" in page and "One email a day at most." in page
    assert "held out (holdout group)" in page and "churn risk 0.42" in page
    assert "reason: defective" in page


def test_a_verdict_logged_twice_shows_once() -> None:
    view = lisa()
    view["recent_withheld"] = [record("winback", 1, status="control", arm="holdout")] * 2
    assert len(timeline(view)) == 1


def test_nothing_customers_or_producers_wrote_becomes_markup() -> None:
    view = lisa(
        identifiers={"email": [f"{XSS}@example.com"], "device_id": [XSS]},
        country=XSS, timezone=XSS, consent={XSS: True},
        category_affinity={XSS: 2.0},
        recent_orders=[OrderSummary(XSS, T0, 1.0, XSS, [XSS], [XSS])],
        conversation=Conversation(XSS, XSS, T0, XSS, [Message(T0, XSS, XSS)]),
        scores={"value_tier": XSS, "churn_risk": 0.5})
    view["customer_id"] = XSS
    view["recent_events"] = [
        event_summary("support", support(T0, XSS, XSS, event_id="e1")),
        event_summary("review", review(T0, XSS, 1, XSS, event_id="e2")),
        event_summary("clickstream", click(T0, "search", item_id=XSS, category=XSS,
                                           event_id="e3")),
    ]
    view["recent_decisions"] = [record("winback", 1, reason=XSS, cause="e1",
                                       payload={"offer": {"title": XSS}})]
    view["recent_withheld"] = [{**record("winback", 2, status="suppressed", rule=XSS,
                                         text=XSS), "decision_type": XSS}]
    html = customer_page(orjson.loads(orjson.dumps(view)))
    assert "<script" not in html and "<img" not in html and "onerror=\"" not in html
    assert html.count("&lt;script&gt;") >= 15  # shown, as text, wherever it was

"""``nextbest customer``'s rendering of a served view taken from a real demo run
(tests/unit/data/customer_view.json: a customer with an order, a defective return, a service
recovery sent and a next best offer deferred, then sent)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from rich.console import Console

from nextbest.cli.customer import refusal, render_customer
from nextbest.streams.customer360.layout import when

VIEW = Path(__file__).parent / "data" / "customer_view.json"


@pytest.fixture(scope="module")
def view() -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(VIEW.read_bytes())
    return data


def shown(view: dict[str, Any], width: int = 140) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(render_customer(view))
    return console.export_text()


def test_the_customer_with_value_profile_consent_and_identifiers(view: dict[str, Any]) -> None:
    text = shown(view)
    profile, scores = view["profile"], view["profile"]["scores"]
    assert profile["identifiers"]["email"][0] in text.splitlines()[0]
    assert view["customer_id"] in text.splitlines()[0]
    assert f"value tier                {scores['value_tier']}" in text
    assert f"churn risk                {view['scores']['churn_risk']:.0%}" in text
    assert f"revenue                {profile['revenue']:.2f}" in text
    assert "returns                1 (1 defective)" in text
    assert profile["identifiers"]["phone"][0] in text


def test_the_timeline_says_each_verdict_and_why(view: dict[str, Any]) -> None:
    text = shown(view, width=220)
    recovery = view["recent_decisions"][0]
    assert recovery["decision_type"] == "service_recovery"
    assert f"{when(recovery['decided_at'])}  Service recovery  [sent]" in text
    for reason in recovery["reasons"]:
        assert f"why: {reason['text']}" in text
    deferred = view["recent_withheld"][0]
    assert "Next best offer  [deferred by behavioural_delay]" in text
    assert deferred["verdict_text"] in text
    assert "caused by: Return O-032d68e8-00001374" in text
    orders = [line for line in text.splitlines() if "O-032d68e8-00001374" in line
              and "116.77" in line]
    assert orders  # the order in the recent orders and on the timeline


def test_consent_says_what_was_recorded(view: dict[str, Any]) -> None:
    revoked = {**view, "profile": {**view["profile"], "consent": {"sms": False,
                                                                  "email": True}}}
    lines = shown(revoked).splitlines()
    assert any("sms" in line and "revoked" in line for line in lines)
    assert any("email" in line and "granted" in line and "@" not in line for line in lines)
    assert any("push" in line and "no record (allowed)" in line for line in lines)


def test_a_customer_the_models_have_not_scored(view: dict[str, Any]) -> None:
    unscored = {**view, "scores": {}, "profile": {**view["profile"], "scores": {}}}
    assert "Not scored by the models yet." in shown(unscored)


def test_refusals_in_words() -> None:
    assert "no customer known as 'email:x@y.z'" in refusal(404, "email:x@y.z", "http://w", False,
                                                           '{"error": "unknown customer"}')
    assert "needs the API token: set NEXTBEST_API_TOKEN" in refusal(401, "r", "http://w", False,
                                                                    "")
    assert "refused the token in NEXTBEST_API_TOKEN" in refusal(401, "r", "http://w", True, "")
    assert "answered 403: customer data is not served" in refusal(
        403, "r", "http://w", False, '{"error": "customer data is not served: set ..."}')

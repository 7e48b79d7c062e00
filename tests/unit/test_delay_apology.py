"""Proactive apologies for late shipments: the threshold, one per order, a gesture fitted to
value and interests, and the guardrails."""

from __future__ import annotations

from typing import Any

import pytest

from nextbest.decisions.policies.compensation import DEFAULT_OFFERS, delay_gesture
from nextbest.decisions.policies.delay_apology import apology_id
from nextbest.decisions.record import Decision
from nextbest.engine import Engine, Logged
from nextbest.guardrails import incentive_cap
from nextbest.profile.state import CustomerProfile
from tests.events import DAY, identity, order, policy_settings, shipment

CID = "nb-john"
T0 = 1_767_268_800_000  # 2026-01-01T12:00Z: daytime for a customer in UTC
HOUR = 3_600_000
PROMISED = T0 + 3 * DAY
Step = tuple[str, dict[str, Any]]


def engine(**settings: Any) -> Engine:
    return Engine(policy_settings(**settings))


def run(engine: Engine, steps: list[Step], profile: CustomerProfile | None = None
        ) -> tuple[CustomerProfile, list[Decision], list[Logged]]:
    decisions: list[Decision] = []
    logged: list[Logged] = []
    for family, event in steps:
        result = engine.step(profile, CID, family, event)
        profile = result.profile
        decisions += result.decisions
        logged += result.logged
    assert profile is not None
    return profile, decisions, logged


def bought(total: float = 80.0, *, order_id: str = "o1", category: str = "shoes",
           at: int = T0, codes: list[str] | None = None) -> Step:
    event = order(at, order_id, total=total, category=category, item_id=f"{category}-1")
    event["discount_codes"] = codes or []
    return "purchase", event


def late(days: float, *, at: int = T0 + DAY, order_id: str = "o1") -> Step:
    return "fulfilment", shipment(at, order_id, "delayed", promised=PROMISED,
                                  expected=PROMISED + int(days * DAY), reason="weather",
                                  tracking_url=f"https://track.example/{order_id}")


def apologies(decisions: list[Decision]) -> list[Decision]:
    return [d for d in decisions if d.decision_type == "delay_apology"]


def test_a_delay_past_the_threshold_earns_an_apology_before_the_customer_asks() -> None:
    _, decisions, _ = run(engine(), [bought(), late(3)])
    (apology,) = apologies(decisions)
    assert (apology.action, apology.channel) == ("send_message", "email")
    assert apology.decision_id == apology_id(CID, "o1")
    payload = apology.payload
    assert payload["template"] == "delay_apology"
    assert (payload["order_id"], payload["items"], payload["categories"]) == (
        "o1", ["shoes-1"], ["shoes"])
    assert (payload["promised_delivery"], payload["expected_delivery"]) == (
        PROMISED, PROMISED + 3 * DAY)
    assert (payload["delay_days"], payload["delay_reason"], payload["status"]) == (
        3.0, "weather", "delayed")
    assert payload["tracking_url"] == "https://track.example/o1"
    assert payload["offer"]["kind"] == "discount"
    assert [r.code for r in apology.reasons] == [
        "shipment_delayed", "before_the_customer_asks", "gesture_by_value",
        "gesture_by_interest", "incentive_bound"]
    assert "promised for Sunday 4 January and is now expected on Wednesday 7 January" in (
        apology.reasons[0].text)
    assert apology.scores["delay_days"] == 3.0


def test_a_delay_under_the_threshold_sends_nothing_and_the_threshold_is_a_setting() -> None:
    assert apologies(run(engine(), [bought(), late(1.5)])[1]) == []
    assert len(apologies(run(engine(delay_apology_days=1.0), [bought(), late(1.5)])[1])) == 1


def test_no_second_apology_for_the_same_order() -> None:
    steps = [bought(), late(3), late(5, at=T0 + 2 * DAY), bought(order_id="o2"),
             late(4, order_id="o2")]
    _, decisions, logged = run(engine(), steps)
    assert [d.payload["order_id"] for d in apologies(decisions)] == ["o1", "o2"]
    assert len([e for e in logged if e.decision.decision_type == "delay_apology"]) == 2


def test_a_delay_that_grows_past_the_threshold_is_apologised_for_then() -> None:
    _, decisions, _ = run(engine(), [bought(), late(1), late(4, at=T0 + 2 * DAY)])
    (apology,) = apologies(decisions)
    assert apology.payload["delay_days"] == 4.0


def gesture(revenue: float, orders: int, tenure_days: int, expected: float) -> dict[str, Any]:
    profile = CustomerProfile(CID, orders=orders, revenue=revenue, first_seen=0,
                              scores={"expected_value": expected})
    offer = delay_gesture(profile, now=tenure_days * DAY, settings=policy_settings(),
                          order_categories=["shoes"], catalogue=DEFAULT_OFFERS,
                          budget_left=500.0).offer
    assert offer is not None
    return offer


def test_for_the_same_basket_the_discount_grows_with_value_and_tenure() -> None:
    newcomer, loyal = gesture(60.0, 1, 1, 100.0), gesture(1200.0, 20, 400, 600.0)
    assert (newcomer["percent"], newcomer["cost"]) == (15.0, 9.0)
    assert (loyal["percent"], loyal["cost"]) == (30.0, 18.0)


def test_a_discount_too_dear_for_the_customer_steps_down_to_fit_the_incentive_cap() -> None:
    offer = gesture(1200.0, 4, 400, 200.0)  # 30% of a 300 basket, the cap 20
    assert (offer["percent"], offer["cost"]) == (5.0, 15.0)


def test_in_the_engine_the_gesture_is_worth_more_to_the_more_valuable_customer() -> None:
    e = engine()
    newcomer = apologies(run(e, [bought(80.0), late(3)])[1])[0]
    history = [bought(300.0, order_id=f"h{k}", at=T0 - (300 - 30 * k) * DAY)
               for k in range(6)]
    profile, decisions, _ = run(e, [*history, bought(300.0), late(3)])
    loyal = apologies(decisions)[0]
    assert newcomer.payload["offer"]["cost"] < loyal.payload["offer"]["cost"]
    assert loyal.payload["offer"]["cost"] <= incentive_cap(profile, e.settings)


def test_the_gesture_names_the_category_the_customer_cares_most_about() -> None:
    coffee = [bought(40.0, order_id=f"c{k}", category="coffee", at=T0 - k * DAY)
              for k in range(1, 4)]
    (apology,) = apologies(run(engine(), [*coffee, bought(80.0), late(3)])[1])
    assert apology.payload["offer"]["category"] == apology.payload["category"] == "coffee"
    assert apology.payload["offer"]["title"].endswith("off your next coffee order")
    assert "care most about" in apology.reasons[3].text


REWARDS = ('[{"offer_id": "d10", "kind": "discount", "title": "10% off", "percent": 10},'
           ' {"offer_id": "coffee-gift", "kind": "loyalty_reward", "title": "A bag of our new '
           'roast", "fixed_cost": 4, "category": "coffee"}]')


@pytest.mark.parametrize(("codes", "kind"), [([], "loyalty_reward"), (["SAVE10"], "discount")])
def test_a_reward_tied_to_their_interest_unless_they_buy_on_discounts(
        codes: list[str], kind: str) -> None:
    coffee = [bought(60.0, order_id=f"c{k}", category="coffee", at=T0 - k * DAY, codes=codes)
              for k in range(1, 4)]
    (apology,) = apologies(run(engine(offers=REWARDS), [*coffee, bought(80.0), late(3)])[1])
    assert apology.payload["offer"]["kind"] == kind
    if kind == "loyalty_reward":
        assert apology.payload["offer"]["offer_id"] == "coffee-gift"


def test_when_no_gesture_fits_the_budget_the_apology_goes_alone() -> None:
    _, decisions, _ = run(engine(incentive_budget_per_day=0.0), [bought(), late(3)])
    (apology,) = apologies(decisions)
    assert apology.payload["offer"] is None
    assert [r.code for r in apology.reasons][-1] == "apology_only"


def test_the_gesture_is_paid_from_the_days_incentive_budget() -> None:
    e = engine(incentive_budget_per_day=20.0)
    _, decisions, _ = run(e, [bought(), late(3)])
    cost = apologies(decisions)[0].payload["offer"]["cost"]
    assert e.models.budget.left(T0 + DAY, 20.0, CID) == pytest.approx(20.0 - cost)


def test_consent_picks_the_channel_and_an_opt_out_of_everything_stops_it() -> None:
    no_email = ("identity", identity(T0 - DAY, "consent_revoked", channel="email"))
    (apology,) = apologies(run(engine(), [no_email, bought(), late(3)])[1])
    assert apology.channel == "sms"
    nothing = ("identity", identity(T0 - DAY, "consent_revoked", channel="all"))
    assert apologies(run(engine(), [nothing, bought(), late(3)])[1]) == []


def test_quiet_hours_hold_the_apology_until_morning() -> None:
    e = Engine(policy_settings(quiet_hours_start=21, quiet_hours_end=8))
    night = T0 + DAY + 11 * HOUR  # 23:00 UTC
    profile, decisions, logged = run(e, [bought(), late(3, at=night)])
    assert decisions == [] and [x.rule for x in logged] == ["quiet_hours"]
    morning = e.wake(profile, night + 9 * HOUR)
    (apology,) = morning.decisions
    assert apology.decision_type == "delay_apology" and apology.decided_at == night + 9 * HOUR


def test_a_held_apology_is_dropped_once_the_parcel_has_arrived() -> None:
    e = Engine(policy_settings(quiet_hours_start=21, quiet_hours_end=8))
    night = T0 + DAY + 11 * HOUR
    profile, _, _ = run(e, [bought(), late(3, at=night),
                            ("fulfilment", shipment(night + HOUR, "o1", "delivered"))])
    morning = e.wake(profile, night + 9 * HOUR)
    assert morning.decisions == []
    assert [(x.status, x.rule) for x in morning.logged] == [("suppressed", "no_longer_relevant")]


def test_frequency_caps_do_not_hold_back_an_apology_the_business_owes() -> None:
    e = engine(frequency_cap_per_day=1, frequency_cap_per_week=1)
    profile, _, _ = run(e, [bought()])
    profile.contacts = [[T0 + DAY - HOUR, "email"]]  # a message that went out an hour ago
    _, decisions, _ = run(e, [late(3)], profile)
    assert len(apologies(decisions)) == 1
    assert profile.contacts == [[T0 + DAY - HOUR, "email"]]  # and it counts against none


def test_never_in_the_holdout_but_split_when_an_experiment_names_it() -> None:
    assert len(apologies(run(engine(holdout_share=1.0), [bought(), late(3)])[1])) == 1
    split = engine(experiment_arms={"delay_apology": {"control": 1.0}})
    _, decisions, logged = run(split, [bought(), late(3), late(5, at=T0 + 2 * DAY)])
    assert apologies(decisions) == []
    (held,) = logged
    assert (held.status, held.decision.experiment_arm) == ("control", "control")

"""Send time: marketing emails wait for the local hour their customer reads email at, learnt
from their opens and everyone's, inside quiet hours and the longest wait."""

from __future__ import annotations

import pickle
from dataclasses import replace

from nextbest.engine import Engine
from nextbest.experiments import HOLDOUT
from nextbest.models.suite import ModelSuite
from nextbest.profile.state import CustomerProfile
from nextbest.settings import EngineSettings
from nextbest.simulation.customers import BURIED_OPEN_SHARE
from nextbest.simulation.shop import Shop
from tests.events import DAY, click
from tests.unit.test_guardrails import HOUR, NOON, _message, customer, statuses

MIDNIGHT = NOON - 12 * HOUR  # 2023-11-15 00:00 UTC


def opens_at(engine: Engine, cid: str, hour: int, days: int = 5) -> CustomerProfile:
    """A customer (in UTC) who opened an email at ``hour`` on each of the last ``days`` days."""
    profile = None
    for d in range(days, 0, -1):
        at = MIDNIGHT - d * DAY + hour * HOUR + 10 * 60_000
        profile = engine.step(profile, cid, "clickstream", click(at, "email_open")).profile
    assert profile is not None
    profile.timezone = "UTC"
    return profile


def test_an_email_waits_for_the_hour_its_customer_opens_email_at_then_goes_out() -> None:
    engine = Engine(EngineSettings())
    cid = customer(HOLDOUT, engine.settings, not_arm=True)
    profile = opens_at(engine, cid, 19)
    review = _message(cid, "review_request", "email", NOON)
    result = engine.wake(profile, NOON)  # nothing due: admit the decision by hand
    engine._admit(result, [review], NOON)
    assert statuses(result) == [("review_request", "deferred", "send_time")]
    assert profile.due["held"] == MIDNIGHT + 19 * HOUR
    sent = engine.wake(profile, MIDNIGHT + 19 * HOUR)
    assert statuses(sent) == [("review_request", "sent", None)]


def test_what_is_not_a_timed_email_goes_out_at_once() -> None:
    engine = Engine(EngineSettings())
    cid = customer(HOLDOUT, engine.settings, not_arm=True)
    profile = opens_at(engine, cid, 19)
    guard = engine.guardrails
    # Another channel, an offer (chosen for the moment it was decided), a service message.
    offer = {"offer": {"offer_id": "ship", "kind": "free_shipping", "cost": 0.0}}
    for decision in (_message(cid, "review_request", "push", NOON),
                     _message(cid, "winback", "email", NOON, payload=offer),
                     _message(cid, "service_recovery", "email", NOON)):
        assert guard.review(profile, decision, NOON).status == "sent", decision.decision_type
    # Offers wait too when the shop says so.
    offers_too = Engine(EngineSettings(send_time_offers=True))
    offers_too.models.open_hours = engine.models.open_hours
    offers_too.guardrails.open_hours = engine.models.open_hours
    verdict = offers_too.guardrails.review(
        profile, _message(cid, "winback", "email", NOON, payload=offer), NOON)
    assert (verdict.status, verdict.rule) == ("deferred", "send_time")


def test_no_wait_past_the_longest_wait_nor_past_expiry_nor_into_quiet_hours() -> None:
    settings = EngineSettings(send_time_max_wait_hours=4.0)
    engine = Engine(settings)
    cid = customer(HOLDOUT, settings, not_arm=True)
    profile = opens_at(engine, cid, 19)
    assert engine.guardrails.review(
        profile, _message(cid, "review_request", "email", NOON), NOON).status == "sent"
    engine = Engine(EngineSettings())
    profile = opens_at(engine, cid, 19)
    expiring = replace(_message(cid, "review_request", "email", NOON), expires_at=NOON + 2 * HOUR)
    assert engine.guardrails.review(profile, expiring, NOON).status == "sent"
    # Opens at 22:00 are in quiet hours (21-8): the best hour left is 20:00, next to them.
    late = opens_at(Engine(EngineSettings()), cid, 22)
    late_engine = Engine(EngineSettings())
    verdict = late_engine.guardrails.review(
        late, _message(cid, "review_request", "email", NOON), NOON)
    assert verdict.until == MIDNIGHT + 20 * HOUR


def test_without_opens_of_their_own_a_customer_gets_everyones_hour() -> None:
    engine = Engine(EngineSettings())
    for i in range(20):
        opens_at(engine, f"nb-other{i}", 8, days=2)
    assert engine.models.open_hours.total == 40
    cid = customer(HOLDOUT, engine.settings, not_arm=True)
    verdict = engine.guardrails.review(
        CustomerProfile(cid, timezone="UTC"), _message(cid, "review_request", "email", NOON),
        NOON)
    assert verdict.until == MIDNIGHT + DAY + 8 * HOUR  # tomorrow 08:00


def test_everyones_open_hours_are_checkpointed_and_old_checkpoints_still_load() -> None:
    suite = ModelSuite()
    suite.open_hours.add(19)
    restored = ModelSuite.restore(suite.checkpoint())
    assert restored.open_hours.counts[19] == 1
    state = dict(suite.__dict__)
    del state["open_hours"]
    old = ModelSuite.__new__(ModelSuite)
    old.__setstate__(pickle.loads(pickle.dumps(state)))
    assert old.open_hours.total == 0


def test_the_simulated_customers_open_fresh_emails_more_and_read_at_their_hour() -> None:
    shop = Shop(seed=3, customers=50)
    persona = shop.persona("C00000")
    local_midnight = MIDNIGHT - persona.offset_ms
    check = local_midnight + persona.inbox_hour * HOUR
    assert persona.inbox_check(check - 3 * HOUR) == check
    assert persona.inbox_check(check + 30 * 60_000) == check + 30 * 60_000  # during the hour
    assert persona.inbox_check(check + 2 * HOUR) == check + DAY
    assert persona.freshness(check) == 1.0
    assert BURIED_OPEN_SHARE < persona.freshness(check + 2 * HOUR) < persona.freshness(
        check - HOUR) < 1.0
    hours = {c.inbox_hour for c in shop.truth().customers.values()}
    assert len(hours) > 5 and all(7 <= h <= 22 for h in hours)

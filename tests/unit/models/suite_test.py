"""The engine with its models: what events teach them and how decisions use what they say."""

from __future__ import annotations

import pytest

from nextbest.engine import Engine
from nextbest.models.suite import ModelSuite
from nextbest.profile.state import CustomerProfile
from tests.events import DAY, MINUTE, click, order, policy_settings, review, support

POSITIVE = "Delicious and fresh, arrived quickly. Love it, will buy again!"
NEGATIVE = "Awful. Stale, tasteless and the box was broken. Waste of money."


def who(i: int) -> dict[str, str]:
    return {"email": f"c{i}@example.com"}


def test_purchases_teach_the_recommender_what_goes_together() -> None:
    engine = Engine(policy_settings())
    for i in range(30):  # everyone who buys a tent also buys a sleeping bag
        cid = f"nb-{i}"
        p = engine.step(None, cid, "purchase", order(i * DAY, f"t{i}", item_id="tent",
                                                    category="camping", customer=who(i))).profile
        engine.step(p, cid, "purchase", order(i * DAY + 1, f"s{i}", item_id="sleeping-bag",
                                              category="camping", customer=who(i)))
        engine.step(None, f"nb-o{i}", "purchase", order(i * DAY, f"x{i}", item_id=f"sock-{i}",
                                                       category="clothes", customer=who(100 + i)))
    # A new customer leaves a tent in the cart: the reminder suggests the sleeping bag.
    cart = engine.step(None, "nb-new", "clickstream",
                       click(40 * DAY, "add_to_cart", item_id="tent", category="camping",
                             price=120.0, customer=who(999))).profile
    (reminder,) = engine.wake(cart, 40 * DAY + 31 * MINUTE).decisions
    suggestions = reminder.payload["recommendations"]
    assert suggestions[0]["item_id"] == "sleeping-bag"
    assert suggestions[0]["reason"]  # every suggestion says why
    assert all(s["item_id"] != "tent" for s in suggestions)  # not what is already in the cart
    assert cart.shown["sleeping-bag"] == 1  # counted, so it is not pushed a fourth time


def test_reviews_teach_sentiment_and_support_messages_are_scored() -> None:
    engine = Engine(policy_settings())
    for i in range(60):
        text, rating = (POSITIVE, 5) if i % 2 else (NEGATIVE, 1)
        engine.step(None, f"nb-{i}", "review", review(i * MINUTE, "i1", rating, text,
                                                     customer=who(i)))
    assert engine.models.sentiment.n_learned == 60
    assert engine.models.quality["sentiment"].seen == 60
    result = engine.step(None, "nb-x", "support",
                         support(DAY, "conv", "The box was broken and it tastes stale",
                                 customer=who(500)))
    assert result.profile.sentiment is not None and result.profile.sentiment < 0


def test_negative_message_from_a_high_value_customer_goes_to_a_person() -> None:
    engine = Engine(policy_settings())
    angry = "This is terrible, I am furious, the worst service ever. Awful, useless."
    loyal = CustomerProfile("nb-loyal")
    for k in range(6):
        loyal = engine.step(loyal, "nb-loyal", "purchase",
                            order(k * 20 * DAY, f"o{k}", total=150.0, customer=who(1))).profile
    (escalation,) = engine.step(loyal, "nb-loyal", "support",
                                support(130 * DAY, "c1", angry, customer=who(1))).decisions
    assert [r.code for r in escalation.reasons] == ["negative_sentiment_high_value"]
    assert escalation.payload["sentiment"]["negative"] >= 0.85

    newcomer = engine.step(None, "nb-new", "purchase", order(0, "n1", total=20.0,
                                                            customer=who(2))).profile
    (reply,) = engine.step(newcomer, "nb-new", "support",
                           support(DAY, "c2", angry, customer=who(2))).decisions
    assert (reply.decision_type, reply.payload["tier"]) == ("support_reply", 2)


def test_winback_carries_churn_risk_value_tier_and_suggestions() -> None:
    engine = Engine(policy_settings())
    profile = None
    for k in range(5):
        profile = engine.step(profile, "nb-w", "purchase",
                              order(k * 10 * DAY, f"o{k}", category="coffee",
                                    item_id="beans", customer=who(1))).profile
    assert profile is not None
    (winback,) = engine.wake(profile, 40 * DAY + 28 * DAY).decisions  # quiet for 28 days
    assert winback.payload["tier"] in ("top", "middle", "low")
    assert {"churn_risk", "expected_value"} <= set(winback.scores)
    assert "churn_risk" in {r.code for r in winback.reasons}
    assert 0.0 <= winback.payload["customer"]["churn_risk"] <= 1.0


def test_checkpoint_restores_the_same_models() -> None:
    engine = Engine(policy_settings())
    for i in range(40):
        engine.step(None, f"nb-{i}", "purchase", order(i * DAY, f"o{i}", item_id=f"i{i % 5}",
                                                      customer=who(i)))
        engine.step(None, f"nb-r{i}", "review", review(i * DAY, "i1", 1 + i % 5,
                                                      POSITIVE if i % 2 else NEGATIVE,
                                                      customer=who(300 + i)))
    restored = ModelSuite.restore(engine.models.checkpoint())
    assert restored.stats() == engine.models.stats()
    assert restored.sentiment.score(NEGATIVE) == engine.models.sentiment.score(NEGATIVE)
    with pytest.raises(ValueError, match="not a nextbest model checkpoint"):
        ModelSuite.restore(b"garbage")


def test_churn_labels_resolve_with_event_time_and_are_scored_before_learning() -> None:
    engine = Engine(policy_settings())
    profiles: dict[str, CustomerProfile | None] = {}
    for day in range(0, 200, 5):  # half the customers keep buying, half stop after day 30
        for i in range(20):
            cid = f"nb-{i}"
            if i % 2 and day > 30:
                continue
            profiles[cid] = engine.step(profiles.get(cid), cid, "purchase",
                                        order(day * DAY + i, f"o{i}-{day}", customer=who(i))
                                        ).profile
    churn = engine.models.quality["churn"]
    assert churn.seen > 0  # 90-day horizons passed: labels were learnt, each checked first
    assert engine.models.churn.classifier.learnt == churn.seen

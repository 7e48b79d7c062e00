"""Next best offer: the catalogue, the customer's offer context and the bandit learning which
offer each kind of customer takes up."""

from __future__ import annotations

import pickle
import random

import pytest

from nextbest.models.offers import (
    DEFAULT_OFFERS,
    FEATURES,
    NextBestOffer,
    Offer,
    OfferBandit,
    cost,
    offer_context,
    parse_offers,
)
from nextbest.profile.merge import merge_profiles
from nextbest.profile.state import CustomerProfile
from nextbest.profile.update import apply_event
from tests.events import DAY, click, order

OFFERS = (
    Offer("discount-10", "discount", "10% off", percent=10.0),
    Offer("discount-20", "discount", "20% off", percent=20.0),
    Offer("free-shipping", "free_shipping", "Free shipping", fixed_cost=4.9),
    Offer("upgrade", "upgrade", "Free upgrade", fixed_cost=8.0),
    Offer("loyalty-points", "loyalty_reward", "Double points", fixed_cost=3.0),
)
TAKE_UP = {
    # offer: (chance a price-sensitive customer converts, chance anyone else does)
    "discount-10": (0.30, 0.08),
    "discount-20": (0.45, 0.10),
    "free-shipping": (0.20, 0.12),
    "upgrade": (0.05, 0.40),
    "loyalty-points": (0.10, 0.18),
}
ROUNDS = 3_000
NOW = 400 * DAY


def _customer(rng: random.Random, i: int) -> tuple[CustomerProfile, bool]:
    """A customer whose hidden price sensitivity shows only through the discount codes used."""
    sensitive = rng.random() < 0.4
    orders = rng.randint(1, 12)
    discounted = sum(rng.random() < (0.6 if sensitive else 0.1) for _ in range(orders))
    gap = rng.uniform(10, 60) * DAY
    last_order_at = int(NOW - rng.uniform(0.2, 2.5) * gap)
    profile = CustomerProfile(
        f"nb-{i}", orders=orders, revenue=orders * rng.uniform(20.0, 150.0),
        discounted_orders=discounted, first_order_at=0, last_order_at=last_order_at,
        gap_count=orders - 1, gap_mean_ms=gap if orders > 1 else 0.0,
        scores={"churn_risk": round(rng.random(), 2),
                "value_tier": rng.choice(("low", "middle", "top"))},
    )
    return profile, sensitive


def _regret(seed: int) -> tuple[float, float]:
    """Cumulative expected regret of the bandit and of a uniformly random choice."""
    rng = random.Random(seed)
    population = [_customer(rng, i) for i in range(500)]
    model = NextBestOffer(OFFERS, seed=seed)
    bandit = uniform = 0.0
    for _ in range(ROUNDS):
        profile, sensitive = rng.choice(population)
        rates = {offer: chances[0 if sensitive else 1] for offer, chances in TAKE_UP.items()}
        best = max(rates.values())
        choice = model.pick(profile, NOW, value_cap=1_000.0, budget_left=1_000.0)
        assert choice is not None
        rate = rates[choice.offer.offer_id]
        model.learn(choice.context, choice.offer.offer_id, float(rng.random() < rate))
        bandit += best - rate
        uniform += best - sum(rates.values()) / len(rates)
    return bandit, uniform


@pytest.mark.parametrize("seed", [1, 2])
def test_bandit_regret_is_well_below_uniform_choice(seed: int) -> None:
    bandit, uniform = _regret(seed)
    print(f"seed {seed}: cumulative regret over {ROUNDS} rounds: bandit {bandit:.1f}, "
          f"uniform {uniform:.1f} ({bandit / uniform:.2f}x)")
    assert bandit < 0.6 * uniform


def test_learnt_offers_follow_price_sensitivity() -> None:
    rng = random.Random(3)
    model = NextBestOffer(OFFERS, seed=3)
    for _ in range(ROUNDS):
        profile, sensitive = _customer(rng, 0)
        choice = model.pick(profile, NOW, value_cap=1_000.0, budget_left=1_000.0)
        assert choice is not None
        rate = TAKE_UP[choice.offer.offer_id][0 if sensitive else 1]
        model.learn(choice.context, choice.offer.offer_id, float(rng.random() < rate))
    bargain = CustomerProfile("nb-b", orders=10, revenue=500.0, discounted_orders=8,
                              last_order_at=NOW - 20 * DAY, gap_count=9, gap_mean_ms=15 * DAY)
    full_price = CustomerProfile("nb-f", orders=10, revenue=1_200.0, discounted_orders=0,
                                 last_order_at=NOW - 20 * DAY, gap_count=9, gap_mean_ms=15 * DAY)
    greedy = model.bandit
    greedy.exploration = 0.0
    for profile, kind in ((bargain, "discount"), (full_price, "upgrade")):
        choice = model.pick(profile, NOW, value_cap=1_000.0, budget_left=1_000.0)
        assert choice is not None and choice.offer.kind == kind
        assert choice.reasons and not choice.explored
    stats = model.stats()
    assert sum(s["outcomes"] for s in stats.values()) == ROUNDS
    assert stats["upgrade"]["pulls"] > 0 and 0.0 <= stats["upgrade"]["mean_reward"] <= 1.0


def test_never_offers_more_than_the_cap_and_none_when_nothing_fits() -> None:
    rng = random.Random(5)
    bandit = OfferBandit(seed=5)
    context = dict.fromkeys(FEATURES, 0.5)
    for _ in range(2_000):
        cap, basket = rng.uniform(0.0, 12.0), rng.uniform(5.0, 120.0)
        choice = bandit.choose(context, DEFAULT_OFFERS, max_cost=cap, basket_value=basket)
        cheapest = min(cost(offer, basket) for offer in DEFAULT_OFFERS)
        if cheapest > cap:
            assert choice is None
            continue
        assert choice is not None and cost(choice.offer, basket) <= cap
        bandit.learn(context, choice.offer, float(rng.random() < 0.3))
    assert bandit.choose(context, DEFAULT_OFFERS, max_cost=1.0, basket_value=50.0) is None
    assert bandit.choose(context, (), max_cost=100.0, basket_value=50.0) is None


def test_pick_respects_budget_kinds_and_category() -> None:
    model = NextBestOffer(seed=2)
    lisa = CustomerProfile("nb-lisa", orders=2, revenue=100.0, last_order_at=0)
    # Average basket 50: 10% off costs 5, 20% off 10, free shipping 4.90, the upgrade 8.
    for _ in range(50):
        choice = model.pick(lisa, DAY, value_cap=9.0, budget_left=5.0)
        assert choice is not None and choice.cost <= 5.0
    assert model.pick(lisa, DAY, value_cap=9.0, budget_left=2.0) is None
    choice = model.pick(lisa, DAY, kinds={"upgrade"}, value_cap=20.0, budget_left=20.0)
    assert choice is not None and choice.offer.kind == "upgrade"
    assert model.pick(lisa, DAY, kinds={"upgrade"}, value_cap=7.0, budget_left=20.0) is None
    coffee = Offer("coffee-beans", "loyalty_reward", "A free bag of beans", fixed_cost=5.0,
                   category="coffee")
    model.use_offers((coffee,))
    assert model.pick(lisa, DAY, value_cap=20.0, budget_left=20.0) is None
    lisa.category_affinity["coffee"] = 4.0
    choice = model.pick(lisa, DAY, value_cap=20.0, budget_left=20.0)
    assert choice is not None and choice.offer is coffee
    assert not model.learn(choice.context, "discount-10", 1.0)  # no longer offered
    with pytest.raises(ValueError, match="unknown offer kind"):
        model.pick(lisa, DAY, kinds={"coupon"}, value_cap=20.0, budget_left=20.0)


def test_pickle_round_trip_gives_the_same_next_choices() -> None:
    rng = random.Random(8)
    model = NextBestOffer(seed=8)
    population = [_customer(rng, i)[0] for i in range(50)]
    for profile in population * 6:
        choice = model.pick(profile, NOW, value_cap=30.0, budget_left=30.0)
        assert choice is not None
        model.learn(choice.context, choice.offer.offer_id, float(rng.random() < 0.3))
    restored = pickle.loads(pickle.dumps(model))
    for profile in population[:20]:
        assert restored.pick(profile, NOW, value_cap=30.0, budget_left=30.0) == model.pick(
            profile, NOW, value_cap=30.0, budget_left=30.0)
    assert restored.stats() == model.stats()


def test_a_country_first_seen_late_is_learnt_and_a_retired_offer_forgotten() -> None:
    rng = random.Random(4)
    bandit = OfferBandit(seed=4)
    shipping, points = OFFERS[2], OFFERS[4]
    home = {"bias": 1.0, "mobile": 0.2}
    for _ in range(300):  # at home the two offers do alike
        choice = bandit.choose(home, (shipping, points), max_cost=50.0, basket_value=40.0)
        assert choice is not None
        bandit.learn(home, choice.offer, float(rng.random() < 0.3))
    abroad = {**home, "country:US": 1.0}  # a column the bandit has never seen
    for _ in range(300):
        choice = bandit.choose(abroad, (shipping, points), max_cost=50.0, basket_value=40.0)
        assert choice is not None
        rate = 0.6 if choice.offer is shipping else 0.2
        bandit.learn(abroad, choice.offer, float(rng.random() < rate))
    assert bandit.expected_reward(abroad, shipping) > bandit.expected_reward(abroad, points) + 0.2
    assert abs(bandit.expected_reward(home, shipping) - bandit.expected_reward(home, points)) < 0.1
    picks = [bandit.choose(abroad, (shipping, points), max_cost=50.0, basket_value=40.0)
             for _ in range(100)]
    assert sum(c is not None and c.offer is shipping for c in picks) >= 90
    learnt = bandit.expected_reward(abroad, shipping)
    bandit.retain([points.offer_id])  # free shipping retired: its own column and counts go
    assert "offer|free-shipping" not in bandit.columns and "free-shipping" not in bandit.stats()
    assert len(bandit.mean) == len(bandit.columns) == len(bandit.covariance)
    # What the kind taught stays: a new free-shipping offer starts from it.
    express = Offer("free-express", "free_shipping", "Free express shipping", fixed_cost=6.0)
    assert abs(bandit.expected_reward(abroad, express) - learnt) < 0.1


def test_learn_rejects_rewards_outside_zero_to_one() -> None:
    bandit = OfferBandit()
    upgrade = OFFERS[3]
    with pytest.raises(ValueError, match="reward"):
        bandit.learn({"bias": 1.0}, upgrade, 2.0)
    with pytest.raises(ValueError, match="reward"):
        bandit.learn({"bias": 1.0}, upgrade, float("nan"))


def test_offer_context_reads_the_profile() -> None:
    empty = offer_context(CustomerProfile("nb-new"), NOW)
    assert set(empty) == set(FEATURES) and all(0.0 <= v <= 1.0 for v in empty.values())
    assert empty["orders"] == 0.0 and empty["overdue"] == 0.0 and empty["churn_risk"] == 0.5
    regular = CustomerProfile("nb-r", orders=9, revenue=1_800.0, discounted_orders=0,
                              last_order_at=NOW - 30 * DAY, gap_count=8, gap_mean_ms=10 * DAY,
                              scores={"churn_risk": 0.8, "value_tier": "top"})
    context = offer_context(regular, NOW)
    assert context["overdue"] == 1.0 and context["order_value"] == 1.0
    assert context["churn_risk"] == 0.8 and context["value_tier"] == 1.0
    assert context["premium_interest"] == pytest.approx(0.98)


def _seen(time: int, action: str, device: str, channel: str) -> dict[str, object]:
    return {**click(time, action, item_id="dress-1"),
            "context": {"device": device, "channel": channel, "country": "NL",
                        "timezone": "Europe/Amsterdam", "session_id": None}}


def test_profile_keeps_where_the_customer_shops_and_the_context_reads_it() -> None:
    profile = CustomerProfile("nb-a")
    apply_event(profile, "clickstream", _seen(DAY, "product_view", "mobile", "app"))
    apply_event(profile, "clickstream", _seen(DAY, "add_to_cart", "mobile", "web"))
    apply_event(profile, "clickstream", _seen(DAY, "page_view", "desktop", "web"))
    # A message opened on a desktop is not where the customer shops.
    apply_event(profile, "clickstream", _seen(DAY, "email_open", "desktop", "email"))
    assert profile.shopping_context == {"device:mobile": 2, "channel:app": 1, "channel:web": 2,
                                        "device:desktop": 1}
    assert profile.country == "NL" and profile.timezone == "Europe/Amsterdam"
    other = CustomerProfile("nb-b", shopping_context={"device:mobile": 1, "channel:app": 3})
    merged = merge_profiles(profile, other)
    assert merged.shopping_context["device:mobile"] == 3
    assert merged.shopping_context["channel:app"] == 4
    assert CustomerProfile.from_dict(merged.to_dict()).shopping_context == merged.shopping_context
    apply_event(merged, "purchase", {**order(2 * DAY, "o1"), "discount_codes": ["SAVE10"]})
    # 2 * DAY is midnight UTC: 01:00 in Amsterdam in winter, the night (no time of day).
    context = offer_context(merged, 2 * DAY)
    assert context["mobile"] == 0.75 and context["app"] == pytest.approx(4 / 6, abs=1e-6)
    assert context["country:NL"] == 1.0 and context["discount_used"] == 1.0
    assert context["recency"] == 0.0
    assert context["morning"] == context["afternoon"] == context["evening"] == 0.0
    later = offer_context(merged, 2 * DAY + 30 * DAY + 9 * 3_600_000)  # 10:00 in Amsterdam
    assert later["morning"] == 1.0 and later["evening"] == 0.0
    assert 0.55 < later["recency"] < 0.6  # 30 days on a log scale to a year


def test_profile_counts_and_merges_discounted_orders() -> None:
    profile = CustomerProfile("nb-a")
    apply_event(profile, "purchase", order(DAY, "o1"))
    apply_event(profile, "purchase", {**order(2 * DAY, "o2"), "discount_codes": ["SAVE10"]})
    apply_event(profile, "purchase", order(3 * DAY, "o2", kind="refund"))
    assert (profile.orders, profile.discounted_orders) == (2, 1)
    other = CustomerProfile("nb-b", orders=3, discounted_orders=2)
    assert merge_profiles(profile, other).discounted_orders == 3
    assert CustomerProfile.from_dict(profile.to_dict()).discounted_orders == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not valid JSON"),
        ("[]", "non-empty JSON list"),
        ('{"offer_id": "x"}', "non-empty JSON list"),
        ('["discount"]', "offer 0: expected an object"),
        ('[{"offer_id": "x", "kind": "discount"}]', "offer 0: missing field.*title"),
        ('[{"offer_id": "x", "kind": "coupon", "title": "X"}]', "kind must be one of"),
        ('[{"offer_id": "x", "kind": "discount", "title": "X"}]', "percent between 0 and 100"),
        ('[{"offer_id": "x", "kind": "discount", "title": "X", "percent": 120}]', "between"),
        ('[{"offer_id": "x", "kind": "upgrade", "title": "X", "fixed_cost": -1}]', ">= 0"),
        ('[{"offer_id": "x", "kind": "upgrade", "title": "X", "fixed_cost": "8"}]', "number"),
        ('[{"offer_id": "x", "kind": "upgrade", "title": "X", "percent": 5}]', "discounts only"),
        ('[{"offer_id": "x", "kind": "upgrade", "title": "X", "category": "tea"}]',
         "loyalty rewards only"),
        ('[{"offer_id": "x", "kind": "upgrade", "title": "X", "colour": "red"}]',
         "unknown field.*colour"),
        ('[{"offer_id": "", "kind": "upgrade", "title": "X"}]', "offer_id must be"),
        ('[{"offer_id": "x", "kind": "upgrade", "title": "X"},'
         ' {"offer_id": "x", "kind": "upgrade", "title": "Y"}]', "offer 1: .*appears twice"),
    ],
)
def test_parse_offers_explains_bad_entries(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_offers(text)


def test_parse_offers_reads_a_catalogue() -> None:
    text = ('[{"offer_id": "d15", "kind": "discount", "title": "15% off", "percent": 15},'
            ' {"offer_id": "beans", "kind": "loyalty_reward", "title": "Free beans",'
            '  "fixed_cost": 5, "category": "coffee"}]')
    discount, beans = parse_offers(text)
    assert discount == Offer("d15", "discount", "15% off", percent=15.0)
    assert beans.category == "coffee" and cost(beans, 80.0) == 5.0
    assert cost(discount, 80.0) == pytest.approx(12.0)

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
from tests.events import DAY, order

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
        bandit.learn(context, choice.offer.offer_id, float(rng.random() < 0.3))
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


def test_learn_rejects_rewards_outside_zero_to_one() -> None:
    bandit = OfferBandit()
    with pytest.raises(ValueError, match="reward"):
        bandit.learn({"bias": 1.0}, "upgrade", 2.0)
    with pytest.raises(ValueError, match="reward"):
        bandit.learn({"bias": 1.0}, "upgrade", float("nan"))


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

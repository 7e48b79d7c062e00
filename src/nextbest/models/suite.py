"""The engine's models as one unit: what each event teaches them and what they say back.

One :class:`ModelSuite` lives in each worker (and in each replay). The engine hands it every
event after the profile has absorbed it; the suite learns from the event (purchases teach the
recommender and label churn snapshots, reviews teach sentiment), scores the customer, and keeps
prequential quality, drift alarms and per-event cost for /metrics. The whole suite checkpoints to
bytes and restores from them, so a replacement worker continues learning where the last
checkpoint left off.
"""

from __future__ import annotations

import pickle
import zlib
from dataclasses import dataclass, field
from typing import Any

from river import stats

from nextbest.experiments.attribution import Outcome
from nextbest.guardrails.budget import IncentiveBudget
from nextbest.models.churn import ChurnInputs, ChurnModel, ChurnScore
from nextbest.models.lifecycle import Cost, Prequential
from nextbest.models.offers import NextBestOffer
from nextbest.models.recommend import Recommendation, Recommender
from nextbest.models.sentiment import (
    SentimentDigest,
    SentimentModel,
    SentimentScore,
    SentimentSpike,
    TopicSpikes,
    tag_topics,
)
from nextbest.profile.state import CustomerProfile

CHECKPOINT_MAGIC = b"NBMS2"
SENTIMENT_MEMORY = 0.5
"""Weight of the newest message in a customer's running sentiment."""
ADVANCE_EVERY_MS = 3_600_000
"""Event time between two sweeps of the churn model's pending labels."""
RECOMMENDER_CHECK_EVERY = 25
"""Every this many purchased lines, check the recommender's top 10 before it learns the line."""
TIER_MIN_CUSTOMERS = 50
"""Value snapshots needed before tiers are assigned."""
CHURN_CLICKS = frozenset({"email_open", "email_click"})
"""Clickstream actions that change churn features; other clicks do not rescore churn."""
CART_WEIGHT = 0.5
"""An add-to-cart teaches the recommender half as much as a purchase."""


@dataclass(frozen=True, slots=True)
class Observation:
    """What the models said about one event (text sentiment is None for events without text)."""

    churn: ChurnScore | None = None
    sentiment: SentimentScore | None = None
    topics: tuple[str, ...] = ()
    spikes: tuple[SentimentSpike, ...] = ()


@dataclass
class ModelSuite:
    recommender: Recommender = field(default_factory=Recommender)
    churn: ChurnModel = field(default_factory=ChurnModel)
    sentiment: SentimentModel = field(default_factory=SentimentModel)
    spikes: TopicSpikes = field(default_factory=TopicSpikes)
    digest: SentimentDigest = field(default_factory=SentimentDigest)
    offers: NextBestOffer = field(default_factory=NextBestOffer)
    budget: IncentiveBudget = field(default_factory=IncentiveBudget)
    """The incentive spend guarded per day (checkpointed with the models it pays for)."""
    quality: dict[str, Prequential] = field(default_factory=lambda: {
        name: Prequential(name) for name in ("recommender", "sentiment", "churn")})
    cost: dict[str, Cost] = field(default_factory=lambda: {
        name: Cost(name) for name in ("recommender", "sentiment", "churn")})
    value_top_share: float = 0.2
    value_low_share: float = 0.3
    spike_alerts: dict[str, int] = field(default_factory=dict)
    events: int = 0
    watermark: int = 0
    _advanced_at: int = 0
    _lines: int = 0
    _value_cuts: dict[str, stats.Quantile] = field(default_factory=dict)
    _values_seen: int = 0

    def __post_init__(self) -> None:
        self._value_cuts = {"top": stats.Quantile(1 - self.value_top_share),
                            "low": stats.Quantile(self.value_low_share)}

    # --- learning -------------------------------------------------------------------------

    def observe(
        self, profile: CustomerProfile, family: str, event: dict[str, Any]
    ) -> Observation:
        """Learn from one event the profile has already absorbed; score the customer."""
        now = int(event["event_time"])
        self.events += 1
        self.watermark = max(self.watermark, now)
        sentiment: SentimentScore | None = None
        topics: tuple[str, ...] = ()
        spikes: tuple[SentimentSpike, ...] = ()
        if family == "purchase" and event["kind"] == "order":
            self._learn_order(profile, event, now)
        elif family == "clickstream":
            self._learn_click(profile, event, now)
        elif family == "review":
            sentiment, topics, spikes = self._learn_review(event, now)
        elif family == "support" and event.get("author") == "customer" and event.get("text"):
            sentiment, topics, spikes = self._read_message(profile, event["text"], now)
        self._advance_labels(now)
        churn = None
        if family != "clickstream" or event["action"] in CHURN_CLICKS:
            churn = self._score_churn(profile, now)
        return Observation(churn, sentiment, topics, spikes)

    def _advance_labels(self, now: int) -> None:
        # Pending churn snapshots whose horizon passed are learnt as lapsed, once per hour of
        # event time (sorting them out on every event would cost more than it tells).
        if now - self._advanced_at >= ADVANCE_EVERY_MS and self.watermark > self._advanced_at:
            self._advanced_at = self.watermark
            with self.cost["churn"].measure():
                self.churn.advance(self.watermark)
            self._record_churn_labels()

    def _learn_order(self, profile: CustomerProfile, event: dict[str, Any], now: int) -> None:
        customer = profile.customer_id
        with self.cost["churn"].measure():
            self.churn.purchase(customer, now, float(event["total"]))
        self._record_churn_labels()
        lines = event.get("lines") or []
        with self.cost["recommender"].measure():
            ordered = {line["item_id"] for line in lines}
            history = [item for item in profile.items_bought if item not in ordered]
            for line in lines:
                item = line["item_id"]
                self._know_item(item, line.get("category"), line.get("unit_price"))
                self._lines += 1
                if self._lines % RECOMMENDER_CHECK_EVERY == 0 and history:
                    top = self.recommender.recommend(customer, 10, history=history)
                    self.quality["recommender"].record(item in {r.item_id for r in top})
                self.recommender.learn(customer, item, time_ms=now, history=history)
                history.append(item)

    def _learn_click(self, profile: CustomerProfile, event: dict[str, Any], now: int) -> None:
        item = event.get("item_id")
        if event["action"] == "add_to_cart" and item:
            with self.cost["recommender"].measure():
                self._know_item(item, event.get("category"), event.get("price"))
                history = [i for i in profile.items_bought if i != item]
                self.recommender.learn(profile.customer_id, item, time_ms=now,
                                       history=history, weight=CART_WEIGHT)

    def _know_item(self, item: str, category: str | None, price: float | None) -> None:
        # Catalog events own an item's record (stock included); events only introduce items.
        if item not in self.recommender.catalog.items:
            self.recommender.upsert_item(item, category=category, price=price)

    def update_catalog(self, item: dict[str, Any]) -> None:
        """A catalog event: the item's category, tags, price and stock."""
        stock = item.get("stock")
        self.recommender.upsert_item(
            item["item_id"], category=item.get("category"), tags=item.get("tags") or (),
            price=item.get("price"), in_stock=stock is None or stock > 0,
        )

    def _learn_review(
        self, event: dict[str, Any], now: int
    ) -> tuple[SentimentScore | None, tuple[str, ...], tuple[SentimentSpike, ...]]:
        text = event.get("text") or ""
        rating = int(event["rating"])
        if not text.strip():
            return None, (), ()
        with self.cost["sentiment"].measure():
            score = self.sentiment.score(text)
            if rating != 3:
                self.quality["sentiment"].record((score.positive >= 0.5) == (rating >= 4))
            self.sentiment.learn(text, rating)
        topics = tag_topics(text)
        self.digest.add(now, text, score.negative, topics, "review")
        spikes = tuple(self.spikes.observe(topics, rating <= 2, now)) if rating != 3 else ()
        self._count(spikes)
        return score, topics, spikes

    def _read_message(
        self, profile: CustomerProfile, text: str, now: int
    ) -> tuple[SentimentScore, tuple[str, ...], tuple[SentimentSpike, ...]]:
        with self.cost["sentiment"].measure():
            score = self.sentiment.score(text)
        polarity = score.positive - score.negative
        profile.sentiment = polarity if profile.sentiment is None else (
            SENTIMENT_MEMORY * polarity + (1 - SENTIMENT_MEMORY) * profile.sentiment)
        topics = tag_topics(text)
        self.digest.add(now, text, score.negative, topics, "support")
        spikes = tuple(self.spikes.observe(topics, score.negative > 0.5, now))
        self._count(spikes)
        return score, topics, spikes

    def _count(self, spikes: tuple[SentimentSpike, ...]) -> None:
        for spike in spikes:
            self.spike_alerts[spike.topic] = self.spike_alerts.get(spike.topic, 0) + 1

    def _score_churn(self, profile: CustomerProfile, now: int) -> ChurnScore | None:
        if profile.orders == 0:
            return None
        with self.cost["churn"].measure():
            inputs = churn_inputs(profile)
            if self.churn.wants_snapshot(profile.customer_id, now):
                score = self.churn.observe(profile.customer_id, inputs, now)
                self._values_seen += 1
                for cut in self._value_cuts.values():
                    cut.update(score.expected_value)
            else:
                score = self.churn.score(inputs, now)
        profile.scores.update(churn_scores(score))
        profile.scores["value_tier"] = self.value_tier(score.expected_value)
        return score

    @property
    def churn_trained(self) -> bool:
        """Whether the churn classifier has learnt enough labels to overrule the rules."""
        classifier = self.churn.classifier
        return classifier.learnt >= classifier.warmup

    def value_tier(self, expected_value: float) -> str:
        """``top``, ``middle`` or ``low`` among the customers scored so far (``middle`` until
        enough customers were scored to know the cut-offs)."""
        if self._values_seen < TIER_MIN_CUSTOMERS:
            return "middle"
        top, low = self._value_cuts["top"].get(), self._value_cuts["low"].get()
        if top is not None and expected_value >= top:
            return "top"
        if low is not None and expected_value <= low:
            return "low"
        return "middle"

    def _record_churn_labels(self) -> None:
        # Each resolved label was scored when its snapshot was taken, before it was learnt.
        quality = self.quality["churn"]
        while self.churn.resolved:
            risk, lapsed = self.churn.resolved.popleft()
            quality.record((risk >= 0.5) == lapsed)

    def rescore(self, profile: CustomerProfile, now: int) -> ChurnScore | None:
        """Churn risk and value at ``now`` without an event (timers, sweeps)."""
        self.watermark = max(self.watermark, now)
        self._advance_labels(now)
        return self._score_churn(profile, now)

    # --- answers --------------------------------------------------------------------------

    def recommend(
        self, profile: CustomerProfile, k: int, *, context: list[str] | None = None
    ) -> list[Recommendation]:
        """Top ``k`` items for the customer, most recent interests (``context``) weighted in."""
        history = [*profile.items_bought, *(context or [])]
        return self.recommender.recommend(profile.customer_id, k, history=history,
                                          shown=profile.shown)

    def in_stock(self, item_id: str) -> bool:
        return self.recommender.catalog.in_stock(item_id)

    def learn_outcome(self, outcome: Outcome) -> None:
        """A closed attribution window: the reward of the offer that was made, if any.

        Only sent offers teach the bandit (a control customer never saw one); the reward is a
        redemption (an order carrying the decision id)."""
        if outcome.sent and outcome.offer_id and outcome.context:
            self.offers.learn(outcome.context, outcome.offer_id, 1.0 if outcome.redeemed else 0.0)

    def forget(self, customer_id: str) -> None:
        """Erase one customer's per-user state from every model."""
        self.recommender.forget(customer_id)
        self.churn.forget(customer_id)

    def stats(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "quality": {n: q.quality for n, q in self.quality.items()},
            "drift_alarms": {n: q.drift_alarms for n, q in self.quality.items()},
            "cost_us": {n: round(c.mean_us, 1) for n, c in self.cost.items()},
            "learnt": {
                "recommender": self.recommender.learned,
                "sentiment": self.sentiment.n_learned,
                "churn_labels": self.churn.classifier.learnt,
            },
            "sentiment_spikes": dict(self.spike_alerts),
            "offers": self.offers.stats(),
        }

    # --- lifecycle ------------------------------------------------------------------------

    def checkpoint(self) -> bytes:
        """The whole suite as bytes (pickled and compressed)."""
        return CHECKPOINT_MAGIC + zlib.compress(pickle.dumps(self, protocol=5), 3)

    @classmethod
    def restore(cls, data: bytes) -> ModelSuite:
        if not data.startswith(CHECKPOINT_MAGIC):
            raise ValueError("not a nextbest model checkpoint")
        suite = pickle.loads(zlib.decompress(data[len(CHECKPOINT_MAGIC):]))
        if not isinstance(suite, cls):
            raise ValueError(f"checkpoint holds a {type(suite).__name__}, not a {cls.__name__}")
        return suite


def churn_inputs(profile: CustomerProfile) -> ChurnInputs:
    return ChurnInputs(
        orders=profile.orders,
        revenue=profile.revenue,
        first_order_at=profile.first_order_at,
        last_order_at=profile.last_order_at,
        gap_count=profile.gap_count,
        gap_mean_ms=profile.gap_mean_ms,
        order_times=tuple(profile.order_times),
        email_sends=tuple(profile.email_send_times),
        email_opens=tuple(profile.email_open_times),
        email_clicks=tuple(profile.email_click_times),
        support_contacts=tuple(profile.support_contacts),
        sentiment=profile.sentiment,
        first_seen_at=profile.first_seen or None,
    )


def churn_scores(score: ChurnScore) -> dict[str, Any]:
    """The churn model's answer as served scores (rounded; plain JSON types)."""
    return {
        "churn_risk": round(score.risk, 4),
        "expected_orders": round(score.expected_orders, 3),
        "expected_value": round(score.expected_value, 2),
        "value_horizon_days": score.horizon_days,
        "next_order_at": score.next_order_at,
    }


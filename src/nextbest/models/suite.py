"""The engine's models as one unit: what each event teaches them and what they say back.

One :class:`ModelSuite` lives in each worker (and in each replay). The engine hands it every
event after the profile has absorbed it; the suite learns from the event (purchases teach the
recommender and label churn snapshots, reviews teach sentiment), scores the customer, and keeps
prequential quality, drift alarms and per-event cost for /metrics. The whole suite checkpoints to
bytes and restores from them, so a replacement worker continues learning where the last
checkpoint left off.
"""

from __future__ import annotations

import dataclasses
import pickle
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from river import stats

from nextbest.experiments.attribution import Outcome
from nextbest.guardrails.budget import IncentiveBudget
from nextbest.guardrails.localtime import zone
from nextbest.models.churn import ChurnInputs, ChurnModel, ChurnScore
from nextbest.models.lifecycle import Cost, Prequential
from nextbest.models.offers import NextBestOffer
from nextbest.models.recommend import Recommendation, Recommender
from nextbest.models.send_time import OpenHours, local_hour
from nextbest.models.sentiment import (
    SentimentDigest,
    SentimentModel,
    SentimentScore,
    SentimentSpike,
    TopicSpikes,
    tag_topics,
)
from nextbest.profile.state import CustomerProfile
from nextbest.profile.update import BUSINESS_FAMILIES

Lesson = dict[str, Any]
"""What one event (or one churn snapshot, or an erasure) teaches the models: plain data."""

EVENT_LESSONS = frozenset({"event", "order", "cart", "review", "message", "open"})
"""Lessons of one event each (the others: a churn snapshot, time passing, an erasure, an offer's
outcome)."""

CHECKPOINT_MAGIC = b"NBMS2"
SENTIMENT_MEMORY = 0.5
"""Weight of the newest message in a customer's running sentiment."""
ADVANCE_EVERY_MS = 3_600_000
"""Event time between two sweeps of the churn model's pending labels."""
RECOMMENDER_CHECK_EVERY = 25
"""Every this many purchased lines, check the recommender's top 10 before it learns the line."""
TIER_MIN_CUSTOMERS = 50
"""Value snapshots needed before tiers are assigned."""
CHURN_CLICKS = frozenset({"email_click"})
"""Clickstream actions that rescore churn (and take its snapshots); other clicks do not. An
email open changes churn features too, but when it happens is the shop's doing (when it sent,
and the customer's inbox habit): scored there, the snapshots bunch at the hours the shop sends
at - in the closed loop that moved the offer bandit's regret from 0.66x to 0.80x of uniform
choice once opens came at the customers' inbox hours. The next visit, order or message scores
the open's features."""
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
    open_hours: OpenHours = field(default_factory=OpenHours)
    """Everyone's email opens by local hour: the prior of each customer's send time."""
    quality: dict[str, Prequential] = field(default_factory=lambda: {
        name: Prequential(name) for name in ("recommender", "sentiment", "churn")})
    cost: dict[str, Cost] = field(default_factory=lambda: {
        name: Cost(name) for name in ("recommender", "sentiment", "churn")})
    value_top_share: float = 0.2
    value_low_share: float = 0.3
    spike_alerts: dict[str, int] = field(default_factory=dict)
    events: int = 0
    """Events stepped here (each worker counts its own: they add up across workers)."""
    shared_events: int = 0
    """Events of other workers learnt from their lessons (orders, carts, texts: the others
    teach only that time passed)."""
    sharing: bool = False
    """Keep every lesson learnt here in ``lessons`` for the other workers."""
    lessons: list[Lesson] = field(default_factory=list)
    lesson_offsets: dict[int, int] = field(default_factory=dict)
    """Where this suite's learning from the lesson topic stands, per partition (checkpointed
    with it, so a worker restoring the checkpoint reads on from there)."""
    watermark: int = 0
    forgotten: dict[str, int] = field(default_factory=dict)
    """What the last erasure took out of this suite's models, by model."""
    erasures: int = 0
    """Erasures carried out: the next checkpoint must be written without the customer."""
    _advanced_at: int = 0
    _lines: int = 0
    _value_cuts: dict[str, stats.Quantile] = field(default_factory=dict)
    _values_seen: int = 0

    @property
    def progress(self) -> int:
        """How far the models have moved (events stepped here, lessons of others learnt,
        erasures): a checkpoint is due when it changed."""
        return self.events + self.shared_events + self.erasures

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Checkpoints from before shared learning lack its fields.
        defaults = {"shared_events": 0, "sharing": False, "lessons": [], "lesson_offsets": {},
                    "forgotten": {}, "erasures": 0, "open_hours": OpenHours()}
        self.__dict__.update({**defaults, **state, "lessons": []})

    def __post_init__(self) -> None:
        self._value_cuts = {"top": stats.Quantile(1 - self.value_top_share),
                            "low": stats.Quantile(self.value_low_share)}

    # --- learning -------------------------------------------------------------------------
    #
    # What an event teaches the models is a *lesson*: plain data (JSON-able), taken from the
    # event and the profile as it stands, and applied by ``learn``. The worker that steps the
    # event learns it at once and, when ``sharing``, keeps it in ``lessons`` to publish, so that
    # every other worker's models learn it too (``learn`` with ``shared=True``): the models of
    # every worker learn from every customer, whoever owns the customer.

    def observe(
        self, profile: CustomerProfile, family: str, event: dict[str, Any]
    ) -> Observation:
        """Learn from one event the profile has already absorbed; score the customer."""
        now = int(event["event_time"])
        customer = profile.customer_id
        sentiment: SentimentScore | None = None
        topics: tuple[str, ...] = ()
        spikes: tuple[SentimentSpike, ...] = ()
        lesson: Lesson = {"k": "event", "c": customer, "t": now}
        if family == "purchase" and event["kind"] == "order":
            lines = [{"item_id": line["item_id"], "category": line.get("category"),
                      "unit_price": line.get("unit_price")} for line in event.get("lines") or []]
            ordered = {line["item_id"] for line in lines}
            lesson.update(k="order", total=float(event["total"]), lines=lines,
                          history=[i for i in profile.items_bought if i not in ordered])
        elif family == "clickstream" and event["action"] == "add_to_cart" and event.get("item_id"):
            item = event["item_id"]
            lesson.update(k="cart", item=item, category=event.get("category"),
                          price=event.get("price"),
                          history=[i for i in profile.items_bought if i != item])
        elif family == "clickstream" and event["action"] == "email_open":
            lesson.update(k="open", hour=local_hour(now, zone(profile.timezone)))
        elif family == "review" and (event.get("text") or "").strip():
            with self.cost["sentiment"].measure():
                sentiment = self.sentiment.score(event["text"])
            rating = int(event["rating"])
            if rating != 3:
                self.quality["sentiment"].record((sentiment.positive >= 0.5) == (rating >= 4))
            topics = tag_topics(event["text"])
            lesson.update(k="review", text=event["text"], rating=rating,
                          negative=sentiment.negative, topics=list(topics))
        elif family == "support" and event.get("author") == "customer" and event.get("text"):
            with self.cost["sentiment"].measure():
                sentiment = self.sentiment.score(event["text"])
            polarity = sentiment.positive - sentiment.negative
            profile.sentiment = polarity if profile.sentiment is None else (
                SENTIMENT_MEMORY * polarity + (1 - SENTIMENT_MEMORY) * profile.sentiment)
            topics = tag_topics(event["text"])
            lesson.update(k="message", text=event["text"], negative=sentiment.negative,
                          topics=list(topics))
        self.events += 1
        spikes = self._learn_and_share(lesson)
        churn = None
        # A moment the customer showed themselves is when churn is scored (and snapshots for
        # its labels taken): not a page view, nor a parcel the shop moved.
        if family not in BUSINESS_FAMILIES and (
                family != "clickstream" or event["action"] in CHURN_CLICKS):
            churn = self._score_churn(profile, now)
        return Observation(churn, sentiment, topics, spikes)

    def learn(self, lesson: Lesson) -> None:
        """Learn what another worker's event taught (a lesson it published)."""
        if lesson["k"] in EVENT_LESSONS:
            self.shared_events += 1  # orders, carts and texts: the events that teach
        self._learn(lesson, origin=False)

    def take_lessons(self) -> list[Lesson]:
        """The lessons learnt here since the last call, for the other workers."""
        lessons, self.lessons = self.lessons, []
        return lessons

    def _learn_and_share(self, lesson: Lesson) -> tuple[SentimentSpike, ...]:
        if not self.sharing:
            return self._learn(lesson, origin=True)
        if lesson["k"] != "event":
            self.lessons.append(lesson)
            return self._learn(lesson, origin=True)
        # A page view and the like teach the models only that time passed: shared only when
        # churn labels came due by it (most events are such, and each lesson costs every worker).
        advanced = self._advanced_at
        spikes = self._learn(lesson, origin=True)
        if self._advanced_at != advanced:
            self.lessons.append({"k": "time", "t": lesson["t"]})
        return spikes

    def _learn(self, lesson: Lesson, *, origin: bool) -> tuple[SentimentSpike, ...]:
        kind, now = lesson["k"], int(lesson["t"])
        self.watermark = max(self.watermark, now)
        spikes: tuple[SentimentSpike, ...] = ()
        if kind == "order":
            self._learn_order(lesson["c"], now, lesson["total"], lesson["lines"],
                              list(lesson["history"]), check=origin)
        elif kind == "cart":
            with self.cost["recommender"].measure():
                self._know_item(lesson["item"], lesson["category"], lesson["price"])
                self.recommender.learn(lesson["c"], lesson["item"], time_ms=now,
                                       history=lesson["history"], weight=CART_WEIGHT)
        elif kind == "review":
            topics = tuple(lesson["topics"])
            with self.cost["sentiment"].measure():
                self.sentiment.learn(lesson["text"], lesson["rating"])
            self.digest.add(now, lesson["text"], lesson["negative"], topics, "review",
                            lesson.get("c", ""))
            rating = lesson["rating"]
            spikes = tuple(self.spikes.observe(topics, rating <= 2, now)) if rating != 3 else ()
        elif kind == "message":
            topics = tuple(lesson["topics"])
            self.digest.add(now, lesson["text"], lesson["negative"], topics, "support",
                            lesson.get("c", ""))
            spikes = tuple(self.spikes.observe(topics, lesson["negative"] > 0.5, now))
        elif kind == "open":
            self.open_hours.add(int(lesson["hour"]))
        elif kind == "snapshot":
            self._advance_labels(now)  # as where it was taken: labels due by then learnt first
            self._snapshot(lesson["c"], ChurnInputs(**lesson["inputs"]), now)
        elif kind == "forget":
            self.forgotten = self._forget([lesson["c"], *lesson.get("also", ())])
        elif kind == "outcome":
            self.offers.learn(lesson["context"], lesson["offer"], lesson["reward"])
        if origin:  # every worker sees the spike; the one whose event it was counts it
            self._count(spikes)
        if kind in EVENT_LESSONS or kind == "time":
            self._advance_labels(now)
        return spikes

    def _advance_labels(self, now: int) -> None:
        # Pending churn snapshots whose horizon passed are learnt as lapsed, once per hour of
        # event time (sorting them out on every event would cost more than it tells).
        if now - self._advanced_at >= ADVANCE_EVERY_MS and self.watermark > self._advanced_at:
            self._advanced_at = self.watermark
            with self.cost["churn"].measure():
                self.churn.advance(self.watermark)
            self._record_churn_labels()

    def _learn_order(self, customer: str, now: int, total: float, lines: list[dict[str, Any]],
                     history: list[str], *, check: bool) -> None:
        with self.cost["churn"].measure():
            self.churn.purchase(customer, now, total)
        self._record_churn_labels()
        with self.cost["recommender"].measure():
            for line in lines:
                item = line["item_id"]
                self._know_item(item, line.get("category"), line.get("unit_price"))
                self._lines += 1
                if check and self._lines % RECOMMENDER_CHECK_EVERY == 0 and history:
                    top = self.recommender.recommend(customer, 10, history=history)
                    self.quality["recommender"].record(item in {r.item_id for r in top})
                self.recommender.learn(customer, item, time_ms=now, history=history)
                history.append(item)

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
            at=item.get("event_time"),
        )

    def _count(self, spikes: tuple[SentimentSpike, ...]) -> None:
        for spike in spikes:
            self.spike_alerts[spike.topic] = self.spike_alerts.get(spike.topic, 0) + 1

    def _score_churn(self, profile: CustomerProfile, now: int) -> ChurnScore | None:
        if profile.orders == 0:
            return None
        with self.cost["churn"].measure():
            inputs = churn_inputs(profile)
            customer = profile.customer_id
            if self.churn.wants_snapshot(customer, now):
                score = self._snapshot(customer, inputs, now)
                if self.sharing:
                    self.lessons.append({"k": "snapshot", "c": customer, "t": now,
                                         "inputs": dataclasses.asdict(inputs)})
            else:
                score = self.churn.score(inputs, now)
        profile.scores.update(churn_scores(score))
        profile.scores["value_tier"] = self.value_tier(score.expected_value)
        return score

    def _snapshot(self, customer: str, inputs: ChurnInputs, now: int) -> ChurnScore:
        """Score the customer and keep the snapshot for its churn label; the value tiers learn
        the customer's expected value."""
        score = self.churn.observe(customer, inputs, now)
        self._values_seen += 1
        for cut in self._value_cuts.values():
            cut.update(score.expected_value)
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
        if now - self._advanced_at >= ADVANCE_EVERY_MS and max(
                self.watermark, now) > self._advanced_at:
            self._learn_and_share({"k": "time", "t": now})  # labels come due: every worker's
        self.watermark = max(self.watermark, now)
        return self._score_churn(profile, now)

    # --- answers --------------------------------------------------------------------------

    def recommend(
        self, profile: CustomerProfile, k: int, *, context: list[str] | None = None,
        visit: Sequence[str] = (),
    ) -> list[Recommendation]:
        """Top ``k`` items for the customer, most recent interests (``context``) weighted in,
        and what they look for in their current ``visit`` (its items, oldest first)."""
        history = [*profile.items_bought, *(context or [])]
        return self.recommender.recommend(profile.customer_id, k, history=history,
                                          shown=profile.shown, visit=visit)

    def in_stock(self, item_id: str, at: int | None = None) -> bool:
        """Whether an item may be shown (at event time ``at``): known (from the catalog every
        worker reads whole, or from an event) and not out of stock. An item never seen is not
        assumed to be there."""
        catalog = self.recommender.catalog
        return item_id in catalog.items and catalog.in_stock(item_id, at)

    def learn_outcome(self, outcome: Outcome) -> None:
        """A closed attribution window: the reward of the offer that was made, if any.

        Only sent offers teach the bandit (a control customer never saw one); the reward is 1
        when the customer took the offer up, by clicking it or by an order carrying the decision
        id. Orders alone come too rarely to tell offers apart within months; a click is the
        earliest sign that the offer suited the customer."""
        if outcome.sent and outcome.offer_id and outcome.context:
            taken_up = outcome.redeemed or outcome.clicked
            self._learn_and_share({"k": "outcome", "t": self.watermark,
                                   "context": dict(outcome.context), "offer": outcome.offer_id,
                                   "reward": 1.0 if taken_up else 0.0})

    def forget(self, customer_id: str, absorbed: Sequence[str] = ()) -> dict[str, int]:
        """Erase one customer's per-customer state from every model (every worker's, when
        sharing), under their id and the ids of the customers merged into them (``absorbed``):
        factorisation vectors, pending churn snapshots, their words among the digest's
        examples. Returns what this worker's models held of them, by model."""
        self._learn_and_share({"k": "forget", "c": customer_id, "also": list(absorbed),
                               "t": self.watermark})
        return self.forgotten

    def _forget(self, customer_ids: list[str]) -> dict[str, int]:
        self.erasures += 1
        factorization = self.recommender.factorization
        vectors = sum(1 for c in customer_ids
                      if factorization is not None and factorization.knows(c))
        for customer_id in customer_ids:
            self.recommender.forget(customer_id)
        return {"recommender": vectors,
                "churn_snapshots": sum(self.churn.forget(c) for c in customer_ids),
                "digest_examples": self.digest.forget(set(customer_ids))}

    def stats(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "shared_events": self.shared_events,
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


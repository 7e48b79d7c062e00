"""Business rules the engine core follows, as typed and frozen settings.

Every field can be set from the environment with the ``NEXTBEST_`` prefix, e.g.
``NEXTBEST_REFUND_ESCALATION_AMOUNT=150``.

>>> EngineSettings().repeat_contact_days
3.0
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

DAY_MS = 86_400_000
MINUTE_MS = 60_000


class EngineSettings(BaseSettings):
    """Thresholds of the first, rule-based decisions."""

    model_config = SettingsConfigDict(env_prefix="NEXTBEST_", frozen=True, extra="ignore")

    cart_reminder_delay_minutes: float = 30.0
    """An add-to-cart with no order after this long (event time) earns a reminder."""

    refund_escalation_amount: float = 200.0
    """A refund request above this amount goes to a human."""

    repeat_contact_days: float = 3.0
    """A second support contact within this many days goes to a human."""

    legal_words: tuple[str, ...] = (
        "lawyer",
        "attorney",
        "solicitor",
        "legal action",
        "sue ",
        "court",
        "ombudsman",
        "chargeback",
    )

    winback_gap_factor: float = 2.0
    """A customer is lapsing once their silence exceeds this multiple of their usual gap (their
    own mean gap shrunk towards the population's, see ``winback_gap_prior_weight``)."""

    winback_gap_prior_weight: float = 1.0
    """How many of a customer's own gaps the population's usual gap counts as when their usual
    gap is judged for a lapse (0: their own mean alone)."""

    winback_min_orders: int = 2
    """Customers need at least this many orders to have a usual gap of their own."""

    winback_min_gap_days: float = 7.0
    """Floor on the usual gap, so a burst of same-week orders does not trigger daily win-backs."""

    winback_quiet_days: float = 28.0
    """A silent customer seen at all (an email opened, a visit, a message) within this many days
    is not lapsing yet: the win-back waits until they have been quiet this long (0: no wait)."""

    winback_min_risk: float = 0.3
    """The churn model's risk (no order within its 90-day horizon) a silent customer must reach
    before a win-back goes out, once the model has warmed up. At 0.5 win-backs nearly stopped
    after warm-up (the risk of a silent customer rarely gets there); 0.3 kept the lapsing
    share of win-backs higher than no gate did in the closed loop."""

    winback_patience: float = 3.0
    """A low-risk silence is re-checked until it reaches this multiple of the lapse threshold."""

    value_top_share: float = 0.2
    """Customers in this top share of predicted value get personal outreach (win-back tier)."""

    value_low_share: float = 0.3
    """Customers in this bottom share of predicted value get a single email at most."""

    recommendations_per_message: int = 3
    """Recommended items a reminder, win-back or recovery message carries."""

    escalation_negative_sentiment: float = 0.85
    """A message this negative (model probability) from a high-value customer goes to a human."""

    bypass_negative_sentiment: float = 0.6
    """A high-value customer's repeat contact this negative skips the bot and goes to a human."""

    support_repeat_window_days: float = 7.0
    """A support contact this soon after the previous one is a repeat contact."""

    support_auto_answer_confidence: float = 0.6
    """Intent confidence a support message needs to be answered automatically (tier 1)."""

    support_negative_sentiment: float = 0.6
    """A support message this negative is drafted for an agent, never answered automatically."""

    recovery_base_discount: float = 10.0
    """Service recovery discount (percent) for a first-time, low-value customer."""

    recovery_max_discount: float = 30.0

    recovery_high_value: float = 500.0
    """Lifetime revenue at which a customer earns the maximum recovery gesture."""

    delay_apology_days: float = 2.0
    """A shipment whose new delivery date lies at least this many days past the promised one
    earns a proactive apology (with a gesture fitted to the customer), before they ask."""

    decision_ttl_days: float = 7.0
    """Decisions expire this long after they are made."""

    agenda_bucket_minutes: float = 1.0
    """Granularity of the event-time agenda that wakes customers up (win-back, cart reminder)."""

    # --- identity (src/nextbest/identity) -------------------------------------------------
    shared_identifier_limit: int = 3
    """A phone, POS id or device id seen with the emails, loyalty ids or customer numbers of
    more than this many distinct customers is shared (a family tablet, a store's till, a call
    centre's number): the merges it made are undone and it links nobody from then on."""

    # --- offers and follow-ups ------------------------------------------------------------
    offers: str = ""
    """The offer catalogue as a JSON list (see README); empty: the built-in catalogue."""
    account_owners: tuple[str, ...] = ("Key account team",)
    """Who top-tier win-back outreach tasks are addressed to (one picked per customer)."""
    winback_followup_days: float = 7.0
    """A middle-tier win-back sequence sends its second step this long after the first."""
    price_sensitive_share: float = 0.3
    """A customer who used a discount code on this share of orders is price sensitive."""
    offer_after_views: int = 3
    """Product views since the last order that make a known customer worth an offer."""
    loyalty_every_orders: int = 5
    """Every this many orders earns a loyalty reward."""
    review_request_min_sentiment: float = 0.2
    """A resolved conversation at least this positive (customer sentiment) earns a review
    request, if the customer never reviewed."""

    # --- guardrails (src/nextbest/guardrails) ---------------------------------------------
    quiet_hours_start: int = 21
    """Local hour (customer's time zone) from which no message reaches the customer..."""
    quiet_hours_end: int = 8
    """...until this local hour; a message decided in between waits. Equal hours: none."""
    default_timezone: str = "UTC"
    """Time zone of customers whose own is not known yet."""
    frequency_cap_per_day: int = 1
    """Messages per customer and channel within any 24 hours (service recovery exempt)."""
    frequency_cap_per_week: int = 3
    """Messages per customer over all channels within any 7 days (service recovery exempt)."""
    behavioural_delay_hours: float = 24.0
    """Decisions caused by browsing (cart reminder, next best offer) wait this long after it."""
    send_time_types: tuple[str, ...] = ("cart_reminder", "winback", "next_best_offer",
                                        "loyalty_reward", "review_request")
    """Marketing emails that wait for the local hour the customer usually opens email at (at
    most ``send_time_max_wait_hours``). Empty: every message goes out when it is decided."""
    send_time_offers: bool = False
    """Whether a message carrying an offer waits for it too: the offer was chosen for the moment
    it was decided (the time of day is part of the offer model's context)."""
    send_time_max_wait_hours: float = 24.0
    """Longest a message waits for the customer's hour; further away, it goes out at once."""
    complaint_suppression_days: float = 14.0
    """No marketing for this long after a complaint (negative message, escalation, 1-2 stars)."""
    complaint_negative_sentiment: float = 0.6
    """A customer's support message at least this negative counts as a complaint."""
    max_item_shows: int = 3
    """The same item is recommended to a customer at most this many times."""
    incentive_budget_per_day: float = 500.0
    """Incentive cost (currency units) one worker may commit per day of event time."""
    incentive_value_share: float = 0.1
    """An incentive costs at most this share of the customer's predicted value."""
    new_customer_value: float = 60.0
    """Predicted value assumed for a customer without orders (bounds their incentives)."""

    # --- experiments (src/nextbest/experiments) -------------------------------------------
    holdout_share: float = 0.1
    """Share of customers (deterministic by id) who receive no marketing: the control group."""
    experiment_salt: str = "nextbest-1"
    """Changing it reshuffles who is held out and which arm everyone is in."""
    experiment_arms: dict[str, dict[str, float]] = {}
    """A/B arms per decision type, e.g. ``{"winback": {"control": 0.5, "treatment": 0.5}}``;
    an arm named ``control`` is logged, not sent. Service decisions are never in the holdout,
    but one named here is split too (``{"delay_apology": {"control": 0.2, ...}}`` measures
    the complaints proactive apologies avoid)."""
    attribution_window_days: float = 7.0
    """Orders this long after a decision (sent or control) count as its outcome."""

    @property
    def cart_reminder_delay_ms(self) -> int:
        return int(self.cart_reminder_delay_minutes * MINUTE_MS)

    @property
    def repeat_contact_ms(self) -> int:
        return int(self.repeat_contact_days * DAY_MS)

    @property
    def agenda_bucket_ms(self) -> int:
        return max(1, int(self.agenda_bucket_minutes * MINUTE_MS))

    @property
    def delay_apology_ms(self) -> int:
        return int(self.delay_apology_days * DAY_MS)

    @property
    def send_time_max_wait_ms(self) -> int:
        return int(self.send_time_max_wait_hours * 3_600_000)

    @property
    def behavioural_delay_ms(self) -> int:
        return int(self.behavioural_delay_hours * 3_600_000)

    @property
    def attribution_window_ms(self) -> int:
        return int(self.attribution_window_days * DAY_MS)

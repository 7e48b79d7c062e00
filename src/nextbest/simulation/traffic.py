"""Shop-level processes: sign-ups, customer lifecycles, newsletters and the visit rate.

The visit rate keeps the whole shop at its target of events per simulated day: every simulated
day it measures how many events the customers' own rhythm produced (purchases, returns, support,
newsletters ...) and tops that up with window-shopping visits.
"""

from __future__ import annotations

from bisect import bisect_right
from functools import partial
from itertools import accumulate

from nextbest.simulation.aftercare import lapse_complaint
from nextbest.simulation.customers import DAY_MS, Persona
from nextbest.simulation.records import click, context, identity, ref
from nextbest.simulation.sessions import browse_visit, purchase_episode
from nextbest.simulation.world import HOUR_MS, SHOP, World

MINUTE_MS = 60_000


class Traffic:
    """Drives one simulation; ``emitted`` is counted by the caller for every event handed out."""

    def __init__(self, world: World, *, start_ms: int, events_per_day: float) -> None:
        self.w = world
        self.start_ms = start_ms
        self.target = events_per_day
        self.emitted = 0
        self._filler = 0  # events produced by window-shopping visits
        self._visits = 0
        self._seen = (0, 0)  # (emitted, filler) at the last daily check
        self._cum_activity = list(accumulate(p.activity for p in world.personas))
        self._signed_up = [start_ms] * len(world.personas)
        # A first guess of the rhythm-driven traffic; the daily check replaces it with measurements.
        self._natural = sum(8.0 / p.gap_days + 0.06 for p in world.personas)
        self._visit_rate = 0.0  # visits per ms
        self._armed = False

    def start(self) -> None:
        w, rng, start = self.w, self.w.rng, self.start_ms
        for p in w.personas:
            first_purchase = start + int(rng.uniform(0.0, p.gap_days) * DAY_MS)
            signed_up = start + int(rng.uniform(0.0, min(3 * DAY_MS, first_purchase - start)))
            self._signed_up[p.idx] = signed_up
            w.schedule(signed_up, p.idx, partial(self._sign_up, p))
            w.schedule(first_purchase, p.idx, partial(purchase_episode, w, p))
            if p.lapse_ms is None:
                continue
            if rng.random() < 0.5:
                complaint_at = p.lapse_ms - int(rng.uniform(5.0, 30.0) * DAY_MS)
                if complaint_at > start:
                    w.schedule(complaint_at, p.idx, partial(lapse_complaint, w, p))
            if rng.random() < 0.15:
                revoke_at = p.lapse_ms + int(rng.uniform(0.0, 30.0) * DAY_MS)
                w.schedule(revoke_at, p.idx, partial(self._revoke, p, "email"))
        for p in w.personas:
            if rng.random() < 0.003:
                w.schedule(start + int(rng.uniform(30.0, 365.0) * DAY_MS), SHOP,
                           partial(self._erase, p))
        w.schedule(start, SHOP, self._daily)
        w.schedule(start + DAY_MS + 9 * HOUR_MS, SHOP, self._newsletter)

    # --- customer lifecycle -------------------------------------------------------------------
    def _sign_up(self, p: Persona, time_ms: int) -> None:
        w, t = self.w, time_ms
        profile = ref(customer_id=p.customer_id, email=p.email, phone=p.phone)
        w.emit(t, p.idx, "identity", identity(w.new_id("ev"), t, profile, "profile_updated",
                                              timezone=p.timezone, country=p.country))
        for channel in p.consents:
            t += 1000
            who = ref(customer_id=p.customer_id, email=p.email if channel == "email" else None,
                      phone=p.phone if channel == "sms" else None,
                      device_id=p.devices[0] if channel == "push" else None)
            w.emit(t, p.idx, "identity", identity(w.new_id("ev"), t, who, "consent_granted",
                                                  consent_channel=channel))

    def _revoke(self, p: Persona, channel: str, time_ms: int) -> None:
        self.w.revoked.add((p.idx, channel))
        self.w.emit(time_ms, p.idx, "identity", identity(
            self.w.new_id("ev"), time_ms, ref(email=p.email), "consent_revoked",
            consent_channel=channel))

    def _erase(self, p: Persona, time_ms: int) -> None:
        # Owned by the shop so that the request itself survives the customer's erasure.
        self.w.emit(time_ms, SHOP, "identity", identity(
            self.w.new_id("ev"), time_ms, ref(customer_id=p.customer_id, email=p.email),
            "erasure_requested"))
        self.w.erased[p.idx] = True

    # --- newsletters --------------------------------------------------------------------------
    def _newsletter(self, time_ms: int) -> None:
        """The weekly newsletter: opens and clicks fade as a customer drifts away."""
        w, rng = self.w, self.w.rng
        w.schedule(time_ms + 7 * DAY_MS, SHOP, self._newsletter)
        for p in w.personas:
            if w.erased[p.idx] or time_ms < self._signed_up[p.idx]:
                continue
            engaged = p.engagement(time_ms)
            if "push" in p.consents and rng.random() < 0.15 * engaged:
                t = w.awake(p, time_ms + int(rng.expovariate(1.0 / (2 * HOUR_MS))))
                ctx = context(device="mobile", channel="push", country=p.country,
                              timezone=p.timezone, session_id=None)
                w.emit(t, p.idx, "clickstream", click(
                    w.new_id("ev"), t, ref(device_id=p.devices[0]), "push_open", ctx=ctx))
            if "email" not in p.consents or (p.idx, "email") in w.revoked:
                continue
            if rng.random() >= p.open_rate * engaged:
                continue
            drawn = w.awake(p, time_ms + int(min(rng.expovariate(1.0 / (6 * HOUR_MS)),
                                                 3 * DAY_MS)))
            # Read when the customer reads email; the minute within that hour comes from the
            # draw above (kept, so the rest of the shop's traffic is drawn as before).
            t = p.inbox_check(time_ms) + MINUTE_MS + (drawn - time_ms) % (44 * MINUTE_MS)
            ctx = context(device="desktop", channel="email", country=p.country,
                          timezone=p.timezone, session_id=None)
            who = ref(email=p.email)
            w.emit(t, p.idx, "clickstream", click(w.new_id("ev"), t, who, "email_open", ctx=ctx))
            index = w.pick_item(p) if rng.random() < 0.3 * engaged + 0.05 else None
            if index is not None:
                item = w.items[index]
                t += int(rng.uniform(10.0, 120.0) * 1000)
                w.emit(t, p.idx, "clickstream", click(
                    w.new_id("ev"), t, who, "email_click", ctx=ctx, item_id=item.item_id,
                    category=item.category, price=item.price, url=f"/p/{item.item_id}"))

    # --- window shopping ----------------------------------------------------------------------
    def _daily(self, time_ms: int) -> None:
        """Re-aim the visit rate at the target, from what the last simulated day produced."""
        emitted, filler = self.emitted - self._seen[0], self._filler - self._seen[1]
        self._seen = (self.emitted, self._filler)
        if time_ms > self.start_ms:
            self._natural = 0.5 * self._natural + 0.5 * (emitted - filler)
        per_visit = self._filler / self._visits if self._visits else 4.0
        self._visit_rate = max(0.0, self.target - self._natural) / per_visit / DAY_MS
        self.w.schedule(time_ms + DAY_MS, SHOP, self._daily)
        if not self._armed and self._visit_rate > 0.0:
            self._armed = True
            self._next_visit(time_ms)

    def _next_visit(self, time_ms: int) -> None:
        gap = int(self.w.rng.expovariate(self._visit_rate)) + 1
        self.w.schedule(time_ms + gap, SHOP, self._visit)

    def _visit(self, time_ms: int) -> None:
        w, rng = self.w, self.w.rng
        x = rng.random() * self._cum_activity[-1]
        p = w.personas[min(bisect_right(self._cum_activity, x), len(w.personas) - 1)]
        # A customer drifting away visits less; someone new browses in their place.
        keep = not w.erased[p.idx] and rng.random() < p.engagement(time_ms)
        self._filler += browse_visit(w, time_ms, p if keep else None)
        self._visits += 1
        if self._visit_rate <= 0.0:
            self._armed = False
            return
        self._next_visit(time_ms)

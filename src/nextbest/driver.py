"""The one loop that drives the engine: resolve -> step -> agenda -> wake.

The streaming worker, the closed-loop simulation, the engine benchmark and replays all run
customers through this module, so they measure and decide the same way.

* :class:`CustomerPartition` holds the customers of one partition: their profiles (any
  :class:`ProfileStore`), the agenda of who to wake when, and the partition's event-time clock.
  Its calls return :class:`~nextbest.engine.StepResult` s for the caller to publish (decisions,
  verdicts, outcomes) and, for merges, the messages that must reach another partition.
* :class:`InProcess` adds identity resolution in front of one partition holding every customer:
  the whole pipeline in one process, with merges carried out at once. Its ``feed`` returns a
  :class:`Fed`: what the event's merges, its step and the wakes it let through each made.

A merge happens in two halves because the two profiles may live on different partitions (and
workers): the absorbed customer's partition leaves a tombstone pointing at the survivor and hands
the profile over (:meth:`CustomerPartition.merge_out`), the survivor's partition folds it in
(:meth:`CustomerPartition.absorb`). An event still in flight to the absorbed id meets the
tombstone and is passed on (:meth:`CustomerPartition.step` returns a :class:`Redirect`).

>>> from nextbest.engine import Engine
>>> NOON = 1_700_049_600_000
>>> loop = InProcess(Engine())
>>> ret = {"event_id": "e1", "event_time": NOON, "customer": {"email": "lisa@example.com"},
...        "kind": "return", "order_id": "o1", "total": 59.0, "currency": "EUR",
...        "channel": "pos", "discount_codes": [], "decision_id": None,
...        "return_reason": "defective",
...        "lines": [{"item_id": "dress-1", "category": "dresses", "quantity": 1,
...                   "unit_price": 59.0}]}
>>> [d.decision_type for r in loop.feed("purchase", ret).results for d in r.decisions]
['service_recovery']
>>> loop.feed("purchase", ret).results  # re-delivered: nothing new
[]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from nextbest.agenda import Agenda
from nextbest.engine import Engine, StepResult
from nextbest.identity import IdentityGraph, Split
from nextbest.identity.graph import SPLIT_REQUESTED
from nextbest.profile.split import separate_profiles
from nextbest.profile.state import CustomerProfile


class ProfileStore(Protocol):
    """Where a partition's profiles live: a dict in process, a changelogged store in a worker."""

    def get(self, customer_id: str) -> CustomerProfile | None: ...

    def put(self, profile: CustomerProfile) -> None: ...

    def delete(self, customer_id: str) -> None: ...

    def wake_times(self) -> Iterator[tuple[str, int]]:
        """(customer, earliest due moment) of every profile waiting to be woken."""
        ...


class DictProfiles(dict[str, CustomerProfile]):
    """Profiles in a plain dict (in-process runs and tests)."""

    def put(self, profile: CustomerProfile) -> None:
        self[profile.customer_id] = profile

    def delete(self, customer_id: str) -> None:
        self.pop(customer_id, None)

    def wake_times(self) -> Iterator[tuple[str, int]]:
        for customer_id, profile in self.items():
            if profile.due:
                yield customer_id, min(profile.due.values())


@dataclass(frozen=True, slots=True)
class Redirect:
    """The event's customer was merged into ``survivor`` while the event was on its way."""

    survivor: str


@dataclass(frozen=True, slots=True)
class SplitOff:
    """The first half of a split done: the absorbed customer is its own again."""

    result: StepResult
    survivor: str
    """The customer it had been merged into: what it brought is taken out there."""
    snapshot: dict[str, Any]
    """Its profile as it was at the merge."""


@dataclass(frozen=True)
class Erased:
    """What an erasure found of a customer on their partition."""

    profile: bool
    absorbed: list[str]
    """Ids of the customers merged into them (their tombstones are elsewhere)."""
    models: dict[str, int]
    """What the models held of them, by model (``ModelSuite.forget``)."""


class CustomerPartition:
    """The customers of one partition, their agenda and their event-time clock."""

    def __init__(self, engine: Engine, profiles: ProfileStore | None = None) -> None:
        self.engine = engine
        self.profiles: ProfileStore = profiles if profiles is not None else DictProfiles()
        self.agenda = Agenda({}, scope="partition", bucket_ms=engine.settings.agenda_bucket_ms)
        self.clock = 0
        """The highest event time this partition has seen (events and ticks)."""
        for customer_id, at in self.profiles.wake_times():
            self.agenda.schedule(customer_id, at)

    def step(self, customer_id: str, family: str, event: dict[str, Any]
             ) -> StepResult | Redirect | None:
        """One event for one customer. ``None`` for an event already stepped (re-delivered)."""
        profile = self.profiles.get(customer_id)
        if profile is not None and profile.merged_into:
            return Redirect(profile.merged_into)
        result = self.engine.step(profile, customer_id, family, event)
        if result.duplicate:
            return None
        self._commit(result)
        return result

    def merge_out(self, absorbed_id: str, survivor_id: str) -> dict[str, Any] | None:
        """First half of a merge, on the absorbed customer's partition: leave a tombstone (so
        events still on their way to the absorbed id follow it) and return the profile to hand
        to the survivor (None if there is none yet, or it already left). The tombstone keeps
        the profile as it was, for a split to restore (:meth:`split_off`).
        """
        absorbed = self.profiles.get(absorbed_id)
        if absorbed is not None and absorbed.merged_into:
            return None
        handed = absorbed.to_dict() if absorbed is not None else None
        tombstone = CustomerProfile.from_dict(handed) if handed else CustomerProfile(absorbed_id)
        tombstone.merged_into = survivor_id
        self.profiles.put(tombstone)
        return handed

    def absorb(self, survivor_id: str, absorbed: dict[str, Any]
               ) -> StepResult | Redirect | None:
        """Second half of a merge, on the survivor's partition (idempotent). A survivor that
        was itself merged into another customer while the profile was on its way hands it
        on (``Redirect``): folded into its tombstone, it would be lost."""
        profile = CustomerProfile.from_dict(absorbed)
        survivor = self.profiles.get(survivor_id) or CustomerProfile(survivor_id)
        if survivor.merged_into:
            survivor.passed_on[profile.customer_id] = survivor.merged_into
            self.profiles.put(survivor)
            return Redirect(survivor.merged_into)
        if profile.customer_id in survivor.merged_from:
            return None
        result = StepResult(self.engine.merge(survivor, profile))
        self._commit(result)
        return result

    def split_off(self, absorbed_id: str) -> SplitOff | None:
        """First half of a split, on the absorbed customer's partition: the profile its
        tombstone kept from the merge is the customer's own again. None when it is not merged
        (split already, or it had no profile when it was absorbed)."""
        tombstone = self.profiles.get(absorbed_id)
        if tombstone is None or not tombstone.merged_into:
            return None
        survivor, snapshot = tombstone.merged_into, tombstone.to_dict()
        result = StepResult(self.engine.restore(tombstone))
        self._commit(result)
        return SplitOff(result, survivor, snapshot)

    def release(self, survivor_id: str, absorbed: dict[str, Any]
                ) -> StepResult | Redirect | None:
        """Second half of a split, on the survivor's partition: take what the absorbed profile
        brought back out (idempotent). A survivor merged into another customer since keeps
        the absorbed one out of its own tombstone, and the release moves on (``Redirect``);
        so does one the absorbed profile only passed through (``passed_on``)."""
        profile = CustomerProfile.from_dict(absorbed)
        survivor = self.profiles.get(survivor_id)
        if survivor is None:
            return None
        went_on = survivor.passed_on.pop(profile.customer_id, None)
        if went_on is not None:  # it reached this one absorbed already and went on
            self.profiles.put(survivor)
            return Redirect(went_on)
        if profile.customer_id not in survivor.merged_from:
            return None
        if survivor.merged_into:
            self.profiles.put(separate_profiles(survivor, profile))
            return Redirect(survivor.merged_into)
        result = StepResult(self.engine.separate(survivor, profile))
        self._commit(result)
        return result

    def erase(self, customer_id: str) -> Erased:
        """Forget a customer's profile and what the models hold of them, under their id and
        the ids of the customers merged into them. Those ids' tombstones may live on other
        partitions: the caller removes them (:meth:`erase_tombstone`)."""
        profile = self.profiles.get(customer_id)
        absorbed = list(profile.merged_from) if profile is not None else []
        self.profiles.delete(customer_id)
        models = self.engine.forget(customer_id, absorbed)
        return Erased(profile is not None, absorbed, models)

    def erase_tombstone(self, absorbed_id: str) -> bool:
        """Remove what is left of a customer merged into an erased one: the tombstone that
        points at the survivor and keeps the profile as it was at the merge (for a split).
        True if there was one."""
        profile = self.profiles.get(absorbed_id)
        if profile is None or profile.merged_into is None:
            return False
        self.profiles.delete(absorbed_id)
        return True

    def advance(self, now: int) -> list[StepResult]:
        """Move event time on to ``now`` and wake every customer whose moment has come."""
        return list(self.waking(now))

    def any_due(self, now: int) -> bool:
        """Whether :meth:`waking` at ``now`` would wake anyone: a cheap look, no engine work
        (most events find nobody due)."""
        return self.agenda.any_due(max(now, self.clock))

    def waking(self, now: int) -> Iterator[StepResult]:
        """``advance``, one woken customer at a time (a caller may do other work between)."""
        if now > self.clock:
            self.clock = now
        for customer_id in self.agenda.pop_due(self.clock):
            profile = self.profiles.get(customer_id)
            if profile is None or profile.merged_into:
                continue
            result = self.engine.wake(profile, self.clock)
            self._commit(result)
            yield result

    def wake_every(self, now: int) -> list[StepResult]:
        """Move event time on to ``now`` and wake every customer with a due moment, reached or
        not, in the profiles' order (the end of a run: every window still open closes). The
        agenda alone would not do: it lets a bucket through only once event time has passed it
        whole."""
        if now > self.clock:
            self.clock = now
        waiting = [customer_id for customer_id, _ in self.profiles.wake_times()]
        results = []
        for customer_id in waiting:
            profile = self.profiles.get(customer_id)
            if profile is None or profile.merged_into or not profile.due:
                continue
            result = self.engine.wake(profile, self.clock)
            self._commit(result)
            results.append(result)
        return results

    def _commit(self, result: StepResult) -> None:
        self.profiles.put(result.profile)
        if result.wake_at is not None:
            self.agenda.schedule(result.profile.customer_id, result.wake_at)


@dataclass(frozen=True, slots=True)
class Merge:
    """A merge carried out in-process: the absorbed profile as handed over, and the survivor."""

    absorbed: CustomerProfile
    """The absorbed customer's profile as it left (its history, its open exposures)."""
    result: StepResult
    """The survivor with the absorbed profile folded in."""


@dataclass(slots=True)
class Fed:
    """What one event fed in-process made, by where it came from."""

    customer_id: str | None = None
    """The canonical customer the event was resolved to (None for a catalog event or a split
    request)."""
    splits: list[StepResult] = field(default_factory=list)
    """Merges undone before the event's own merges: restored customers and the survivors
    they left (a split request, or an identifier of the event turning out shared)."""
    merges: list[Merge] = field(default_factory=list)
    """Merges the event's identifiers caused, carried out before its step."""
    stepped: StepResult | None = None
    """The event's own step (None for a catalog event or one already stepped)."""
    woken: list[StepResult] = field(default_factory=list)
    """Customers woken once the event had passed, in the agenda's order."""
    now: int = 0
    """The partition's clock after the event: the moment the wakes were made at."""

    @property
    def results(self) -> list[StepResult]:
        """Every result in the order it was made: splits, merges, the step, the wakes."""
        stepped = [self.stepped] if self.stepped is not None else []
        return [*self.splits, *(m.result for m in self.merges), *stepped, *self.woken]


class InProcess:
    """Identity resolution and one partition holding every customer: the pipeline in-process.

    ``feed`` resolves an event's customer, carries out any split and merge it causes, steps it
    and wakes whoever is due by its event time; a split request is carried out, not stepped.
    Only customers' events move the clock (as in the stream, whose router ticks the partitions
    from the events it routed); ``tick`` moves it otherwise.
    """

    def __init__(self, engine: Engine, graph: IdentityGraph | None = None,
                 profiles: ProfileStore | None = None) -> None:
        self.engine = engine
        self.graph = graph if graph is not None else IdentityGraph(
            {}, engine.settings.shared_identifier_limit)
        self.partition = CustomerPartition(engine, profiles)

    @property
    def profiles(self) -> ProfileStore:
        return self.partition.profiles

    @property
    def clock(self) -> int:
        return self.partition.clock

    def feed(self, family: str, event: dict[str, Any]) -> Fed:
        """Raises :class:`~nextbest.errors.UnprocessableEvent` for an event naming nobody."""
        if family == "catalog":
            self.engine.models.update_catalog(event)
            return Fed(now=self.partition.clock)
        at = int(event["event_time"])
        if family == "identity" and event.get("kind") == SPLIT_REQUESTED:
            splits = self.split(self.graph.split(event.get("customer"), at,
                                                 request=event.get("event_id")))
            return Fed(splits=splits, now=self.partition.clock)
        resolution = self.graph.resolve(event.get("customer"), at)
        customer_id = resolution.customer_id
        fed = Fed(customer_id, self.split(resolution.splits))
        profiles = self.partition.profiles
        for absorbed_id in resolution.merged:
            absorbed = profiles.get(absorbed_id)
            handed = self.partition.merge_out(absorbed_id, customer_id)
            if handed is None or absorbed is None:
                continue
            merged = self.partition.absorb(customer_id, handed)
            assert not isinstance(merged, Redirect)  # the live customer is nobody's tombstone
            if merged is not None:
                fed.merges.append(Merge(absorbed, merged))
        stepped = self.partition.step(customer_id, family, event)
        assert not isinstance(stepped, Redirect)  # one process: nothing is ever in flight
        fed.stepped = stepped
        fed.woken = self.partition.advance(int(event["event_time"]))
        fed.now = self.partition.clock
        return fed

    def split(self, splits: list[Split]) -> list[StepResult]:
        """Merges the graph undid: each absorbed customer restored, then what it brought taken
        out of the customer that holds it now."""
        results = []
        for split in splits:
            off = self.partition.split_off(split.absorbed)
            if off is None:
                continue
            results.append(off.result)
            released = self.partition.release(off.survivor, off.snapshot)
            while isinstance(released, Redirect):
                released = self.partition.release(released.survivor, off.snapshot)
            if released is not None:
                results.append(released)
        return results

    def tick(self, now: int) -> list[StepResult]:
        """Event time passing without a customer's event: wake whoever is due by ``now``."""
        return self.partition.advance(now)

    def wake_all(self, now: int) -> list[StepResult]:
        """Wake every customer with a due moment, reached or not, at ``now`` (the end of a
        run)."""
        return self.partition.wake_every(now)

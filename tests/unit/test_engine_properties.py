"""Properties of the engine step over any sequence of valid events (hypothesis).

Events come from ``tests/strategies.py``: every customer family, customers that share
identifiers (so merges happen), event time moving by minutes to weeks (so timers fire, win-backs
and held decisions come due), with the guardrails as configured by default and relaxed.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from nextbest.codec import default_codec
from nextbest.decisions.policies import DECISION_TYPES
from nextbest.decisions.record import Decision
from nextbest.driver import DictProfiles, InProcess
from nextbest.engine import Engine, StepResult
from nextbest.errors import UnprocessableEvent
from nextbest.identity import IdentityGraph
from nextbest.identity.graph import SPLIT_REQUESTED
from nextbest.identity.shared import SEEN
from nextbest.profile.state import RECENT_EVENTS, CustomerProfile
from nextbest.settings import EngineSettings
from tests.events import DAY, MINUTE, click, identity, order, policy_settings
from tests.strategies import event_sequences

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target,
                            Phase.shrink])  # not explain: its tracing takes minutes on 3.11
MAX_EVENTS = 30
assert MAX_EVENTS * 2 < RECENT_EVENTS  # every re-delivery below is within the dedup window
configurations = st.sampled_from(["default", "relaxed"])
REASON = re.compile(r"[a-z][a-z_]*")


def pipeline(configuration: str, **overrides: Any) -> tuple[InProcess, dict[str, Any]]:
    """The pipeline in-process, and the store of its identity graph."""
    engine = Engine(EngineSettings(**overrides) if configuration == "default"
                    else policy_settings(**overrides))
    graph: dict[str, Any] = {}
    limit = engine.settings.shared_identifier_limit
    return InProcess(engine, IdentityGraph(graph, limit), DictProfiles()), graph


def run(loop: InProcess, sequence: list[tuple[str, dict[str, Any]]]) -> list[StepResult]:
    """Feed every event, then wake everyone at the end; every result, in order."""
    results = []
    for family, event in sequence:
        results += feed(loop, family, event)
    return results + loop.wake_all(loop.clock + 120 * DAY)


def feed(loop: InProcess, family: str, event: dict[str, Any]) -> list[StepResult]:
    """What one event made; nothing for one the engine refuses, which must say why (it goes to
    the dead-letter topic with that reason, e.g. an event naming only shared identifiers)."""
    try:
        return loop.feed(family, event).results
    except UnprocessableEvent as refused:
        assert REASON.fullmatch(refused.reason), refused.reason
        return []


def explained(decision: Decision, customer_id: str, status: str, rule: str | None) -> None:
    """What a decision record needs: its reasons first, and a record the codec writes."""
    assert decision.reasons, f"{decision.decision_type} without reasons"
    for reason in decision.reasons:
        assert reason.code.strip() and reason.text.strip(), reason
    assert decision.decision_type in DECISION_TYPES
    assert decision.customer_id == customer_id
    assert decision.decision_id.startswith(f"{decision.decision_type}-")
    assert decision.causing_event_id and decision.causing_event_time > 0
    assert decision.decided_at >= decision.causing_event_time > 0
    if status == "sent":  # what is sent has not expired (a held one may expire meanwhile)
        assert decision.expires_at is None or decision.expires_at >= decision.decided_at
    record = decision.to_record(created_at=decision.decided_at, status=status,
                                suppressed_by=rule)
    decoded = default_codec().decode_decision(default_codec().encode_decision(record))
    assert decoded["reasons"] == record["reasons"]
    assert Decision.from_record(decoded) == decision


@PROPERTY
@given(sequence=event_sequences(max_size=MAX_EVENTS), configuration=configurations)
def test_any_sequence_steps_and_every_decision_explains_itself(
        sequence: list[tuple[str, dict[str, Any]]], configuration: str) -> None:
    loop, _ = pipeline(configuration)
    sent: list[str] = []
    for result in run(loop, sequence):
        customer_id = result.profile.customer_id
        for decision in result.decisions:
            explained(decision, customer_id, "sent", None)
        for entry in result.logged:
            explained(entry.decision, customer_id, entry.status, entry.rule)
        sent += [decision.decision_id for decision in result.decisions]
    assert len(sent) == len(set(sent)), "a decision was sent twice"


NEVER_SHARED = {"shared_identifier_limit": 1_000_000}
"""Re-deliveries are checked with no identifier marked shared by count: an event re-delivered
after one of its identifiers became shared is resolved without it, so it may land elsewhere
(re-sighting no longer counts one person twice:
test_an_identity_seen_again_is_not_counted_twice)."""


@st.composite
def redeliveries(draw: st.DrawFn) -> tuple[list[tuple[str, dict[str, Any]]], list[int]]:
    """A sequence, and for each delivery the index of the event delivered: every event once in
    order, and copies of customer events again at any later position. Without split requests:
    an event re-delivered after one is resolved anew (it may link again what was split); a split
    request re-delivered undoes nothing (test_a_redelivered_split_request_undoes_nothing_more)."""
    sequence = [(family, event) for family, event in draw(event_sequences(max_size=MAX_EVENTS))
                if event.get("kind") != SPLIT_REQUESTED]
    order = list(range(len(sequence)))
    customer_events = [i for i, (family, _) in enumerate(sequence) if family != "catalog"]
    if not customer_events:
        return sequence, order
    for original in draw(st.lists(st.sampled_from(customer_events), min_size=1, max_size=8)):
        first = order.index(original)
        order.insert(draw(st.integers(first + 1, len(order))), original)
    return sequence, order


@PROPERTY
@given(case=redeliveries(), configuration=configurations)
def test_a_redelivered_event_changes_nothing(
        case: tuple[list[tuple[str, dict[str, Any]]], list[int]], configuration: str) -> None:
    sequence, order = case
    loop, graph = pipeline(configuration, **NEVER_SHARED)
    results: list[StepResult] = []
    delivered: set[int] = set()
    for index in order:
        family, event = sequence[index]
        if index not in delivered:
            delivered.add(index)
            results += feed(loop, family, event)
            continue
        profiles, identities = snapshot(loop), links(graph)
        assert feed(loop, family, event) == [], f"re-delivered {event['event_id']} made something"
        assert snapshot(loop) == profiles
        assert links(graph) == identities
    results += loop.wake_all(loop.clock + 120 * DAY)
    # The run as a whole decides exactly as a run that saw each event once.
    once, _ = pipeline(configuration, **NEVER_SHARED)
    assert sent(results) == sent(run(once, sequence))
    assert snapshot(once) == snapshot(loop)


def links(graph: dict[str, Any]) -> dict[str, Any]:
    """The identity graph but its sightings of weak identifiers (see NEVER_SHARED)."""
    return copy.deepcopy({key: value for key, value in graph.items()
                          if not key.startswith(SEEN)})


def snapshot(loop: InProcess) -> dict[str, Any]:
    profiles = loop.profiles
    assert isinstance(profiles, DictProfiles)
    return {customer_id: profile.to_dict() for customer_id, profile in profiles.items()}


def sent(results: list[StepResult]) -> list[str]:
    return [decision.decision_id for result in results for decision in result.decisions]


# --- What the properties found --------------------------------------------------------------

NIGHT = 1_700_000_000_000 - 800_000  # 2023-11-14T22:00Z: quiet hours by default


def test_a_decision_held_for_an_absorbed_customer_goes_out_under_the_survivor() -> None:
    """It went out under the absorbed customer's id, whose profile is a tombstone."""
    engine = Engine(EngineSettings())
    held = engine.step(None, "nb-b", "purchase", order(NIGHT, "o-1", kind="return",
                                                        reason="defective"))
    assert [(e.decision.decision_type, e.status) for e in held.logged] == [
        ("service_recovery", "deferred")]
    assert held.wake_at is not None
    merged = engine.merge(CustomerProfile("nb-a"), held.profile)
    (released,) = engine.wake(merged, held.wake_at).decisions
    assert (released.decision_type, released.customer_id) == ("service_recovery", "nb-a")


def test_an_identity_seen_again_is_not_counted_twice() -> None:
    """Three people share a phone and the limit is three: Lisa, whose email first came with the
    phone (merged into the phone's customer), counts once however often she comes back with it
    or her first event is re-delivered."""
    graph = IdentityGraph({}, shared_limit=3)
    phone = "+44 20 7946 0018"
    graph.resolve({"phone": phone})
    for email in ("lisa@example.com", "lisa@example.com", "john@example.org",
                  "hannah@example.net"):
        graph.resolve({"email": email, "phone": phone})
    assert not graph.shared.is_shared("phone:+442079460018")


def test_a_redelivered_split_request_undoes_nothing_more() -> None:
    loop = InProcess(Engine(policy_settings()))
    lisa, john = {"email": "lisa@example.com"}, {"email": "john@example.org"}
    loop.feed("clickstream", click(1 * MINUTE, "page_view", customer=lisa))
    loop.feed("clickstream", click(2 * MINUTE, "page_view", customer=john))
    loop.feed("clickstream", click(3 * MINUTE, "page_view", customer={**lisa, "loyalty_id": "L"}))
    loop.feed("clickstream", click(4 * MINUTE, "page_view", customer={**john, "loyalty_id": "L"}))
    split = identity(5 * MINUTE, SPLIT_REQUESTED, customer={"loyalty_id": "L"})
    assert loop.feed("identity", split).results  # the card's merge undone
    loop.feed("clickstream", click(6 * MINUTE, "page_view", customer={**john, "loyalty_id": "L"}))
    same = loop.graph.lookup("email:lisa@example.com")
    assert same == loop.graph.lookup("email:john@example.org")  # linked again since

    assert loop.feed("identity", split).results == []  # re-delivered
    assert loop.graph.lookup("email:john@example.org") == same

from __future__ import annotations

from nextbest.agenda import Agenda

MIN = 60_000


def test_customers_wake_once_their_bucket_has_passed() -> None:
    agenda = Agenda({}, scope="0", bucket_ms=MIN)
    agenda.schedule("a", 10 * MIN + 5)
    agenda.schedule("b", 12 * MIN)
    assert agenda.pop_due(10 * MIN + 30_000) == []  # bucket 10 not complete yet
    assert agenda.pop_due(11 * MIN) == ["a"]
    assert agenda.pop_due(11 * MIN) == []
    assert agenda.pop_due(20 * MIN) == ["b"]


def test_scheduling_in_the_past_fires_with_the_next_sweep() -> None:
    agenda = Agenda({}, scope="0", bucket_ms=MIN)
    agenda.schedule("a", 5 * MIN)
    assert agenda.pop_due(50 * MIN) == ["a"]
    agenda.schedule("late", 3 * MIN)  # already due: must not be lost behind the cursor
    assert agenda.pop_due(51 * MIN) == ["late"]


def test_scopes_share_a_store_without_mixing() -> None:
    store: dict = {}
    p0, p1 = Agenda(store, scope="0", bucket_ms=MIN), Agenda(store, scope="1", bucket_ms=MIN)
    p0.schedule("a", MIN)
    p1.schedule("b", MIN)
    assert p0.pop_due(10 * MIN) == ["a"]
    assert p1.pop_due(10 * MIN) == ["b"]


def test_a_restarted_agenda_continues_from_the_store() -> None:
    store: dict = {}
    Agenda(store, scope="0", bucket_ms=MIN).schedule("a", 30 * MIN)
    assert Agenda(store, scope="0", bucket_ms=MIN).pop_due(40 * MIN) == ["a"]


def test_duplicates_in_a_bucket_are_woken_once() -> None:
    agenda = Agenda({}, scope="0", bucket_ms=MIN)
    agenda.schedule("a", MIN)
    agenda.schedule("a", MIN + 1)
    agenda.schedule("a", 3 * MIN)
    assert agenda.pop_due(10 * MIN) == ["a"]


def test_keys_that_are_not_buckets_are_ignored() -> None:
    store: dict = {"agenda:0:cursor": 5, "agenda:0:7": ["a"]}
    assert Agenda(store, scope="0", bucket_ms=MIN).pop_due(10 * MIN) == ["a"]

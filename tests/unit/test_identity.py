from __future__ import annotations

import pytest

from nextbest.errors import UnprocessableEvent
from nextbest.identity import IdentityGraph


def test_same_identifier_resolves_to_same_customer() -> None:
    graph = IdentityGraph({})
    first = graph.resolve({"email": "Lisa@Example.com"})
    again = graph.resolve({"email": "lisa@example.com "})
    assert first.customer_id == again.customer_id
    assert first.new_identifiers == ["email:lisa@example.com"] and again.new_identifiers == []


def test_new_identifier_seen_with_a_known_one_joins_that_customer() -> None:
    graph = IdentityGraph({})
    lisa = graph.resolve({"email": "lisa@example.com"}).customer_id
    pos = graph.resolve({"email": "lisa@example.com", "pos_id": "POS-7"})
    assert pos.customer_id == lisa and pos.merged == []
    assert graph.lookup("pos_id:POS-7") == lisa


def test_three_profiles_linked_in_one_event_merge_into_the_smallest_id() -> None:
    graph = IdentityGraph({})
    ids = [graph.resolve(ref).customer_id
           for ref in ({"device_id": "d"}, {"phone": "+49 170 1"}, {"loyalty_id": "L1"})]
    linked = graph.resolve({"device_id": "d", "phone": "+491701", "loyalty_id": "L1"})
    assert linked.customer_id == min(ids)
    assert sorted(linked.merged) == sorted(set(ids) - {min(ids)})
    assert {graph.lookup(k) for k in ("device_id:d", "phone:+491701", "loyalty_id:L1")} == {
        min(ids)}
    assert sorted(graph.members(min(ids))) == ["device_id:d", "loyalty_id:L1", "phone:+491701"]


def test_merge_order_does_not_change_the_survivor() -> None:
    one, two = IdentityGraph({}), IdentityGraph({})
    for ref in ({"email": "a@x"}, {"phone": "1"}):
        one.resolve(ref)
    for ref in ({"phone": "1"}, {"email": "a@x"}):
        two.resolve(ref)
    assert (one.resolve({"email": "a@x", "phone": "1"}).customer_id
            == two.resolve({"phone": "1", "email": "a@x"}).customer_id)


def test_event_without_identifier_is_unprocessable() -> None:
    with pytest.raises(UnprocessableEvent) as raised:
        IdentityGraph({}).resolve({"email": None, "phone": "  "})
    assert raised.value.reason == "no_customer_identifier"


def test_forget_removes_every_identifier() -> None:
    store: dict = {}
    graph = IdentityGraph(store)
    cid = graph.resolve({"email": "a@x", "phone": "1"}).customer_id
    assert sorted(graph.forget(cid)) == ["email:a@x", "phone:1"]
    assert store == {}

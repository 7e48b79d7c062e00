"""Identity safeguards on the graph: shared identifiers stop merging, merges are recorded and
can be split."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from nextbest.errors import UnprocessableEvent
from nextbest.identity import IdentityGraph
from nextbest.identity.graph import new_customer_id
from nextbest.identity.merges import MergeRecord

TABLET = {"device_id": "family-tablet"}
EMAILS = [f"person{n}@example.com" for n in range(1, 5)]


def own(email: str) -> str:
    """The customer an email gets when it is seen first on its own."""
    return new_customer_id(f"email:{email}")


def test_a_device_seen_with_a_fourth_email_is_shared_and_its_merges_undone() -> None:
    graph = IdentityGraph({})
    for email in EMAILS[:3]:
        graph.resolve({**TABLET, "email": email}, at=1)
    first = graph.lookup(f"email:{EMAILS[0]}")
    assert {graph.lookup(f"email:{e}") for e in EMAILS[:3]} == {first}  # linked up to the limit

    fourth = graph.resolve({**TABLET, "email": EMAILS[3]}, at=2)

    assert graph.shared.is_shared("device_id:family-tablet")
    assert fourth.shared == ["device_id:family-tablet"]
    assert fourth.customer_id == own(EMAILS[3])
    assert sorted(s.absorbed for s in fourth.splits) == sorted(own(e) for e in EMAILS[1:3])
    assert [graph.lookup(f"email:{e}") for e in EMAILS] == [first, *map(own, EMAILS[1:])]
    assert graph.lookup("device_id:family-tablet") is None  # it belongs to nobody now
    assert graph.members(first) == [f"email:{EMAILS[0]}"]


def test_customers_merged_through_a_device_are_given_back_when_it_turns_shared() -> None:
    graph = IdentityGraph({})
    for email in EMAILS:
        graph.resolve({"email": email})
    merged = [graph.resolve({**TABLET, "email": e}, at=10 + n).merged
              for n, e in enumerate(EMAILS[:3])]
    assert sum(len(m) for m in merged) == 2
    survivor = graph.lookup(f"email:{EMAILS[0]}")
    record = graph.history.of(merged[1][0])
    assert record is not None and record.survivor == survivor
    assert (record.linked_by, record.at) == ("device_id:family-tablet", 11)

    fourth = graph.resolve({**TABLET, "email": EMAILS[3]}, at=13)

    assert sorted(s.absorbed for s in fourth.splits) == sorted(merged[1] + merged[2])
    assert [graph.lookup(f"email:{e}") for e in EMAILS] == [own(e) for e in EMAILS]
    assert list(graph.history.behind(survivor)) == []


def test_one_identity_seen_many_times_is_counted_once() -> None:
    graph = IdentityGraph({}, shared_limit=1)
    graph.resolve({"email": EMAILS[0], "loyalty_id": "L1"})
    for ref in ({"email": EMAILS[0]}, {"loyalty_id": "L1"}, {"email": EMAILS[0]}):
        graph.resolve({**TABLET, **ref})
    assert not graph.shared.is_shared("device_id:family-tablet")


def test_identities_linked_by_a_strong_identifier_count_as_one_customer() -> None:
    graph = IdentityGraph({}, shared_limit=1)
    graph.resolve({**TABLET, "email": EMAILS[0]})
    graph.resolve({"loyalty_id": "L1"})
    graph.resolve({"email": EMAILS[0], "loyalty_id": "L1"})  # one person, by their own say
    graph.resolve({**TABLET, "loyalty_id": "L1"})
    assert not graph.shared.is_shared("device_id:family-tablet")
    graph.resolve({**TABLET, "email": EMAILS[1]})
    assert graph.shared.is_shared("device_id:family-tablet")


def test_the_limit_is_a_setting() -> None:
    graph = IdentityGraph({}, shared_limit=1)
    graph.resolve({**TABLET, "email": EMAILS[0]})
    second = graph.resolve({**TABLET, "email": EMAILS[1]})
    assert second.shared == ["device_id:family-tablet"] and second.merged == []
    assert graph.lookup(f"email:{EMAILS[1]}") != graph.lookup(f"email:{EMAILS[0]}")
    with pytest.raises(ValueError):
        IdentityGraph({}, shared_limit=0)


def test_a_shared_identifier_is_left_out_and_alone_names_nobody() -> None:
    graph = IdentityGraph({}, shared_limit=1)
    for email in EMAILS[:2]:
        graph.resolve({**TABLET, "email": email})
    later = graph.resolve({**TABLET, "email": EMAILS[0], "phone": "+49 170 1"})
    assert later.customer_id == own(EMAILS[0]) and later.shared == ["device_id:family-tablet"]
    assert graph.lookup("phone:+491701") == own(EMAILS[0])
    with pytest.raises(UnprocessableEvent) as raised:
        graph.resolve(TABLET)
    assert raised.value.reason == "shared_identifier_only"
    assert graph.lookup("device_id:family-tablet") is None


def test_marks_and_records_live_in_the_store_and_survive_a_restart() -> None:
    store: dict[str, Any] = {}
    graph = IdentityGraph(store, shared_limit=2)
    for email in EMAILS[:2]:
        graph.resolve({**TABLET, "email": email})
    graph.resolve({"pos_id": "till-9", "email": EMAILS[2]})
    graph.resolve({"pos_id": "till-9", "email": EMAILS[3]}, at=7)
    # The changelog carries JSON values; a new writer (or a replica) reads them back.
    restarted = IdentityGraph(orjson.loads(orjson.dumps(store)), shared_limit=2)
    record = restarted.history.of(own(EMAILS[3]))
    assert record == MergeRecord(own(EMAILS[3]), own(EMAILS[2]), "pos_id:till-9", 7,
                                 [f"email:{EMAILS[3]}"])
    restarted.resolve({**TABLET, "email": "third@example.com"})
    assert restarted.shared.is_shared("device_id:family-tablet")
    assert restarted.lookup(f"email:{EMAILS[1]}") == own(EMAILS[1])


def test_a_split_request_naming_a_weak_identifier_declares_it_shared() -> None:
    graph = IdentityGraph({})
    for email in EMAILS[:2]:
        graph.resolve({"email": email})
        graph.resolve({**TABLET, "email": email})
    assert graph.lookup(f"email:{EMAILS[1]}") == graph.lookup(f"email:{EMAILS[0]}")

    splits = graph.split(TABLET, at=5)

    assert [s.identifiers for s in splits] == [[f"email:{max(EMAILS[:2], key=own)}"]]
    assert [graph.lookup(f"email:{e}") for e in EMAILS[:2]] == [own(e) for e in EMAILS[:2]]
    assert graph.shared.is_shared("device_id:family-tablet")
    again = graph.resolve({**TABLET, "email": EMAILS[1]})
    assert again.customer_id == own(EMAILS[1]) and again.merged == []


def test_a_split_request_naming_an_absorbed_identifier_undoes_that_merge_only() -> None:
    graph = IdentityGraph({})
    for n, email in enumerate(EMAILS[:3]):
        graph.resolve({"email": email, "phone": f"+4917{n}"})
        graph.resolve({**TABLET, "email": email})
    customers = [own(e) for e in EMAILS[:3]]
    survivor = min(customers)
    leaving = customers.index(max(customers))
    assert graph.lookup(f"email:{EMAILS[leaving]}") == survivor

    (split,) = graph.split({"email": EMAILS[leaving]})

    assert split.absorbed == customers[leaving]
    assert sorted(split.identifiers) == [f"email:{EMAILS[leaving]}", f"phone:+4917{leaving}"]
    assert [graph.lookup(f"email:{e}") for e in EMAILS[:3]] == [
        customers[leaving] if n == leaving else survivor for n in range(3)]
    assert not graph.shared.is_shared("device_id:family-tablet")


def test_a_split_request_naming_a_strong_link_undoes_what_it_linked() -> None:
    graph = IdentityGraph({})
    graph.resolve({"email": EMAILS[0]})
    graph.resolve({"loyalty_id": "L-typo"})
    linked = graph.resolve({"email": EMAILS[0], "loyalty_id": "L-typo"})
    (absorbed,) = linked.merged
    keep = linked.customer_id
    name = {"email": EMAILS[0]} if keep == own(EMAILS[0]) else {"loyalty_id": "L-typo"}
    (split,) = graph.split(name)
    assert split.absorbed == absorbed
    assert graph.lookup("loyalty_id:L-typo") != graph.lookup(f"email:{EMAILS[0]}")
    assert not graph.shared.is_shared(next(iter(name)) + ":" + next(iter(name.values())))


def test_merges_nested_through_one_device_are_all_undone() -> None:
    graph = IdentityGraph({})
    customers = [graph.resolve({"email": e}).customer_id for e in EMAILS[:3]]
    graph.resolve({**TABLET, "email": EMAILS[0]})
    graph.resolve({"pos_id": "till-1", "email": EMAILS[1]})
    graph.resolve({"pos_id": "till-1", "email": EMAILS[2]})  # merged through the till first
    graph.resolve({**TABLET, "email": EMAILS[1]})  # then both through the tablet
    assert len({graph.lookup(f"email:{e}") for e in EMAILS[:3]}) == 1
    graph.split(TABLET)
    graph.split({"pos_id": "till-1"})
    assert [graph.lookup(f"email:{e}") for e in EMAILS[:3]] == customers


def test_erasure_after_a_split_removes_that_customer_and_nothing_of_the_other() -> None:
    store: dict[str, Any] = {}
    graph = IdentityGraph(store)
    for email in EMAILS[:2]:
        graph.resolve({"email": email, "phone": f"+49{EMAILS.index(email)}"})
        graph.resolve({**TABLET, "email": email})
    graph.split(TABLET)
    erased = graph.lookup(f"email:{EMAILS[1]}")
    assert erased is not None
    assert sorted(graph.forget(erased)) == [f"email:{EMAILS[1]}", "phone:+491"]
    assert EMAILS[1] not in orjson.dumps(store).decode()
    assert graph.lookup(f"email:{EMAILS[0]}") == own(EMAILS[0])
    assert graph.lookup("phone:+490") == own(EMAILS[0])


def test_erasure_of_a_merged_customer_removes_the_record_of_its_merges() -> None:
    store: dict[str, Any] = {}
    graph = IdentityGraph(store)
    for email in EMAILS[:3]:
        graph.resolve({"email": email})
        graph.resolve({**TABLET, "email": email})
    assert any(key.startswith("merge:") for key in store)
    graph.forget(graph.lookup(f"email:{EMAILS[0]}") or "")
    text = orjson.dumps(store).decode()
    assert not any(email in text for email in EMAILS)
    assert not any(key.startswith(("merge:", "merges:", "members:", "id:")) for key in store)

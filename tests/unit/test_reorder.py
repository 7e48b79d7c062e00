"""The router's merge of its input partitions by event time (``streams/reorder.py``)."""

from __future__ import annotations

import random

from nextbest.streams.reorder import EventTimeMerge


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def released(merge: EventTimeMerge[str, str], unread: frozenset[str] | set[str] = frozenset(),
             before: tuple[int, ...] | None = None) -> list[str]:
    return [item for _, item in merge.release(unread, before=before)]


def test_caught_up_sources_are_merged_by_key_each_in_its_own_order() -> None:
    merge: EventTimeMerge[str, str] = EventTimeMerge(max_wait=1.0)
    for source, times in {"clicks": (1, 4, 2), "orders": (3, 5)}.items():
        for time in times:
            merge.add(source, (time,), f"{source}@{time}")
    # clicks@2 came after clicks@4 in its own partition: it stays behind it
    assert released(merge) == ["clicks@1", "orders@3", "clicks@4", "clicks@2", "orders@5"]
    assert merge.held == 0


def test_a_source_with_unread_records_holds_back_what_it_could_still_precede() -> None:
    clock = Clock()
    merge: EventTimeMerge[str, str] = EventTimeMerge(max_wait=1.0, clock=clock)
    merge.add("orders", (10,), "orders@10")
    merge.add("clicks", (5,), "clicks@5")
    merge.add("clicks", (20,), "clicks@20")
    assert released(merge, {"payments"}) == []  # nothing read from payments yet
    assert released(merge, {"orders"}) == ["clicks@5", "orders@10"]  # orders: more after 10
    assert merge.first("clicks") == "clicks@20" and merge.count("clicks") == 1
    merge.add("orders", (30,), "orders@30")
    assert released(merge, {"orders"}) == ["clicks@20", "orders@30"]  # its own go in order
    merge.add("clicks", (40,), "clicks@40")
    assert released(merge, {"orders"}) == []  # orders may still hold something before 40
    clock.now += 1.0  # clicks@40 waited long enough: the broker is slow to serve orders
    assert released(merge, {"orders"}) == ["clicks@40"]


def test_an_earlier_event_waiting_elsewhere_holds_back_later_ones_for_longer() -> None:
    clock = Clock()
    merge: EventTimeMerge[str, str] = EventTimeMerge(max_wait=1.0, max_wait_before=30.0,
                                                     clock=clock)
    merge.add("chats", (50,), "chats@50")
    merge.add("chats", (8,), "chats@8")
    assert released(merge, before=(10,)) == []  # chats@50 first, and it is after 10
    clock.now += 5.0
    assert released(merge, before=(10,)) == []  # not the unread partitions' wait
    clock.now += 25.0
    assert released(merge, before=(10,)) == ["chats@50", "chats@8"]


def test_dropped_sources_are_forgotten() -> None:
    merge: EventTimeMerge[str, str] = EventTimeMerge(max_wait=1.0)
    merge.add("a", (1,), "a@1")
    merge.add("b", (2,), "b@2")
    merge.drop({"a"})
    assert merge.held == 1 and merge.first("a") is None
    assert released(merge, {"a"}) == []  # a unread again: nothing known of it
    assert released(merge) == ["b@2"]


def test_released_in_key_order_whatever_the_interleaving_of_fetches() -> None:
    rng = random.Random(5)
    streams = {f"p{n}": sorted(rng.sample(range(10_000), 300)) for n in range(4)}
    merge: EventTimeMerge[str, int] = EventTimeMerge(max_wait=60.0)
    positions = dict.fromkeys(streams, 0)
    out: list[int] = []
    while any(positions[s] < len(streams[s]) for s in streams):
        source = rng.choice([s for s in streams if positions[s] < len(streams[s])])
        for time in streams[source][positions[source]:positions[source] + rng.randint(1, 40)]:
            merge.add(source, (time,), time)
            positions[source] += 1
        unread = {s for s in streams if positions[s] < len(streams[s])}
        out.extend(item for _, item in merge.release(unread))
    assert out == sorted(t for times in streams.values() for t in times)

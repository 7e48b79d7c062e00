"""Identity safeguards in the one loop (nextbest.driver): a shared device's merges undone, split
requests, profiles restored as far as they can be, erasure after a split."""

from __future__ import annotations

from nextbest.driver import CustomerPartition, InProcess, Redirect
from nextbest.engine import Engine
from nextbest.identity.graph import new_customer_id
from tests.events import DAY, click, identity, order, policy_settings

TABLET = {"device_id": "family-tablet"}
EMAILS = [f"person{n}@example.com" for n in range(1, 5)]


def own(email: str) -> str:
    return new_customer_id(f"email:{email}")


def family(run: InProcess, count: int) -> None:
    """Each member buys on their own first (order totals 10, 20, 30...)."""
    for n, email in enumerate(EMAILS[:count], start=1):
        run.feed("purchase", order(n, f"o-{n}", total=10.0 * n, category=f"cat-{n}",
                                   customer={"email": email}))


def through_tablet(run: InProcess, count: int, at: int = DAY) -> None:
    """The first ``count`` members each seen on the tablet."""
    for n, email in enumerate(EMAILS[:count]):
        run.feed("clickstream", click(at + n, "view", item_id="i1",
                                      customer={**TABLET, "email": email}))


def test_a_device_turning_shared_gives_every_member_their_profile_back() -> None:
    run = InProcess(Engine(policy_settings()))
    family(run, 4)
    through_tablet(run, 3)
    merged = run.profiles.get(min(own(e) for e in EMAILS[:3]))
    assert merged is not None and (merged.orders, merged.revenue) == (3, 60.0)

    fourth = run.feed("clickstream", click(2 * DAY, "view", item_id="i2",
                                           customer={**TABLET, "email": EMAILS[3]}))

    assert fourth.customer_id == own(EMAILS[3]) and fourth.merges == []
    assert len(fourth.splits) == 4  # two customers restored, each taken out of the survivor
    assert fourth.results[:4] == fourth.splits
    for n, email in enumerate(EMAILS, start=1):
        profile = run.profiles.get(own(email))
        assert profile is not None and profile.merged_into is None and profile.merged_from == []
        assert (profile.orders, profile.revenue) == (1, 10.0 * n)
        assert profile.identifiers["email"] == [email]
        assert [o.order_id for o in profile.recent_orders] == [f"o-{n}"]
        assert set(profile.category_affinity) == {f"cat-{n}"}
    assert run.graph.shared.is_shared("device_id:family-tablet")


def test_a_split_request_restores_two_customers_who_are_then_decided_apart() -> None:
    run = InProcess(Engine(policy_settings()))
    family(run, 2)
    through_tablet(run, 2)
    survivor, absorbed = sorted(own(e) for e in EMAILS[:2])
    assert run.profiles.get(survivor).orders == 2  # type: ignore[union-attr]
    # While merged, an order under the second email lands on the one profile.
    run.feed("purchase", order(2 * DAY, "o-merged", total=5.0, customer={"email": EMAILS[1]}))

    fed = run.feed("identity", identity(3 * DAY, "split_requested", customer=TABLET))

    assert fed.customer_id is None and fed.stepped is None
    assert [r.profile.customer_id for r in fed.splits] == [absorbed, survivor]
    assert all(run.profiles.get(c).merged_into is None  # type: ignore[union-attr]
               for c in (survivor, absorbed))
    # What each brought comes back; what was stepped while merged stays with the survivor.
    total = {own(e): 10.0 * n for n, e in enumerate(EMAILS[:2], start=1)}
    restored, kept = run.profiles.get(absorbed), run.profiles.get(survivor)
    assert restored is not None and kept is not None
    assert (restored.orders, restored.revenue) == (1, total[absorbed])
    assert (kept.orders, kept.revenue) == (2, total[survivor] + 5.0)
    # From now on each is decided on their own.
    returned = run.feed("purchase", order(4 * DAY, "o-1", total=10.0, kind="return",
                                          reason="defective", customer={"email": EMAILS[0]}))
    assert returned.customer_id == own(EMAILS[0])
    decided = {d.customer_id for r in returned.results for d in r.decisions}
    assert decided == {own(EMAILS[0])}
    other = run.profiles.get(own(EMAILS[1]))
    assert other is not None and other.returns == 0
    tablet_again = run.feed("clickstream", click(5 * DAY, "view", item_id="i3",
                                                 customer={**TABLET, "email": EMAILS[1]}))
    assert tablet_again.customer_id == own(EMAILS[1]) and tablet_again.merges == []


def test_erasure_after_a_split_takes_one_customer_and_leaves_the_other() -> None:
    run = InProcess(Engine(policy_settings()))
    family(run, 2)
    through_tablet(run, 2)
    run.feed("identity", identity(2 * DAY, "split_requested", customer=TABLET))
    erased = run.graph.lookup(f"email:{EMAILS[1]}")
    assert erased == own(EMAILS[1])

    run.graph.forget(erased)
    run.partition.erase(erased)

    assert run.profiles.get(erased) is None
    assert run.graph.lookup(f"email:{EMAILS[1]}") is None
    kept = run.profiles.get(own(EMAILS[0]))
    assert kept is not None and kept.orders == 1 and kept.identifiers["email"] == [EMAILS[0]]
    assert EMAILS[1] not in kept.to_json().decode()


def test_split_halves_are_idempotent_and_follow_a_survivor_merged_on() -> None:
    partition = CustomerPartition(Engine(policy_settings()))
    for cid, total in (("nb-a", 10.0), ("nb-b", 20.0), ("nb-c", 40.0)):
        partition.step(cid, "purchase", order(1, f"o-{cid}", total=total,
                                               customer={"email": f"{cid}@x"}))
    partition.absorb("nb-b", partition.merge_out("nb-c", "nb-b") or {})
    partition.absorb("nb-a", partition.merge_out("nb-b", "nb-a") or {})
    assert partition.profiles.get("nb-a").revenue == 70.0  # type: ignore[union-attr]

    off = partition.split_off("nb-c")
    assert off is not None and off.survivor == "nb-b" and off.result.profile.revenue == 40.0
    assert partition.split_off("nb-c") is None
    passed = partition.release(off.survivor, off.snapshot)
    assert passed == Redirect("nb-a")
    assert partition.profiles.get("nb-b").merged_from == []  # type: ignore[union-attr]
    released = partition.release("nb-a", off.snapshot)
    assert released is not None and not isinstance(released, Redirect)
    assert (released.profile.revenue, released.profile.merged_from) == (30.0, ["nb-b"])
    assert partition.release("nb-a", off.snapshot) is None
    # Splitting the middle one later does not bring nb-c's order back with it.
    later = partition.split_off("nb-b")
    assert later is not None and later.result.profile.revenue == 20.0


def test_a_profile_reaching_a_survivor_absorbed_meanwhile_goes_on_and_splits_back() -> None:
    # The graph merged nb-c into nb-b, then nb-b into nb-a; nb-b's own merge reached its
    # partition before nb-c's profile did.
    partition = CustomerPartition(Engine(policy_settings()))
    for cid, total in (("nb-a", 10.0), ("nb-b", 20.0), ("nb-c", 40.0)):
        partition.step(cid, "purchase", order(1, f"o-{cid}", total=total,
                                               customer={"email": f"{cid}@x"}))
    handed_c = partition.merge_out("nb-c", "nb-b") or {}
    partition.absorb("nb-a", partition.merge_out("nb-b", "nb-a") or {})
    assert partition.absorb("nb-b", handed_c) == Redirect("nb-a")
    merged = partition.absorb("nb-a", handed_c)
    assert merged is not None and not isinstance(merged, Redirect)
    assert (merged.profile.revenue, merged.profile.merged_from) == (70.0, ["nb-b", "nb-c"])

    # Both merges undone, nb-b's first: the release of nb-c still finds nb-c's order in nb-a.
    off_b = partition.split_off("nb-b")
    assert off_b is not None and off_b.result.profile.revenue == 20.0
    partition.release(off_b.survivor, off_b.snapshot)
    off_c = partition.split_off("nb-c")
    assert off_c is not None and off_c.survivor == "nb-b"
    assert partition.release("nb-b", off_c.snapshot) == Redirect("nb-a")
    assert partition.release("nb-b", off_c.snapshot) is None  # the note is used up
    released = partition.release("nb-a", off_c.snapshot)
    assert released is not None and not isinstance(released, Redirect)
    assert (released.profile.revenue, released.profile.merged_from) == (10.0, [])
    assert partition.profiles.get("nb-b").revenue == 20.0  # type: ignore[union-attr]

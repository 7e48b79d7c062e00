"""Identity safeguards on the real broker: a device seen with the emails of four customers is
shared and merges none of them; a split request gives two merged customers back their own
profiles, their later events are decided apart, and one of them can still be erased."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nextbest.identity.graph import new_customer_id
from nextbest.streams.deadletter import REASON
from tests.events import DAY, MINUTE, click, identity, order, support
from tests.integration.harness import Harness

pytestmark = pytest.mark.timeout(300)

T0 = 1_767_225_600_000  # 2026-01-01T00:00Z


@pytest.fixture(scope="module")
def harness(kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Harness]:
    h = Harness(kafka=kafka_bootstrap, redis=redis_url, prefix=f"nbsafe-{uuid.uuid4().hex[:8]}",
                data_dir=Path(tmp_path_factory.mktemp("safeguards")))
    h.start_worker()
    try:
        yield h
    finally:
        h.worker.stop()


def family(size: int, start: int, harness: Harness) -> list[str]:
    """``size`` new customers, each with an order of their own (totals 10, 20, 30...)."""
    run = uuid.uuid4().hex[:8]
    emails = [f"member{n}-{run}@example.com" for n in range(1, size + 1)]
    harness.publish("purchase", [order(start + n, f"o-{e}", total=10.0 * n,
                                       customer={"email": e})
                                 for n, e in enumerate(emails, start=1)])
    for email in emails:
        harness.customer(f"email:{email}", until=lambda v: v["profile"]["orders"] == 1)
    return emails


def own(email: str) -> str:
    return new_customer_id(f"email:{email}")


def view(harness: Harness, email: str) -> dict[str, Any]:
    """The customer's served view once it is their own customer with their own order alone."""
    return harness.customer(f"email:{email}", until=lambda v: v["customer_id"] == own(email)
                            and v["profile"]["orders"] == 1 and not v["profile"]["merged_from"])


def not_served(harness: Harness, ref: str) -> None:
    assert harness.gone(ref), f"{ref} is still served"


def metric(harness: Harness, name: str) -> float:
    for line in harness.metrics().splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return 0.0


def test_a_device_seen_with_four_emails_merges_none_of_them(harness: Harness) -> None:
    emails = family(4, T0, harness)
    tablet = {"device_id": f"tablet-{uuid.uuid4().hex[:8]}"}
    splits_before = metric(harness, "nextbest_identity_splits_total")
    harness.publish("identity", [identity(T0 + DAY + n, "link", customer={**tablet, "email": e})
                                 for n, e in enumerate(emails[:3])])
    # Up to the limit (3) the tablet links them: one customer with the three orders.
    merged = harness.customer(f"email:{emails[2]}", until=lambda v: v["profile"]["orders"] == 3)
    assert merged["customer_id"] == min(own(e) for e in emails[:3])

    harness.publish("identity", [identity(T0 + 2 * DAY, "link",
                                          customer={**tablet, "email": emails[3]})])

    for n, email in enumerate(emails, start=1):
        served = view(harness, email)
        assert served["profile"]["revenue"] == 10.0 * n
        assert served["profile"]["identifiers"]["email"] == [email]
    assert metric(harness, "nextbest_identity_splits_total") - splits_before == 2
    not_served(harness, f"device_id:{tablet['device_id']}")  # it names nobody now
    # The router leaves shared identifiers out once its replica of the graph has the mark.
    marked = f"shared:device_id:{tablet['device_id']}".encode()
    harness.read([harness.settings.identity_graph_topic],
                 until=lambda ms: any(m.key == marked for m in ms))
    time.sleep(1.5)  # the replica reads the graph topic at least every 0.5 s

    # With an email the tablet's events go by the email; alone they are dead-lettered.
    harness.publish("purchase", [order(T0 + 3 * DAY, f"o-late-{uuid.uuid4().hex[:6]}",
                                       total=7.0, customer={**tablet, "email": emails[1]})])
    harness.publish("clickstream", [click(T0 + 3 * DAY, "page_view", customer=tablet)])
    later = harness.customer(f"email:{emails[1]}", until=lambda v: v["profile"]["orders"] == 2)
    assert later["customer_id"] == own(emails[1]) and later["profile"]["revenue"] == 27.0
    letters = harness.read([harness.settings.deadletter_topic], until=lambda ms: any(
        dict(m.headers).get(REASON) == b"shared_identifier_only" for m in ms))
    assert [dict(m.headers)[REASON] for m in letters] == [b"shared_identifier_only"]
    for n, email in enumerate(emails, start=1):
        if n != 2:
            assert view(harness, email)["profile"]["revenue"] == 10.0 * n


def test_a_split_request_restores_two_customers_decided_apart_and_erasable(
        harness: Harness) -> None:
    start = T0 + 100 * DAY
    anna, ben = family(2, start, harness)
    phone = {"device_id": f"phone-{uuid.uuid4().hex[:8]}"}
    harness.publish("identity", [identity(start + DAY + n, "link", customer={**phone, "email": e})
                                 for n, e in enumerate((anna, ben))])
    merged = harness.customer(f"email:{ben}", until=lambda v: v["profile"]["orders"] == 2)
    assert merged["customer_id"] == min(own(anna), own(ben))

    harness.publish("identity", [identity(start + 2 * DAY, "split_requested", customer=phone)])

    assert view(harness, anna)["profile"]["revenue"] == 10.0
    assert view(harness, ben)["profile"]["revenue"] == 20.0
    # Later events are decided for each on their own.
    conversation = f"conv-{uuid.uuid4().hex[:6]}"
    harness.publish("purchase", [order(start + 3 * DAY, f"o-{anna}",
                                       total=10.0, kind="return", reason="defective",
                                       customer={"email": anna})])
    harness.publish("support", [support(start + 3 * DAY, conversation,
                                        "I will talk to my lawyer.", customer={"email": ben})])
    decisions = harness.decisions(until=lambda ds: {("service_recovery", own(anna)),
                                                    ("escalation", own(ben))}
                                  <= {(d["decision_type"], d["customer_id"]) for d in ds})
    made = {(d["decision_type"], d["customer_id"]) for d in decisions}
    assert ("service_recovery", own(ben)) not in made and ("escalation", own(anna)) not in made
    assert harness.customer(f"email:{ben}", until=lambda v: True)["profile"]["returns"] == 0

    # Erasure still works after the split: Ben goes, Anna stays as she is.
    erase_id = f"erase-{uuid.uuid4().hex}"
    harness.publish("identity", [identity(start + 3 * DAY + MINUTE, "erasure_requested",
                                          customer={"email": ben}, event_id=erase_id)])
    acks = harness.records(harness.settings.erasure_ack_topic, "erasure_ack",
                           until=lambda rs: any(r["request_event_id"] == erase_id for rs_ in [rs]
                                                for r in rs_))
    (ack,) = [r for r in acks if r["request_event_id"] == erase_id]
    assert ack["customer_id"] == own(ben) and ack["identifiers_removed"] == 1
    not_served(harness, f"email:{ben}")
    kept = harness.customer(f"email:{anna}", until=lambda v: v["profile"]["returns"] == 1)
    assert kept["customer_id"] == own(anna) and kept["profile"]["orders"] == 1

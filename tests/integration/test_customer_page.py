"""The customer-360 page in a real browser: a worker on the real broker and Redis, with the API
token set, steps a simulated shop's traffic; headless Chromium signs in, finds a customer and
reads their page at a laptop's and a phone's width, and what a customer typed stays text.

Chromium is the system's (``apt-get install chromium``; ``NEXTBEST_TEST_CHROMIUM`` names another
binary): playwright drives it, nothing is downloaded. Without one the test is skipped, saying so.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import shutil
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from pydantic import SecretStr

from nextbest.simulation.model import SimEvent
from nextbest.simulation.shop import Shop
from tests.integration.harness import Harness

CHROMIUM = (os.environ.get("NEXTBEST_TEST_CHROMIUM") or shutil.which("chromium")
            or shutil.which("chromium-browser"))
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason=(
        "no Chromium on this machine: apt-get install chromium (deploy/local/test.sh does), "
        "or set NEXTBEST_TEST_CHROMIUM to a Chromium binary")),
    pytest.mark.timeout(600),
]

EVENTS = 3_000
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCRIPTED = '<img src=x onerror="window.pwned=1"><script>window.pwned=1</script> where is it?'


@pytest.fixture(scope="module")
def harness(kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Harness]:
    h = Harness(kafka=kafka_bootstrap, redis=redis_url, prefix=f"nbpage-{uuid.uuid4().hex[:8]}",
                data_dir=Path(tmp_path_factory.mktemp("page")), engine={},
                api_token=SecretStr(secrets.token_urlsafe(24)))
    h.start_worker()
    try:
        yield h
    finally:
        h.worker.stop()


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium. Its driver runs an event loop in this thread while it is open: talk
    to the broker (the harness) before."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def steps(harness: Harness) -> float:
    with urllib.request.urlopen(f"{harness.worker.url}/metrics") as response:
        found = re.search(r"^nextbest_engine_step_seconds_count (\S+)$",
                          response.read().decode(), re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def shop_traffic(harness: Harness) -> None:
    """A simulated shop's first events, published and stepped."""
    shop = Shop(seed=7, customers=40, time_scale=144_000.0)
    stream = (e for e in shop.events() if isinstance(e, SimEvent))
    traffic = [(e.family, e.event) for e in (*shop.catalog(), *itertools.islice(stream, EVENTS))]
    publisher, _ = harness.publish_in_background(traffic, pause=0.0, chunk=500)
    publisher.join()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and steps(harness) < EVENTS:
        time.sleep(0.5)
    assert steps(harness) >= EVENTS


def well_known(view: dict[str, Any]) -> bool:
    """A customer whose page has it all: an email, a value tier, consent and a decision sent
    with its reasons."""
    profile = view["profile"]
    return bool(profile["identifiers"].get("email") and view["scores"].get("value_tier")
                and profile["consent"] and view["recent_decisions"]
                and view["recent_decisions"][0]["reasons"])


def known_customer(harness: Harness) -> dict[str, Any]:
    """The first customer in the decisions' order whose page has it all."""
    decided = harness.decisions(until=lambda ds: len(ds) >= 20, timeout=60)
    for customer_id in dict.fromkeys(d["customer_id"] for d in decided):
        try:
            view = harness.customer(customer_id, until=lambda v: True, timeout=5)
        except AssertionError:
            continue  # merged into another customer since
        if well_known(view):
            return view
    raise AssertionError(f"no customer among {len(decided)} decisions has a full page")


def says_they_wrote(harness: Harness, view: dict[str, Any]) -> dict[str, Any]:
    """The customer writes to support: a message that is markup, as far as a browser goes."""
    email = view["profile"]["identifiers"]["email"][0]
    harness.publish("support", [{
        "event_id": f"xss-{uuid.uuid4().hex[:8]}", "event_time": view["profile"]["last_seen"] + 1,
        "customer": {"customer_id": None, "email": email, "phone": None, "device_id": None,
                     "loyalty_id": None, "pos_id": None},
        "kind": "message", "conversation_id": f"conv-{uuid.uuid4().hex[:8]}", "channel": "chat",
        "author": "customer", "text": SCRIPTED, "order_id": None, "refund_requested": None}])
    return harness.customer(view["customer_id"], until=lambda v: any(
        m["text"] == SCRIPTED for m in (v["profile"]["conversation"] or {}).get("messages", ())))


def assert_shows(page: Page, view: dict[str, Any]) -> None:
    profile, email = view["profile"], view["profile"]["identifiers"]["email"][0]
    assert page.locator("h1").inner_text() == email
    assert page.locator(".tier").inner_text() == view["scores"]["value_tier"]
    assert view["customer_id"] in page.locator(".sub").inner_text()
    for channel, granted in profile["consent"].items():
        shown = page.locator(f'dd[data-channel="{channel}"]').inner_text()
        assert shown == ("granted" if granted else "revoked"), channel
    decision = view["recent_decisions"][0]
    entry = page.locator(f'ol.timeline > li[data-decision="{decision["decision_id"]}"]'
                         '[data-status="sent"]')
    assert entry.locator(".verdict").inner_text().startswith("sent")
    why = entry.locator("ul.why").inner_text()
    assert all(reason["text"] in why for reason in decision["reasons"])
    assert page.locator("svg.chart rect").count() >= 1
    # The customer's markup is shown as what they typed, and nothing of it ran.
    assert SCRIPTED in page.locator("blockquote").filter(has_text="where is it?").first.inner_text()
    assert page.evaluate("window.pwned") is None
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_customer_page_in_a_browser(harness: Harness, tmp_path: Path) -> None:
    shop_traffic(harness)
    view = says_they_wrote(harness, known_customer(harness))
    token = harness.settings.api_token
    assert token is not None
    with chromium() as browser:
        read_the_page(browser, harness.worker.url, view, token.get_secret_value(), tmp_path)
    for shot in ("customer-360-laptop.png", "customer-360-phone.png"):
        assert (tmp_path / shot).stat().st_size > 10_000


def read_the_page(browser: Browser, base: str, view: dict[str, Any], token: str,
                  screenshots: Path) -> None:
    email = view["profile"]["identifiers"]["email"][0]

    # A laptop: the page asks for the token, the sign-in form opens it; the address names the
    # customer by email in another case than the one they were linked by.
    laptop = browser.new_context(viewport=LAPTOP)
    page = laptop.new_page()
    response = page.goto(f"{base}/360/email:{email.upper()}")
    assert response is not None and response.status == 401
    assert view["customer_id"] not in page.locator("main").inner_text()  # no data before
    page.fill('input[name="token"]', token)
    with page.expect_navigation():
        page.click('button:has-text("Sign in")')
    assert_shows(page, view)
    page.screenshot(path=screenshots / "customer-360-laptop.png", full_page=True)
    laptop.close()

    # A phone: ?token= signs it in (and leaves the address), the search finds the customer.
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = phone.new_page()
    response = page.goto(f"{base}/360?token={token}")
    assert response is not None and response.status == 200
    assert "token" not in page.url
    page.fill('input[name="q"]', f"  {email.title()} ")
    with page.expect_navigation():
        page.click('button:has-text("Find")')
    assert page.url.endswith(f"/360/{view['customer_id']}")
    assert_shows(page, view)
    page.screenshot(path=screenshots / "customer-360-phone.png", full_page=True)
    phone.close()

"""Who may read customer data from the worker's endpoints: the bearer token, the page's session
cookie, and what a worker without a token serves (on loopback) or refuses (beyond it)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import fakeredis
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from nextbest.models.suite import ModelSuite
from nextbest.profile.state import CustomerProfile
from nextbest.streams.access import SESSION_COOKIE, CustomerDataGate
from nextbest.streams.serving import ProfileServing, RedisKeys
from nextbest.streams.settings import WorkerSettings
from nextbest.streams.web import application

TOKEN = "s3cret-token-for-tests"
PERSONAL = ["/customers/nb-lisa", "/customers/email:lisa@example.com", "/digest", "/360",
            "/360/nb-lisa"]
LISAS_ZONE = "Europe/Amsterdam"
OPEN = ["/metrics", "/health/live", "/health/ready", "/models"]

Client = Callable[[CustomerDataGate], Any]


@pytest_asyncio.fixture(loop_scope="function")
async def client() -> AsyncIterator[Client]:
    """A worker's web application on a Redis that knows Lisa, behind a given gate."""
    serving = ProfileServing(fakeredis.FakeAsyncRedis(), RedisKeys("t"))
    serving.link("email:lisa@example.com", "nb-lisa")
    serving.put_profile(CustomerProfile("nb-lisa", orders=3, timezone=LISAS_ZONE,
                                        identifiers={"email": ["lisa@example.com"]}))
    await serving.flush()
    pipeline = SimpleNamespace(serving=serving, registry=CollectorRegistry(), ready=True,
                               engine=SimpleNamespace(models=ModelSuite()))
    clients: list[TestClient[Any, Any]] = []

    async def start(gate: CustomerDataGate) -> TestClient[Any, Any]:
        started = TestClient(TestServer(application(pipeline, gate)))  # type: ignore[arg-type]
        await started.start_server()
        clients.append(started)
        return started

    yield start
    for started in clients:
        await started.close()


def gate(token: str | None = TOKEN, host: str = "0.0.0.0") -> CustomerDataGate:
    return CustomerDataGate.for_settings(WorkerSettings(
        web_host=host, api_token=SecretStr(token) if token else None))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_customer_data_needs_the_token(client: Client) -> None:
    worker = await client(gate())
    for path in PERSONAL:
        for headers in ({}, bearer("wrong"), bearer(TOKEN[:-1]), {"Authorization": TOKEN}):
            response = await worker.get(path, headers=headers, allow_redirects=False)
            assert response.status == 401, (path, headers)
            assert LISAS_ZONE not in await response.text()  # nothing of her profile
        response = await worker.get(path, headers=bearer(TOKEN), allow_redirects=False)
        assert response.status == 200, path
    unauthorised = await worker.get("/customers/nb-lisa")
    assert unauthorised.headers["WWW-Authenticate"].startswith("Bearer")
    served = await (await worker.get("/customers/email:Lisa@Example.com",
                                     headers=bearer(TOKEN))).json()
    assert (served["customer_id"], served["profile"]["orders"]) == ("nb-lisa", 3)


async def test_metrics_health_and_models_stay_open(client: Client) -> None:
    for worker in (await client(gate()), await client(gate(token=None))):
        for path in OPEN:
            assert (await worker.get(path)).status == 200, path


async def test_without_a_token_customer_data_is_served_on_loopback_only(client: Client) -> None:
    local = await client(gate(token=None, host="127.0.0.1"))
    for path in PERSONAL:
        assert (await local.get(path)).status == 200, path
    exposed = await client(gate(token=None, host="0.0.0.0"))
    for path in PERSONAL:
        response = await exposed.get(path, headers=bearer("anything"))
        assert response.status == 403, path
        assert "NEXTBEST_API_TOKEN" in await response.text()
    nobody = await client(CustomerDataGate.refusing())
    assert (await nobody.get("/customers/nb-lisa")).status == 403


async def test_a_browser_signs_in_with_the_token_in_the_address(client: Client) -> None:
    worker = await client(gate())
    wrong = await worker.get("/360/nb-lisa?token=nope", allow_redirects=False)
    assert wrong.status == 401 and SESSION_COOKIE not in wrong.cookies
    signed = await worker.get(f"/360/nb-lisa?token={TOKEN}&x=1", allow_redirects=False)
    assert signed.status == 303
    assert signed.headers["Location"] == "/360/nb-lisa?x=1"  # the token leaves the address
    cookie = signed.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/360" in cookie
    assert TOKEN not in cookie  # a keyed hash of the token, not the token
    assert "Secure" not in cookie  # plain HTTP (behind a TLS proxy: below)
    page = await worker.get("/360/nb-lisa")  # the session cookie now comes along
    assert page.status == 200 and "lisa@example.com" in await page.text()
    # The cookie opens the page, not the JSON API (an API client sends the bearer token).
    value = signed.cookies[SESSION_COOKIE].value
    api = await worker.get("/customers/nb-lisa", cookies={SESSION_COOKIE: value})
    assert api.status == 401
    proxied = await worker.get(f"/360?token={TOKEN}", allow_redirects=False,
                               headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in proxied.headers["Set-Cookie"]


async def test_the_sign_in_form_and_where_it_leads(client: Client) -> None:
    worker = await client(gate())
    asked = await worker.get("/360/email:lisa@example.com")
    assert asked.status == 401 and 'name="token"' in await asked.text()
    wrong = await worker.post("/360/sign-in", data={"token": "nope", "next": "/360/nb-lisa"},
                              allow_redirects=False)
    assert wrong.status == 401
    elsewhere = await worker.post("/360/sign-in", data={
        "token": TOKEN, "next": "https://elsewhere.example/"}, allow_redirects=False)
    assert (elsewhere.status, elsewhere.headers["Location"]) == (303, "/360")
    signed = await worker.post("/360/sign-in", data={"token": TOKEN, "next": "/360/nb-lisa"},
                               allow_redirects=False)
    assert (signed.status, signed.headers["Location"]) == (303, "/360/nb-lisa")
    assert (await worker.get("/360/nb-lisa")).status == 200


async def test_the_search_finds_a_customer_by_any_identifier(client: Client) -> None:
    worker = await client(gate())
    for query in ("Lisa@Example.com", "email:LISA@example.com", "nb-lisa"):
        found = await worker.post("/360", data={"q": query}, headers=bearer(TOKEN),
                                  allow_redirects=False)
        assert (found.status, found.headers["Location"]) == (303, "/360/nb-lisa"), query
    missing = await worker.get("/360?q=someone@example.com", headers=bearer(TOKEN))
    assert missing.status == 404


@pytest.mark.parametrize(("token", "host", "level", "words"), [
    (TOKEN, "0.0.0.0", logging.INFO, "need the API token"),
    (None, "127.0.0.1", logging.INFO, "this machine only"),
    (None, "0.0.0.0", logging.WARNING, "refuse every request"),
])
def test_the_worker_says_how_it_serves_customer_data_never_the_token(
        caplog: pytest.LogCaptureFixture, token: str | None, host: str, level: int,
        words: str) -> None:
    with caplog.at_level(logging.INFO, logger="nextbest.streams.access"):
        gate(token, host).announce()
    (record,) = caplog.records
    assert record.levelno == level and words in record.getMessage()
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(WorkerSettings(api_token=SecretStr(TOKEN)))


def test_a_blank_token_is_no_token() -> None:
    assert WorkerSettings(api_token=SecretStr("  ")).api_token is None

"""The customer-360 page, served by the worker from the Redis read model: ``GET /360`` (find a
customer by any identifier), ``GET /360/{ref}`` (one customer's page), ``POST /360/sign-in``.

Server-rendered HTML with inline style and an inline SVG chart; no script. Access as the
module ``streams/access.py`` says, with a session cookie for browsers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import quote

from aiohttp import web

from nextbest.streams.access import SESSION_PATH, Access, CustomerDataGate
from nextbest.streams.customer360.layout import notice_page, search_page, sign_in_page
from nextbest.streams.customer360.page import customer_page

if TYPE_CHECKING:
    from nextbest.streams.pipeline import Pipeline

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": ("default-src 'none'; style-src 'unsafe-inline'; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""Every page: kept out of caches, no script runs, no framing, nothing leaks in a referrer."""


def html(body: str, *, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8",
                        headers=HEADERS)


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={**HEADERS, "Location": location})


def local_path(path: str) -> str:
    """Where a sign-in may send the browser on: a page of this view, nothing else.

    >>> local_path("/360/nb-1"), local_path("https://evil.example/"), local_path("/3600")
    ('/360/nb-1', '/360', '/360')
    """
    if path == SESSION_PATH or path.startswith((SESSION_PATH + "/", SESSION_PATH + "?")):
        return path
    return SESSION_PATH


def add_routes(routes: web.RouteTableDef, pipeline: Pipeline, gate: CustomerDataGate) -> None:
    def guarded(handler: Handler) -> Handler:
        async def guard(request: web.Request) -> web.StreamResponse:
            token = request.query.get("token")
            if token is not None and gate.token is not None:
                # ?token=: sign in, and go on to the address without it
                query = {k: v for k, v in request.query.items() if k != "token"}
                return signed_in(request, token, str(request.rel_url.with_query(query)))
            access = gate.check(request, session=True)
            if access is Access.UNAUTHENTICATED:
                return html(sign_in_page(request.rel_url.path_qs), status=401)
            if access is Access.NOT_CONFIGURED:
                return html(notice_page("Customer data is not served", (
                    "This worker listens beyond its own machine and has no API token: set "
                    "NEXTBEST_API_TOKEN to serve customer data."), query=""), status=403)
            return await handler(request)
        return guard

    def signed_in(request: web.Request, token: str, next_path: str) -> web.Response:
        if gate.token is not None and not gate.matches(token):
            return html(sign_in_page(local_path(next_path), failed=True), status=401)
        response = see_other(local_path(next_path))
        if gate.token is not None:
            # Behind a TLS proxy the worker sees plain HTTP: the proxy's word marks it Secure.
            secure = request.secure or request.headers.get("X-Forwarded-Proto") == "https"
            gate.open_session(response, secure=secure)
        return response

    async def find(query: str) -> web.StreamResponse:
        customer_id = await pipeline.serving.find(query)
        if customer_id is None:
            return html(notice_page("No customer found", (
                "No customer is known by that identifier (yet: the view follows the events "
                "within a second)."), query=query), status=404)
        return see_other(f"{SESSION_PATH}/{quote(customer_id, safe='')}")

    @routes.get(SESSION_PATH)
    @guarded
    async def search(request: web.Request) -> web.StreamResponse:
        """Find a customer by any identifier (``?q=``), or the search form."""
        query = request.query.get("q", "").strip()
        return await find(query) if query else html(search_page())

    @routes.post(SESSION_PATH)
    @guarded
    async def search_form(request: web.Request) -> web.StreamResponse:
        """The search form: the identifier stays out of the address bar and history."""
        query = str((await request.post()).get("q") or "").strip()
        return await find(query) if query else html(search_page())

    @routes.get(SESSION_PATH + "/{ref}")
    @guarded
    async def customer(request: web.Request) -> web.StreamResponse:
        """One customer's page, by canonical id or any identifier."""
        view = await pipeline.serving.customer(request.match_info["ref"])
        if view is None:
            return html(notice_page("No customer found", "No customer is known by that "
                                    "identifier."), status=404)
        return html(customer_page(view))

    @routes.post(SESSION_PATH + "/sign-in")
    async def sign_in(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        return signed_in(request, str(form.get("token") or ""),
                         str(form.get("next") or SESSION_PATH))

"""The worker's HTTP endpoints: a customer's served view and the customer-360 page, the models,
the digest, health, /metrics. What serves customer data passes the gate (``streams/access.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from nextbest.models.sentiment.digest import week_of
from nextbest.streams import customer360
from nextbest.streams.access import Access, CustomerDataGate, denied_json

if TYPE_CHECKING:
    from nextbest.streams.pipeline import Pipeline


def json_response(data: Any, *, status: int = 200) -> web.Response:
    body = orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    return web.Response(body=body, status=status, content_type="application/json")


def application(pipeline: Pipeline, gate: CustomerDataGate | None = None) -> web.Application:
    """The worker's endpoints; without a ``gate`` no customer data is served to anybody."""
    gate = gate or CustomerDataGate.refusing()
    routes = web.RouteTableDef()

    @routes.get("/customers/{ref}")
    async def customer_view(request: web.Request) -> web.Response:
        """Profile, scores, recent decisions (sent and withheld) and events, by canonical id or
        identifier (``kind:value`` or a bare value), normalised as the router links them."""
        access = gate.check(request)
        if access is not Access.ALLOWED:
            return denied_json(access)
        view = await pipeline.serving.customer(request.match_info["ref"])
        if view is None:
            return json_response({"error": "unknown customer"}, status=404)
        return json_response(view)

    @routes.get("/models")
    async def models(request: web.Request) -> web.Response:
        """What the worker's models have learnt: events, prequential quality, drift, cost."""
        return json_response(pipeline.engine.models.stats())

    @routes.get("/digest")
    async def digest(request: web.Request) -> web.Response:
        """The sentiment digest of a week (``?week=2026-W47``; default: the week of the newest
        event), published or not - every worker learns every text, so any worker answers.
        Its examples are customers' own words: it is behind the gate."""
        access = gate.check(request)
        if access is not Access.ALLOWED:
            return denied_json(access)
        models = pipeline.engine.models
        week = request.query.get("week") or week_of(models.watermark)
        return json_response(models.digest.digest(week))

    @routes.get("/health/live")
    async def live(request: web.Request) -> web.Response:
        """Answered at all: the event loop turns (a stage task that fails stops the worker)."""
        return json_response({"live": True})

    @routes.get("/health/ready")
    async def ready(request: web.Request) -> web.Response:
        """200 once every stage has started, 503 while starting or stopping."""
        return json_response({"ready": pipeline.ready}, status=200 if pipeline.ready else 503)

    @routes.get("/metrics")
    async def metrics(request: web.Request) -> web.Response:
        body = generate_latest(pipeline.registry)
        return web.Response(body=body, content_type=CONTENT_TYPE_LATEST.split(";")[0])

    customer360.add_routes(routes, pipeline, gate)
    app = web.Application()
    app.add_routes(routes)
    return app

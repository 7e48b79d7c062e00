"""The worker's HTTP endpoints: a customer's served view, and /metrics for Prometheus."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from nextbest.models.sentiment.digest import week_of

if TYPE_CHECKING:
    from streams.app import Pipeline


def register(pipeline: Pipeline) -> None:
    app = pipeline.app

    @app.page("/customers/{ref}")
    async def customer_view(web: Any, request: Any, ref: str) -> Any:
        """Profile, scores and recent decisions, by canonical id or ``kind:value`` identifier."""
        view = await pipeline.serving.customer(ref)
        if view is None:
            return web.json({"error": "unknown customer"}, status=404)
        return web.json(view)

    @app.page("/models")
    async def models(web: Any, request: Any) -> Any:
        """What the worker's models have learnt: events, prequential quality, drift, cost."""
        return web.json(pipeline.engine.models.stats())

    @app.page("/digest")
    async def digest(web: Any, request: Any) -> Any:
        """This worker's sentiment digest of a week (``?week=2026-W47``; default: the week of
        the newest event), published or not."""
        models = pipeline.engine.models
        week = request.query.get("week") or week_of(models.watermark)
        return web.json(models.digest.digest(week))

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        body = generate_latest(pipeline.registry)
        return web.bytes(body, content_type=CONTENT_TYPE_LATEST.split(";")[0])

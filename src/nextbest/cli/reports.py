"""Reports read back from nextbest's own output topics: uplift from the outcomes, the weekly
sentiment digest."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition

from nextbest.codec import Codec
from nextbest.experiments import render, uplift
from nextbest.models.sentiment import render_digest
from nextbest.streams import kafka
from nextbest.streams.kafka import read_to_end
from nextbest.streams.settings import WorkerSettings


async def read_topic(settings: WorkerSettings, topic: str) -> list[bytes]:
    """Every value on ``topic``, from the beginning to the end as of now (none if the topic
    does not exist)."""
    consumer = kafka.consumer(settings, group=None)
    await consumer.start()
    try:
        # The consumer's own metadata covers only its subscriptions: ask the cluster.
        metadata = await consumer._client.fetch_all_metadata()
        tps = [TopicPartition(topic, p)
               for p in sorted(metadata.partitions_for_topic(topic) or ())]
        if not tps:
            return []
        consumer.assign(tps)
        values: list[bytes] = []
        await read_to_end(consumer, tps, lambda r: values.append(r.value) if r.value else None)
        return values
    finally:
        await consumer.stop()


async def uplift_report(settings: WorkerSettings, codec: Codec) -> dict[str, Any]:
    """Uplift per decision type from ``nextbest.outcomes`` (the last record per decision id:
    a worker's crash may repeat one)."""
    latest: dict[str, dict[str, Any]] = {}
    for value in await read_topic(settings, settings.outcome_topic):
        record = codec.decode(value, "outcome").event
        latest[record["decision_id"]] = record
    report = uplift(latest.values())
    return {"outcomes": len(latest), "report": report, "table": render(report)}


async def latest_digest(settings: WorkerSettings, codec: Codec,
                        week: str | None = None) -> dict[str, Any] | None:
    digests: dict[str, dict[str, Any]] = {}
    for value in await read_topic(settings, settings.digest_topic):
        record = codec.decode(value, "sentiment_digest").event
        digests[record["week"]] = record
    if week is not None:
        return digests.get(week)
    return digests[max(digests)] if digests else None


def digest_text(digest: dict[str, Any]) -> str:
    return render_digest(digest)

"""Dead letters: a rejected message keeps its original key, value and headers, and gains headers
saying why, from where, and at which stage - the Kafka Connect convention, so existing tooling can
inspect and replay it.

``nextbest deadletters replay`` re-publishes a dead letter to its source topic with the retry
headers: ``nextbest.retry.of`` (the dead letter's ``topic:partition:offset``) and
``nextbest.retry.reasons`` (every reason it was dead-lettered for so far). A replayed message
that fails again comes back with those headers and ``nextbest.dlq.reasons``: the earlier reasons
followed by the new one."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiokafka import ConsumerRecord

if TYPE_CHECKING:
    from nextbest.streams.pipeline import Pipeline

logger = logging.getLogger(__name__)

REASON = "nextbest.dlq.reason"
DETAIL = "nextbest.dlq.detail"
SOURCE_TOPIC = "nextbest.dlq.topic"
SOURCE_PARTITION = "nextbest.dlq.partition"
SOURCE_OFFSET = "nextbest.dlq.offset"
STAGE = "nextbest.dlq.stage"
ALL_REASONS = "nextbest.dlq.reasons"
"""Every reason the message was dead-lettered for, oldest first, comma-separated."""
RETRY_OF = "nextbest.retry.of"
"""On a replayed message: the dead letter it came from, ``topic:partition:offset``."""
RETRY_REASONS = "nextbest.retry.reasons"
"""On a replayed message: the reasons it was dead-lettered for before, oldest first."""
MAX_DETAIL = 500


def earlier_reasons(headers: Sequence[tuple[str, bytes]] | None) -> list[str]:
    """The reasons a replayed message was dead-lettered for before (none if not replayed).

    >>> earlier_reasons([(RETRY_REASONS, b"unknown_schema_id,invalid_value")])
    ['unknown_schema_id', 'invalid_value']
    """
    found = dict(headers or ()).get(RETRY_REASONS)
    return [r for r in found.decode(errors="replace").split(",") if r] if found else []


def deadletter_headers(
    *,
    original: Sequence[tuple[str, bytes]] | None,
    reason: str,
    detail: str,
    topic: str,
    partition: int,
    offset: int,
    stage: str,
) -> list[tuple[str, bytes]]:
    """The original headers followed by the dead-letter context.

    >>> hs = deadletter_headers(original=[("trace", b"1")], reason="invalid_json", detail="x",
    ...                         topic="events.review", partition=2, offset=41, stage="ingest")
    >>> dict(hs)["nextbest.dlq.offset"]
    b'41'
    >>> again = deadletter_headers(original=[(RETRY_REASONS, b"unknown_schema_id")],
    ...     reason="invalid_value", detail="", topic="events.review", partition=0, offset=7,
    ...     stage="router")
    >>> dict(again)[ALL_REASONS]
    b'unknown_schema_id,invalid_value'
    """
    return [
        *(original or ()),
        (REASON, reason.encode()),
        (DETAIL, detail[:MAX_DETAIL].encode(errors="replace")),
        (SOURCE_TOPIC, topic.encode()),
        (SOURCE_PARTITION, str(partition).encode()),
        (SOURCE_OFFSET, str(offset).encode()),
        (STAGE, stage.encode()),
        (ALL_REASONS, ",".join([*earlier_reasons(original), reason]).encode()),
    ]


async def send_deadletter(pipeline: Pipeline, record: ConsumerRecord[bytes, bytes], *,
                          family: str, reason: str, detail: str, stage: str) -> Any:
    """Send a message to the dead-letter topic, unchanged, with why and where in its headers;
    returns the delivery future."""
    headers = deadletter_headers(
        original=list(record.headers or ()), reason=reason, detail=detail, topic=record.topic,
        partition=record.partition, offset=record.offset, stage=stage,
    )
    delivery = await pipeline.producer.send(pipeline.settings.deadletter_topic, key=record.key,
                                            value=record.value, headers=headers)
    pipeline.metrics.deadletters.labels(family, reason).inc()
    logger.warning("dead-lettered %s[%s]@%s at %s: %s", record.topic, record.partition,
                   record.offset, stage, reason)
    return delivery

"""Dead letters: a rejected message keeps its original key, value and headers, and gains headers
saying why, from where, and at which stage - the Kafka Connect convention, so existing tooling can
inspect and replay it."""

from __future__ import annotations

from collections.abc import Sequence

REASON = "nextbest.dlq.reason"
DETAIL = "nextbest.dlq.detail"
SOURCE_TOPIC = "nextbest.dlq.topic"
SOURCE_PARTITION = "nextbest.dlq.partition"
SOURCE_OFFSET = "nextbest.dlq.offset"
STAGE = "nextbest.dlq.stage"
MAX_DETAIL = 500


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
    """
    return [
        *(original or ()),
        (REASON, reason.encode()),
        (DETAIL, detail[:MAX_DETAIL].encode(errors="replace")),
        (SOURCE_TOPIC, topic.encode()),
        (SOURCE_PARTITION, str(partition).encode()),
        (SOURCE_OFFSET, str(offset).encode()),
        (STAGE, stage.encode()),
    ]

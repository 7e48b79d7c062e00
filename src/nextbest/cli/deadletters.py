"""``nextbest deadletters list|show|replay``: what is on the dead-letter topic, one dead letter
in full, and re-publishing dead letters to the topic they came from.

A dead letter is the original message (key, value, headers) with the ``nextbest.dlq.*``
headers saying why and from where (``streams/deadletter.py``). Replay sends the original key,
value and headers back to the source topic - to the partition it was read from, so a customer's
events stay in order - with ``nextbest.retry.of`` (this dead letter's ``topic:partition:offset``)
and ``nextbest.retry.reasons`` (every reason it was dead-lettered for). The same bytes go back:
replay cures what was wrong around the message (a schema the workers did not know yet, a bug
since fixed: ``internal_error``), not the message itself. Processing is idempotent: an event the
engine already stepped for its customer is not stepped again, so replaying twice is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from nextbest.streams import kafka
from nextbest.streams.deadletter import (
    DETAIL,
    REASON,
    RETRY_OF,
    RETRY_REASONS,
    SOURCE_OFFSET,
    SOURCE_PARTITION,
    SOURCE_TOPIC,
    STAGE,
    earlier_reasons,
)
from nextbest.streams.settings import WorkerSettings

ADDED_PREFIXES = ("nextbest.dlq.", "nextbest.retry.")
"""Headers the dead-letter path and replay add; everything else came with the message."""


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    timestamp: int
    """When it was dead-lettered (the record's Kafka timestamp, epoch ms)."""
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
        return cls(record.partition, record.offset, record.timestamp, record.key, record.value,
                   tuple(record.headers or ()))

    def header(self, name: str) -> str | None:
        found = dict(self.headers).get(name)
        return found.decode(errors="replace") if found is not None else None

    @property
    def where(self) -> str:
        """``partition:offset`` on the dead-letter topic."""
        return f"{self.partition}:{self.offset}"

    @property
    def reason(self) -> str:
        return self.header(REASON) or "unknown"

    @property
    def reasons(self) -> list[str]:
        """Every reason it was dead-lettered for, oldest first (the last is ``reason``)."""
        return [*earlier_reasons(self.headers), self.reason]

    @property
    def source_topic(self) -> str | None:
        return self.header(SOURCE_TOPIC)

    @property
    def source_partition(self) -> int | None:
        found = self.header(SOURCE_PARTITION)
        return int(found) if found and found.isdigit() else None

    @property
    def original_headers(self) -> list[tuple[str, bytes]]:
        """The headers the message came with (without what dead-lettering or replay added)."""
        return [(k, v) for k, v in self.headers if not k.startswith(ADDED_PREFIXES)]

    def describe(self) -> dict[str, Any]:
        return {
            "where": self.where, "dead_lettered_at": moment(self.timestamp),
            "reason": self.reason, "reasons": self.reasons, "detail": self.header(DETAIL),
            "source_topic": self.source_topic, "source_partition": self.source_partition,
            "source_offset": self.header(SOURCE_OFFSET), "stage": self.header(STAGE),
            "retry_of": self.header(RETRY_OF),
        }


def moment(ms: int) -> str:
    """An epoch-ms moment to the second.

    >>> moment(1_700_000_000_000)
    '2023-11-14 22:13:20 UTC'
    """
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- reading ----------------------------------------------------------------------------------

async def read_deadletters(settings: WorkerSettings) -> list[DeadLetter]:
    """Every dead letter on the topic, from the beginning to its end as of now."""
    consumer = kafka.consumer(settings, group=None)
    await consumer.start()
    try:
        tps = await partitions(consumer, settings.deadletter_topic)
        if not tps:
            return []
        consumer.assign(tps)
        letters: list[DeadLetter] = []
        await kafka.read_to_end(consumer, tps, lambda r: letters.append(DeadLetter.of(r)))
        return sorted(letters, key=lambda d: (d.timestamp, d.partition, d.offset))
    finally:
        await consumer.stop()


async def partitions(consumer: Any, topic: str) -> list[TopicPartition]:
    """The topic's partitions, none when it does not exist (nothing was dead-lettered yet)."""
    metadata = await consumer._client.fetch_all_metadata()
    return [TopicPartition(topic, p) for p in sorted(metadata.partitions_for_topic(topic) or ())]


def parse_where(text: str) -> tuple[int | None, int]:
    """``OFFSET`` or ``PARTITION:OFFSET``.

    >>> parse_where("3:41"), parse_where("41")
    ((3, 41), (None, 41))
    """
    partition, _, offset = text.strip().rpartition(":")
    try:
        return (int(partition) if partition else None), int(offset)
    except ValueError:
        raise ValueError(f"{text!r} is not OFFSET or PARTITION:OFFSET") from None


def located(letters: Iterable[DeadLetter], wanted: Sequence[tuple[int | None, int]]
            ) -> list[DeadLetter]:
    """The dead letters at the places ``wanted`` names (an offset alone: in any partition)."""
    return [d for d in letters
            if any(o == d.offset and p in (None, d.partition) for p, o in wanted)]


# --- list ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LetterGroup:
    reason: str
    source_topic: str
    count: int
    first: int
    last: int
    where: list[str]

    def as_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "source_topic": self.source_topic, "count": self.count,
                "first": moment(self.first), "last": moment(self.last), "where": self.where}


def grouped(letters: Iterable[DeadLetter]) -> list[LetterGroup]:
    """Dead letters by reason and source topic: how many, first and last time, most first."""
    found: dict[tuple[str, str], list[DeadLetter]] = {}
    for letter in letters:
        found.setdefault((letter.reason, letter.source_topic or "?"), []).append(letter)
    groups = [LetterGroup(reason, topic, len(ds), min(d.timestamp for d in ds),
                          max(d.timestamp for d in ds), [d.where for d in ds])
              for (reason, topic), ds in found.items()]
    return sorted(groups, key=lambda g: (-g.count, g.reason, g.source_topic))


# --- replay -------------------------------------------------------------------------------------

def selected(letters: Iterable[DeadLetter], *, reasons: Sequence[str] = (),
             topics: Sequence[str] = (), where: Sequence[tuple[int | None, int]] = ()
             ) -> list[DeadLetter]:
    """The dead letters that match every filter given (a filter not given matches all)."""
    chosen = [d for d in letters
              if (not reasons or d.reason in reasons)
              and (not topics or d.source_topic in topics)]
    return located(chosen, where) if where else chosen


def replay_headers(letter: DeadLetter, deadletter_topic: str) -> list[tuple[str, bytes]]:
    """The message's own headers, and where it was dead-lettered and why.

    >>> letter = DeadLetter(0, 7, 0, None, b"x", (("trace", b"1"),
    ...     ("nextbest.dlq.reason", b"unknown_schema_id"), ("nextbest.dlq.topic", b"t")))
    >>> replay_headers(letter, "nextbest.deadletter")
    [('trace', b'1'), ('nextbest.retry.of', b'nextbest.deadletter:0:7'), \
('nextbest.retry.reasons', b'unknown_schema_id')]
    """
    return [*letter.original_headers,
            (RETRY_OF, f"{deadletter_topic}:{letter.where}".encode()),
            (RETRY_REASONS, ",".join(letter.reasons).encode())]


@dataclass(frozen=True)
class Replayed:
    letter: DeadLetter
    topic: str
    partition: int | None
    """Where it went (None: not sent, a dry run; or partitioned by key)."""
    offset: int | None


async def replay(settings: WorkerSettings, letters: Sequence[DeadLetter], *,
                 dry_run: bool = False) -> list[Replayed]:
    """Re-publish ``letters`` to their source topics (the partition they were read from, when
    the topic still has it). A dead letter without a source topic is left out."""
    sendable = [d for d in letters if d.source_topic]
    if dry_run or not sendable:
        return [Replayed(d, str(d.source_topic), d.source_partition, None) for d in sendable]
    producer = kafka.producer(settings, linger_ms=0, acks="all")
    await producer.start()
    try:
        done = []
        for letter in sendable:
            topic = str(letter.source_topic)
            there = await producer.partitions_for(topic)
            partition = letter.source_partition if letter.source_partition in there else None
            sent = await producer.send_and_wait(
                topic, value=letter.value, key=letter.key, partition=partition,
                headers=replay_headers(letter, settings.deadletter_topic))
            done.append(Replayed(letter, topic, sent.partition, sent.offset))
        return done
    finally:
        await producer.stop()

"""The dead-letter tools without a broker: grouping, selecting, what a replay carries, the
preview of a value (the integration test drives them on a real broker)."""

from __future__ import annotations

from nextbest.cli.deadletter_preview import preview
from nextbest.cli.deadletters import DeadLetter, grouped, replay_headers, selected
from nextbest.codec import REASONS, Codec
from nextbest.streams.deadletter import deadletter_headers
from tests.events import review


def letter(partition: int, offset: int, at: int, reason: str, topic: str,
           original: list[tuple[str, bytes]] | None = None, value: bytes = b"x") -> DeadLetter:
    headers = deadletter_headers(original=original, reason=reason, detail="", topic=topic,
                                 partition=1, offset=offset * 10, stage="router")
    return DeadLetter(partition, offset, at, b"key", value, tuple(headers))


LETTERS = [
    letter(0, 0, 1_000, "invalid_json", "events.review"),
    letter(1, 0, 2_000, "unknown_schema_id", "events.review"),
    letter(0, 1, 3_000, "unknown_schema_id", "events.review"),
    letter(1, 1, 4_000, "unknown_schema_id", "events.purchase"),
]


def test_grouped_by_reason_and_source_topic_most_first() -> None:
    groups = grouped(LETTERS)
    assert [(g.reason, g.source_topic, g.count) for g in groups] == [
        ("unknown_schema_id", "events.review", 2), ("invalid_json", "events.review", 1),
        ("unknown_schema_id", "events.purchase", 1)]
    assert (groups[0].first, groups[0].last, groups[0].where) == (2_000, 3_000, ["1:0", "0:1"])


def test_filters_combine() -> None:
    def where(found: list[DeadLetter]) -> list[str]:
        return [d.where for d in found]

    assert where(selected(LETTERS, reasons=["unknown_schema_id"])) == ["1:0", "0:1", "1:1"]
    assert where(selected(LETTERS, reasons=["unknown_schema_id"], topics=["events.review"])
                 ) == ["1:0", "0:1"]
    assert where(selected(LETTERS, where=[(None, 0)])) == ["0:0", "1:0"]
    assert where(selected(LETTERS, topics=["events.review"], where=[(1, 0)])) == ["1:0"]


def test_a_replay_carries_the_original_headers_and_every_reason() -> None:
    once = letter(2, 5, 0, "unknown_schema_id", "events.review", original=[("trace", b"t1")])
    sent = replay_headers(once, "nextbest.deadletter")
    assert sent == [("trace", b"t1"), ("nextbest.retry.of", b"nextbest.deadletter:2:5"),
                    ("nextbest.retry.reasons", b"unknown_schema_id")]
    # dead-lettered again after the replay: the worker adds the new reason to the earlier ones
    twice = letter(0, 9, 0, "invalid_value", "events.review", original=sent)
    assert twice.reasons == ["unknown_schema_id", "invalid_value"]
    assert twice.header("nextbest.dlq.reasons") == "unknown_schema_id,invalid_value"
    again = dict(replay_headers(twice, "nextbest.deadletter"))
    assert again["nextbest.retry.reasons"] == b"unknown_schema_id,invalid_value"
    assert again["nextbest.retry.of"] == b"nextbest.deadletter:0:9"
    assert again["trace"] == b"t1"


def test_a_value_is_read_as_well_as_it_can_be() -> None:
    codec = Codec()
    event = review(1_700_000_000_000, "mug-1", 4, "Nice", event_id="ev-1")
    avro = preview(codec.encode("review", event), "events.review", codec)
    assert avro.how == "Avro, schema id 4, a valid review event" and '"ev-1"' in avro.text
    bad = preview(codec.encode_json("review", event).replace(b'"rating":4', b'"rating":9'),
                  "events.review", codec)
    assert bad.how == "JSON" and bad.note is not None and bad.note.startswith("invalid_value")
    internal = preview(b'{"k": "event", "cid": "nb-1"}', "nextbest.customer-events", codec,
                       internal_topic="nextbest.customer-events")
    assert internal.how == "nextbest internal message"
    cut = preview(codec.encode("review", event)[:12], "events.review", codec)
    assert cut.how == "hex, 12 bytes, Confluent framing with schema id 4"
    assert cut.note is not None and cut.note.split(":")[0] in REASONS  # the codec's reason

"""``nextbest replay events``: recorded events from a file or the input topics, run again.

The decision log goes to ``--out`` (or stdout), one JSON record per line; a summary of what ran
and what the codec or the engine refused goes to stderr.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import BinaryIO

import orjson

from nextbest.codec import Codec
from nextbest.replay.events import RecordedEvent, Replayed, decode_all, read_file, replay
from nextbest.settings import EngineSettings
from nextbest.streams.settings import FAMILIES, WorkerSettings


async def read_input_topics(settings: WorkerSettings, codec: Codec, replayed: Replayed
                            ) -> list[RecordedEvent]:
    """Every event on the input topics, from their beginning to their current end."""
    from nextbest.cli.reports import read_topic

    events: list[RecordedEvent] = []
    for family in FAMILIES:
        values = await read_topic(settings, settings.input_topic(family))
        events.extend(decode_all(values, replayed, codec, family_hint=family))
    return events


def write_log(events: list[RecordedEvent], sink: BinaryIO, replayed: Replayed) -> None:
    for record in replay(events, EngineSettings(), replayed):
        sink.write(orjson.dumps(record, option=orjson.OPT_SORT_KEYS) + b"\n")


def replay_events(file: Path | None, *, topics: bool, out: Path | None) -> int:
    if (file is None) == (not topics):
        print("replay events: give a FILE of JSON events or --topics, not both",
              file=sys.stderr)
        return 2
    replayed = Replayed()
    if topics:
        from nextbest.streams.pipeline import make_codec

        settings = WorkerSettings()
        events = asyncio.run(read_input_topics(settings, make_codec(
            settings.schema_registry_url), replayed))
    else:
        assert file is not None
        events = read_file(file, replayed)
    if out is None:
        write_log(events, sys.stdout.buffer, replayed)
        sys.stdout.flush()
    else:
        with out.open("wb") as sink:
            write_log(events, sink, replayed)
    print(orjson.dumps(replayed.to_dict()).decode(), file=sys.stderr)
    return 0

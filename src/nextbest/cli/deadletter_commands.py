"""What ``nextbest deadletters list|show|replay`` prints (``cli/deadletters.py`` does the
reading and the sending)."""

from __future__ import annotations

import argparse
import asyncio
import sys

import orjson
from rich.console import Console
from rich.text import Text

from nextbest.cli.deadletter_preview import preview
from nextbest.cli.deadletters import (
    DeadLetter,
    grouped,
    located,
    moment,
    parse_where,
    read_deadletters,
    replay,
    selected,
)
from nextbest.cli.panels import output, table
from nextbest.streams.settings import WorkerSettings


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    letters = commands.add_parser(
        "deadletters", help="what is on the dead-letter topic; show one; replay them")
    actions = letters.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="dead letters by reason and source topic")
    listing.add_argument("--json", action="store_true", help="one JSON object per group")
    show = actions.add_parser("show", help="one dead letter: headers and its value decoded")
    show.add_argument("where", help="OFFSET or PARTITION:OFFSET on the dead-letter topic")
    again = actions.add_parser(
        "replay", help="re-publish dead letters to their source topic (filters combine)")
    again.add_argument("--reason", action="append", default=[],
                       help="dead letters with this (latest) reason; repeatable")
    again.add_argument("--topic", action="append", default=[],
                       help="dead letters from this source topic; repeatable")
    again.add_argument("--offsets", help="comma-separated OFFSET or PARTITION:OFFSET")
    again.add_argument("--all", action="store_true", help="every dead letter (no filter)")
    again.add_argument("--dry-run", action="store_true", help="say what would be sent")


def run(args: argparse.Namespace) -> int:
    settings = WorkerSettings()
    console = output()
    try:
        letters = asyncio.run(read_deadletters(settings))
        if args.action == "list":
            return list_letters(console, settings, letters, as_json=args.json)
        if args.action == "show":
            return show_letter(console, settings, letters, args.where)
        return replay_letters(console, settings, letters, args)
    except ValueError as exc:
        print(f"nextbest deadletters: {exc}", file=sys.stderr)
        return 2


def list_letters(console: Console, settings: WorkerSettings, letters: list[DeadLetter], *,
                 as_json: bool) -> int:
    groups = grouped(letters)
    if as_json:
        for group in groups:
            print(orjson.dumps(group.as_json()).decode())
        return 0
    if not groups:
        console.print(f"no dead letters on {settings.deadletter_topic}")
        return 0
    grid = table("reason", "source topic", "count", "first", "last")
    for group in groups:
        grid.add_row(group.reason, group.source_topic, str(group.count), moment(group.first),
                     moment(group.last))
    grid.expand = False
    console.print(f"{len(letters)} dead letters on {settings.deadletter_topic}:")
    console.print(grid)
    return 0


def show_letter(console: Console, settings: WorkerSettings, letters: list[DeadLetter],
                where: str) -> int:
    found = located(letters, [parse_where(where)])
    if not found:
        print(f"nothing at {where} on {settings.deadletter_topic}", file=sys.stderr)
        return 1
    if len(found) > 1:
        print(f"offset {where} is on several partitions: say which, "
              f"{' or '.join(d.where for d in found)}", file=sys.stderr)
        return 1
    (letter,) = found
    facts = letter.describe()
    lines = [f"dead letter {letter.where} on {settings.deadletter_topic}, "
             f"{facts['dead_lettered_at']}",
             f"reason: {letter.reason}" + (f" (before: {', '.join(letter.reasons[:-1])})"
                                           if len(letter.reasons) > 1 else ""),
             f"detail: {facts['detail']}",
             f"from: {facts['source_topic']} partition {facts['source_partition']} offset "
             f"{facts['source_offset']}, stage {facts['stage']}"]
    if facts["retry_of"]:
        lines.append(f"a replay of: {facts['retry_of']}")
    lines.append(f"key: {readable(letter.key)}")
    lines.append("headers:")
    lines += [f"  {name} = {readable(value)}" for name, value in letter.headers]
    from nextbest.streams.pipeline import make_codec

    seen = preview(letter.value, letter.source_topic, make_codec(settings.schema_registry_url),
                   internal_topic=settings.customer_topic)
    lines.append(f"value ({seen.how}):")
    if seen.note:
        lines.append(f"  not readable as an event: {seen.note}")
    for line in lines:
        console.print(Text(line))
    console.print(Text(seen.text))
    return 0


def readable(data: bytes | None) -> str:
    """Bytes as text when they are UTF-8, else in hex.

    >>> readable(b"abc"), readable(b"\\xff\\x00"), readable(None)
    ('abc', 'hex ff00', '-')
    """
    if data is None:
        return "-"
    try:
        return data.decode()
    except UnicodeDecodeError:
        return f"hex {data.hex()}"


def replay_letters(console: Console, settings: WorkerSettings, letters: list[DeadLetter],
                   args: argparse.Namespace) -> int:
    where = [parse_where(w) for w in args.offsets.split(",")] if args.offsets else []
    if not (args.reason or args.topic or where or args.all):
        raise ValueError("say which to replay: --reason, --topic, --offsets (or --all)")
    chosen = selected(letters, reasons=args.reason, topics=args.topic, where=where)
    if not chosen:
        console.print("no dead letter matches")
        return 1
    done = asyncio.run(replay(settings, chosen, dry_run=args.dry_run))
    verb = "would replay" if args.dry_run else "replayed"
    for sent in done:
        to = f"{sent.topic}" + (f" partition {sent.partition}" if sent.partition is not None
                                else "") + (f" offset {sent.offset}" if sent.offset is not None
                                            else "")
        console.print(Text(f"{verb} {sent.letter.where} ({', '.join(sent.letter.reasons)}) "
                           f"-> {to}"))
    skipped = len(chosen) - len(done)
    if skipped:
        console.print(f"{skipped} without a source topic left out")
    console.print(f"{len(done)} {verb}")
    return 0

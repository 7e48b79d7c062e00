"""The ``nextbest`` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from nextbest.cli import deadletter_commands
from nextbest.streams.settings import WorkerSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nextbest", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    worker = commands.add_parser("worker", help="run a worker (settings from NEXTBEST_* env)")
    worker.add_argument("--loglevel", default="warning")

    sim = commands.add_parser("simulate", help="publish a simulated shop's traffic")
    _traffic_args(sim)

    demo = commands.add_parser(
        "demo", help="local Kafka + Redis + worker + simulated traffic, with a live dashboard"
    )
    _traffic_args(demo, rate=100.0, duration=None)
    demo.add_argument("--customers-shown", type=int, default=3)

    bench = commands.add_parser("bench", help="measure throughput and event->decision latency")
    bench.add_argument("--rate", type=float, default=1000.0)
    bench.add_argument("--rates", help="comma-separated rates: one run each, and the highest "
                       "sustained (p99 <= 200 ms)")
    bench.add_argument("--workers", type=int, default=1,
                       help="workers in the group; CPU per event is their total")
    bench.add_argument("--duration", type=float, default=60.0)
    bench.add_argument("--seed", type=int, default=11)
    bench.add_argument("--probe-every", type=int, default=20,
                       help="one escalation probe per this many shop messages (latency samples)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--no-worker", action="store_true",
                       help="drive an already running worker instead of starting one")
    bench.add_argument("--engine", action="store_true",
                       help="no Kafka: the engine core's cost per event, with models and without")
    bench.add_argument("--events", type=int, default=20_000, help="events for --engine")

    replay = commands.add_parser(
        "replay", help="replay a real dataset through the models, next to anchor methods; "
                       "or recorded events through identity, the engine and the wakes")
    replay.add_argument("dataset", choices=["movielens", "cdnow", "reviews", "all", "events"])
    replay.add_argument("file", nargs="?", type=Path,
                        help="events: JSON events, one per line")
    replay.add_argument("--topics", action="store_true",
                        help="events: read the input topics from their beginning instead")
    replay.add_argument("--out", type=Path,
                        help="events: write the decision log here (default: stdout)")
    replay.add_argument("--seed", type=int, default=7)
    replay.add_argument("--json", action="store_true", help="print one JSON object per dataset")

    report = commands.add_parser("report", help="reports from nextbest's output topics")
    report.add_argument("report", choices=["uplift"])
    report.add_argument("--json", action="store_true", help="print one JSON object")
    report.add_argument("--simulate", action="store_true",
                        help="no Kafka: run the simulated shop in a closed loop with the engine "
                             "and compare the measured uplift with the simulator's true lift")
    report.add_argument("--customers", type=int, default=2000)
    report.add_argument("--days", type=int, default=120)
    report.add_argument("--seed", type=int, default=7)

    digest = commands.add_parser("digest", help="the weekly sentiment digest (latest published)")
    digest.add_argument("--week", help="ISO week, e.g. 2026-W47")
    digest.add_argument("--json", action="store_true")

    grow = commands.add_parser(
        "repartition", help="more customer partitions (every worker stopped, the stage drained)")
    grow.add_argument("--partitions", type=int, required=True, help="the new partition count")

    customer = commands.add_parser(
        "customer", help="a customer's 360 view from a worker (its /customers/{ref})")
    customer.add_argument("ref", help="the nb-... id or any identifier (email:lisa@example.com, "
                          "a phone number, a loyalty id, ...)")
    customer.add_argument("--url", help="the worker (default: this machine's, at "
                          "NEXTBEST_WEB_PORT); the token is NEXTBEST_API_TOKEN's")
    customer.add_argument("--json", action="store_true", help="print the view as JSON")

    deadletter_commands.add_parser(commands)

    stack = commands.add_parser("stack", help="local Kafka and Redis without Docker")
    stack.add_argument("action", choices=["up", "down", "status"])
    return parser


def _traffic_args(
    parser: argparse.ArgumentParser, *, rate: float = 100.0, duration: float | None = 60.0
) -> None:
    parser.add_argument("--rate", type=float, default=rate, help="messages per second")
    parser.add_argument("--duration", type=float, default=duration, help="seconds (default: "
                        + ("until Ctrl-C" if duration is None else f"{duration:g}") + ")")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--malformed-share", type=float, default=0.01)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "worker":
        from nextbest.streams.worker import run_worker

        return run_worker(WorkerSettings(), loglevel=args.loglevel)
    if args.command == "simulate":
        from nextbest.cli.publisher import simulate

        stats = asyncio.run(simulate(
            WorkerSettings(), rate=args.rate, duration=args.duration, seed=args.seed,
            customers=args.customers, malformed_share=args.malformed_share,
        ))
        print(f"sent {stats.sent} messages ({stats.malformed} malformed) at {stats.rate:.0f}/s")
        return 0
    if args.command == "demo":
        from nextbest.cli.demo import run_demo

        return run_demo(args)
    if args.command == "bench" and args.engine:
        import orjson

        from nextbest.cli.engine_bench import engine_bench

        figures = engine_bench(args.events, args.seed)
        print(orjson.dumps(figures, option=orjson.OPT_INDENT_2 * (not args.json)).decode())
        return 0
    if args.command == "bench":
        from nextbest.cli.bench import run_bench

        return run_bench(args)
    if args.command == "replay":
        return _replay(args)
    if args.command == "report":
        return _report(args)
    if args.command == "digest":
        return _digest(args)
    if args.command == "repartition":
        return _repartition(args.partitions)
    if args.command == "customer":
        return _customer(args)
    if args.command == "deadletters":
        return deadletter_commands.run(args)
    if args.command == "stack":
        from nextbest import localstack

        return localstack.main([args.action])
    return 2


def _customer(args: argparse.Namespace) -> int:
    import sys

    import orjson

    from nextbest.cli.customer import LookupFailed, fetch_view, render_customer, worker_url
    from nextbest.cli.panels import output

    settings = WorkerSettings()
    url = (args.url or worker_url(settings)).rstrip("/")
    try:
        view = fetch_view(url, args.ref, settings.api_token)
    except LookupFailed as exc:
        print(f"nextbest customer: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(orjson.dumps(view).decode())
    else:
        output().print(render_customer(view))
    return 0


def _repartition(partitions: int) -> int:
    from nextbest.streams.repartition import RepartitionRefused, repartition

    try:
        done = asyncio.run(repartition(WorkerSettings(), partitions))
    except RepartitionRefused as exc:
        print(f"nothing changed: {exc}")
        return 1
    print(f"{done.topics} topics grown from {done.partitions_before} to {done.partitions} "
          f"partitions; {done.profiles_moved} profiles moved, {done.profiles_kept} stayed. "
          f"Start the workers with NEXTBEST_PARTITIONS={done.partitions}.")
    return 0


def _replay(args: argparse.Namespace) -> int:
    import orjson

    from nextbest.replay import DATASETS, run_replay

    if args.dataset == "events":
        from nextbest.cli.replay_events import replay_events

        return replay_events(args.file, topics=args.topics, out=args.out)

    names = sorted(DATASETS) if args.dataset == "all" else [args.dataset]
    for name in names:
        result = run_replay(name, seed=args.seed)
        if args.json:
            print(orjson.dumps(result.as_json()).decode())
        else:
            print(result.table())
    return 0


def _report(args: argparse.Namespace) -> int:
    import orjson

    if args.simulate:
        from nextbest.experiments.closed_loop import simulate

        loop = simulate(seed=args.seed, customers=args.customers, days=args.days)
        print(orjson.dumps(loop.to_dict()).decode() if args.json else loop.render())
        return 0
    from nextbest.cli.reports import uplift_report
    from nextbest.streams.pipeline import make_codec

    settings = WorkerSettings()
    found = asyncio.run(uplift_report(settings, make_codec(settings.schema_registry_url)))
    if args.json:
        print(orjson.dumps({"outcomes": found["outcomes"], "uplift": {
            k: u.to_dict() for k, u in found["report"].items()}}).decode())
    else:
        print(f"{found['outcomes']} closed attribution windows on {settings.outcome_topic}")
        print(found["table"])
    return 0


def _digest(args: argparse.Namespace) -> int:
    import orjson

    from nextbest.cli.reports import digest_text, latest_digest
    from nextbest.streams.pipeline import make_codec

    settings = WorkerSettings()
    digest = asyncio.run(latest_digest(settings, make_codec(settings.schema_registry_url),
                                       args.week))
    if digest is None:
        print(f"no digest published on {settings.digest_topic} yet (a week of event time must "
              "end first; a worker shows the current week at /digest)")
        return 1
    print(orjson.dumps(digest).decode() if args.json else digest_text(digest))
    return 0


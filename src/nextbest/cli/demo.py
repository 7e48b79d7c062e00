"""``nextbest demo``: local Kafka and Redis, a worker, simulated traffic and a live summary."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from nextbest.cli.publisher import TrafficPublisher
from nextbest.cli.watch import PipelineWatcher, percentile
from nextbest.cli.worker_process import WorkerProcess, with_local_stack
from nextbest.streams.settings import WorkerSettings

SUMMARY_EVERY = 3.0


def run_demo(args: argparse.Namespace) -> int:
    settings, started = with_local_stack(
        data_dir=Path("var/demo/worker"),
        wall_clock_ticks=False,  # simulated time runs far ahead of the wall clock
    )
    # The worker's local state is a cache of its changelog topics: start clean so it can never
    # disagree with a broker whose data was reset.
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    worker = WorkerProcess(settings, log_path=Path("var/demo/worker.log"))
    names = {s.name for s in started}
    print(f"Kafka {settings.kafka_broker} ({'started' if 'kafka' in names else 'reused'}), "
          f"Redis ({'started' if 'redis' in names else 'reused'})")
    try:
        worker.start()
        print("worker starting (logs: var/demo/worker.log) ...")
        worker.ready()
        print(f"worker ready: {worker.url}/metrics, customer pages {worker.url}/360 - "
              f"publishing at {args.rate:g} messages/s, Ctrl-C to stop\n")
        asyncio.run(_traffic(settings, args, worker))
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping worker ...")
        worker.stop()
        for service in reversed(started):
            service.stop()
    return 0


async def _traffic(
    settings: WorkerSettings, args: argparse.Namespace, worker: WorkerProcess
) -> None:
    from nextbest.simulation import Shop

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    watcher = PipelineWatcher(settings)
    await watcher.start()
    shop = Shop(seed=args.seed, customers=args.customers, malformed_share=args.malformed_share,
                start_time_ms=int(time.time() * 1000))
    publisher = TrafficPublisher(
        settings, on_sent=lambda topic, message, at: watcher.event_sent(
            message.event["event_id"], at)
    )
    async with publisher:
        for item in shop.catalog():
            await publisher.send(item)
        publishing = asyncio.create_task(publisher.publish(
            shop.events(), rate=args.rate, duration=args.duration, stop=stop))
        try:
            while not publishing.done():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(publishing), SUMMARY_EVERY)
                _print_summary(publisher, watcher, worker)
        finally:
            stop.set()
            await publishing
            await asyncio.sleep(1.0)
            _print_summary(publisher, watcher, worker)
            await watcher.stop()


def _models_line(url: str) -> str:
    """What the worker's models learnt so far, in one line (empty if the worker is busy)."""
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
            stats = orjson.loads(response.read())
    except OSError:
        return "-"
    learnt = stats["learnt"]
    quality = {k: f"{v:.2f}" for k, v in stats["quality"].items() if v is not None}
    return (f"{stats['events']} events learnt ({learnt['recommender']} item interactions, "
            f"{learnt['sentiment']} reviews, {learnt['churn_labels']} churn labels); "
            f"prequential quality {quality or '-'}")


def customer_hint(worker: WorkerProcess, customer_id: str) -> str:
    """How to look a customer up: their served view with curl, their page in a browser. With a
    token set the hint names the variable, never the token.

    >>> from nextbest.streams.settings import WorkerSettings
    >>> local = WorkerSettings(web_host="127.0.0.1", web_port=6066, api_token=None)
    >>> customer_hint(WorkerProcess(local, log_path=Path("w.log")), "nb-1")
    'curl http://127.0.0.1:6066/customers/nb-1 or open http://127.0.0.1:6066/360/nb-1'
    """
    url = worker.url
    if worker.settings.api_token is None:
        return f"curl {url}/customers/{customer_id} or open {url}/360/{customer_id}"
    return (f'curl -H "Authorization: Bearer $NEXTBEST_API_TOKEN" {url}/customers/{customer_id}'
            f" or open {url}/360/{customer_id} (sign in with the token)")


def _print_summary(publisher: TrafficPublisher, watcher: PipelineWatcher,
                   worker: WorkerProcess) -> None:
    stats, seen = publisher.stats, watcher.observed
    lat = seen.latencies_ms
    p50, p95, p99 = (percentile(lat, q) for q in (0.5, 0.95, 0.99))

    def fmt(value: float | None) -> str:
        return f"{value:.1f} ms" if value is not None else "-"

    print(f"--- {stats.sent} messages sent ({stats.rate:.0f}/s), {stats.malformed} malformed")
    print("    decisions: " + (", ".join(f"{k} {v}" for k, v in sorted(seen.decisions.items()))
                               or "none yet"))
    print("    dead letters: " + (", ".join(f"{k} {v}" for k, v in seen.deadletters.items())
                                  or "none"))
    print(f"    event->decision latency ({len(lat)} matched): p50 {fmt(p50)}, p95 {fmt(p95)}, "
          f"p99 {fmt(p99)}")
    if seen.examples:
        example: dict[str, Any] = seen.examples[-1]
        reasons = "; ".join(r["text"] for r in example["reasons"])
        print(f"    e.g. {example['decision_type']} for {example['customer_id']} via "
              f"{example['channel']}: {reasons}")
        print(f"    look: {customer_hint(worker, example['customer_id'])}")
        payload = orjson.loads(example["payload"])
        print(f"    payload: {orjson.dumps(payload).decode()[:160]}")
    print(f"    models: {_models_line(worker.url)} (curl {worker.url}/models)")

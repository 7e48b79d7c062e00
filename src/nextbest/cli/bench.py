"""``nextbest bench``: throughput, event->decision latency and the worker's CPU per event of the
running pipeline, next to a raw aiokafka consume->produce passthrough on the same broker at the
same rate in the same run (the floor), and the engine's own cost per event measured in-process
by the same command on the very messages that run published (the engine's cost per event grows
as a run goes on: more customers are due for wakes, the models hold more).

``--rate R`` is one run; ``--rates 500,1000,...`` a sweep with a fresh worker per rate, reporting
the highest rate kept up with p99 <= 200 ms (``max_sustained_per_s``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import re
import shutil
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from nextbest.cli.publisher import TrafficPublisher
from nextbest.cli.watch import PipelineWatcher, percentile
from nextbest.cli.worker_process import WorkerProcess, free_port, with_local_stack
from nextbest.simulation import MalformedMessage, Shop, SimEvent
from nextbest.streams.admin import ensure_topics
from nextbest.streams.settings import WorkerSettings

LATENCY_OBJECTIVE_MS = 200.0
STEPS_LINE = re.compile(r"^nextbest_engine_step_seconds_count ([0-9.e+]+)$", re.M)
ENGINE_CPU_LINE = re.compile(r"^nextbest_engine_cpu_seconds_total ([0-9.e+]+)$", re.M)
WAITS_LINE = re.compile(r"^nextbest_identity_wait_seconds_count ([0-9.e+]+)$", re.M)
WAITED_LINE = re.compile(r"^nextbest_identity_wait_seconds_sum ([0-9.e+]+)$", re.M)


def _latency_summary(latencies: list[float]) -> dict[str, float | int | None]:
    return {
        "samples": len(latencies),
        "p50_ms": _round(percentile(latencies, 0.50)),
        "p95_ms": _round(percentile(latencies, 0.95)),
        "p99_ms": _round(percentile(latencies, 0.99)),
        "max_ms": _round(max(latencies) if latencies else None),
    }


def _round(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


async def passthrough(
    broker: str, *, rate: float, duration: float, fetch_max_wait_ms: int, partitions: int
) -> dict[str, Any]:
    """The floor: produce -> consume -> produce -> consume through the same broker, no work."""
    run = uuid.uuid4().hex[:8]
    source, sink = f"bench.passthrough.in.{run}", f"bench.passthrough.out.{run}"
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, num_partitions=partitions, replication_factor=1)
                                   for t in (source, sink)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=broker, linger_ms=0)
    relay_in = AIOKafkaConsumer(source, bootstrap_servers=broker, group_id=f"relay-{run}",
                                auto_offset_reset="earliest", fetch_max_wait_ms=fetch_max_wait_ms)
    sink_in = AIOKafkaConsumer(sink, bootstrap_servers=broker, group_id=f"sink-{run}",
                               auto_offset_reset="earliest", fetch_max_wait_ms=fetch_max_wait_ms)
    await producer.start()
    await producer.send_and_wait(source, b"warmup")
    await producer.send_and_wait(sink, b"warmup")
    await relay_in.start()
    await sink_in.start()
    latencies: list[float] = []

    async def relay() -> None:
        async for message in relay_in:
            await producer.send(sink, message.value)

    async def collect() -> None:
        async for message in sink_in:
            if message.value != b"warmup":
                latencies.append((time.time() - float(message.value)) * 1000)

    tasks = [asyncio.create_task(relay()), asyncio.create_task(collect())]
    started = time.monotonic()
    sent = 0
    while time.monotonic() - started < duration:
        await producer.send(source, repr(time.time()).encode())
        sent += 1
        ahead = sent / rate - (time.monotonic() - started)
        if ahead > 0:
            await asyncio.sleep(ahead)
    deadline = time.monotonic() + 30
    while len(latencies) < sent and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    elapsed = time.monotonic() - started
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await relay_in.stop()
    await sink_in.stop()
    await producer.stop()
    return {"sent": sent, "received": len(latencies), "throughput_per_s": round(sent / elapsed, 1),
            "latency": _latency_summary(latencies)}


def _engine_counters(url: str) -> tuple[float, float, float, float]:
    """Events the worker's customer stage has run through the engine so far, the CPU seconds
    its engine took, the events its router held for the identity writer and the seconds they
    waited."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    found = (line.search(text) for line in (STEPS_LINE, ENGINE_CPU_LINE, WAITS_LINE, WAITED_LINE))
    steps, engine, waits, waited = (float(m.group(1)) if m else 0.0 for m in found)
    return steps, engine, waits, waited


def bench_traffic(seed: int, start_ms: int, probe_every: int
                  ) -> tuple[list[SimEvent], Iterator[SimEvent | MalformedMessage]]:
    """The catalog and the message stream a run publishes (the same for the engine alone)."""
    shop = Shop(seed=seed, customers=2_000, start_time_ms=start_ms)
    return shop.catalog(), with_probes(shop.events(), every=probe_every, start_ms=start_ms)


def engine_on_traffic(seed: int, start_ms: int, probe_every: int, messages: int) -> float:
    """The engine's own cost per event, in-process, on the first ``messages`` of a run's
    traffic (malformed ones skipped: the worker dead-letters them before the engine)."""
    from nextbest.cli.engine_bench import run_engine
    from nextbest.engine import Engine

    catalog, stream = bench_traffic(seed, start_ms, probe_every)
    events = [m for m in itertools.islice(stream, messages) if isinstance(m, SimEvent)]
    return run_engine(Engine(), [*catalog, *events])["us_per_event"]


def with_probes(
    messages: Iterator[SimEvent | MalformedMessage], *, every: int, start_ms: int
) -> Iterator[SimEvent | MalformedMessage]:
    """The shop's traffic with a latency probe every ``every`` messages: a support message with a
    legal word from a new customer, which the engine escalates at once - one full trip through
    ingest, identity and customer stages per probe."""
    for n, message in enumerate(messages, start=1):
        yield message
        if n % every == 0:
            event_time = message.event["event_time"] if isinstance(message, SimEvent) else start_ms
            phone = f"+1555{n:09d}"
            yield SimEvent("support", phone, {
                "event_id": f"probe-{n}", "event_time": event_time,
                "customer": {"customer_id": None, "email": None, "phone": phone,
                             "device_id": None, "loyalty_id": None, "pos_id": None},
                "kind": "message", "conversation_id": f"probe-{n}", "channel": "sms",
                "author": "customer", "text": "Sort this out or I call my lawyer.",
                "order_id": None, "refund_requested": None,
            })


def _cluster_steps(urls: list[str]) -> float:
    return _cluster_counters(urls)[0]


def _cluster_counters(urls: list[str]) -> tuple[float, float, float, float]:
    counters = [_engine_counters(url) for url in urls]
    steps, engine, waits, waited = (sum(column) for column in zip(*counters, strict=True))
    return steps, engine, waits, waited


def _cluster_cpu_seconds(pids: list[int]) -> float:
    return sum(process_cpu_seconds(pid) for pid in pids)


async def pipeline(settings: WorkerSettings, worker_urls: list[str], *, rate: float,
                   duration: float, seed: int, probe_every: int, worker_pids: list[int]
                   ) -> dict[str, Any]:
    """The shop's traffic at ``rate`` through the workers at ``worker_urls`` (one group); CPU
    per event is the sum over ``worker_pids`` (none: not measured)."""
    watcher = PipelineWatcher(settings)
    await watcher.start()
    start_ms = int(time.time() * 1000)
    catalog, traffic = bench_traffic(seed, start_ms, probe_every)
    publisher = TrafficPublisher(
        settings, on_sent=lambda topic, m, at: watcher.event_sent(m.event["event_id"], at))
    async with publisher:
        for item in catalog:
            await publisher.send(item)
        await asyncio.sleep(2)
        steps_before, engine_before, waits_before, waited_before = await asyncio.to_thread(
            _cluster_counters, worker_urls)
        catalog_before = publisher.stats.by_family.get("catalog", 0)
        sent_before = publisher.stats.sent
        cpu_before = _cluster_cpu_seconds(worker_pids)
        started = time.monotonic()
        stats = await publisher.publish(traffic, rate=rate, duration=duration)
        published = time.monotonic() - started
    # Processed throughput: until the engine has stepped through every customer event sent.
    sent = stats.sent - sent_before
    expected = sent - (stats.by_family.get("catalog", 0) - catalog_before)
    deadline = time.monotonic() + 180
    processed = 0.0
    while time.monotonic() < deadline:
        processed = await asyncio.to_thread(_cluster_steps, worker_urls) - steps_before
        if processed >= expected:
            break
        await asyncio.sleep(0.25)
    elapsed = time.monotonic() - started
    cpu = _cluster_cpu_seconds(worker_pids) - cpu_before if worker_pids else None
    _, engine_after, waits_after, waited_after = await asyncio.to_thread(
        _cluster_counters, worker_urls)
    engine_cpu = engine_after - engine_before
    waits, waited = waits_after - waits_before, waited_after - waited_before
    await asyncio.sleep(1)
    await watcher.stop()
    seen = watcher.observed
    return {
        "sent": sent,
        "catalog_sent": sent - expected,
        "publish_seconds": round(published, 1),
        "processed": int(processed),
        "throughput_per_s": round(processed / elapsed, 1),
        "decisions": dict(seen.decisions),
        "duplicate_decisions": seen.duplicates,
        "latency": _latency_summary(seen.latencies_ms),
        "identity_waits": {"events": int(waits),
                           "share": round(waits / processed, 4) if processed else None,
                           "mean_ms": round(waited / waits * 1000, 1) if waits else None},
        "worker_cpu_us_per_event": round(cpu / processed * 1e6, 1) if cpu and processed else None,
        "engine_in_worker_us_per_event": (round(engine_cpu / processed * 1e6, 1)
                                          if engine_cpu and processed else None),
        "traffic": {"start_ms": start_ms, "messages": sent},
    }


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_rate(args: argparse.Namespace, rate: float) -> dict[str, Any]:
    """One run at ``rate``: the passthrough floor, then the pipeline with fresh workers (one
    consumer group of ``args.workers``)."""
    run = uuid.uuid4().hex[:6]
    settings, started = with_local_stack(
        topic_prefix="" if args.no_worker else f"bench-{run}.", data_dir=Path(f"var/bench/{run}"),
        wall_clock_ticks=False,
    )
    workers = [] if args.no_worker else [
        WorkerProcess(settings.model_copy(update={
            "web_port": free_port(), "worker_id": f"bench-{n}",
            "data_dir": settings.data_dir / f"worker-{n}"}),
            log_path=Path(f"var/bench/{run}-{n}.log"))
        for n in range(args.workers)]
    try:
        if workers:
            asyncio.run(ensure_topics(settings))
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.ready()
        floor = asyncio.run(passthrough(
            settings.kafka_broker, rate=rate, duration=args.duration,
            fetch_max_wait_ms=settings.fetch_max_wait_ms, partitions=settings.partitions,
        ))
        urls = [w.url for w in workers] or [
            f"http://{settings.web_host}:{settings.web_port}"]
        pids = [w.process.pid for w in workers if w.process is not None]
        result = asyncio.run(pipeline(settings, urls, rate=rate, duration=args.duration,
                                      seed=args.seed, probe_every=args.probe_every,
                                      worker_pids=pids))
    finally:
        for worker in workers:
            worker.stop()
        shutil.rmtree(settings.data_dir, ignore_errors=True)
        for service in reversed(started):
            service.stop()
    report: dict[str, Any] = {"rate": rate, "duration_s": args.duration,
                              "workers": len(workers) or None, "pipeline": result,
                              "passthrough": floor}
    p99, floor_p99 = result["latency"]["p99_ms"], floor["latency"]["p99_ms"]
    report["p99_ratio_to_passthrough"] = round(p99 / floor_p99, 2) if p99 and floor_p99 else None
    cpu = report["worker_cpu_us_per_event"] = result.pop("worker_cpu_us_per_event")
    in_worker = report["engine_in_worker_us_per_event"] = result.pop(
        "engine_in_worker_us_per_event")
    traffic = result.pop("traffic")
    engine = report["engine_us_per_event"] = engine_on_traffic(
        args.seed, traffic["start_ms"], args.probe_every, traffic["messages"])
    report["worker_cpu_to_engine"] = round(cpu / engine, 2) if cpu and engine else None
    report["worker_cpu_to_engine_in_worker"] = (round(cpu / in_worker, 2)
                                                if cpu and in_worker else None)
    return report


def sustained(report: dict[str, Any]) -> bool:
    """Kept up: processed at (nearly) the offered rate with p99 within the 200 ms objective."""
    pipeline = report["pipeline"]
    p99 = pipeline["latency"]["p99_ms"]
    return (p99 is not None and p99 <= LATENCY_OBJECTIVE_MS
            and pipeline["processed"] >= 0.99 * (pipeline["sent"] - pipeline["catalog_sent"]))


def run_bench(args: argparse.Namespace) -> int:
    rates = [float(r) for r in args.rates.split(",")] if args.rates else [args.rate]
    runs = [one_rate(args, rate) for rate in rates]
    if args.rates:
        kept = [r["rate"] for r in runs if sustained(r)]
        output: dict[str, Any] = {"runs": runs, "max_sustained_per_s": max(kept, default=None)}
    else:
        output = runs[0]
    option = 0 if args.json else orjson.OPT_INDENT_2
    print(orjson.dumps(output, option=option).decode())
    return 0

"""``nextbest demo``: local Kafka and Redis, a worker, simulated traffic and a live dashboard
(``live_view.py``; plain lines when the output is not a terminal)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
import signal
import sys
import termios
import time
from collections import deque
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live

from nextbest.cli.live_view import DemoState, plain_lines, render
from nextbest.cli.publisher import TrafficPublisher
from nextbest.cli.watch import PipelineWatcher
from nextbest.cli.worker_process import WorkerProcess, with_local_stack
from nextbest.cli.worker_reading import WorkerReading, read_worker
from nextbest.streams.settings import WorkerSettings

REFRESH_SECONDS = 1.0
"""How often the live view redraws."""
SUMMARY_EVERY = 3.0
"""How often plain lines are printed when the output is not a terminal."""
RATE_WINDOW = 5.0
"""Rates are the change of the worker's counters over about this many seconds."""
LATENCY_WINDOW = 1000
"""Latency percentiles are over this many most recent matched decisions."""


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
    console = Console()
    view = DemoView(publisher, watcher, worker)
    async with publisher:
        for item in shop.catalog():
            await publisher.send(item)
        publishing = asyncio.create_task(publisher.publish(
            shop.events(), rate=args.rate, duration=args.duration, stop=stop))
        show: LiveShow | PlainShow = LiveShow(console) if console.is_terminal else PlainShow()
        with show:
            try:
                while not publishing.done():
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(asyncio.shield(publishing), show.interval)
                    show.update(await view.state())
            finally:
                stop.set()
                await publishing
                await asyncio.sleep(1.0)
                show.update(await view.state())
                await watcher.stop()


class DemoView:
    """Reads what the view shows: the publisher's counts, the worker's metrics and models (a
    few seconds of readings kept, for rates), the watcher's decisions and latencies."""

    def __init__(self, publisher: TrafficPublisher, watcher: PipelineWatcher,
                 worker: WorkerProcess) -> None:
        self.publisher = publisher
        self.watcher = watcher
        self.worker = worker
        self.readings: deque[WorkerReading] = deque()
        self.started = time.monotonic()

    async def state(self) -> DemoState:
        reading = await asyncio.to_thread(read_worker, self.worker.url)
        if reading is not None:
            self.readings.append(reading)
            while len(self.readings) > 2 and self.readings[1].at <= reading.at - RATE_WINDOW:
                self.readings.popleft()
        stats, seen = self.publisher.stats, self.watcher.observed
        return DemoState(
            elapsed=time.monotonic() - self.started, sent=stats.sent,
            malformed=stats.malformed, send_rate=stats.rate, worker_url=self.worker.url,
            reading=reading,
            earlier=self.readings[0] if reading is not None and len(self.readings) > 1
            else None,
            latencies_ms=seen.latencies_ms[-LATENCY_WINDOW:], matched=len(seen.latencies_ms),
            example=seen.examples[-1] if seen.examples else None,
            token_set=self.worker.settings.api_token is not None)


class LiveShow:
    """The dashboard, redrawn in place on a terminal. While it shows, keys typed are not echoed
    (an echoed ``^C`` would push the frame down a line and leave its top behind) and log lines
    are printed above it (written past it, they would scroll its top away)."""

    interval = REFRESH_SECONDS

    def __init__(self, console: Console) -> None:
        self.live = Live(console=console, auto_refresh=False, transient=False)
        self.keyboard: list[Any] | None = None
        self.logs: list[tuple[logging.StreamHandler[Any], Any]] = []

    def __enter__(self) -> LiveShow:
        with contextlib.suppress(OSError, termios.error):
            fd = sys.stdin.fileno()
            self.keyboard = termios.tcgetattr(fd)
            quiet = termios.tcgetattr(fd)
            quiet[3] &= ~(termios.ECHO | termios.ECHOCTL)
            termios.tcsetattr(fd, termios.TCSANOW, quiet)
        stderr = sys.stderr
        self.live.__enter__()  # sys.stderr is now the live view's: it prints above the frame
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is stderr:
                self.logs.append((handler, handler.setStream(sys.stderr)))
        return self

    def __exit__(self, *exc: object) -> None:
        for handler, stream in self.logs:
            handler.setStream(stream)
        self.live.__exit__(None, None, None)
        if self.keyboard is not None:
            with contextlib.suppress(OSError, termios.error):
                termios.tcsetattr(sys.stdin.fileno(), termios.TCSANOW, self.keyboard)

    def update(self, state: DemoState) -> None:
        self.live.update(render(state), refresh=True)


class PlainShow:
    """Plain lines every few seconds, for a log or a pipe."""

    interval = SUMMARY_EVERY

    def __enter__(self) -> PlainShow:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, state: DemoState) -> None:
        for line in plain_lines(state):
            print(line, flush=True)

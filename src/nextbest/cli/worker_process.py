"""Starts a worker as a child process (for the demo, the benchmark and the tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
from pydantic import SecretStr

from nextbest import localstack
from nextbest.localstack import LocalService
from nextbest.streams.settings import WorkerSettings


def free_port() -> int:
    """A TCP port nothing listens on now (for a worker's endpoints next to other workers)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worker_env(settings: WorkerSettings) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NEXTBEST_API_TOKEN", None)  # the settings' token or none, never one inherited
    if settings.api_token is not None:
        env["NEXTBEST_API_TOKEN"] = settings.api_token.get_secret_value()
    env.update({
        "NEXTBEST_KAFKA_BROKER": settings.kafka_broker,
        "NEXTBEST_REDIS_URL": settings.redis_url.get_secret_value(),
        "NEXTBEST_TOPIC_PREFIX": settings.topic_prefix,
        "NEXTBEST_PARTITIONS": str(settings.partitions),
        "NEXTBEST_DATA_DIR": str(settings.data_dir),
        "NEXTBEST_WEB_PORT": str(settings.web_port),
        "NEXTBEST_WALL_CLOCK_TICKS": str(settings.wall_clock_ticks).lower(),
        "NEXTBEST_IDENTITY_ORDER_WAIT_SECONDS": str(settings.identity_order_wait_seconds),
        "NEXTBEST_CUSTOMER_ORDER_WAIT_SECONDS": str(settings.customer_order_wait_seconds),
        **({"NEXTBEST_WORKER_ID": settings.worker_id} if settings.worker_id else {}),
        "NEXTBEST_PRODUCER_LINGER_MS": str(settings.producer_linger_ms),
        "NEXTBEST_FETCH_MAX_WAIT_MS": str(settings.fetch_max_wait_ms),
        "NEXTBEST_FETCH_MIN_BYTES": str(settings.fetch_min_bytes),
        **kafka_security_env(settings),
    })
    return env


def kafka_security_env(settings: WorkerSettings) -> dict[str, str]:
    """How the worker authenticates to Kafka, as set (unset ones are left to its environment)."""
    env: dict[str, str] = {
        "NEXTBEST_KAFKA_SECURITY_PROTOCOL": settings.kafka_security_protocol,
        "NEXTBEST_KAFKA_SASL_MECHANISM": settings.kafka_sasl_mechanism}
    if settings.kafka_sasl_username is not None:
        env["NEXTBEST_KAFKA_SASL_USERNAME"] = settings.kafka_sasl_username
    if settings.kafka_sasl_password is not None:
        env["NEXTBEST_KAFKA_SASL_PASSWORD"] = settings.kafka_sasl_password.get_secret_value()
    for name in ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile"):
        value = getattr(settings, name)
        if value is not None:
            env[f"NEXTBEST_{name.upper()}"] = str(value)
    return env


class WorkerProcess:
    """One ``nextbest worker`` child; ``ready()`` waits until it serves /metrics and has
    partitions assigned to its customer stage."""

    def __init__(self, settings: WorkerSettings, *, log_path: Path,
                 engine: dict[str, Any] | None = None) -> None:
        self.settings = settings
        self.log_path = log_path
        # Engine settings (EngineSettings field -> value) for this worker, via its environment.
        self.engine_env = {f"NEXTBEST_{k.upper()}": v if isinstance(v, str) else orjson.dumps(
            v).decode() for k, v in (engine or {}).items()}
        self.process: subprocess.Popen[bytes] | None = None
        # NEXTBEST_WORKER_LOGLEVEL=info when investigating a test run; the log lands in
        # log_path.
        self.loglevel = os.environ.get("NEXTBEST_WORKER_LOGLEVEL", "warning")

    def start(self) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nextbest.cli", "worker", "--loglevel", self.loglevel],
            env={**worker_env(self.settings), **self.engine_env}, stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def url(self) -> str:
        return f"http://{self.settings.web_host}:{self.settings.web_port}"

    def ready(self, *, timeout: float = 90.0) -> None:
        """Block until the worker's customer stage has partitions (assignment done)."""
        deadline = time.monotonic() + timeout
        marker = f'topic="{self.settings.customer_topic}"'
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}; see "
                                   f"{self.log_path}")
            try:
                with urllib.request.urlopen(self.url + "/metrics", timeout=2) as response:
                    if marker in response.read().decode():
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"worker not ready after {timeout:.0f}s; see {self.log_path}")

    def stop(self, *, kill: bool = False, timeout: float = 30.0) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def with_local_stack(**overrides: Any) -> tuple[WorkerSettings, list[LocalService]]:
    """Worker settings pointing at Kafka and Redis: the ones named by ``NEXTBEST_KAFKA_BROKER`` /
    ``NEXTBEST_REDIS_URL`` when set, else a local stack started (or reused) on the default ports.
    Returns the services this call started, for the caller to stop."""
    started: list[LocalService] = []
    values: dict[str, Any] = {}
    if "NEXTBEST_KAFKA_BROKER" not in os.environ:
        kafka = localstack.ensure_kafka()
        values["kafka_broker"] = kafka.address
        started.append(kafka)
    if "NEXTBEST_REDIS_URL" not in os.environ:
        redis = localstack.ensure_redis()
        values["redis_url"] = SecretStr(redis.address)
        started.append(redis)
    values.update(overrides)
    return WorkerSettings(**values), [s for s in started if s.started]

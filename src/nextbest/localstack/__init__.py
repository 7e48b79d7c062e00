"""Local single-node Kafka (KRaft, broker + controller) and Redis for machines without Docker.

The broker's jars come from Maven Central (``deploy/local/kafka/pom.xml``) into a cache dir and
run on the machine's Java 17+; Redis is Debian's ``redis-server`` (installed with apt-get when
missing and running as root). Both bind to 127.0.0.1 only. Anything already answering on the
port is reused and never stopped by us.

    python -m nextbest.localstack up|down|status [--kafka-port 9092] [--redis-port 6379]
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from nextbest.localstack import kafka
from nextbest.localstack.processes import (
    LocalService,
    LocalStackError,
    log_tail,
    pid_alive,
    read_pid,
    spawn,
    state_root,
    wait_until,
)

__all__ = [
    "KAFKA_VERSION",
    "LocalService",
    "LocalStackError",
    "default_data_dir",
    "ensure_kafka",
    "ensure_redis",
    "main",
]

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
KAFKA_VERSION = kafka.KAFKA_VERSION
_KAFKA_MARKER = "kafka.Kafka"
_REDIS_MARKER = "redis-server"
_APT_REDIS = "apt-get update && apt-get install -y redis-server"


def default_data_dir(service: str, port: int) -> Path:
    """``<state root>/<service>/<port>``: data, pid file and logs of one local service."""
    return state_root() / service / str(port)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def _prepare_dir(path: Path) -> Path:
    path = path.expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LocalStackError(f"cannot create data dir {path}: {exc}") from exc
    if not os.access(path, os.W_OK):
        raise LocalStackError(f"data dir {path} is not writable")
    return path


def _still_starting(pid_file: Path, marker: str, ready: Callable[[], bool]) -> bool:
    """True once a process from an earlier start, still launching, becomes ready."""
    pid = read_pid(pid_file)
    if pid is None or not pid_alive(pid, marker=marker):
        return False
    logger.info("pid %d from %s is still starting; waiting for it", pid, pid_file)
    return wait_until(ready, timeout=60.0)


def ensure_kafka(
    *, port: int = 9092, data_dir: Path | None = None, timeout: float = 120.0
) -> LocalService:
    """Reuse the Kafka broker on 127.0.0.1:``port`` or start a single-node KRaft one."""
    address = f"{HOST}:{port}"
    directory = data_dir if data_dir is not None else default_data_dir("kafka", port)
    answers = functools.partial(kafka.answers_kafka, HOST, port)
    if answers() or _still_starting(directory / "kafka.pid", _KAFKA_MARKER, answers):
        logger.info("reusing the Kafka broker on %s", address)
        return LocalService("kafka", address, started=False)
    if _port_open(port):
        raise LocalStackError(f"127.0.0.1:{port} is in use by something that is not Kafka")
    directory = _prepare_dir(directory)
    config = kafka.prepare(directory, port=port)
    log_path, stdout_path = directory / "logs" / "server.log", directory / "logs" / "stdout.log"
    pid_file = directory / "kafka.pid"
    proc = spawn(kafka.broker_argv(directory, config), log_path=stdout_path, pid_file=pid_file)
    service = LocalService(
        "kafka", address, True, proc.pid, log_path, pid_file, _KAFKA_MARKER, _proc=proc
    )
    logger.info("starting Kafka %s on %s (pid %d)", KAFKA_VERSION, address, proc.pid)
    if not wait_until(lambda: kafka.healthy(HOST, port), timeout=timeout, proc=proc):
        what = (
            f"exited with code {proc.returncode}"
            if proc.poll() is not None
            else f"was not healthy after {timeout:.0f}s"
        )
        tail = log_tail(log_path if log_path.is_file() else stdout_path)
        service.stop(timeout=10)
        raise LocalStackError(
            f"Kafka broker on {address} {what}. Broker log: {log_path} "
            f"(JVM output: {stdout_path}). Last lines:\n{tail}"
        )
    return service


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as sock:
            sock.settimeout(1.0)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise LocalStackError(f"redis-server not found; install it with: sudo sh -c '{_APT_REDIS}'")
    logger.info("redis-server not found; installing it with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "redis-server"]):
        result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            output = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
            raise LocalStackError(f"{' '.join(argv)} failed:\n{output}")
    found = shutil.which("redis-server")
    if not found:
        raise LocalStackError("redis-server still not on PATH after apt-get install")
    return found


def ensure_redis(
    *, port: int = 6379, data_dir: Path | None = None, timeout: float = 30.0
) -> LocalService:
    """Reuse the Redis answering PING on 127.0.0.1:``port`` or start one without persistence."""
    address = f"redis://{HOST}:{port}/0"
    directory = data_dir if data_dir is not None else default_data_dir("redis", port)
    pid_file = directory / "redis.pid"
    if _redis_ping(port) or _still_starting(pid_file, _REDIS_MARKER, lambda: _redis_ping(port)):
        logger.info("reusing the Redis on %s", address)
        return LocalService("redis", address, started=False)
    if _port_open(port):
        raise LocalStackError(f"127.0.0.1:{port} is in use by something that does not answer PING")
    server = _redis_server()
    if _redis_ping(port):  # the package's own service may have started on this port
        return LocalService("redis", address, started=False)
    directory = _prepare_dir(directory)
    log_path = directory / "redis.log"
    argv = [
        server,
        "--port",
        str(port),
        "--bind",
        HOST,
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--dir",
        str(directory),
    ]
    proc = spawn(argv, log_path=log_path, pid_file=pid_file)
    service = LocalService(
        "redis", address, True, proc.pid, log_path, pid_file, _REDIS_MARKER, _proc=proc
    )
    logger.info("starting Redis on %s (pid %d)", address, proc.pid)
    if not wait_until(lambda: _redis_ping(port), timeout=timeout, proc=proc):
        tail = log_tail(log_path)
        service.stop(timeout=5)
        raise LocalStackError(f"Redis on {address} did not answer PING; log: {log_path}\n{tail}")
    return service


def _describe(service: LocalService) -> str:
    how = f"started, pid {service.pid}, log {service.log_path}" if service.started else "reused"
    return f"{service.name:6} {service.address:26} {how}"


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """``up`` starts Kafka and Redis in the background, ``down`` stops them, ``status`` checks."""
    parser = argparse.ArgumentParser(
        prog=prog or "python -m nextbest.localstack",
        description="Local single-node Kafka (KRaft) and Redis, no Docker needed.",
    )
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--kafka-port", type=int, default=9092)
    parser.add_argument("--redis-port", type=int, default=6379)
    args = parser.parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    ports = {"kafka": args.kafka_port, "redis": args.redis_port}
    try:
        if args.command == "up":
            print(_describe(ensure_kafka(port=ports["kafka"])))
            print(_describe(ensure_redis(port=ports["redis"])))
            return 0
        healthy = {"kafka": kafka.answers_kafka(HOST, ports["kafka"])}
        healthy["redis"] = _redis_ping(ports["redis"])
        for name, marker in (("kafka", _KAFKA_MARKER), ("redis", _REDIS_MARKER)):
            pid_file = default_data_dir(name, ports[name]) / f"{name}.pid"
            pid = read_pid(pid_file)
            ours = pid is not None and pid_alive(pid, marker=marker)
            if args.command == "down":
                if ours:
                    LocalService(name, "", True, pid, None, pid_file, marker).stop()
                    print(f"{name:6} stopped (pid {pid})")
                else:
                    pid_file.unlink(missing_ok=True)
                    print(f"{name:6} not running from {pid_file.parent}")
            else:
                state = "up" if healthy[name] else "down"
                owner = f"pid {pid}, data {pid_file.parent}" if ours else "not started by us"
                print(f"{name:6} 127.0.0.1:{ports[name]:<6} {state:5} ({owner})")
        return 0 if args.command == "down" or all(healthy.values()) else 3
    except LocalStackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


"""Real Kafka and Redis for the integration tests.

Where they come from, first match wins:

1. ``NEXTBEST_TEST_KAFKA`` (``host:port``) / ``NEXTBEST_TEST_REDIS`` (``redis://...``);
2. testcontainers, when a Docker engine answers;
3. :mod:`nextbest.localstack`: a local single-node KRaft broker and ``redis-server`` (reused when
   one already answers on 9092 / 6379, e.g. after ``python -m nextbest.localstack up``).

Only what this session started is stopped at its end. Every test in this folder gets the
``integration`` marker (deselect with ``-m "not integration"``).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nextbest.localstack import ensure_kafka, ensure_redis

logger = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def docker_available() -> bool:
    """True when a Docker engine answers within a few seconds (never hangs without one)."""
    if os.environ.get("NEXTBEST_TEST_NO_DOCKER"):
        return False
    try:
        import docker

        client = docker.from_env(timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no SDK, no socket, engine down: all mean "no Docker"
        return False


def _container(kind: str) -> Any:
    if kind == "kafka":
        try:
            from testcontainers.community.kafka import KafkaContainer
        except ImportError:
            from testcontainers.kafka import KafkaContainer
        return KafkaContainer().with_kraft()
    try:
        from testcontainers.community.redis import RedisContainer
    except ImportError:
        from testcontainers.redis import RedisContainer
    return RedisContainer("redis:7")


@pytest.fixture(scope="session")
def kafka_bootstrap(
    docker_available: bool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``host:port`` of a Kafka broker for the whole test session."""
    from_env = os.environ.get("NEXTBEST_TEST_KAFKA")
    if from_env:
        yield from_env
        return
    if docker_available:
        container = _container("kafka").start()
        try:
            yield str(container.get_bootstrap_server())
        finally:
            container.stop()
        return
    service = ensure_kafka(data_dir=tmp_path_factory.mktemp("kafka"))
    logger.info("kafka for tests: %s", service)
    try:
        yield service.address
    finally:
        service.stop()


@pytest.fixture(scope="session")
def redis_url(docker_available: bool, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://host:port/0`` of a Redis for the whole test session."""
    from_env = os.environ.get("NEXTBEST_TEST_REDIS")
    if from_env:
        yield from_env
        return
    if docker_available:
        container = _container("redis").start()
        try:
            host, port = container.get_container_host_ip(), container.get_exposed_port(6379)
            yield f"redis://{host}:{port}/0"
        finally:
            container.stop()
        return
    service = ensure_redis(data_dir=tmp_path_factory.mktemp("redis"))
    try:
        yield service.address
    finally:
        service.stop()


@pytest.fixture
def topic_prefix() -> str:
    """A fresh prefix for this test's topic names and consumer groups."""
    return f"nbtest-{uuid.uuid4().hex[:12]}"

"""A worker on a cluster that requires SASL: it authenticates with the credentials from its
settings and decides as on an open one; with a wrong password it stops with a clear error.

The broker has two listeners: SASL_PLAINTEXT for the worker, PLAINTEXT for the test's own
publisher and reader (and the health check)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from nextbest.localstack import LocalService, kafka
from nextbest.localstack.processes import spawn, wait_until
from tests.events import MINUTE, support
from tests.integration.drills import T0, free_port_pair
from tests.integration.harness import Harness, free_port

PASSWORD = "s3cret-" + uuid.uuid4().hex[:8]

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(plaintext address, SASL address) of a broker that takes PLAIN logins of ``nextbest``."""
    directory = Path(tmp_path_factory.mktemp("sasl-kafka"))
    port, sasl = free_port_pair(), free_port()
    config = kafka.prepare(directory, port=port)
    controller = kafka.free_port(port + 1)
    config.write_text(config.read_text() + f"""
listeners=PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:{sasl},\
CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:{sasl}
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,\
SASL_PLAINTEXT:SASL_PLAINTEXT
listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=\
org.apache.kafka.common.security.plain.PlainLoginModule required user_nextbest="{PASSWORD}";
""")
    proc = spawn(kafka.broker_argv(directory, config), log_path=directory / "stdout.log",
                 pid_file=directory / "kafka.pid")
    service = LocalService("kafka", f"127.0.0.1:{port}", True, proc.pid, None,
                           directory / "kafka.pid", _proc=proc)
    try:
        assert wait_until(lambda: kafka.healthy("127.0.0.1", port), timeout=120, proc=proc)
        yield f"127.0.0.1:{port}", f"127.0.0.1:{sasl}"
    finally:
        service.stop()


def sasl_harness(sasl_broker: tuple[str, str], redis: str, tmp_path: Path, password: str
                 ) -> tuple[Harness, Harness]:
    """The worker's harness (SASL) and the test's own (plaintext, same topics)."""
    plain, sasl = sasl_broker
    prefix = f"nbsasl-{uuid.uuid4().hex[:8]}"
    worker = Harness(kafka=sasl, redis=redis, prefix=prefix, data_dir=tmp_path,
                     kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism="PLAIN",
                     kafka_sasl_username="nextbest", kafka_sasl_password=SecretStr(password))
    return worker, Harness(kafka=plain, redis=redis, prefix=prefix, data_dir=tmp_path / "own")


def test_a_worker_authenticates_with_sasl(sasl_broker: tuple[str, str], redis_url: str,
                                          tmp_path: Path) -> None:
    worker, own = sasl_harness(sasl_broker, redis_url, tmp_path, PASSWORD)
    worker.start_worker()  # creates the topics through the SASL listener
    try:
        who = {"email": f"{uuid.uuid4().hex[:8]}@example.com"}
        own.publish("support", [support(T0 + MINUTE, "c1", "my lawyer will call", customer=who)])
        decisions = own.decisions(until=lambda ds: len(ds) >= 1, timeout=60)
        assert [d["decision_type"] for d in decisions] == ["escalation"]
        assert PASSWORD not in worker.worker.log_path.read_text()
    finally:
        worker.worker.stop()


def test_a_wrong_password_stops_the_worker_with_a_clear_error(
        sasl_broker: tuple[str, str], redis_url: str, tmp_path: Path) -> None:
    worker, _ = sasl_harness(sasl_broker, redis_url, tmp_path, "not-the-password")
    worker.worker.start()
    process = worker.worker.process
    assert process is not None
    began = time.monotonic()
    try:
        process.wait(timeout=90)
    finally:
        worker.worker.stop(kill=True)
    log = worker.worker.log_path.read_text()
    assert process.returncode != 0 and time.monotonic() - began < 90
    assert "Authentication failed" in log or "SaslAuthenticat" in log, log[-2000:]
    assert "not-the-password" not in log

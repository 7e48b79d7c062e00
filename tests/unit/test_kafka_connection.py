"""Every Kafka client of the worker is made with the cluster's security settings."""

from __future__ import annotations

import asyncio
import ssl

from pydantic import SecretStr

from nextbest.streams import kafka
from nextbest.streams.settings import WorkerSettings


def test_an_open_cluster_needs_only_its_address() -> None:
    options = kafka.connection(WorkerSettings(kafka_broker="broker:9092"))
    assert options == {"bootstrap_servers": "broker:9092", "security_protocol": "PLAINTEXT"}


def test_sasl_over_tls_passes_credentials_and_a_tls_context() -> None:
    settings = WorkerSettings(
        kafka_broker="broker:9093", kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="nextbest",
        kafka_sasl_password=SecretStr("pw"))
    options = kafka.connection(settings)
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("nextbest", "pw")
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert "pw" not in repr(settings)


def test_producers_and_consumers_are_made_with_them() -> None:
    settings = WorkerSettings(kafka_security_protocol="SASL_PLAINTEXT",
                              kafka_sasl_username="nextbest", kafka_sasl_password=SecretStr("pw"))

    async def made() -> None:  # aiokafka clients bind to the running loop
        producer = kafka.producer(settings)
        consumer = kafka.consumer(settings, group=None)
        assert producer.client._security_protocol == "SASL_PLAINTEXT"
        assert consumer._client._security_protocol == "SASL_PLAINTEXT"
        assert producer.client._sasl_plain_password == "pw"

    asyncio.run(made())

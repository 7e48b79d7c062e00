"""Worker settings: where Kafka, Redis and the schema registry are, and how the worker runs.

All from the environment with the ``NEXTBEST_`` prefix (``NEXTBEST_KAFKA_BROKER=...``), the same
names in docker-compose.yml and the local demo. Secrets are ``SecretStr`` and never printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from nextbest.decisions.policies import DECISION_TYPES

FAMILIES = ("clickstream", "purchase", "support", "review", "identity", "catalog", "fulfilment")
__all__ = ["DECISION_TYPES", "FAMILIES", "WorkerSettings"]


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEXTBEST_", frozen=True, extra="ignore")

    app_id: str = "nextbest"
    kafka_broker: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = (
        "PLAINTEXT")
    """How every Kafka client of the worker talks to the cluster (``streams/kafka.py``)."""
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    """CA bundle that signed the brokers' certificates (system CAs when unset)."""
    kafka_ssl_certfile: Path | None = None
    """Client certificate and key, for brokers that authenticate clients by TLS."""
    kafka_ssl_keyfile: Path | None = None
    redis_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    schema_registry_url: str | None = None
    """Use an external Confluent Schema Registry instead of the embedded one."""

    topic_prefix: str = ""
    """Prepended to every topic name (tests give each run its own)."""
    partitions: int = 4
    """Partitions of the per-customer stage (and of topics nextbest creates)."""

    data_dir: Path = Path("var/worker")
    web_port: int = 6066
    web_host: str = "127.0.0.1"
    api_token: SecretStr | None = None
    """Bearer token for the endpoints that serve customer data (``/customers/...``, the
    customer-360 page ``/360``, ``/digest``). Without one they answer only while the worker
    listens on a loopback address (``streams/access.py``); ``/metrics``, ``/models`` and
    ``/health/*`` are always open."""

    wall_clock_ticks: bool = True
    """Advance every partition's clock with the wall clock too (live). Off for replays, where
    event time alone drives the win-back sweep."""
    tick_interval_seconds: float = 1.0
    identity_order_wait_seconds: float = 0.0
    """Longest (wall clock) a router holds events of its other input partitions behind an
    earlier one waiting for the identity writer, so that they keep their event-time order.
    0 (the default): they go on at once, and only the waiting event's own partition waits for
    the writer - each answer is a round trip through Kafka, and holding the whole router for
    each cut one worker from 2,000 to about 1,650 events/s. A few seconds make a worker
    reading a backlog decide exactly as ``nextbest replay events`` does."""
    reorder_max_wait_seconds: float = 1.0
    """Longest (wall clock) a router holds an event so that events of its other input
    partitions, still unread on the broker, can go first: a backlog is taken in event-time
    order across partitions (``streams/reorder.py``); a router that is caught up holds
    nothing."""
    customer_order_wait_seconds: float = 0.0
    """Longest (wall clock) a customer partition holds an event routed by one worker so that
    earlier events another worker is still routing can go first (``RoutersMerge`` in
    ``streams/reorder.py``), so that several workers take a customer's events in event-time
    order, as one worker does. 0 (the default): events are stepped as they arrive - with three
    live workers at 1,000 events/s, holding them cost p50 33-50 -> 108-295 ms. A few seconds
    make several workers reading a backlog decide as one worker does. With one worker nothing
    waits either way."""
    progress_tick_seconds: float = 0.1
    """With several workers and ``customer_order_wait_seconds`` set, how often a router tells
    every customer partition how far it has routed, so that the others' events wait for it no
    longer than that."""
    redis_flush_interval_seconds: float = 0.5
    """Redis is written behind: every profile changed in this interval once, in one pipeline."""
    commit_interval_seconds: float = 3.0
    """How often the worker checkpoints: waits for the acks of what it produced, writes the
    changed profiles to their changelog and commits the offsets it consumed."""
    batch_max_records: int = 2000
    """Records fetched and processed per batch."""
    worker_id: str | None = None
    """Static consumer-group membership (Kafka's group.instance.id): a worker restarted with the
    same id takes its partitions back without a rebalance. Use the pod name on Kubernetes."""
    session_timeout_seconds: float = 10.0
    """A worker silent this long is declared dead and its partitions move (failover time)."""
    producer_linger_ms: float = 5.0
    """Batching window of the worker's producer for messages sent one by one (identity
    requests). What a batch of events produces goes out in closed record batches, sent at once
    (``kafka.Outbox``)."""
    fetch_min_bytes: int = 1
    """A consumer fetch returns once this much data is there (or the wait is over): larger
    batches cost less per record, at up to ``fetch_max_wait_ms`` more latency per hop."""
    fetch_max_wait_ms: int = 20
    """Longest a consumer fetch waits on the broker for ``fetch_min_bytes``."""
    quiet_fetch_max_wait_ms: int = 500
    """The same for the consumers whose fetches cannot hold back records that are there
    already: one partition (identity requests and replies; a fetch returns on the first byte)
    or replicas whose staleness by this much costs nothing (graph, catalog, lessons). Every
    empty fetch costs the worker's loop CPU: seven consumers answered every 20 ms kept an idle
    worker at 11% of a core, 3.6% at 500 ms (BENCHMARKS.md)."""
    digest_check_seconds: float = 60.0
    """How often the worker publishes weekly sentiment digests whose week has ended."""
    model_checkpoint_seconds: float = 30.0
    """How often the worker writes its models' checkpoint to Kafka (streams/checkpoints.py).
    A crash loses at most this much learning; a replacement worker starts from the last one."""

    @field_validator("api_token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: object) -> object:
        """``NEXTBEST_API_TOKEN=`` (as docker-compose passes an unset variable) is no token."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return value if value is None or str(value).strip() else None

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def input_topic(self, family: str) -> str:
        return self.topic(f"events.{family}")

    def decision_topic(self, decision_type: str) -> str:
        return self.topic(f"decisions.{decision_type}")

    @property
    def deadletter_topic(self) -> str:
        return self.topic("nextbest.deadletter")

    @property
    def identity_request_topic(self) -> str:
        """Customer references that change the identity graph, to its one writer."""
        return self.topic("nextbest.identity-requests")

    @property
    def identity_reply_topic(self) -> str:
        return self.topic("nextbest.identity-replies")

    @property
    def identity_graph_topic(self) -> str:
        """The identity graph (compacted): the writer's changelog, every router's replica."""
        return self.topic("nextbest.identity-graph")

    @property
    def customer_state_topic(self) -> str:
        """Profiles (compacted, keyed by customer): the customer stage's changelog."""
        return self.topic("nextbest.customer-state")

    @property
    def customer_topic(self) -> str:
        return self.topic("nextbest.customer-events")

    @property
    def decision_log_topic(self) -> str:
        """Every verdict on a candidate decision: sent, control, suppressed (with the rule),
        deferred."""
        return self.topic("nextbest.decision-log")

    @property
    def outcome_topic(self) -> str:
        return self.topic("nextbest.outcomes")

    @property
    def erasure_ack_topic(self) -> str:
        return self.topic("nextbest.erasure-acks")

    @property
    def digest_topic(self) -> str:
        return self.topic("nextbest.sentiment-digest")

    @property
    def lesson_topic(self) -> str:
        """What each event taught the models where it was stepped, for every other worker's
        models to learn (keyed and partitioned by customer)."""
        return self.topic("nextbest.model-lessons")

    @property
    def checkpoint_topic(self) -> str:
        return self.topic("nextbest.model-checkpoints")

    @property
    def app_name(self) -> str:
        """Consumer group prefix and Redis key prefix."""
        return f"{self.topic_prefix}{self.app_id}"

    def group(self, stage: str) -> str:
        return f"{self.app_name}.{stage}"

"""Schema sources: locating schemas, the embedded registry (incl. a v2 evolution), and the
Confluent Schema Registry client against a real stdlib HTTP server running in a thread."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from fastavro import schemaless_writer

from nextbest.codec import (
    Codec,
    CodecError,
    EmbeddedRegistry,
    RegistryUnavailable,
    SchemaConfigError,
    SchemaRegistryClient,
    UnknownSchemaId,
    default_codec,
    schema_dir,
)
from nextbest.codec.locate import SCHEMA_DIR_ENV
from nextbest.codec.registry import parse_definition
from nextbest.codec.wire import frame_header
from tests.clock import ManualClock

REPO_SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
PURCHASE = {
    "event_id": "p1",
    "event_time": 1_700_000_000_000,
    "customer": {"email": "lisa@example.com"},
    "kind": "order",
    "order_id": "o1",
    "lines": [{"item_id": "dress-1", "unit_price": 59.0}],
    "total": 59.0,
    "channel": "web",
}


def test_schema_dir_finds_the_checkout_and_honours_the_override(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(SCHEMA_DIR_ENV, raising=False)
    assert schema_dir().resolve() == REPO_SCHEMAS
    shutil.copytree(REPO_SCHEMAS, tmp_path / "s")
    monkeypatch.setenv(SCHEMA_DIR_ENV, str(tmp_path / "s"))
    assert schema_dir() == tmp_path / "s"
    monkeypatch.setenv(SCHEMA_DIR_ENV, str(tmp_path / "missing"))
    with pytest.raises(SchemaConfigError):
        schema_dir()


def test_embedded_registry_lookups() -> None:
    registry = EmbeddedRegistry()
    assert registry.families == {
        "clickstream", "purchase", "support", "review", "identity", "catalog", "fulfilment",
        "decision", "outcome", "erasure_ack", "sentiment_digest",
    }  # fmt: skip
    purchase = registry.latest("purchase")
    assert (purchase.schema_id, purchase.subject, purchase.version) == (
        2,
        "nextbest.events.PurchaseEvent",
        1,
    )
    assert registry.by_id(2) is purchase  # parsed once, shared
    assert registry.family_of_subject("nextbest.decisions.Decision") == "decision"
    assert [r.schema_id for r in registry] == sorted(r.schema_id for r in registry)
    with pytest.raises(UnknownSchemaId):
        registry.by_id(404)
    with pytest.raises(CodecError) as caught:
        registry.latest("nope")
    assert caught.value.reason == "unknown_family"


def _copy_schemas(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    target = tmp_path / "schemas"
    shutil.copytree(REPO_SCHEMAS, target)
    return target, json.loads((target / "registry.json").read_text())


def _save(target: Path, index: dict[str, Any]) -> None:
    (target / "registry.json").write_text(json.dumps(index))


@pytest.mark.parametrize("breakage", ["duplicate_id", "wrong_subject", "missing_file"])
def test_inconsistent_registry_fails_at_start_up(tmp_path: Path, breakage: str) -> None:
    target, index = _copy_schemas(tmp_path)
    versions = index["subjects"]["nextbest.events.ReviewEvent"]["versions"]
    if breakage == "duplicate_id":
        versions[0]["id"] = 2
    elif breakage == "wrong_subject":
        versions[0]["file"] = "purchase.avsc"
    else:
        versions[0]["file"] = "review.v9.avsc"
    _save(target, index)
    with pytest.raises(SchemaConfigError):
        EmbeddedRegistry(target)


def test_a_v2_schema_reads_v1_data_with_defaults(tmp_path: Path) -> None:
    target, index = _copy_schemas(tmp_path)
    v2 = json.loads((target / "purchase.avsc").read_text())
    v2["fields"].append({"name": "gift_wrap", "type": "boolean", "default": False})
    reason = v2["fields"][10]["type"][1]
    assert reason["name"] == "ReturnReason"
    reason["symbols"].append("damaged_in_transit")
    (target / "purchase.v2.avsc").write_text(json.dumps(v2))
    index["subjects"]["nextbest.events.PurchaseEvent"]["versions"].append(
        {"version": 2, "id": 98, "file": "purchase.v2.avsc"}
    )
    _save(target, index)
    new = Codec(EmbeddedRegistry(target))
    old_value = default_codec().encode("purchase", PURCHASE)
    decoded = new.decode(old_value, "purchase")
    assert decoded.schema_id == 2 and decoded.event["gift_wrap"] is False
    new_value = new.encode("purchase", {**PURCHASE, "return_reason": "damaged_in_transit"})
    assert new_value[:5] == frame_header(98)
    assert new.decode(new_value).event["return_reason"] == "damaged_in_transit"
    with pytest.raises(CodecError) as caught:  # a build without v2 does not know id 98
        default_codec().decode(new_value)
    assert caught.value.reason == "unknown_schema_id"


# --- the external Schema Registry client, against a fake registry over real HTTP ---


class FakeRegistry:
    def __init__(self) -> None:
        self.schemas: dict[int, str] = {}
        self.subjects: dict[str, dict[str, int]] = {}
        self.requests: list[tuple[str, str]] = []
        self.auth: list[str | None] = []
        self.fail_with: int | None = None
        self.next_id = 100

    def register(self, subject: str, schema: str) -> int:
        versions = self.subjects.setdefault(subject, {})
        if schema not in versions:
            versions[schema] = self.next_id
            self.schemas[self.next_id] = schema
            self.next_id += 1
        return versions[schema]


def _handler(fake: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _start(self) -> bool:
            fake.requests.append((self.command, unquote(self.path)))
            fake.auth.append(self.headers.get("Authorization"))
            if fake.fail_with:
                self._reply(fake.fail_with, {"error_code": 50001, "message": "boom"})
                return False
            return True

        def do_GET(self) -> None:
            if not self._start():
                return
            schema_id = int(self.path.rsplit("/", 1)[-1])
            if schema_id in fake.schemas:
                self._reply(200, {"schema": fake.schemas[schema_id]})
            else:
                self._reply(404, {"error_code": 40403, "message": "Schema not found"})

        def do_POST(self) -> None:
            if not self._start():
                return
            length = int(self.headers["Content-Length"])
            schema = json.loads(self.rfile.read(length))["schema"]
            parts = unquote(self.path).strip("/").split("/")
            subject = parts[1]
            if parts[-1] == "versions":
                self._reply(200, {"id": fake.register(subject, schema)})
            elif schema in fake.subjects.get(subject, {}):
                schema_id = fake.subjects[subject][schema]
                self._reply(200, {"subject": subject, "version": 1, "id": schema_id})
            else:
                self._reply(404, {"error_code": 40403, "message": "Schema not found"})

    return Handler


@pytest.fixture
def fake() -> Iterator[tuple[FakeRegistry, str]]:
    registry = FakeRegistry()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(registry))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield registry, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_client_registers_encodes_and_decodes(fake: tuple[FakeRegistry, str]) -> None:
    registry, url = fake
    producer = Codec(SchemaRegistryClient(url, auth=("svc", "pw")))
    value = producer.encode("purchase", PURCHASE)
    assert value[:5] == frame_header(100)  # the registry's id, not the embedded 2
    producer.encode("purchase", PURCHASE)
    assert registry.requests == [("POST", "/subjects/nextbest.events.PurchaseEvent/versions")]
    assert registry.auth == ["Basic c3ZjOnB3"]

    consumer = Codec(SchemaRegistryClient(url))
    for _ in range(3):
        decoded = consumer.decode(value, "purchase")
    assert (decoded.family, decoded.schema_id, decoded.event["currency"]) == (
        "purchase",
        100,
        "EUR",
    )
    assert registry.requests[1:] == [("GET", "/schemas/ids/100")]  # fetched once, then cached


def test_client_reads_an_older_writer_schema_with_resolution(
    fake: tuple[FakeRegistry, str],
) -> None:
    registry, url = fake
    older = json.loads((REPO_SCHEMAS / "purchase.avsc").read_text())
    older["fields"] = [f for f in older["fields"] if f["name"] not in ("decision_id", "currency")]
    schema_id = registry.register("nextbest.events.PurchaseEvent", json.dumps(older))
    body = BytesIO()
    schemaless_writer(body, parse_definition(older), {**PURCHASE, "discount_codes": ["X"]})
    decoded = Codec(SchemaRegistryClient(url)).decode(frame_header(schema_id) + body.getvalue())
    assert decoded.event["currency"] == "EUR" and decoded.event["decision_id"] is None
    assert decoded.event["discount_codes"] == ["X"]


def test_client_unknown_and_foreign_ids(fake: tuple[FakeRegistry, str]) -> None:
    registry, url = fake
    clock = ManualClock()
    codec = Codec(SchemaRegistryClient(url, negative_ttl=60.0, clock=clock))
    value = frame_header(4242) + b"\x00"
    for moment in (1000.0, 1059.9, 1060.0):
        clock.now = moment
        with pytest.raises(CodecError) as caught:
            codec.decode(value)
        assert caught.value.reason == "unknown_schema_id"
    # The miss is remembered for negative_ttl seconds, then the registry is asked again.
    assert registry.requests == [("GET", "/schemas/ids/4242")] * 2
    foreign = {"type": "record", "name": "Payment", "namespace": "acme", "fields": []}
    foreign_id = registry.register("acme.Payment", json.dumps(foreign))
    with pytest.raises(UnknownSchemaId, match=r"acme\.Payment"):
        codec.decode(frame_header(foreign_id))


def test_client_lookup_only_mode(fake: tuple[FakeRegistry, str]) -> None:
    registry, url = fake
    client = SchemaRegistryClient(url, auto_register=False)
    with pytest.raises(SchemaConfigError):
        client.latest("review")
    definition = EmbeddedRegistry().latest("review").definition
    registry.register("nextbest.events.ReviewEvent", json.dumps(definition, separators=(",", ":")))
    assert client.latest("review").schema_id == 100
    assert SchemaRegistryClient(url).warm()["review"] == 100  # registering again: same id


def test_client_outages_are_not_codec_errors(fake: tuple[FakeRegistry, str]) -> None:
    registry, url = fake
    registry.fail_with = 500
    client = SchemaRegistryClient(url.replace("http://", "http://user:secret@"))
    with pytest.raises(RegistryUnavailable) as caught:
        Codec(client).decode(frame_header(100) + b"\x00")
    assert not isinstance(caught.value, CodecError)
    assert "secret" not in str(caught.value) and "secret" not in client.url
    assert registry.auth[-1] is not None  # credentials from the URL became a header

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(RegistryUnavailable):
        SchemaRegistryClient(closed, timeout=1).by_id(1)

"""A minimal Confluent Schema Registry client (stdlib ``urllib`` only) for the codec.

Same subjects as the embedded registry (RecordNameStrategy: subject = record full name), but the
ids come from the external registry. Decoding asks ``GET /schemas/ids/{id}`` once per id;
encoding registers the local latest schema once per family (``POST /subjects/{s}/versions``,
idempotent) or, with ``auto_register=False``, only looks it up (``POST /subjects/{s}``).
Everything is cached; ids the registry does not know are remembered for ``negative_ttl`` seconds
so a stream of garbage cannot hammer it.

Calls block (up to ``timeout``) on a cache miss; call :meth:`warm` at start-up to fetch the
writer ids off the hot path. An unreachable registry raises :class:`RegistryUnavailable`
(transient, not a dead-letter reason).
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from nextbest.codec.errors import (
    RegistryUnavailable,
    SchemaConfigError,
    UnknownSchemaId,
)
from nextbest.codec.registry import (
    EmbeddedRegistry,
    RegisteredSchema,
    full_name,
    parse_definition,
)

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
_NEGATIVE_CACHE_SIZE = 4096


class _NotFound(Exception):
    pass


class SchemaRegistryClient:
    """Schema source backed by a Confluent-compatible Schema Registry at ``url``.

    Credentials may be given as ``auth=(user, password)`` or in the URL
    (``https://user:secret@host``); they are never put into error messages.
    """

    def __init__(
        self,
        url: str,
        *,
        local: EmbeddedRegistry | None = None,
        auto_register: bool = True,
        timeout: float = 5.0,
        auth: tuple[str, str] | None = None,
        negative_ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urlsplit(url)
        if parts.username is not None and auth is None:
            auth = (parts.username, parts.password or "")
        netloc = parts.hostname or ""
        netloc += f":{parts.port}" if parts.port else ""
        self.url = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        self._local = local if local is not None else EmbeddedRegistry()
        self.auto_register = auto_register
        self.timeout = timeout
        self.negative_ttl = negative_ttl
        self.clock = clock
        """Seconds on a monotonic clock (for how long a miss is remembered)."""
        self._headers = {"Accept": f"{_CONTENT_TYPE}, application/json"}
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {token}"
        self._by_id: dict[int, RegisteredSchema] = {}
        self._latest: dict[str, RegisteredSchema] = {}
        self._missing: dict[int, float] = {}

    @property
    def local(self) -> EmbeddedRegistry:
        return self._local

    def by_id(self, schema_id: int) -> RegisteredSchema:
        cached = self._by_id.get(schema_id)
        if cached is not None:
            return cached
        missed_at = self._missing.get(schema_id)
        if missed_at is not None and self.clock() - missed_at < self.negative_ttl:
            raise UnknownSchemaId(f"schema id {schema_id} is not in the schema registry")
        try:
            body = self._request("GET", f"/schemas/ids/{schema_id}")
        except _NotFound:
            if len(self._missing) >= _NEGATIVE_CACHE_SIZE:
                self._missing.clear()
            self._missing[schema_id] = self.clock()
            raise UnknownSchemaId(f"schema id {schema_id} is not in the schema registry") from None
        registered = self._registered(schema_id, body)
        self._by_id[schema_id] = registered
        return registered

    def _registered(self, schema_id: int, body: dict[str, Any]) -> RegisteredSchema:
        if body.get("schemaType", "AVRO") != "AVRO":
            raise UnknownSchemaId(f"schema id {schema_id} is not an Avro schema")
        try:
            definition = json.loads(body["schema"])
            parsed = parse_definition(definition)
        except Exception as exc:
            raise UnknownSchemaId(f"schema id {schema_id} is not a usable Avro schema") from exc
        subject = full_name(definition) if isinstance(definition, dict) else ""
        family = self._local.family_of_subject(subject)
        if family is None:
            raise UnknownSchemaId(f"schema id {schema_id} is {subject!r}, not a nextbest family")
        local = self._local.latest(family)
        if definition == local.definition:  # our own schema: share the reader, skip resolution
            parsed = local.parsed
        return RegisteredSchema(schema_id, family, subject, None, definition, parsed)

    def latest(self, family: str) -> RegisteredSchema:
        cached = self._latest.get(family)
        if cached is not None:
            return cached
        local = self._local.latest(family)  # raises UnknownFamily
        payload = {"schema": json.dumps(local.definition, separators=(",", ":"))}
        path = f"/subjects/{quote(local.subject, safe='')}"
        try:
            if self.auto_register:
                body = self._request("POST", f"{path}/versions", payload)
            else:
                body = self._request("POST", path, payload)
        except _NotFound:
            raise SchemaConfigError(
                f"{local.subject} v{local.version} is not registered at {self.url} "
                "(register it, or use auto_register=True)"
            ) from None
        try:
            schema_id = int(body["id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RegistryUnavailable(f"unexpected answer from {self.url}: no id") from exc
        version = body.get("version")
        registered = RegisteredSchema(
            schema_id,
            family,
            local.subject,
            version if isinstance(version, int) else None,
            local.definition,
            local.parsed,
        )
        self._latest[family] = registered
        self._by_id.setdefault(schema_id, registered)
        return registered

    def warm(self) -> dict[str, int]:
        """Fetch (or register) the writer id of every local family now; returns family → id."""
        return {family: self.latest(family).schema_id for family in sorted(self._local.families)}

    def _request(self, method: str, path: str, payload: Any = None) -> dict[str, Any]:
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        headers = dict(self._headers)
        if data is not None:
            headers["Content-Type"] = _CONTENT_TYPE
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise _NotFound from None
            if exc.code in (409, 422):  # incompatible or invalid schema: not transient
                raise SchemaConfigError(
                    f"{method} {path}: HTTP {exc.code}, schema refused by {self.url}"
                ) from None
            raise RegistryUnavailable(f"{method} {path}: HTTP {exc.code} from {self.url}") from None
        except (OSError, ValueError) as exc:  # URLError, timeouts, refused, bad JSON
            raise RegistryUnavailable(f"{method} {path}: {self.url} unreachable ({exc})") from None
        if not isinstance(body, dict):
            raise RegistryUnavailable(f"{method} {path}: unexpected answer from {self.url}")
        return body

"""Redis serving: profile snapshots, recent decisions and the identifier index, written behind.

The worker never waits on Redis per event: changes collect in memory and a timer flushes them in
one pipeline (``flush``). Decisions reach Kafka first; Redis is the read model for web shops and
support desks, eventually consistent within one flush interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

import orjson
import redis.asyncio as aioredis

from nextbest.profile.snapshot import snapshot_json
from nextbest.profile.state import CustomerProfile

logger = logging.getLogger(__name__)

RECENT_DECISIONS = 20
SERIALISED_PER_SLICE = 200
"""Profiles serialised per flush between two chances for the stages to run."""


class RedisKeys:
    def __init__(self, prefix: str = "nextbest") -> None:
        self.prefix = prefix

    def profile(self, customer_id: str) -> str:
        return f"{self.prefix}:profile:{customer_id}"

    def decisions(self, customer_id: str) -> str:
        return f"{self.prefix}:decisions:{customer_id}"

    def identifier(self, key: str) -> str:
        return f"{self.prefix}:id:{key}"


class ProfileServing:
    def __init__(self, client: aioredis.Redis, keys: RedisKeys) -> None:
        self.client = client
        self.keys = keys
        self._profiles: dict[str, CustomerProfile | None] = {}
        self._decisions: dict[str, deque[bytes]] = {}
        """Per customer, the decisions not yet written, oldest first: no more than Redis keeps
        (``RECENT_DECISIONS``), so what waits while Redis is away stays bounded by customers."""
        self._identifiers: dict[str, str | None] = {}

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "nextbest") -> ProfileServing:
        return cls(aioredis.Redis.from_url(url), RedisKeys(prefix))

    def put_profile(self, profile: CustomerProfile) -> None:
        # Serialised at flush time: a customer changing 50 times between flushes costs one.
        self._profiles[profile.customer_id] = profile

    def drop_profile(self, customer_id: str) -> None:
        self._profiles[customer_id] = None
        self._decisions.pop(customer_id, None)  # erased: nothing of theirs is written again

    def add_decision(self, customer_id: str, record: dict[str, Any]) -> None:
        waiting = self._decisions.get(customer_id)
        if waiting is None:
            waiting = self._decisions[customer_id] = deque(maxlen=RECENT_DECISIONS)
        waiting.append(orjson.dumps(record))

    def link(self, identifier_key: str, customer_id: str) -> None:
        self._identifiers[identifier_key] = customer_id

    def unlink(self, identifier_key: str) -> None:
        """Forget an identifier (erasure)."""
        self._identifiers[identifier_key] = None

    @property
    def pending(self) -> int:
        return (len(self._profiles) + sum(map(len, self._decisions.values()))
                + len(self._identifiers))

    async def flush(self) -> int:
        """Write everything pending in one round trip. Returns the number of profiles written."""
        if not self.pending:
            return 0
        profiles, self._profiles = self._profiles, {}
        decisions, self._decisions = self._decisions, {}
        identifiers, self._identifiers = self._identifiers, {}
        pipe = self.client.pipeline(transaction=False)
        for n, (customer_id, profile) in enumerate(profiles.items(), start=1):
            if n % SERIALISED_PER_SLICE == 0:
                await asyncio.sleep(0)  # the stages run between slices of serialisation
            if profile is None:
                pipe.delete(self.keys.profile(customer_id), self.keys.decisions(customer_id))
            else:
                pipe.set(self.keys.profile(customer_id), snapshot_json(profile))
        for customer_id, blobs in decisions.items():
            pipe.lpush(self.keys.decisions(customer_id), *blobs)  # the newest ends at the head
            pipe.ltrim(self.keys.decisions(customer_id), 0, RECENT_DECISIONS - 1)
        for key, linked in identifiers.items():
            if linked is None:
                pipe.delete(self.keys.identifier(key))
            else:
                pipe.set(self.keys.identifier(key), linked)
        try:
            await pipe.execute()
        except Exception:
            # Put it back: the next flush retries, nothing is lost while Redis is away.
            for customer_id, profile in profiles.items():
                self._profiles.setdefault(customer_id, profile)
            for customer_id, blobs in decisions.items():
                if self._profiles.get(customer_id, True) is None:
                    continue  # erased since
                newer = self._decisions.get(customer_id, ())
                self._decisions[customer_id] = deque([*blobs, *newer], maxlen=RECENT_DECISIONS)
            for key, linked in identifiers.items():
                self._identifiers.setdefault(key, linked)
            raise
        return len(profiles)

    async def customer(self, ref: str) -> dict[str, Any] | None:
        """A customer's served view by canonical id or by identifier key (``email:...``)."""
        customer_id = ref
        if ":" in ref:
            found = await self.client.get(self.keys.identifier(ref))
            if found is None:
                return None
            customer_id = found.decode() if isinstance(found, bytes) else str(found)
        blob = await self.client.get(self.keys.profile(customer_id))
        if blob is None:
            return None
        recent = await self.client.lrange(self.keys.decisions(customer_id), 0, RECENT_DECISIONS)
        view: dict[str, Any] = orjson.loads(blob)
        view["customer_id"] = customer_id
        view["recent_decisions"] = [orjson.loads(d) for d in recent]
        return view

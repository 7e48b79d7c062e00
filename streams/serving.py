"""Redis serving: profile snapshots, recent decisions and the identifier index, written behind.

The worker never waits on Redis per event: changes collect in memory and a timer flushes them in
one pipeline (``flush``). Decisions reach Kafka first; Redis is the read model for web shops and
support desks, eventually consistent within one flush interval.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from typing import Any

import orjson
import redis.asyncio as aioredis

from nextbest.identity.graph import IDENTIFIER_KINDS, reference_keys
from nextbest.profile.snapshot import event_summary, snapshot_json
from nextbest.profile.state import CustomerProfile

logger = logging.getLogger(__name__)

RECENT_DECISIONS = 20
RECENT_WITHHELD = 20
RECENT_EVENTS = 30
PREPEND = """
local at = 1
for _, key in ipairs(KEYS) do
  local keep, count = tonumber(ARGV[at]), tonumber(ARGV[at + 1])
  redis.call('LPUSH', key, unpack(ARGV, at + 2, at + 1 + count))
  redis.call('LTRIM', key, 0, keep - 1)
  at = at + 2 + count
end
return #KEYS
"""
"""Entries pushed to the head of many lists, each trimmed to its length, in one command (one
reply for a flush, where one LPUSH and one LTRIM per list cost two each): ``KEYS`` the lists,
``ARGV`` per list its length kept, how many entries, then those entries, oldest first."""
RECENT = {"decisions": RECENT_DECISIONS, "withheld": RECENT_WITHHELD, "events": RECENT_EVENTS}
"""The bounded lists kept per customer, newest first, and how many of each Redis keeps:
decisions sent, decisions not sent (held out, suppressed or deferred, with the rule), and the
customer's events (``snapshot.event_summary``)."""
SERIALISED_PER_SLICE = 200
"""Profiles serialised per flush between two chances for the stages to run."""


class RedisKeys:
    def __init__(self, prefix: str = "nextbest") -> None:
        self.prefix = prefix

    def profile(self, customer_id: str) -> str:
        return f"{self.prefix}:profile:{customer_id}"

    def recent(self, name: str, customer_id: str) -> str:
        """One of the customer's ``RECENT`` lists."""
        return f"{self.prefix}:{name}:{customer_id}"

    def decisions(self, customer_id: str) -> str:
        return self.recent("decisions", customer_id)

    def identifier(self, key: str) -> str:
        return f"{self.prefix}:id:{key}"

    def epoch(self) -> str:
        """What Redis holds as long as it holds the served views (see ``ProfileServing.flush``)."""
        return f"{self.prefix}:served-epoch"

    def customer(self, customer_id: str) -> list[str]:
        """Every key of one customer's served view (erasure deletes them all)."""
        return [self.profile(customer_id), *(self.recent(n, customer_id) for n in RECENT)]


class ProfileServing:
    def __init__(self, client: aioredis.Redis, keys: RedisKeys) -> None:
        self.client = client
        self.keys = keys
        self._profiles: dict[str, CustomerProfile | None] = {}
        self._recent: dict[str, dict[str, deque[bytes]]] = {name: {} for name in RECENT}
        """Per list and customer, the entries not yet written, oldest first: no more than Redis
        keeps, so what waits while Redis is away stays bounded by customers."""
        self._identifiers: dict[str, str | None] = {}
        self._epoch: bytes | None = None
        self.forgotten = False
        """Set by a flush that found Redis without the views written before (restarted
        without its data, flushed, failed over to an empty replica): whoever owns the profiles
        must put them all again (``streams/refill.py``), then clear it."""
        self.forgot_own_writes = False
        """...and this worker had written to it before (not merely its first flush)."""

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "nextbest") -> ProfileServing:
        return cls(aioredis.Redis.from_url(url), RedisKeys(prefix))

    def put_profile(self, profile: CustomerProfile) -> None:
        # Serialised at flush time: a customer changing 50 times between flushes costs one.
        self._profiles[profile.customer_id] = profile

    def drop_profile(self, customer_id: str) -> None:
        self._profiles[customer_id] = None
        for waiting in self._recent.values():
            waiting.pop(customer_id, None)  # erased: nothing of theirs is written again

    def add_decision(self, customer_id: str, record: dict[str, Any]) -> None:
        """A decision sent (its ``Decision.to_record``)."""
        self._add("decisions", customer_id, record)

    def add_verdict(self, customer_id: str, record: dict[str, Any], text: str | None) -> None:
        """A verdict on a candidate decision (its decision-log record) and the guardrail's words.
        Decisions sent are kept by ``add_decision``; the others are kept as *withheld*."""
        if record["status"] != "sent":
            self._add("withheld", customer_id, {**record, "verdict_text": text})

    def add_event(self, customer_id: str, family: str, event: dict[str, Any]) -> None:
        """A customer event stepped, for the customer's timeline."""
        self._add("events", customer_id, event_summary(family, event))

    def _add(self, name: str, customer_id: str, entry: dict[str, Any]) -> None:
        lists = self._recent[name]
        waiting = lists.get(customer_id)
        if waiting is None:
            waiting = lists[customer_id] = deque(maxlen=RECENT[name])
        waiting.append(orjson.dumps(entry))

    def link(self, identifier_key: str, customer_id: str) -> None:
        self._identifiers[identifier_key] = customer_id

    def unlink(self, identifier_key: str) -> None:
        """Forget an identifier (erasure)."""
        self._identifiers[identifier_key] = None

    @property
    def pending(self) -> int:
        return (len(self._profiles) + len(self._identifiers) + sum(
            len(blobs) for lists in self._recent.values() for blobs in lists.values()))

    async def flush(self) -> int:
        """Write everything pending in one round trip. Returns the number of profiles written."""
        if not self.pending:
            return 0
        profiles, self._profiles = self._profiles, {}
        recent, self._recent = self._recent, {name: {} for name in RECENT}
        identifiers, self._identifiers = self._identifiers, {}
        pipe = self.client.pipeline(transaction=False)
        # An epoch marks a Redis that holds the views: created by the first flush to find it
        # missing, remembered by every worker. Created by this flush, or not the one this
        # worker knew: Redis lost what was written before.
        pipe.set(self.keys.epoch(), uuid.uuid4().hex, nx=True)
        pipe.get(self.keys.epoch())
        # Plain values go in one MSET and deletions in one DEL (one reply each, not one per
        # key); the deletions first, so a view erased and written again in one flush stays.
        values: dict[str, bytes | str] = {}
        deleted: list[str] = []
        for n, (customer_id, profile) in enumerate(profiles.items(), start=1):
            if n % SERIALISED_PER_SLICE == 0:
                await asyncio.sleep(0)  # the stages run between slices of serialisation
            if profile is None:
                deleted.extend(self.keys.customer(customer_id))
            else:
                values[self.keys.profile(customer_id)] = snapshot_json(profile)
        for key, linked in identifiers.items():
            if linked is None:
                deleted.append(self.keys.identifier(key))
            else:
                values[self.keys.identifier(key)] = linked
        if deleted:
            pipe.delete(*deleted)
        if values:
            pipe.mset(values)
        keys: list[str] = []
        args: list[bytes | int] = []
        for name, lists in recent.items():
            keep = RECENT[name]
            for customer_id, blobs in lists.items():
                keys.append(self.keys.recent(name, customer_id))
                args += (keep, len(blobs), *blobs)
        if keys:
            pipe.eval(PREPEND, len(keys), *keys, *args)  # Redis keeps it compiled
        try:
            created, epoch, *_ = await pipe.execute()
        except Exception:
            # Put it back: the next flush retries, nothing is lost while Redis is away.
            for customer_id, profile in profiles.items():
                self._profiles.setdefault(customer_id, profile)
            for name, lists in recent.items():
                for customer_id, blobs in lists.items():
                    if self._profiles.get(customer_id, True) is None:
                        continue  # erased since
                    newer = self._recent[name].get(customer_id, ())
                    self._recent[name][customer_id] = deque([*blobs, *newer],
                                                            maxlen=RECENT[name])
            for key, linked in identifiers.items():
                self._identifiers.setdefault(key, linked)
            raise
        if created or (self._epoch is not None and epoch != self._epoch):
            self.forgotten = True
            self.forgot_own_writes = self._epoch is not None
        self._epoch = epoch
        return len(profiles)

    async def find(self, reference: str) -> str | None:
        """The canonical id a reference names, if Redis knows it: ``kind:value`` names one
        identifier; a bare value is a canonical id (``nb-...``) with a served profile or an
        identifier of any kind, strongest kind first. Identifiers are normalised as the router
        normalises the ones it links (``identity.graph.reference_keys``)."""
        reference = reference.strip()
        keys = reference_keys(reference)
        named = reference.partition(":")[0] in IDENTIFIER_KINDS
        if not reference or (named and not keys):
            return None
        pipe = self.client.pipeline(transaction=False)
        if not named:
            pipe.exists(self.keys.profile(reference))
        for key in keys:
            pipe.get(self.keys.identifier(key))
        answers = await pipe.execute()
        if not named and answers.pop(0):
            return reference
        for found in answers:
            if found is not None:
                return found.decode() if isinstance(found, bytes) else str(found)
        return None

    async def customer(self, reference: str) -> dict[str, Any] | None:
        """A customer's served view by canonical id or identifier (see ``find``): the profile
        snapshot with its scores, and the recent decisions sent, decisions withheld and events,
        newest first."""
        customer_id = await self.find(reference)
        if customer_id is None:
            return None
        pipe = self.client.pipeline(transaction=False)
        pipe.get(self.keys.profile(customer_id))
        for name, keep in RECENT.items():
            pipe.lrange(self.keys.recent(name, customer_id), 0, keep - 1)
        blob, *lists = await pipe.execute()
        if blob is None:
            return None
        view: dict[str, Any] = orjson.loads(blob)
        view["customer_id"] = customer_id
        for name, blobs in zip(RECENT, lists, strict=True):
            view[f"recent_{name}"] = [orjson.loads(b) for b in blobs]
        return view

"""A router's input events taken in event-time order across its partitions, within a bound.

A router reads many input partitions (a topic per event family, several partitions each). Each
partition's events come in about the order they happened, but a consumer reading a backlog
fetches partitions in runs far apart in event time: a customer's purchase may be read long
after the clicks that followed it on another topic. Taken as fetched, an add-to-cart read after
the purchase that emptied the cart leaves a cart behind, and a customer partition's clock
moves past events still unread, so carts are reminded that were bought.

:class:`EventTimeMerge` holds fetched events and releases them in order of their key (event
time first): an event goes once no partition with unread records could still hold an earlier
one - once it is no later than the last key fetched from every partition that has records on
the broker not yet fetched and none held here. The bound on disorder that remains:

* an event waits at most ``max_wait`` seconds for unread partitions (one the broker is slow to
  serve does not hold up the others for longer), and at most ``max_wait_before`` behind an
  earlier event that waits elsewhere (for the identity writer);
* an event that arrives after later ones were released (produced late, or out of order within
  its own partition) is taken as it comes;
* a router that is caught up holds nothing: no partition has unread records, so every event is
  released at once, and live traffic pays no wait.

``nextbest replay events`` runs recorded events in the same order (event time, then family,
then event id): the merge is what lets live processing of a backlog agree with it.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable, Collection, Hashable, Iterator
from typing import Any, Generic, TypeVar

Key = tuple[Any, ...]
"""What events are ordered by; its first element is the event time."""
Item = TypeVar("Item")
Source = TypeVar("Source", bound=Hashable)


class EventTimeMerge(Generic[Source, Item]):
    """Items of several sources, each source's in its own order, released in key order.

    >>> merge: EventTimeMerge[str, str] = EventTimeMerge(max_wait=1.0)
    >>> merge.add("clicks", (5,), "add-to-cart at 5")
    >>> merge.add("orders", (3,), "order at 3")
    >>> merge.add("clicks", (9,), "view at 9")
    >>> [item for _, item in merge.release(unread={"orders"})]  # more orders after 3 to come
    ['order at 3']
    >>> merge.add("orders", (12,), "order at 12")
    >>> [item for _, item in merge.release(unread=set())]  # caught up: everything goes
    ['add-to-cart at 5', 'view at 9', 'order at 12']
    """

    def __init__(self, *, max_wait: float, max_wait_before: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_wait = max_wait
        self.max_wait_before = max_wait if max_wait_before is None else max_wait_before
        self._clock = clock
        self._queues: dict[Source, deque[tuple[Key, float, Item]]] = {}
        self._last: dict[Source, Key] = {}
        self._heads: list[tuple[Key, int, Source]] = []
        self._seq = itertools.count()
        self._aging: dict[float, deque[tuple[float, Key]]] = {
            wait: deque() for wait in (self.max_wait, self.max_wait_before)}
        self._ripe: dict[float, Key | None] = {}
        self.held = 0
        """Items held in all."""

    def add(self, source: Source, key: Key, item: Item) -> None:
        queue = self._queues.get(source)
        if queue is None:
            queue = self._queues[source] = deque()
        if not queue:
            heapq.heappush(self._heads, (key, next(self._seq), source))
        arrived = self._clock()
        queue.append((key, arrived, item))
        for aging in self._aging.values():
            aging.append((arrived, key))
        self._last[source] = key
        self.held += 1

    def release(self, unread: Collection[Source], before: Key | None = None
                ) -> Iterator[tuple[Source, Item]]:
        """Items in key order, as long as no source in ``unread`` (records on the broker not
        fetched yet) could still hold an earlier one and they come before ``before`` (an
        earlier item waiting elsewhere). Each bound gives way to items held longer than its
        wait (``max_wait``, ``max_wait_before``): those go, and whatever precedes them.
        Nothing may be added while the iterator runs."""
        queues, last = self._queues, self._last
        bound: Key | None = None
        for source in unread:
            if not queues.get(source):
                seen = last.get(source, ())  # nothing read from it yet: () precedes any key
                bound = seen if bound is None or seen < bound else bound
        # Both always brought up to date: what they hold is what arrived since, no more.
        overdue = self._overdue(self.max_wait)
        overdue_before = self._overdue(self.max_wait_before)
        heads = self._heads
        while heads:
            key, _, source = heads[0]
            if bound is not None and key > bound and (overdue is None or key > overdue):
                return
            if (before is not None and key > before
                    and (overdue_before is None or key > overdue_before)):
                return
            heapq.heappop(heads)
            queue = queues[source]
            _, _, item = queue.popleft()
            self.held -= 1
            if queue:
                heapq.heappush(heads, (queue[0][0], next(self._seq), source))
            elif source in unread:
                seen = last[source]
                bound = seen if bound is None or seen < bound else bound
            yield source, item

    def _overdue(self, wait: float) -> Key | None:
        """The latest key among items that have been held ``wait`` seconds (whether or not
        they were released since: what precedes them goes too), None if there is none. Kept
        as items age, in their order of arrival, so no call looks at more than what aged."""
        aging = self._aging[wait]
        cutoff = self._clock() - wait
        ripe = self._ripe.get(wait)
        while aging and aging[0][0] <= cutoff:
            key = aging.popleft()[1]
            ripe = key if ripe is None or key > ripe else ripe
        self._ripe[wait] = ripe
        return ripe

    def advance(self, source: Source, key: Key) -> None:
        """``source`` has nothing left before ``key`` (a router's tick)."""
        if key > self._last.get(source, ()):
            self._last[source] = key

    def items(self) -> Iterator[Item]:
        """Everything held, in no particular order."""
        for queue in self._queues.values():
            for _, _, item in queue:
                yield item

    def first(self, source: Source) -> Item | None:
        """The earliest item held for ``source``."""
        queue = self._queues.get(source)
        return queue[0][2] if queue else None

    def count(self, source: Source) -> int:
        queue = self._queues.get(source)
        return len(queue) if queue else 0

    def drop(self, sources: Collection[Source]) -> None:
        """Forget what is held for ``sources`` (partitions given up: fetched again by their
        next owner from the committed offsets)."""
        for source in sources:
            queue = self._queues.pop(source, None)
            self.held -= len(queue) if queue else 0
            self._last.pop(source, None)
        self._heads = [head for head in self._heads if head[2] not in sources]
        heapq.heapify(self._heads)


ROUTER_QUIET_SECONDS = 5.0
"""A router not heard from for this long (wall clock) holds nothing back: it has nothing to
route to the partition, or it is gone."""


class RoutersMerge(Generic[Item]):
    """A customer partition's events from its routers (one per worker), in event-time order.

    Each router sends its events in order of their key (its own merge, above), but a customer
    partition gets them from every worker's router: a customer's views routed by one worker
    may arrive before the purchase another worker routed earlier. An event goes once no
    router still heard from (within ``quiet`` seconds) could send an earlier one - every
    router has sent a later event or a later tick (``advance``) - or once it has waited
    ``max_wait``. One router alone holds nothing back.

    >>> merge: RoutersMerge[str] = RoutersMerge(max_wait=1.0)
    >>> merge.add("a", (5, 0, "v"), "view at 5")
    >>> merge.add("b", (3, 0, "o"), "order at 3")
    >>> list(merge.release())  # a may still send something before 5
    ['order at 3']
    >>> merge.advance("b", 9)  # b has sent everything up to 9
    >>> list(merge.release())
    ['view at 5']
    """

    def __init__(self, *, max_wait: float, quiet: float = ROUTER_QUIET_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.quiet = quiet
        self._clock = clock
        self._merge: EventTimeMerge[str, Item] = EventTimeMerge(max_wait=max_wait, clock=clock)
        self._heard: dict[str, float] = {}

    @property
    def held(self) -> int:
        return self._merge.held

    @property
    def routers(self) -> int:
        """Routers heard from within ``quiet`` seconds."""
        cutoff = self._clock() - self.quiet
        return sum(1 for heard in self._heard.values() if heard > cutoff)

    def add(self, source: str, key: Key, item: Item) -> None:
        self._heard[source] = self._clock()
        self._merge.add(source, key, item)

    def advance(self, source: str, event_time: int) -> None:
        """``source`` has sent everything up to ``event_time``."""
        self._heard[source] = self._clock()
        self._merge.advance(source, (event_time + 1,))

    def release(self) -> list[Item]:
        """The events that may go now, in order."""
        cutoff = self._clock() - self.quiet
        active = {source for source, heard in self._heard.items() if heard > cutoff}
        return [item for _, item in self._merge.release(unread=active)]

    def items(self) -> Iterator[Item]:
        return self._merge.items()

"""Two repairs to Faust's rebalance path, without which a replaced worker loses input.

Both showed in ``tests/integration/test_recovery.py`` (a worker killed and replaced by one
without local state; together in about one run in three): right after the rebalance, a
contiguous run of records of a stream partition (input or internal topic) was never processed.

1. Seek before resuming. When table recovery ends, Faust (faust-streaming 0.11-0.15) resumes the
   stream partitions first and seeks them to their committed offsets second, while the fetcher is
   already running. Records fetched in between are delivered - and skipped and acked by the
   stream, as flow control is not active yet - and move the consumer's *read offset* forward; the
   seek then rewinds the fetch position, and the re-fetched records up to that read offset are
   discarded as "already read" (``DROPPED MESSAGE`` in Faust's dev log). Fix: keep Faust's
   sequence but swap two steps - seek the (still paused) stream partitions, then resume them.

2. Drain only partitions that were active when the fetch call was made. Faust's "pause" is its
   own bookkeeping: aiokafka keeps fetching every assigned partition and buffers the records,
   and Faust takes the buffered records of its *active* partitions by handing aiokafka its live
   ``_active_partitions`` set - the very object pause/resume mutate - which the consumer thread
   reads while a call waits there (up to a second). aiokafka's ``fetched_records`` reads an
   empty set as "no filter". When changelog recovery ends Faust pauses the changelog partitions,
   emptying the set while the stream partitions are still paused; a call waiting at that moment
   then wakes up to hand over the buffered records of *every* partition, moving aiokafka's fetch
   position past them - also past the recovery seek, if that already ran - and
   ``Consumer.getmany`` silently throws away those of inactive partitions. Nothing rewinds the
   position, so they are never delivered: the partition makes no commit until new records
   arrive, and then Faust takes the hole for a "gap" (as in a compacted topic) and commits past
   it. Fix: hand the consumer thread a copy of the set taken when the call is made (never an
   empty one), so it drains exactly the partitions that were active then. A partition resumed
   meanwhile waits for the next call, at most the one-second fetch timeout.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faust.tables import recovery as faust_recovery
from faust.transport import consumer as faust_consumer

logger = logging.getLogger(__name__)


async def _seek_then_resume(recovery: Any) -> None:
    consumer = recovery.app.consumer
    assignment = consumer.assignment()
    if assignment:
        recovery.log.info("Seek stream partitions to committed offsets.")
        await recovery._wait(
            consumer.perform_seek(), timeout=recovery.app.conf.broker_request_timeout
        )
    consumer.resume_partitions({tp for tp in assignment if not recovery._is_changelog_tp(tp)})


async def _resume_streams(self: Any, generation_id: int = 0) -> None:
    app = self.app
    consumer = app.consumer
    await app.on_rebalance_complete.send()
    if app.consumer_generation_id != generation_id:
        self.log.warning("Recovery rebalancing again")
        return
    if consumer.assignment():
        await _seek_then_resume(self)
    else:
        self.log.info("Resuming streams with empty assignment")
    self.completed.set()
    self.log.info("Resuming flow...")
    app.flow_control.resume()
    consumer.resume_flow()
    await app._fetcher.maybe_start()
    self.tables.on_actives_ready()
    self.tables.on_standbys_ready()
    app.on_rebalance_end()
    self.log.info("Worker ready")


async def _on_recovery_completed(self: Any, generation_id: int = 0) -> None:
    app = self.app
    self.log.info("Restore complete!")
    await app.on_rebalance_complete.send()
    self._set_recovery_ended()
    callbacks = [
        asyncio.ensure_future(table.on_recovery_completed(
            self.actives_for_table[table], self.standbys_for_table[table]))
        for table in self.tables.values()
    ]
    if callbacks:
        await asyncio.wait(callbacks)
    if app.consumer_generation_id != generation_id:
        self.log.warning(
            f"Recovery rebalancing again app id {app.consumer_generation_id} "
            f"param {generation_id}"
        )
        return
    await _seek_then_resume(self)
    self.completed.set()
    app.flow_control.resume()
    app.consumer.resume_flow()
    await app._fetcher.maybe_start()
    self.tables.on_actives_ready()
    if not app.assignor.assigned_standbys():
        self.tables.on_standbys_ready()
    app.on_rebalance_end()
    self.log.info("Worker ready")


async def _getmany_active_snapshot(
    self: Any, active_partitions: set[Any] | None, timeout: float
) -> Any:
    if active_partitions is None:  # client-only app: every partition
        return await self._thread.getmany(None, timeout)
    snapshot = set(active_partitions)
    if not snapshot:  # aiokafka would read an empty set as "all partitions"
        return {}
    return await self._thread.getmany(snapshot, timeout)


def repair_rebalance() -> None:
    """Install both repairs on Faust's Recovery service and consumer (idempotent)."""
    target = faust_recovery.Recovery
    if getattr(target, "_nextbest_seek_first", False):
        return
    setattr(target, "_resume_streams", _resume_streams)  # noqa: B010
    setattr(target, "on_recovery_completed", _on_recovery_completed)  # noqa: B010
    setattr(target, "_nextbest_seek_first", True)  # noqa: B010
    delegate = faust_consumer.ThreadDelegateConsumer
    setattr(delegate, "_getmany", _getmany_active_snapshot)  # noqa: B010

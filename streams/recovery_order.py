"""Seek before resuming: closes a window in which Faust loses input after a rebalance.

When table recovery ends, Faust (faust-streaming 0.11-0.15) resumes the stream partitions first
and seeks them to their committed offsets second, while the fetcher is already running. Records
fetched in between are delivered and move the consumer's *read offset* forward. The seek then
rewinds the fetch position to the committed offset, and the re-fetched records - everything
from the committed offset up to that read offset - are discarded as "already read"
(``DROPPED MESSAGE`` in Faust's dev log), while the first copies may have been skipped by the
stream (it skips, and acks, what arrives while flow control is not yet active). The result was a
contiguous run of each input partition - about one fetch - that no stage ever processed, while
its offsets were committed. It showed in about one run in three of
``tests/integration/test_recovery.py`` (a worker killed and replaced).

The fix keeps Faust's sequence but swaps two steps: seek the (still paused) stream partitions,
then resume them, so the first record any stream sees after a rebalance is the committed one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faust.tables import recovery as faust_recovery

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


def seek_before_resume() -> None:
    """Install the corrected order on Faust's Recovery service (idempotent)."""
    target = faust_recovery.Recovery
    if getattr(target, "_nextbest_seek_first", False):
        return
    setattr(target, "_resume_streams", _resume_streams)  # noqa: B010
    setattr(target, "on_recovery_completed", _on_recovery_completed)  # noqa: B010
    setattr(target, "_nextbest_seek_first", True)  # noqa: B010

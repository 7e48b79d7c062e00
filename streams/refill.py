"""Refilling Redis after it lost the served views.

Redis is the read model, not a store of record: what it serves is rebuilt from what the workers
hold. A flush that finds Redis without its epoch (``ProfileServing.flush``: restarted without
its data, flushed by hand, failed over to an empty replica) makes every worker put again the
profiles of the customer partitions it owns, and link the identifiers of those customers from
its replica of the identity graph. The recent events and decisions lists start over: the
workers keep them only until they are written.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nextbest.streams.pipeline import Pipeline
    from nextbest.streams.stages.customer import CustomerStage
    from nextbest.streams.stages.identity import GraphReplica

logger = logging.getLogger(__name__)


def refill(pipeline: Pipeline, customers: CustomerStage, graph: GraphReplica) -> int:
    """Queue every owned profile and identifier for the next flush; returns the profiles."""
    serving = pipeline.serving
    owned = set(customers.partitions)
    profiles, identifiers = put_views(pipeline, customers, graph, owned)
    serving.forgotten = False
    # A worker's first flush to a new Redis (or a new deployment) is no news.
    level = logging.WARNING if serving.forgot_own_writes else logging.INFO
    logger.log(level, "Redis did not hold the served views (new, restarted without its data "
               "or flushed): %d profiles and %d identifiers of partitions %s written again",
               profiles, identifiers, sorted(owned))
    return profiles


def put_views(pipeline: Pipeline, customers: CustomerStage, graph: GraphReplica,
              partitions: set[int]) -> tuple[int, int]:
    """Queue the profiles and identifier links of these customer partitions for the next
    flush. Also what a worker does when it takes partitions over: the worker before it may have
    died with views it had not written yet (a first sighting's identifier link is written once,
    by the identity writer, and a replayed request finds the graph knowing it already)."""
    serving = pipeline.serving
    profiles = 0
    for partition in partitions:
        part = customers.partitions.get(partition)
        if part is None:
            continue
        for profile in part.profiles.every():
            if profile.merged_into is None:
                serving.put_profile(profile)
                profiles += 1
    identifiers = 0
    for key, customer_id in graph.identifiers():
        if pipeline.customer_partition(customer_id) in partitions:
            serving.link(key, customer_id)
            identifiers += 1
    return profiles, identifiers

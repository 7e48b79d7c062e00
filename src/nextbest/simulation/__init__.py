"""A synthetic shop: seeded, deterministic customer traffic for demos, tests and benchmarks.

Pure Python with no Kafka import; publishing is someone else's job. Every ``SimEvent`` is a dict
valid against its family's Avro schema in ``schemas/``. ``MalformedMessage`` carries raw bytes
that must end up on the dead-letter topic. ``Shop.truth()`` tells which customers really lapse,
who is price sensitive and which identifiers belong together, for scoring the engine.
``Shop.deliver`` closes the loop: customers answer delivered decisions by the hidden model of
``response_probability``, and ``Shop.deliveries()`` and ``Shop.natural_orders()`` tell what a
decision truly changed. Online orders ship (``fulfilment`` events); ``Shop.delays()`` tells which
were late, who asked about them and who would have asked without an apology.

>>> from itertools import islice, pairwise
>>> shop = Shop(seed=1, customers=50, items=40)
>>> len(shop.catalog())
40
>>> events = list(islice(shop.events(), 500))
>>> events == list(islice(Shop(seed=1, customers=50, items=40).events(), 500))
True
>>> all(a.event["event_time"] <= b.event["event_time"] for a, b in pairwise(events))
True
>>> shop.truth().customers["C00007"].value_tier in {"high", "mid", "low"}
True
"""

from __future__ import annotations

from nextbest.simulation.fulfilment import DelayTruth
from nextbest.simulation.malformed import MALFORMED_FLAWS
from nextbest.simulation.model import (
    FAMILIES,
    CustomerTruth,
    MalformedMessage,
    ShopTruth,
    SimEvent,
)
from nextbest.simulation.response import Delivery, response_probability
from nextbest.simulation.shop import DEFAULT_START_MS, Shop

__all__ = [
    "DEFAULT_START_MS",
    "FAMILIES",
    "MALFORMED_FLAWS",
    "CustomerTruth",
    "DelayTruth",
    "Delivery",
    "MalformedMessage",
    "Shop",
    "ShopTruth",
    "SimEvent",
    "response_probability",
]

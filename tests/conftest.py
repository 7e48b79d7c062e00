"""What every test gets: an environment without the developer's ``NEXTBEST_*`` settings.

nextbest reads its settings from ``NEXTBEST_*`` variables (``EngineSettings``,
``WorkerSettings``, the schema folder, ...), so a shell that exports, say,
``NEXTBEST_PARTITIONS=7`` or ``NEXTBEST_HOLDOUT_SHARE=0.5`` would change what the tests see.
They are taken out of the environment as soon as pytest loads this file (before any test module
is imported: some read settings at import, and the codec is built once per process), and every
test starts without any (one a test sets with ``monkeypatch.setenv`` is its own business).

Kept: ``NEXTBEST_TEST_*``, where the integration tests find Kafka, Redis and a browser, and
:data:`KEPT`, which only say where the local stack keeps its data and downloads, how much memory
its broker takes and how much a test's worker logs - none of them changes a result.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pytest

PREFIX = "NEXTBEST_"
KEPT_PREFIX = "NEXTBEST_TEST_"
KEPT = frozenset({"NEXTBEST_VAR_DIR", "NEXTBEST_CACHE_DIR", "NEXTBEST_KAFKA_HEAP_OPTS",
                  "NEXTBEST_WORKER_LOGLEVEL"})


def foreign_settings(environ: Mapping[str, str]) -> list[str]:
    """The ``NEXTBEST_*`` variables of ``environ`` a test must not see.

    >>> foreign_settings({"NEXTBEST_PARTITIONS": "7", "NEXTBEST_TEST_KAFKA": "k:9092",
    ...                   "NEXTBEST_VAR_DIR": "/data", "PATH": "/bin"})
    ['NEXTBEST_PARTITIONS']
    """
    return sorted(name for name in environ if name.startswith(PREFIX)
                  and not name.startswith(KEPT_PREFIX) and name not in KEPT)


REMOVED = {name: os.environ.pop(name) for name in foreign_settings(os.environ)}
"""What the shell had set, for the record (the session header shows the names)."""


def pytest_report_header() -> str | None:
    if not REMOVED:
        return None
    return "left out of the tests' environment: " + ", ".join(sorted(REMOVED))


@pytest.fixture(autouse=True)
def _without_nextbest_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts without them, whatever an earlier test or fixture left behind."""
    for name in foreign_settings(os.environ):
        monkeypatch.delenv(name)

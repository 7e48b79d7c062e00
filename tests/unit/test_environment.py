"""The tests do not see the developer's NEXTBEST_* settings (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from nextbest.settings import EngineSettings
from nextbest.streams.settings import WorkerSettings

ROOT = Path(__file__).resolve().parents[2]
SHELL = {"NEXTBEST_PARTITIONS": "7", "NEXTBEST_HOLDOUT_SHARE": "1.0",
         "NEXTBEST_SCHEMA_DIR": "/no/such/folder", "NEXTBEST_TEST_KAFKA": "broker:9092"}


def test_a_test_sees_the_defaults_and_the_test_variables() -> None:
    """Run on its own in a shell with :data:`SHELL` set by the test below."""
    assert WorkerSettings().partitions == WorkerSettings.model_fields["partitions"].default
    assert EngineSettings().holdout_share == EngineSettings.model_fields["holdout_share"].default
    assert "NEXTBEST_SCHEMA_DIR" not in os.environ
    if os.environ.get("NEXTBEST_TEST_KAFKA") is not None:  # the run below
        assert os.environ["NEXTBEST_TEST_KAFKA"] == SHELL["NEXTBEST_TEST_KAFKA"]


def test_settings_of_the_shell_do_not_reach_the_tests() -> None:
    inner = test_a_test_sees_the_defaults_and_the_test_variables.__name__
    test = f"{Path(__file__).relative_to(ROOT)}::{inner}"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", test],
        cwd=ROOT, env={**os.environ, **SHELL}, capture_output=True, text=True, timeout=120,
        check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
    assert ("left out of the tests' environment: NEXTBEST_HOLDOUT_SHARE, NEXTBEST_PARTITIONS, "
            "NEXTBEST_SCHEMA_DIR") in done.stdout

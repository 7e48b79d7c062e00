"""``nextbest customer`` against a real worker that needs the API token: the view in the
terminal, found by an identifier in another format, and what it says when refused or lost."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import orjson
import pytest
from pydantic import SecretStr

from nextbest.cli import main
from nextbest.cli.worker_process import free_port
from tests.events import DAY, order
from tests.integration.harness import Harness

LISA = {"email": "Lisa.Berg@example.com", "phone": "+49 170 1234567"}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["customer", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_customer_in_the_terminal(
    kafka_bootstrap: str, redis_url: str, topic_prefix: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    token = secrets.token_urlsafe(24)
    harness = Harness(kafka=kafka_bootstrap, redis=redis_url, prefix=topic_prefix,
                      data_dir=tmp_path, api_token=SecretStr(token))
    harness.start_worker()
    try:
        url = harness.worker.url
        now = int(time.time() * 1000)
        harness.publish("purchase", [
            order(now, "O-1", total=80.0, category="dresses", customer=LISA),
            order(now + DAY, "O-1", kind="return", reason="defective", total=80.0,
                  customer=LISA)])
        harness.customer("email:lisa.berg@example.com",
                         until=lambda v: bool(v["recent_decisions"]))

        monkeypatch.delenv("NEXTBEST_API_TOKEN", raising=False)
        code, _, err = run(capsys, "email:lisa.berg@example.com", "--url", url)
        assert code == 1 and f"the worker at {url} needs the API token" in err

        monkeypatch.setenv("NEXTBEST_API_TOKEN", "not-" + token)
        code, _, err = run(capsys, "email:lisa.berg@example.com", "--url", url)
        assert code == 1 and "refused the token in NEXTBEST_API_TOKEN" in err

        monkeypatch.setenv("NEXTBEST_API_TOKEN", token)
        code, out, err = run(capsys, "phone:+49 170 123-45-67", "--url", url)
        assert code == 0, err
        assert out.splitlines()[0].startswith("Lisa.Berg@example.com  nextbest id nb-")
        assert "Service recovery  [sent]" in out
        assert "why: The customer returned an item because it was defective." in out
        assert "Return O-1" in out and "reason: defective" in out
        assert token not in out

        code, out, _ = run(capsys, "email:LISA.BERG@example.com", "--url", url, "--json")
        view = orjson.loads(out)
        assert code == 0 and view["profile"]["defective_returns"] == 1

        code, _, err = run(capsys, "email:nobody@example.com", "--url", url)
        assert code == 1 and "no customer known as 'email:nobody@example.com'" in err

        nowhere = f"http://127.0.0.1:{free_port()}"
        code, _, err = run(capsys, "email:lisa.berg@example.com", "--url", nowhere)
        assert code == 1 and f"no worker answers at {nowhere}" in err
    finally:
        harness.worker.stop()

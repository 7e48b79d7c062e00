"""A real Prometheus (the installed binary) for a test: its own temporary folder and free port,
queried over its HTTP API, stopped and deleted at the end."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import yaml

from tests.integration.harness import free_port


class QueryError(Exception):
    """Prometheus refused a query (it does not parse, or cannot be evaluated)."""


class Prometheus:
    def __init__(self, config: dict[str, Any], *, files: dict[str, Any] | None = None) -> None:
        """``config`` is the prometheus.yml to run; ``files`` (name -> JSON-able) are written
        next to it first, e.g. file-discovery targets (``{folder}`` in ``config`` strings stands
        for that folder)."""
        binary = shutil.which("prometheus")
        if binary is None:
            raise FileNotFoundError("prometheus is not installed")
        self.folder = Path(tempfile.mkdtemp(prefix="nextbest-prometheus-"))
        for name, content in (files or {}).items():
            (self.folder / name).write_bytes(orjson.dumps(content))
        text = yaml.safe_dump(config).replace("{folder}", str(self.folder))
        (self.folder / "prometheus.yml").write_text(text)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.folder / "prometheus.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [binary, f"--config.file={self.folder / 'prometheus.yml'}",
                 f"--storage.tsdb.path={self.folder / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT)

    def ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"prometheus not ready after {timeout}s: {self.log_tail()}")

    def api(self, path: str, **params: str | list[str]) -> Any:
        """``data`` of a GET on ``/api/v1/<path>``; QueryError with Prometheus's reason when
        it refuses."""
        query = urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}",
                                        timeout=30) as response:
                body = orjson.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = orjson.loads(exc.read() or b"{}")
            raise QueryError(f"{body.get('errorType')}: {body.get('error')}") from None
        if body.get("status") != "success":
            raise QueryError(f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The series an instant query returns now (a scalar counts as one)."""
        data = self.api("query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return list(data["result"])

    def value(self, expr: str) -> float:
        """The one value of a query that returns at most one series (0 for none)."""
        found = self.query(expr)
        return float(found[0]["value"][1]) if found else 0.0

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)

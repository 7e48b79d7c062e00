"""Run a fuzz target in a subprocess for a bounded time, seeded with the real-message corpus.

The corpus, the token dictionary and any crashing input live under one work folder per target:
``<workdir>/<target>/corpus`` (the seeds, and what the fuzzer adds to them, so a later session
goes on from there), ``<workdir>/<target>/tokens.dict`` and ``<workdir>/<target>/crash-*``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nextbest.codec import Codec
from tests.fuzz import corpus

ROOT = Path(__file__).resolve().parents[2]
TARGETS: dict[str, tuple[str, Callable[[Codec], list[bytes]]]] = {
    "decode": ("tests.fuzz.decode_target", corpus.seed_messages),
    "normalize": ("tests.fuzz.normalize_target", corpus.seed_edits),
}
MAX_LEN = 4096
INPUT_TIMEOUT_S = 10
"""One input taking longer than this is a finding too (a hang)."""


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str
    crashes: list[Path]

    @property
    def found(self) -> bool:
        return self.returncode != 0 or bool(self.crashes)

    def report(self) -> str:
        """The fuzzer's last lines and each crashing input (hex), to reproduce a finding."""
        inputs = [f"{path.name}: {path.read_bytes().hex()}" for path in self.crashes]
        return "\n".join([*self.output.splitlines()[-40:], *inputs])


def prepare(target: str, workdir: Path, codec: Codec | None = None) -> Path:
    """Write the target's seed corpus and dictionary under ``workdir``; its folder."""
    codec = codec or Codec()
    home = workdir / target
    corpus.write(home / "corpus", TARGETS[target][1](codec))
    corpus.write_dictionary(home / "tokens.dict", corpus.dictionary(codec))
    return home


def run(target: str, workdir: Path, *, seconds: int, extra: tuple[str, ...] = (),
        timeout: float | None = None) -> Run:
    """Fuzz ``target`` for ``seconds`` (plus start-up) with libFuzzer options ``extra``."""
    home = prepare(target, workdir)
    before = set(home.glob("crash-*")) | set(home.glob("timeout-*"))
    command = [
        sys.executable, "-m", TARGETS[target][0],
        f"-max_total_time={seconds}", f"-max_len={MAX_LEN}", f"-timeout={INPUT_TIMEOUT_S}",
        f"-dict={home / 'tokens.dict'}", f"-artifact_prefix={home}/", "-print_final_stats=1",
        *extra, str(home / "corpus"),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT),
                                                                      os.environ.get("PYTHONPATH"))))}
    done = subprocess.run(command, cwd=home, env=env, capture_output=True, text=True,
                          errors="replace", timeout=timeout, check=False)
    after = set(home.glob("crash-*")) | set(home.glob("timeout-*"))
    return Run(done.returncode, done.stdout + done.stderr, sorted(after - before))

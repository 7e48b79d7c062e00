"""Each fuzz target runs for a few seconds from the real-message corpus and finds nothing.

A finding fails the test with the fuzzer's report and the crashing input in hex; reproduce it
with ``python -m tests.fuzz.<target>_target <crash file>`` and make it a regression test (see
tests/unit/test_codec_findings.py). Longer sessions: tests/fuzz/README.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nextbest.codec import REASONS, Codec, CodecError
from tests.fuzz.invariants import split
from tests.fuzz.runner import Run, run

pytest.importorskip("atheris", reason="atheris has wheels for x86_64 Linux only")

SECONDS = 10
"""Per target: the two together stay around half a minute with their start-up."""


def fuzz(target: str, workdir: Path) -> Path:
    """Run ``target`` briefly; its grown corpus, once it is known to have found nothing."""
    done = run(target, workdir, seconds=SECONDS, timeout=SECONDS + 120)
    assert not done.found, done.report()
    corpus = workdir / target / "corpus"
    assert executed(done) > 10 * len(list(corpus.iterdir())), done.report()  # it really ran
    return corpus


def executed(done: Run) -> int:
    found = re.search(r"stat::number_of_executed_units: (\d+)", done.output)
    return int(found.group(1)) if found else 0


def test_decoding_fuzzed_messages_refuses_only_with_dead_letter_reasons(tmp_path: Path) -> None:
    corpus = fuzz("decode", tmp_path)
    codec, reasons = Codec(), set()
    for path in corpus.iterdir():  # the corpus takes the codec down (nearly) every refusal
        hint, value = split(codec, path.read_bytes())
        try:
            codec.decode(value, family_hint=hint)
        except CodecError as error:
            reasons.add(error.reason)
    assert len(reasons) >= len(REASONS) - 2, sorted(set(REASONS) - reasons)


def test_normalizing_fuzzed_records_refuses_only_with_dead_letter_reasons(
        tmp_path: Path) -> None:
    fuzz("normalize", tmp_path)

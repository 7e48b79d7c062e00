"""Fuzz target: records as a producer hands them to :meth:`Codec.normalize` (and so to
``encode`` and ``encode_json``): real records of every family with a few edits the input
chooses (:mod:`tests.fuzz.edits`), normalized as their own family or as another.

Run with libFuzzer's arguments (see tests/fuzz/README.md): ``python -m
tests.fuzz.normalize_target -max_total_time=600 CORPUS_DIR``. The property is
:func:`tests.fuzz.invariants.check_normalize`.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["nextbest.codec"]):
    from nextbest.codec import Codec

from tests.fuzz.corpus import real_records
from tests.fuzz.edits import edited
from tests.fuzz.invariants import check_normalize

CODEC = Codec()
FAMILIES = sorted(CODEC.families)
RECORDS = [(family, CODEC.normalize(family, record)) for family, record in real_records()]


def test_one_input(input_bytes: bytes) -> None:
    data = atheris.FuzzedDataProvider(input_bytes)
    family, record = RECORDS[data.ConsumeIntInRange(0, len(RECORDS) - 1)]
    if data.ConsumeProbability() < 0.1:  # now and then as the record of another family
        family = FAMILIES[data.ConsumeIntInRange(0, len(FAMILIES) - 1)]
    check_normalize(CODEC, family, edited(data, record))


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

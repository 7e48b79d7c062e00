"""Fuzz target: message values as they come off an input or decision topic, through
:meth:`Codec.decode` (Confluent-framed Avro for every registered schema id, JSON events of every
family, with and without the topic's family hint).

Run with libFuzzer's arguments (see tests/fuzz/README.md): ``python -m
tests.fuzz.decode_target -max_total_time=600 CORPUS_DIR``. The first byte of an input picks the
family hint; the property is :func:`tests.fuzz.invariants.check_decode`.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["nextbest.codec"]):
    from nextbest.codec import Codec

from tests.fuzz.invariants import check_decode, split

CODEC = Codec()


def test_one_input(data: bytes) -> None:
    hint, value = split(CODEC, data)
    check_decode(CODEC, hint, value)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

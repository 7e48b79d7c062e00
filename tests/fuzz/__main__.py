"""A longer fuzzing session: ``python -m tests.fuzz {decode,normalize} [--minutes N]``.

The corpus grows under ``--workdir`` (default ``var/fuzz``), so each session goes on where the
last stopped; a crashing input is written there as ``crash-<sha1>`` and printed in hex.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tests.fuzz.runner import ROOT, TARGETS, run


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "fuzz")
    parser.add_argument("--jobs", type=int, default=1,
                        help="libFuzzer processes working on the same corpus")
    args = parser.parse_args()
    extra = (f"-jobs={args.jobs}", f"-workers={args.jobs}") if args.jobs > 1 else ()
    done = run(args.target, args.workdir, seconds=int(args.minutes * 60), extra=extra)
    print(done.report())
    print(f"corpus: {args.workdir / args.target / 'corpus'}")
    return 1 if done.found else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Simultaneous first uses of a project's lock key: N processes encrypt at once in a folder with no key yet.

Run: python bench/bench_lock_key.py [--processes 300] [--rounds 3]
Prints, per round, how many processes failed (e.g. "invalid lock key file": a key file read while it was
being written) and how many distinct keys they ended up with (must be 1). Exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from lock_key_race import first_uses  # noqa: E402


def main() -> None:
    from featrix_iac.state.secrets import blob_key_id

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.pop("FEATRIX_LOCK_KEY", None)
    os.environ.pop("CI", None)
    broken = 0
    for i in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            errors, blobs = first_uses(Path(tmp), args.processes)
        keys = len({blob_key_id(blob) for blob in blobs})
        broken += len(errors) + (keys != 1)
        print(f"round {i}: {args.processes} simultaneous first uses: {len(errors)} failed, {keys} distinct key(s)")
        for text in sorted(set(errors))[:3]:
            print("      " + text)
    raise SystemExit(1 if broken else 0)


if __name__ == "__main__":
    main()

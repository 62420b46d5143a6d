"""Benchmark: fingerprint of a large data file, cold (streamed SHA-256) and then from the stat cache.

    python bench/bench_fingerprint.py [SIZE]      # SIZE like 1G (default), 256M, 5000000

Prints MB/s of the cold fingerprint, and the cached re-fingerprint's time and bytes read (target: 0).
The file is written to a temp folder first, so "cold" means "not in our cache", not "not in the OS
page cache"; the figure is the hashing throughput of one core.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from featrix_iac.state import fingerprint_file_info

UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str) -> int:
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = UNITS.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in UNITS else text
    return int(float(number) * unit)


def write_file(path: Path, size: int) -> float:
    block = bytearray(os.urandom(1 << 20))
    start = time.perf_counter()
    with path.open("wb") as fh:
        left, n = size, 0
        while left > 0:
            block[:8] = n.to_bytes(8, "little")  # every MiB differs
            fh.write(block[: min(left, len(block))])
            left -= len(block)
            n += 1
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", nargs="?", default="1G", help="file size, e.g. 1G, 256M (default 1G)")
    args = parser.parse_args(argv)
    size = parse_size(args.size)
    with tempfile.TemporaryDirectory(prefix="featrix-bench-") as tmp:
        data, cache = Path(tmp) / "data.csv", Path(tmp) / ".featrix" / "fingerprints.json"
        wrote = write_file(data, size)
        print(f"file: {size:,} bytes ({size / 1e6:,.0f} MB), written in {wrote:.2f} s")

        t0 = time.perf_counter()
        cold = fingerprint_file_info(data, cache)
        cold_s = time.perf_counter() - t0
        print(
            f"cold:   {cold_s:8.3f} s  {size / 1e6 / cold_s:8.1f} MB/s  bytes read {cold.bytes_read:,}  {cold.digest}"
        )

        t0 = time.perf_counter()
        hot = fingerprint_file_info(data, cache)
        hot_s = time.perf_counter() - t0
        print(f"cached: {hot_s * 1000:8.3f} ms  bytes read {hot.bytes_read:,}  cache hit {hot.cached}")
        print(f"speed-up: {cold_s / hot_s:,.0f}x")
        ok = hot.cached and hot.bytes_read == 0 and hot.digest == cold.digest
    print("OK: the cached re-fingerprint read none of the file" if ok else "FAIL: the cached fingerprint read the file")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

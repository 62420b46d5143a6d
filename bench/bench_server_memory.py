"""Peak memory of the local server under big and hostile uploads (issue 9): a 100 MiB CSV and gzip bombs.

Run: python bench/bench_server_memory.py [--csv-mib 100] [--bomb-gib 1]
Each case runs on a fresh server (so VmHWM, the kernel's peak RSS, is that case's alone) and prints the
answer, the seconds it took, the server's RSS before, its peak, and its RSS a second after the answer. It asserts nothing; the bound the
README documents is the goal.
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests

from featrix_iac.server.embedded import start_local_server

MIB = 1024 * 1024


def proc_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def numeric_csv(path: Path, mib: int) -> Path:
    """`mib` MiB of a 10-column numeric CSV (far more cells than the limit)."""
    row = ",".join(f"{i}.{i * 7 % 1000:03d}" for i in range(10)) + "\n"
    with path.open("w") as fh:
        fh.write(",".join(f"c{i}" for i in range(10)) + "\n")
        fh.write(row * (mib * MIB // len(row)))
    return path


def text_csv(path: Path, mib: int) -> Path:
    """`mib` MiB of a 2-column CSV with long text values (few cells: within the limit, read whole)."""
    with path.open("w") as fh:
        fh.write("label,text\n")
        for i in range(mib * MIB // 512):
            fh.write(f"{i % 5},{f'w{i} ' * 80}"[:510] + "\n")
    return path


def bomb(path: Path, gib: float, line: bytes) -> Path:
    """A small .csv.gz that inflates to `gib` GiB of `line` repeats (after a header)."""
    block = line * (MIB // len(line))
    with gzip.open(path, "wb", compresslevel=9) as gz:
        gz.write(b"a,b\n")
        for _ in range(int(gib * 1024)):
            gz.write(block)
    return path


def one_line_bomb(path: Path, gib: float) -> Path:
    """A .csv.gz whose one data line inflates to `gib` GiB (no newline for the parser to stop at)."""
    block = b"x" * MIB
    with gzip.open(path, "wb", compresslevel=9) as gz:
        gz.write(b"a,b\n")
        for _ in range(int(gib * 1024)):
            gz.write(block)
    return path


def _chunked(path: Path) -> tuple[object, str]:
    """A multipart body streamed without Content-Length (Transfer-Encoding: chunked)."""
    boundary = "benchboundary7f3a"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    tail = f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="epochs"\r\n\r\n1\r\n--{boundary}--\r\n'

    def body() -> object:
        yield head
        with path.open("rb") as fh:
            while chunk := fh.read(MIB):
                yield chunk
        yield tail.encode()

    return body(), f"multipart/form-data; boundary={boundary}"


def _post(url: str, key: str, data: Path, chunked: bool) -> requests.Response:
    if chunked:
        body, ctype = _chunked(data)
        headers = {"X-Api-Key": key, "Content-Type": ctype}
        return requests.post(f"{url}/compute/upload_with_new_session/", headers=headers, data=body, timeout=600)
    with data.open("rb") as fh:
        return requests.post(
            f"{url}/compute/upload_with_new_session/",
            headers={"X-Api-Key": key},
            files={"file": (data.name, fh)},
            data={"epochs": "1"},
            timeout=600,
        )


def run(name: str, make: Callable[[Path], Path], chunked: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = make(Path(tmp) / ("upload.csv.gz" if "bomb" in name else "upload.csv"))
        with start_local_server(Path(tmp) / "server", env={"FEATRIX_LOCAL_WORKERS": "1"}) as srv:
            before = proc_kib(srv.pid, "VmRSS")
            start = time.perf_counter()
            resp = _post(srv.url, srv.api_key, data, chunked)
            took = time.perf_counter() - start
            peak = proc_kib(srv.pid, "VmHWM")
            time.sleep(1.0)
            after = proc_kib(srv.pid, "VmRSS")
            if resp.status_code == 200:  # accepted: stop its training, only the upload is measured
                sid = resp.json()["session_id"]
                requests.post(f"{srv.url}/compute/session/{sid}/mark_for_deletion", headers={"X-Api-Key": srv.api_key})
            answer = f"{resp.status_code} {resp.json().get('detail', '')[:90]}" if resp.status_code != 200 else "200"
            print(
                f"{name:<44} {data.stat().st_size / MIB:8.1f} MiB sent  {took:6.1f} s  "
                f"rss before {before / 1024:5.0f} MiB  peak {peak / 1024:5.0f} MiB  after {after / 1024:5.0f} MiB"
                f"  -> {answer}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv-mib", type=int, default=100)
    parser.add_argument("--bomb-gib", type=float, default=1.0)
    args = parser.parse_args()
    mib, gib = args.csv_mib, args.bomb_gib
    run(f"CSV {mib} MiB, 10 numeric columns", lambda p: numeric_csv(p, mib))
    run(f"CSV {mib} MiB, 2 text columns", lambda p: text_csv(p, mib))
    run(f"CSV {mib} MiB, 2 text columns, chunked", lambda p: text_csv(p, mib), chunked=True)
    run(f"gzip bomb -> {gib} GiB of short rows", lambda p: bomb(p, gib, b"1,2\n"))
    run(f"gzip bomb -> {gib} GiB on one line", lambda p: one_line_bomb(p, gib))


if __name__ == "__main__":
    main()

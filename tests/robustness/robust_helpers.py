"""Robustness harness: the real CLI as a subprocess, a project on the local server, and a server inventory."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from repo_files import copy_project

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "examples" / "quickstart"
LOCK_KEY = base64.b64encode(b"robustness-lock-key-32-bytes-!!!").decode()  # 32 bytes: no PBKDF2 per run
WRONG_LOCK_KEY = base64.b64encode(b"another-lock-key-of-32-bytes-!!!").decode()
WEBHOOK_SECRET = "whsec-CANARY-robust-8c1d2e3f4a5b"


def make_project(
    root: Path,
    url: str,
    *,
    name: str = "penguins-quickstart",
    fm_epochs: int = 8,
    predictor_epochs: int | None = None,
    timeout: float | None = None,
) -> Path:
    """A copy of the quickstart named `name`, pointed at `url`; optionally more epochs, so training takes longer."""
    copy_project(QUICKSTART, root)
    manifest = root / "featrix.yaml"
    server = f"url: {url}" + (f"\n  timeout: {timeout}" if timeout else "")
    text = manifest.read_text(encoding="utf-8").replace("url: local", server)
    text = text.replace("project: penguins-quickstart", f"project: {name}")
    text = text.replace("fm_epochs: 8", f"fm_epochs: {fm_epochs}")
    if predictor_epochs is not None:
        text = text.replace(
            "    foundational_model: penguins\n", f"    foundational_model: penguins\n    epochs: {predictor_epochs}\n"
        )
    manifest.write_text(text, encoding="utf-8")
    return root


def cli_env(api_key: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEATRIX_")}
    env.update(
        {
            "FEATRIX_API_KEY": api_key,
            "FEATRIX_LOCK_KEY": LOCK_KEY,
            "FEATRIX_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "NO_COLOR": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


@dataclass
class Cli:
    """`python -m featrix_iac -C <project> ...`, keeping every byte printed (except `output ADDRESS.FIELD`)."""

    project: Path
    env: dict[str, str]
    transcript: list[str] = field(default_factory=list)

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "featrix_iac", "-C", str(self.project), *args]

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(self.argv(*args), capture_output=True, text=True, env=env or self.env, timeout=timeout)
        if not (args[0] == "output" and len(args) > 1 and not args[1].startswith("-")):
            self.transcript.extend([r.stdout, r.stderr])
        return r

    def ok(self, *args: str, codes: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        r = self(*args)
        assert r.returncode in codes, f"featrix {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args),
            env=self.env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


@dataclass
class Inventory:
    """What the server holds, by the address in each object's creation tag."""

    fms: Counter[str]
    predictors: Counter[tuple[str, str]]  # (session's address, predictor name)
    endpoints: Counter[str]

    def duplicates(self) -> list[str]:
        out = [f"{a} x{n}" for a, n in self.fms.items() if n > 1]
        out += [f"predictor {p} on {a} x{n}" for (a, p), n in self.predictors.items() if n > 1]
        out += [f"{a} x{n}" for a, n in self.endpoints.items() if n > 1]
        return out


def tag_of(user_metadata: Any) -> dict[str, Any]:
    """The featrix_iac creation tag inside an object's user_metadata (a dict or a JSON string)."""
    if isinstance(user_metadata, str):
        try:
            user_metadata = json.loads(user_metadata)
        except ValueError:
            return {}
    tag = user_metadata.get("featrix_iac") if isinstance(user_metadata, dict) else None
    return tag if isinstance(tag, dict) else {}


def inventory(url: str, api_key: str, project: str) -> Inventory:
    """The project's live foundational models, predictors and endpoints (marked-for-deletion ones excluded)."""
    headers = {"X-Api-Key": api_key}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        sessions = http.get("/compute/sessions-for-org").json()["sessions"]
        fms: Counter[str] = Counter()
        predictors: Counter[tuple[str, str]] = Counter()
        ours: set[str] = set()  # predictor ids in the project's sessions (endpoints carry no tag: by predictor)
        for item in sessions:
            sid = item["session_id"] if isinstance(item, dict) else item
            doc = http.get(f"/compute/session/{sid}").json()
            tag = tag_of(doc["session"].get("user_metadata"))
            if tag.get("project") != project:
                continue
            address = str(tag.get("address"))
            fms[address] += 1
            for job in doc.get("job_plan", []):
                if job.get("job_type") == "train_single_predictor":
                    predictors[(address, str(job.get("name")))] += 1
                    ours.add(str(job.get("predictor_id")))
        eps = http.get("/endpoints").json()["endpoints"]
        endpoints = Counter(f"endpoint.{e.get('name')}" for e in eps if e.get("serving_predictor_id") in ours)
    return Inventory(fms, predictors, endpoints)


def clear_faults(url: str, api_key: str) -> None:
    httpx.delete(url + "/__test__/faults", headers={"X-Api-Key": api_key}, timeout=10).raise_for_status()


def add_faults(url: str, api_key: str, *rules: dict[str, Any]) -> None:
    r = httpx.post(url + "/__test__/faults", headers={"X-Api-Key": api_key}, json={"faults": list(rules)}, timeout=10)
    r.raise_for_status()


def fault_hits(url: str, api_key: str) -> list[int]:
    """How often each active fault rule fired (a test whose fault never fired proves nothing)."""
    r = httpx.get(url + "/__test__/faults", headers={"X-Api-Key": api_key}, timeout=10)
    r.raise_for_status()
    data = r.json()
    rules = data.get("faults", data) if isinstance(data, dict) else data
    return [int(rule.get("hits", 0)) for rule in rules]


def leaks(haystacks: dict[str, bytes], needles: list[str]) -> list[str]:
    """Where any needle occurs (name of the haystack and the needle), for an assertion message."""
    return [
        f"{needle!r} in {name}" for name, data in haystacks.items() for needle in needles if needle.encode() in data
    ]


def project_files(root: Path) -> dict[str, bytes]:
    """Every file under the project folder, by relative path."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# what the quickstart converges to on the server
EXPECTED_FMS = {"foundational_model.penguins": 1}
EXPECTED_PREDICTORS = {"species", "sex", "body_mass"}
EXPECTED_ENDPOINTS = {"endpoint.species_api": 1}


def lockfile_problem(root: Path) -> str:
    """'' when the lockfile is absent or loads cleanly, else the reason."""
    from featrix_iac.diagnostics import DiagnosticsError
    from featrix_iac.state import StateStore

    if not (root / "featrix.lock").exists():
        return ""
    try:
        StateStore(root, "default").load()
    except DiagnosticsError as exc:
        return "; ".join(f"{d.summary} {d.detail}" for d in exc.diagnostics)
    return ""


def convergence_problems(cli: Cli, url: str, api_key: str, project: str) -> list[str]:
    """After a successful apply: a valid lockfile, an empty plan, and exactly the quickstart on the server."""
    out: list[str] = []
    if problem := lockfile_problem(cli.project):
        out.append(f"lockfile invalid: {problem}")
    replan = cli("plan", "--detailed-exitcode")
    if replan.returncode != 0:
        out.append(f"plan after apply is not empty ({replan.returncode}):\n{replan.stdout}{replan.stderr}")
    inv = inventory(url, api_key, project)
    out.extend(f"duplicate on the server: {d}" for d in inv.duplicates())
    if dict(inv.fms) != EXPECTED_FMS:
        out.append(f"foundational models on the server: {dict(inv.fms)}")
    if {p for (_, p) in inv.predictors} != EXPECTED_PREDICTORS:
        out.append(f"predictors on the server: {dict(inv.predictors)}")
    if dict(inv.endpoints) != EXPECTED_ENDPOINTS:
        out.append(f"endpoints on the server: {dict(inv.endpoints)}")
    return out


def requests_log(url: str, api_key: str) -> list[dict[str, Any]]:
    r = httpx.get(url + "/__test__/requests", headers={"X-Api-Key": api_key}, timeout=10)
    r.raise_for_status()
    data = r.json()
    return data["requests"] if isinstance(data, dict) else data


def clear_requests_log(url: str, api_key: str) -> None:
    httpx.delete(url + "/__test__/requests", headers={"X-Api-Key": api_key}, timeout=10).raise_for_status()


def set_consistency(url: str, api_key: str, **switches: Any) -> None:
    r = httpx.post(url + "/__test__/consistency", headers={"X-Api-Key": api_key}, json=switches, timeout=10)
    r.raise_for_status()

"""Golden transcripts: run a case's `script` through the real `featrix` CLI and render what happened.

A case is a folder `tests/acceptance/<case>/` with a `script`, the `output.txt` it must print, and any
files it needs (`featrix.yaml`, other manifests, data). The runner copies the folder to a temporary
directory and runs the script there, one line at a time:

    # a comment                         echoed into the transcript as it is
    featrix plan --detailed-exitcode    the real CLI (a subprocess, `-C <case dir>`); stdout, then stderr
                                        (each line prefixed `! `), then `[exit N]`
    NAME=$(featrix output X.Y)          the same, stdout kept in $NAME instead of printed (ids, keys)
    export NAME=VALUE / unset NAME      environment of the following lines
    featrix ... | PATH [PATH...]        the same, printing only `PATH = value` for each dotted path into
                                        the JSON it printed (`--json` output: `done`, `actions.0.action`;
                                        `PATH#` prints how many items it has)
    http [--key K] METHOD PATH [BODY] [| PATH...]
                                        one request to the shared server (the account key unless --key):
                                        `[status N]`, and the selected values of its JSON answer
    write FILE <<EOF ... EOF            writes the lines up to EOF to FILE
    anything else                       a shell line (bash, in the case dir): cp, sed, head ...; it must
                                        succeed (a failing edit is a broken script, not an outcome)

`$NAME` and `${NAME}` expand from the case's environment, which starts with SERVER_URL (the shared
server), FEATRIX_API_KEY, FEATRIX_LOCK_KEY, FEATRIX_WEBHOOK_SECRET, EXAMPLES (the repository's
examples/) and NO_COLOR. The transcript is compared after `normalise`: ids become numbered placeholders
(the same id, the same placeholder, so a kept endpoint id stays `<ep:1>`), keys `<api-key>`, durations
and timestamps `<duration>` / `<time>`, plan ids `<plan:N>`, the server's URL `<server>`, the case dir `<case>`.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_CAPTURE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=\$\((featrix\s.*)\)$")
_HEREDOC = re.compile(r"^write\s+(\S+)\s+<<(\w+)$")
_KEY = re.compile(r"\bfx_(?:ep_)?[A-Za-z0-9_-]{20,}")


def split_selectors(words: list[str]) -> tuple[list[str], list[str]]:
    """`... | a.b c` → the command's words and the dotted JSON paths to print from its output."""
    if "|" not in words:
        return words, []
    at = words.index("|")
    return words[:at], words[at + 1 :]


def selected(text: str, paths: list[str]) -> list[str]:
    """`path = value` (compact JSON) for each dotted path into the JSON document `text`."""
    try:
        doc: Any = json.loads(text)
    except ValueError:
        return ["(not JSON)", *text.splitlines()]
    lines = []
    for path in paths:
        value = doc
        for part in path.rstrip("#").split("."):
            if isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                value = value.get(part) if isinstance(value, dict) else None
        if path.endswith("#"):  # `PATH#`: how many items
            value = len(value) if isinstance(value, (list, dict)) else None
        lines.append(f"{path} = {json.dumps(value, sort_keys=True)}")
    return lines


LITERAL = "\0"  # marks a line of the script itself (echoed as written, never normalised)


class ScriptError(Exception):
    """The script itself is broken (unknown variable, a failing edit): not an outcome to compare."""


@dataclass
class Run:
    """One case being run: its folder, environment, the transcript so far and the secrets it must not show."""

    root: Path
    env: dict[str, str]
    server: Any
    lines: list[str] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    leaks: list[str] = field(default_factory=list)

    def expand(self, text: str) -> str:
        def value(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(2)
            if name not in self.env:
                raise ScriptError(f"${name} is not set")
            return self.env[name]

        return _VAR.sub(value, text)

    def featrix(self, args: list[str], *, quiet: bool = False) -> str:
        args, selectors = split_selectors(args)
        r = subprocess.run(
            [sys.executable, "-m", "featrix_iac", "-C", str(self.root), *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=600,
        )
        # `featrix output ADDRESS.FIELD` prints one value, a key on purpose: only its stderr must be clean
        prints_a_secret = args[:1] == ["output"] and any(a.count(".") >= 2 for a in args[1:] if a[:1] != "-")
        concurrent = args[:1] in (["apply"], ["destroy"])
        if selectors and not quiet:
            self.lines.extend(selected(r.stdout, selectors))
        elif not quiet:
            self.lines.extend(progress_in_order(r.stdout.splitlines()) if concurrent else r.stdout.splitlines())
        err = r.stderr.splitlines()
        self.lines.extend("! " + line for line in (progress_in_order(err) if concurrent else err))
        self.lines.append(f"[exit {r.returncode}]")
        self.check_secrets(r.stderr if prints_a_secret else r.stdout + r.stderr, " ".join(args))
        return r.stdout.strip()

    def check_secrets(self, text: str, where: str) -> None:
        """No secret in what a command printed, nor in clear in any lockfile of the case."""
        shown = [s for s in self.secrets if s in text] + _KEY.findall(text)
        self.leaks.extend(f"{where}: printed a secret" for _ in shown[:1])
        for lockfile in self.root.glob("featrix*.lock"):
            content = lockfile.read_text(encoding="utf-8", errors="replace")
            if any(s in content for s in self.secrets) or _KEY.search(content):
                self.leaks.append(f"{where}: a secret in clear in {lockfile.name}")

    def http(self, words: list[str]) -> None:
        import httpx

        key = self.env["FEATRIX_API_KEY"]
        if words[:1] == ["--key"]:
            key, words = words[1], words[2:]
        words, selectors = split_selectors(words)
        method, path, *body = words
        resp = httpx.request(
            method,
            self.server.url + path,
            headers={"X-API-Key": key},
            json=json.loads(body[0]) if body else None,
            timeout=60,
        )
        self.lines.append(f"[status {resp.status_code}]")
        if selectors:
            self.lines.extend(selected(resp.text, selectors))

    def shell(self, line: str) -> None:
        r = subprocess.run(["bash", "-c", line], cwd=self.root, capture_output=True, text=True, env=self.env)
        if r.returncode != 0:
            raise ScriptError(f"`{line}` failed ({r.returncode}): {r.stderr.strip()}")
        self.lines.extend(r.stdout.splitlines())

    def step(self, line: str, body: list[str] | None = None) -> None:
        """Run one script line (with its heredoc `body`, for write)."""
        self.lines.append(LITERAL + (line if line.startswith("#") else f"$ {line}"))
        if line.startswith("#"):
            return
        capture = _CAPTURE.match(line)
        words = shlex.split(self.expand(capture.group(2) if capture else line))
        if capture:
            value = self.featrix(words[1:], quiet=True)
            self.env[capture.group(1)] = value
            if words[1] == "output" and words[-1].endswith(("api_key", "secret")):
                self.secrets.add(value)
        elif words[0] == "featrix":
            self.featrix(words[1:])
        elif words[0] == "export":
            name, _, value = words[1].partition("=")
            self.env[name] = value
        elif words[0] == "unset":
            self.env.pop(words[1], None)
        elif words[0] == "http":
            self.http(words[1:])
        elif words[0] == "write" and body is not None:
            (self.root / words[1]).write_text("".join(self.expand(b) + "\n" for b in body), encoding="utf-8")
        else:
            self.shell(line)


def run_script(script: str, root: Path, env: dict[str, str], server: Any) -> Run:
    """Run every line of `script` in `root`; the transcript is in the returned Run's `lines`."""
    run = Run(root, dict(env), server)
    run.secrets.update(v for k, v in env.items() if k in ("FEATRIX_LOCK_KEY", "FEATRIX_WEBHOOK_SECRET"))
    lines = iter(script.splitlines())
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        heredoc = _HEREDOC.match(line)
        body = None
        if heredoc:
            body = []
            for more in lines:
                if more.strip() == heredoc.group(2):
                    break
                body.append(more)
            else:
                raise ScriptError(f"`{line}`: no closing {heredoc.group(2)}")
        run.step(line, body)
    return run


_PROGRESS = re.compile(r"^([a-z_]+\.[\w-]+): (.*)$")
_OUTCOME = re.compile(r"^(?:\w+\.\.\.|\w+ \[[\d.]+s\]|\w+|FAILED: .*|skipped: .*)$")


def progress_in_order(lines: list[str]) -> list[str]:
    """An apply's progress, independent of timing: in each run of `address: event` lines, only each
    address's start / done / failed / skipped lines (no training or publish status), grouped by address
    in address order (parallel work finishes in any order; one address's events keep theirs)."""
    out: list[str] = []
    block: list[tuple[str, str]] = []
    for line in [*lines, ""]:
        m = _PROGRESS.match(line)
        if m:
            if _OUTCOME.match(m.group(2)):
                block.append((m.group(1), line))
            continue
        out.extend(text for _, text in sorted(block, key=lambda pair: pair[0]))
        block = []
        out.append(line)
    return out[:-1]


_TIME = re.compile(r"\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?:-\d{8}-\d{6})?\b")
_PLAN_ID = re.compile(r"\bplan-[0-9a-f]{16}\b")  # a plan's id (the hash of its JSON, which holds a lineage)
_PREFIXED_ID = re.compile(r"\b(ep|pred|vdb|job|pub)_[0-9a-f]{32}\b")
_SUFFIX = re.compile(r"(?<=-)[0-9a-f]{8}\b")  # a name made unique by the server (shadow_publish_name)
_DURATION = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?: ?(?:ms|s|min|h)\b)(?: \d+(?:\.\d+)? ?s\b)?")
_SECONDS = re.compile(r"\bseconds \d+(?:\.\d+)?")  # "trained seconds 0.9" (a promotion's proof)
_PORT = re.compile(r"\b(127\.0\.0\.1|localhost):\d{4,5}\b")
_SERIAL = re.compile(r"\bserial(\s*[=:]?\s*)\d+(?:(\s*→\s*)\d+)?")


def normalise(lines: list[str], *, root: Path, server_url: str) -> str:
    """The transcript with what varies from run to run replaced by stable placeholders."""
    numbers: dict[str, str] = {}

    def numbered(kind: str, value: str) -> str:
        if value not in numbers:
            count = sum(1 for v in numbers.values() if v.startswith(f"<{kind}:"))
            numbers[value] = f"<{kind}:{count + 1}>"
        return numbers[value]

    out = []
    for line in lines:
        if line.startswith(LITERAL):
            out.append(line[1:])
            continue
        line = line.replace(str(root), "<case>").replace(server_url, "<server>")
        line = _PORT.sub(r"\1:<port>", line)
        line = _KEY.sub("<api-key>", line)
        line = _TIME.sub("<time>", line)
        line = _PLAN_ID.sub(lambda m: numbered("plan", m.group(0)), line)
        line = _PREFIXED_ID.sub(lambda m: numbered(m.group(1), m.group(0)), line)
        line = _UUID.sub(lambda m: numbered("id", m.group(0)), line)
        line = _SUFFIX.sub(lambda m: numbered("hex", m.group(0)), line)
        line = _DURATION.sub("<duration>", _SECONDS.sub("seconds <duration>", line))
        line = _SERIAL.sub(lambda m: f"serial{m.group(1)}<n>" + (f"{m.group(2)}<n>" if m.group(2) else ""), line)
        out.append(line.rstrip())
    return "\n".join(out) + "\n"

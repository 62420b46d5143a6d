"""Hypothesis strategies and harness of the property tests: corpora, text and byte mutations, engine steps."""

from __future__ import annotations

import contextlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from repo_files import copy_project

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
GOLDEN = REPO / "tests" / "golden" / "diagnostics"

# profiles: "ci" (default, derandomized, small) and "long" (bench/bench_properties.py, HYPOTHESIS_PROFILE=long)
_COMMON: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
}
settings.register_profile("ci", derandomize=True, print_blob=True, **_COMMON)
_NO_SHRINK = os.environ.get("FEATRIX_PROPERTY_NO_SHRINK", "") not in ("", "0")  # bench --no-shrink
_PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target] if _NO_SHRINK else list(Phase)
settings.register_profile("long", derandomize=False, print_blob=True, phases=_PHASES, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
LONG = os.environ.get("HYPOTHESIS_PROFILE", "ci") == "long"


def examples(ci: int, long: int) -> int:
    """max_examples for this profile (the CI one keeps the file well under a minute); FEATRIX_PROPERTY_SCALE
    multiplies the long profile's count (bench/bench_properties.py --scale)."""
    return int(long * float(os.environ.get("FEATRIX_PROPERTY_SCALE", "1"))) if LONG else ci


def featrix_inprocess(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """`featrix ARGS` in this process (fast), with `env` set; the working directory is restored after."""
    import pytest

    from featrix_iac.cli.errors import run
    from featrix_iac.cli.main import cli

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(Path.cwd())  # `-C DIR` changes the directory of this process
        for key, value in env.items():
            mp.setenv(key, value)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(cli, list(args))
    return code, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------------------------------------- corpora

# lines never touched when the mutated project is planned: they keep the plan on the test server
PROTECTED = re.compile(r"^\s*(server:|url:|api_key_env:|version:)|url:")


def copy_base(src: Path, dst: Path, url: str | None = None) -> Path:
    """Copy a project folder; with `url`, point every `url: local` at that server."""
    copy_project(src, dst)
    if url is not None:
        manifest = dst / "featrix.yaml"
        manifest.write_text(manifest.read_text(encoding="utf-8").replace("url: local", f"url: {url}"), "utf-8")
    return dst


def golden_cases() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "featrix.yaml").is_file())


def manifest_files(root: Path) -> list[str]:
    """The project's YAML files (relative POSIX paths), the root manifest first."""
    others = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.y*ml") if p.name != "featrix.yaml")
    return ["featrix.yaml", *others]


@dataclass
class Snapshot:
    """Every file of a project folder, to restore it after a mutation."""

    root: Path
    files: dict[str, bytes]

    @classmethod
    def take(cls, root: Path) -> Snapshot:
        return cls(root, {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()})

    def restore(self) -> None:
        for p in sorted(self.root.rglob("*"), reverse=True):
            rel = p.relative_to(self.root).as_posix()
            if p.is_file() and rel not in self.files:
                p.unlink()
        for rel, data in self.files.items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_bytes() != data:
                path.write_bytes(data)


# ---------------------------------------------------------------------------------------------- values

HUGE_NUMBERS = [
    "1e999",
    "-1e999",
    ".inf",
    "-.inf",
    ".nan",
    "9" * 400,
    "-" + "9" * 400,
    "0x" + "f" * 64,
    "1_000_000_000_000_000_000",
    "2.5e-400",
    "-0",
    "0o777777777777777777777",
]

TEMPLATE_ATOMS = [
    "var('fm_epochs')",
    "var('protect')",
    "var('nope')",
    "var(1)",
    "var()",
    "env_var('FEATRIX_WEBHOOK_SECRET')",
    "env_var('FEATRIX_PROPERTY_UNSET')",
    "env_var('FEATRIX_PROPERTY_UNSET', 3)",
    "env_var(None)",
    "environment",
    "nope",
    "1",
    "0",
    "-1",
    "10 ** 40",
    "3.5",
    "'text'",
    "''",
    "none",
    "true",
    "[1, 2]",
    "{'a': 1}",
    "range(5)",
    "().__class__",
    "''.__class__.__mro__",
    "lipsum",
    "cycler",
]
TEMPLATE_OPS = [" + ", " - ", " * ", " / ", " // ", " % ", " ~ ", " and ", " or ", " == ", " | ", "."]
TEMPLATE_FILTERS = ["upper", "int", "float", "length", "first", "list", "attr('x')", "nope", "join(',')", "default(1)"]


@st.composite
def template_expressions(draw: st.DrawFn) -> str:
    """A Jinja template string: one expression, a mix of text and expressions, or broken syntax."""
    parts = [draw(st.sampled_from(TEMPLATE_ATOMS))]
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(TEMPLATE_OPS))
        nxt = draw(st.sampled_from(TEMPLATE_FILTERS if op == " | " else TEMPLATE_ATOMS))
        parts.append(op.strip() if op in (" | ", ".") else op)
        parts.append(nxt if op != "." else nxt.strip("'()[]{} ") or "x")
    expr = "".join(parts)
    shape = draw(st.sampled_from(["one", "mixed", "block", "broken", "unclosed"]))
    if shape == "one":
        return "{{ " + expr + " }}"
    if shape == "mixed":
        return "a-{{ " + expr + " }}-b"
    if shape == "block":
        return "{% for i in " + expr + " %}{{ i }}{% endfor %}"
    if shape == "broken":
        return "{{ " + expr + " )( }}"
    return "{{ " + expr


def _quote(text: str) -> str:
    """A YAML double-quoted scalar holding `text` (any unicode, escaped)."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF or code in (0xFEFF, 0xFFFE, 0xFFFF):
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def deep_nesting(depth: int, kind: str) -> str:
    if kind == "flow_list":
        return "[" * depth + "]" * depth
    if kind == "flow_map":
        return "{a: " * depth + "1" + "}" * depth
    return "[{a: " * (depth // 2) + "1" + "}]" * (depth // 2)


@st.composite
def yaml_values(draw: st.DrawFn) -> str:
    """One YAML value as text (it goes after `key: `): another type, a huge number, a template, unicode..."""
    kind = draw(st.sampled_from(["scalar", "huge", "template", "unicode", "nested", "deep", "flow", "anchor", "empty"]))
    if kind == "scalar":
        return draw(st.sampled_from(["true", "no", "null", "~", "0", "-5", "3.25", "yes", "'5'", "on", "2026-01-01"]))
    if kind == "huge":
        return draw(st.sampled_from(HUGE_NUMBERS))
    if kind == "template":
        return _quote(draw(template_expressions()))
    if kind == "unicode":
        return _quote(draw(st.text(max_size=25)))
    if kind == "nested":
        return draw(st.sampled_from(["[1, [2, [3]]]", "{a: {b: {c: [x]}}}", "[]", "{}", "[null]", "{? [a]: b}"]))
    if kind == "deep":
        depth = draw(st.sampled_from([30, 200, 1000, 5000]))
        return deep_nesting(depth, draw(st.sampled_from(["flow_list", "flow_map", "mixed"])))
    if kind == "flow":
        return draw(st.sampled_from(["[a, b", "{a: 1", "a: b: c", "- x", "|", ">-", "&x 1", "*missing", "!!binary x"]))
    if kind == "anchor":
        return draw(st.sampled_from(["&a [*a]", "!!python/object:os.system 1", "!!set {a, b}", "!!omap [a: 1]"]))
    return ""


BAD_INCLUDES = [
    "models/*.yaml",
    "models/*.y*ml",
    "**/*.yaml",
    "featrix.yaml",
    "data/*.csv",
    "data",
    "models",
    "../*.yaml",
    "nope/*.yaml",
    "/nonexistent/**/*.yaml",
    "[",
    "*",
    "",
    "   ",
    "\\u0000",
    "a" * 300,
    "models/../featrix.yaml",
]

GARBAGE = [
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\x80\x81",
    b"\t",
    b"\r",
    b"\x1b[31m",
    b"\xed\xa0\x80",
    b": :",
    b"- -",
]


# ---------------------------------------------------------------------------------------------- mutations

_KEY_LINE = re.compile(r"^(?P<indent>\s*)(?P<dash>-\s+)?(?P<key>[^\s:#][^:#]*?):(?P<rest>\s.*|)$")


def _editable(lines: list[str], protect: bool) -> list[int]:
    return [i for i, line in enumerate(lines) if not (protect and PROTECTED.search(line))]


@st.composite
def text_mutation(draw: st.DrawFn, text: str, protect: bool) -> str:
    """One line-level edit of a YAML text: delete, duplicate, rename a key, another value, re-indent, swap."""
    lines = text.splitlines()
    candidates = _editable(lines, protect)
    if not candidates:
        return text
    i = draw(st.sampled_from(candidates))
    m = _KEY_LINE.match(lines[i])
    op = draw(
        st.sampled_from(["delete", "duplicate", "rename", "value", "value", "indent", "dedent", "swap", "include"])
    )
    if op == "delete":
        lines.pop(i)
    elif op == "duplicate":
        lines.insert(i, lines[i])
    elif op == "rename" and m:
        new = draw(
            st.one_of(st.sampled_from(["epoch", "Epochs", "type ", "published", "12", "null"]), st.text(max_size=8))
        )
        lines[i] = f"{m['indent']}{m['dash'] or ''}{_quote(new)}:{m['rest']}"
    elif op == "value" and m:
        lines[i] = f"{m['indent']}{m['dash'] or ''}{m['key']}: {draw(yaml_values())}"
    elif op == "indent":
        lines[i] = "  " + lines[i]
    elif op == "dedent":
        lines[i] = lines[i][2:] if lines[i].startswith("  ") else lines[i]
    elif op == "swap":
        j = draw(st.sampled_from(candidates))
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "include":
        patterns = draw(st.lists(st.sampled_from(BAD_INCLUDES), min_size=0, max_size=3))
        lines.insert(i, "include: [" + ", ".join(_quote(p) for p in patterns) + "]")
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


@st.composite
def byte_mutation(draw: st.DrawFn, data: bytes) -> bytes:
    """A raw-bytes edit: garbage bytes, truncation, random unicode, a deep nest at the end."""
    op = draw(st.sampled_from(["garbage", "truncate", "unicode", "deep", "crlf"]))
    at = draw(st.integers(0, len(data)))
    if op == "garbage":
        junk = draw(st.one_of(st.sampled_from(GARBAGE), st.binary(min_size=1, max_size=8)))
        return data[:at] + junk + data[at:]
    if op == "truncate":
        return data[:at]
    if op == "unicode":
        return data[:at] + draw(st.text(min_size=1, max_size=10)).encode("utf-8", "surrogatepass") + data[at:]
    if op == "deep":
        depth = draw(st.sampled_from([50, 500, 3000]))
        return data + f"\nextra: {deep_nesting(depth, 'mixed')}\n".encode()
    return data.replace(b"\n", b"\r\n")


@st.composite
def project_mutations(draw: st.DrawFn, files: dict[str, str], protect: bool) -> dict[str, bytes]:
    """1-4 edits spread over the project's YAML files; returns {relative path: new bytes} of changed files."""
    out = {name: text.encode("utf-8") for name, text in files.items()}
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(sorted(files)))
        if draw(st.integers(0, 4)) == 0 and not protect:
            out[name] = draw(byte_mutation(out[name]))
            continue
        try:
            text = out[name].decode("utf-8")
        except UnicodeDecodeError:
            continue
        out[name] = draw(text_mutation(text, protect)).encode("utf-8", "surrogatepass")
    if protect and draw(st.integers(0, 3)) == 0:  # byte edits outside the protected lines: at the very end
        name = draw(st.sampled_from(sorted(files)))
        out[name] = out[name] + b"\n" + draw(st.sampled_from(GARBAGE + [b"\xff", b"key: [[[", b"\x00x: 1"]))
    return {name: data for name, data in out.items() if data != files[name].encode("utf-8")}


# ---------------------------------------------------------------------------------------------- engine steps

EDIT_NAMES = [
    "none",
    "retrain the foundational model (replace cascade)",
    "add predictor island",
    "remove predictor sex",
    "change species epochs (replace)",
    "toggle published (in place)",
    "toggle deletion_protection (in place)",
    "rotate the endpoint key",
    "append a vdb record (in place)",
    "rewrite the vdb records (replace)",
    "remove the endpoint",
    "restore the endpoint",
]

TRAIN = r"/compute/session/[^/]+/train_predictor$"
ROUTES = [
    "POST /compute/upload_with_new_session",
    f"POST {TRAIN}",
    "POST /endpoints$",
    "* /endpoints/[^/]+",
    "GET /compute/session/[^/]+$",
    "GET /compute/sessions-for-org",
    "* /vector_databases",
    "DELETE /compute/session/[^/]+",
    "* /compute/session/[^/]+/",
]


@st.composite
def fault_rules(draw: st.DrawFn) -> list[dict[str, Any]]:
    """0-2 rules for the server's test hooks: 5xx before/after commit, 429 with Retry-After, a dropped connection."""
    rules = []
    for _ in range(draw(st.integers(0, 2))):
        route = draw(st.sampled_from(ROUTES))
        kind = draw(st.sampled_from(["5xx", "429", "drop"]))
        when = draw(st.sampled_from(["before", "after"]))
        count = draw(st.integers(1, 3))
        if kind == "5xx":
            rules.append(
                {"route": route, "status": draw(st.sampled_from([500, 502, 503])), "when": when, "count": count}
            )
        elif kind == "429":
            retry = draw(st.sampled_from([0, 0.5, 1]))
            rules.append({"route": route, "status": 429, "retry_after": retry, "count": count})
        else:
            rules.append({"route": route, "drop_connection": True, "when": when, "count": 1})
    return rules


OPERATIONS = ["plan", "apply", "apply", "destroy", "refresh-only", "import"]


# ---------------------------------------------------------------------------------------------- plausible edits

PALETTE: dict[str, list[Any]] = {
    "epochs": [0, 1, 3, 5, -1, 10**6, "3", "{{ var('fm_epochs') + 1 }}", None, 2.5],
    "published": [True, False, "yes", "{{ var('protect') }}", None],
    "deletion_protection": [True, False, "{{ environment == 'prod' }}"],
    "type": ["binary_classifier", "multi_classifier", "regressor", "classifier"],
    "target_column": ["species", "sex", "island", "body_mass_g", "year", "nope", ""],
    "foundational_model": ["penguins", "ghost", "", "foundational_model.penguins"],
    "predictor": ["species", "sex", "body_mass", "ghost", "island"],
    "data": ["data/penguins.csv", "data/new_penguins.csv", "data/missing.csv", "data", "https://example.invalid/x.csv"],
    "ignore_columns": [["year"], [], ["year", "island"], ["nope"], "year"],
    "rare_label_value": ["female", "male", "unknown", None],
    "description": ["Penguins", "", "ünïcødé ✓", "x" * 600],
    "api_key": [
        {"rotation": 1},
        {"rotation": 0},
        {"rotation": -1},
        {"revoked": True},
        {"rotation": 2, "revoked": False},
    ],
    "lifecycle": [
        {"prevent_destroy": True},
        {"create_before_destroy": False},
        {"ignore_changes": ["epochs"]},
        {"ignore_changes": ["nope"]},
    ],
    "depends_on": [["foundational_model.penguins"], ["predictor.sex"], ["predictor.ghost"], ["nonsense"]],
    "webhooks": [{"training_finished": "http://127.0.0.1:9/other"}, {}, {"nope": "http://x"}, {"training_finished": 3}],
    "records": [[{"bill_length_mm": 40.0}], [], [{"nope": 1}], "x"],
    "user_metadata": [{"team": "a"}, {"k" * 40: "v" * 40000}, []],
}
SECTIONS = ["foundational_models", "predictors", "endpoints", "vector_databases"]
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
RANDOM_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def plausible_mutation(draw: st.DrawFn, tree: dict[str, Any]) -> dict[str, Any]:
    """1-3 edits of a parsed manifest that mostly keep it valid: other values, removed fields or resources,
    copied and renamed resources. The server block is never touched (the plan stays on the test server)."""
    import copy

    data = copy.deepcopy(tree)
    for _ in range(draw(st.integers(1, 3))):
        sections = [s for s in SECTIONS if isinstance(data.get(s), dict) and data[s]]
        if not sections:
            break
        items = data[draw(st.sampled_from(sections))]
        key = draw(st.sampled_from(sorted(items)))
        body = items[key]
        op = draw(st.sampled_from(["set", "set", "set", "random", "drop_field", "drop_resource", "copy", "rename"]))
        if op == "random":  # any value, any key: the body itself or one of its fields
            if isinstance(body, dict) and draw(st.booleans()):
                body[draw(st.sampled_from([*sorted(body), *PALETTE]))] = draw(RANDOM_VALUES)
            else:
                items[key] = draw(RANDOM_VALUES)
        elif op == "set" and isinstance(body, dict):
            field_name = draw(st.sampled_from(sorted(PALETTE)))
            body[field_name] = draw(st.sampled_from(PALETTE[field_name]))
        elif op == "drop_field" and isinstance(body, dict) and body:
            body.pop(draw(st.sampled_from(sorted(body))))
        elif op == "drop_resource":
            items.pop(key)
        elif op == "copy":
            items[draw(st.sampled_from(["copy", "island", "x" * 70, "Bad-Key", "ünï"]))] = copy.deepcopy(body)
        elif op == "rename":
            items[draw(st.sampled_from(["renamed", "species2", "9lives", ""]))] = items.pop(key)
    return data

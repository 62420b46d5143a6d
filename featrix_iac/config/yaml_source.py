"""YAML parsing that keeps a file:line:col for every key and value (PyYAML's composer, libyaml when present)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from featrix_iac.diagnostics import Diagnostics, Source

Path_ = tuple[str | int, ...]
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
BOOLS: dict[str, bool] = yaml.constructor.SafeConstructor.bool_values
STR_TAG = "tag:yaml.org,2002:str"
INT_TAG, BOOL_TAG, NULL_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"


class _Loader(_Base):  # type: ignore[misc]  # yaml has no type stubs: its loaders are Any
    """The safe loader, remembering the tag it resolved for each scalar text (manifests repeat values a lot)."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._tags: dict[tuple[str, Any], str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not yaml.ScalarNode:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = self._tags.get(key)
        if tag is None:
            tag = self._tags[key] = super().resolve(kind, value, implicit)
        return tag


MAX_DEPTH, MAX_NODES = 64, 200_000  # beyond these a manifest is an error, not a RecursionError or a hang
SYNTAX_ERROR, VALUE_ERROR = "Invalid YAML syntax", "Invalid YAML value"  # the summaries of unreadable YAML


Pos = Source | int  # an int is a position in the map's own file, packed as (line << 32) | column (0-based)


@dataclass
class SourceMap:
    """Positions of values and of mapping keys, by path (e.g. ("predictors", "species", "epochs")).

    Positions read from the map's own file (`display`) are kept packed in an int and become a Source only when
    asked for: a manifest has tens of thousands of them and a diagnostic needs a few.
    """

    values: dict[Path_, Pos] = field(default_factory=dict)
    keys: dict[Path_, Pos] = field(default_factory=dict)
    display: str = ""

    def source(self, pos: Pos) -> Source:
        if isinstance(pos, Source):
            return pos
        return Source(self.display, (pos >> 32) + 1, (pos & 0xFFFFFFFF) + 1)

    def value(self, path: Path_) -> Source | None:
        """The position of the value at `path`, or of its nearest ancestor that has one."""
        for n in range(len(path), -1, -1):
            pos = self.values.get(path[:n])
            if pos is not None:
                return self.source(pos)
        return None

    def key(self, path: Path_) -> Source | None:
        """The position of the key that names `path` (falls back to the value's position)."""
        pos = self.keys.get(path)
        return self.source(pos) if pos is not None else self.value(path)

    def graft(self, other: SourceMap, src_prefix: Path_, dst_prefix: Path_) -> None:
        """Copy the positions under `src_prefix` of `other` to `dst_prefix` here (overriding)."""
        n = len(src_prefix)
        for mine, theirs in ((self.values, other.values), (self.keys, other.keys)):
            for p, pos in list(theirs.items()):
                if p[:n] == src_prefix:
                    mine[dst_prefix + p[n:]] = other.source(pos)

    def graft_resources(self, other: SourceMap, resources: set[tuple[str, str]]) -> None:
        """Copy the positions of `other` under each (section, key) of `resources` to the same paths here: one
        pass over `other`, however many resources an included file declares."""
        for mine, theirs in ((self.values, other.values), (self.keys, other.keys)):
            for p, pos in theirs.items():
                if len(p) >= 2 and p[:2] in resources:
                    mine[p] = other.source(pos)


@dataclass
class ParsedFile:
    path: Path
    display: str
    data: Any
    sources: SourceMap


def _src(display: str, mark: Any) -> Source:
    return Source(display, mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, display: str, diags: Diagnostics):
        self.display = display
        self.diags = diags
        self.sources = SourceMap(display=display)
        self.nodes = 0
        # the other scalars (floats, dates, octal, ...); its memo of what it built goes with the builder
        self.constructor = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, path: Path_) -> Any:
        mark = node.start_mark
        self.sources.values[path] = (mark.line << 32) | mark.column
        self.nodes += 1
        if len(path) > MAX_DEPTH or self.nodes > MAX_NODES:  # deep nests, recursive or exploding aliases
            what = f"nested more than {MAX_DEPTH} levels deep" if len(path) > MAX_DEPTH else f"over {MAX_NODES} values"
            raise yaml.MarkedYAMLError(problem=f"the manifest is too large: {what}", problem_mark=node.start_mark)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        tag, text = node.tag, node.value
        if tag == STR_TAG:  # most values: the text itself (what the constructor would return, cheaper)
            return text
        if tag == INT_TAG and text.isascii() and text.isdigit() and (text[0] != "0" or len(text) == 1):
            return int(text)  # plain decimal (YAML 1.1 reads a leading 0 as octal: left to the constructor)
        if tag == BOOL_TAG and text.lower() in BOOLS:
            return BOOLS[text.lower()]
        if tag == NULL_TAG:
            return None
        return self.constructor.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            mark = key_node.start_mark
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                self.diags.error(
                    "Unsupported mapping key", "Keys must be plain strings.", source=_src(self.display, mark)
                )
                continue
            key = key_node.value if key_node.tag == STR_TAG else str(self.constructor.construct_object(key_node))
            child = (*path, key)
            if key in out:
                detail = f"It was already defined at {self.sources.key(child)}."
                self.diags.error(f'Duplicate key "{key}"', detail, source=_src(self.display, mark))
                continue
            self.sources.keys[child] = (mark.line << 32) | mark.column
            out[key] = self.build(value_node, child)
        return out


def parse_file(path: Path, display: str, diags: Diagnostics, cache: Path | None = None) -> ParsedFile | None:
    """Parse one YAML file; problems go to `diags` and None is returned when nothing usable was read.

    With `cache` (the project's private folder), a file read before without a problem is not parsed again: its
    data and positions come from the cache (`_cached`), keyed by the text's SHA-256.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:  # point at the first bad byte
        raw = exc.object[: exc.start]
        line, col = raw.count(b"\n") + 1, exc.start - (raw.rfind(b"\n") + 1) + 1
        diags.error("Cannot read manifest file", f"Not UTF-8 text: {exc.reason}.", source=Source(display, line, col))
        return None
    except OSError as exc:
        diags.error("Cannot read manifest file", str(exc), source=Source(display))
        return None
    if cache is None:
        return parse_text(text, path, display, diags)
    return _cached(text, path, display, diags, cache)


PARSE_CACHE_FORMAT = 1


def _cached(text: str, path: Path, display: str, diags: Diagnostics, cache: Path) -> ParsedFile | None:
    """parse_text through a private cache (config/private_cache.py): composing the YAML and recording every
    position cost about 0.2 s of CPU per 10,000 resources on every plan (issue 16), for files that rarely
    change. Only a parse without a problem is kept (a file with errors is parsed, and reported, each time);
    the value is the plain data and the packed positions, so each load gets objects of its own."""
    from featrix_iac.config import private_cache

    where = cache / "parsed" / (private_cache.digest(display.encode("utf-8"))[:24] + ".parsed")
    key = (
        PARSE_CACHE_FORMAT,
        private_cache.code_stamp(__file__),
        yaml.__version__,
        _Base.__name__,
        display,
        private_cache.digest(text.encode("utf-8")),
    )
    hit = private_cache.read(where, key)
    if isinstance(hit, tuple) and len(hit) == 3:
        data, values, keys = hit
        return ParsedFile(path, display, data, SourceMap(values, keys, display))
    before = len(diags)
    parsed = parse_text(text, path, display, diags)
    if parsed is not None and len(diags) == before:
        sources = parsed.sources
        private_cache.write(where, key, (parsed.data, sources.values, sources.keys), folder=cache)
    return parsed


def _char_at(text: str, line: int, column: int) -> str:
    lines = text.splitlines()
    return lines[line][column : column + 1] if 0 <= line < len(lines) else ""


def parse_text(text: str, path: Path, display: str, diags: Diagnostics) -> ParsedFile | None:
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = str(exc.problem or exc.context or "")
        if exc.context and exc.context_mark and exc.problem:
            cm = exc.context_mark
            detail += f" ({exc.context} started at line {cm.line + 1}, column {cm.column + 1})"
        detail = detail[:1].upper() + detail[1:]
        if mark is not None and _char_at(text, mark.line, mark.column) == "\t":
            detail = "Tabs are not allowed in YAML indentation: indent with spaces."
        diags.error(SYNTAX_ERROR, detail, source=_src(display, mark) if mark else Source(display))
        return None
    except yaml.reader.ReaderError as exc:  # a forbidden character: point at it
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        diags.error(SYNTAX_ERROR, f"Unacceptable character {what}: {exc.reason}.", source=Source(display, line, col))
        return None
    except yaml.YAMLError as exc:
        diags.error(SYNTAX_ERROR, str(exc), source=Source(display))
        return None
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"):
        diags.error(
            "Empty manifest file", "A manifest must be a mapping of top-level sections.", source=Source(display)
        )
        return None
    if not isinstance(node, yaml.MappingNode):
        kind = "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
        diags.error(
            "Manifest file is not a mapping",
            f"The file holds {kind}; it must be a mapping of top-level sections (project, server, ...).",
            source=_src(display, node.start_mark),
        )
        return None
    builder = _Builder(display, diags)
    try:
        data = builder.build(node, ())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = str(getattr(exc, "problem", None) or exc)
        source = _src(display, mark) if mark else None
        diags.error(VALUE_ERROR, problem[:1].upper() + problem[1:], source=source)
        return None
    return ParsedFile(path, display, data, builder.sources)

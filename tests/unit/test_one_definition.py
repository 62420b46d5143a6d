"""Facts defined once: the redaction marker and the http(s) URL test live in model/ and everything else imports them."""

from __future__ import annotations

import re
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "featrix_iac"


def _engine_sources() -> dict[str, str]:
    """The package's modules outside server/ (the local server shares nothing with the engine)."""
    return {
        str(p.relative_to(PKG)): p.read_text(encoding="utf-8")
        for p in sorted(PKG.rglob("*.py"))
        if p.relative_to(PKG).parts[0] != "server"
    }


def test_the_redaction_marker_is_defined_once() -> None:
    defined = [name for name, text in _engine_sources().items() if re.search(r"^REDACTED\s*=", text, re.M)]
    assert defined == ["model/secrets.py"]
    spelled = [name for name, text in _engine_sources().items() if '"(sensitive value)"' in text]
    assert spelled == ["model/secrets.py"]


def test_the_http_url_test_is_written_once() -> None:
    pattern = re.compile(r"""startswith\(\(\s*["']https?://""")
    written = [name for name, text in _engine_sources().items() if pattern.search(text)]
    assert written == ["model/base.py"]

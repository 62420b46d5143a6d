"""Where the account key and base URL come from, resolved exactly like the official client (contract §1.1)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from featrix_iac.client.errors import ConfigError
from featrix_iac.model.base import is_http_url

DEFAULT_BASE_URL = "https://sphere-api.featrix.com"
KEY_PREFIX = "fx_"
DEFAULT_KEY_FILE = "/etc/.featrix_key"


@dataclass(frozen=True)
class Resolved:
    """The outcome of resolution. `key_source` names where the key came from (never the key)."""

    api_key: str | None
    base_url: str
    key_source: str

    def __repr__(self) -> str:
        return f"Resolved(base_url={self.base_url!r}, key_source={self.key_source!r})"


def config_paths(home: Path | None = None) -> list[Path]:
    home = Path.home() if home is None else home
    return [
        home / ".featrix",
        home / ".featrix" / "identity.env",
        home / ".featrix" / "config",
        home / ".featrix_default_key",
    ]


def read_config_file(path: Path) -> dict[str, str] | None:
    """A config file as a dict: JSON object, or `key=value` lines (keys lower-cased, quotes stripped)."""
    if not path.is_file():
        return None
    try:
        content = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not content:
        return None
    if content.startswith("{"):
        try:
            data = json.loads(content)
        except ValueError:
            return None
        return {str(k).lower(): str(v) for k, v in data.items()} if isinstance(data, dict) else None
    out: dict[str, str] = {}
    for line in content.splitlines():
        line = line.strip()
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            out[key.strip().lower()] = value
    return out


def _from_file(values: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((values[n] for n in names if values.get(n)), None)


def load_config(api_key_env: str = "FEATRIX_API_KEY", home: Path | None = None) -> tuple[dict[str, str], str]:
    """(config, key source): env vars first, then the files in order; stops at the first file once a key is known."""
    config: dict[str, str] = {}
    source = ""
    if os.environ.get(api_key_env):
        config["api_key"], source = os.environ[api_key_env], f"${api_key_env}"
    if os.environ.get("FEATRIX_BASE_URL"):
        config["base_url"] = os.environ["FEATRIX_BASE_URL"]
    for path in config_paths(home):
        values = read_config_file(path)
        if values is None:
            continue
        key = _from_file(values, ("api_key", "featrix_api_key"))
        if "api_key" not in config and key:
            config["api_key"], source = key, str(path)
        url = _from_file(values, ("base_url", "featrix_base_url"))
        if "base_url" not in config and url:
            config["base_url"] = url
        if "api_key" in config:
            break
    if "api_key" not in config:
        key_file = Path(os.environ.get("FEATRIX_KEY_FILE", DEFAULT_KEY_FILE))
        try:
            raw = key_file.read_text(encoding="utf-8").strip() if key_file.is_file() else ""
        except (OSError, UnicodeDecodeError):
            raw = ""
        if raw:
            config["api_key"], source = raw, str(key_file)
    return config, source


def resolve(
    base_url: str | None = None, api_key_env: str = "FEATRIX_API_KEY", home: Path | None = None, *, exact: bool = False
) -> Resolved:
    """Base URL and key. An explicit base_url wins unless it is the default; then config may override it, as
    in the official client. With `exact` (a manifest's server.url), base_url is used as given, always."""
    config, source = load_config(api_key_env, home)
    url = base_url or DEFAULT_BASE_URL
    if not exact and url == DEFAULT_BASE_URL and config.get("base_url"):
        url = config["base_url"]
    return Resolved(config.get("api_key"), url.rstrip("/"), source)


def check_key(api_key: str | None, source: str = "", api_key_env: str = "FEATRIX_API_KEY") -> str:
    """The key, stripped; ConfigError when missing or malformed. The message never contains the key."""
    if not api_key or not api_key.strip():
        raise ConfigError(
            "no Featrix API key found",
            f"set {api_key_env}, or put api_key=fx_... in ~/.featrix (see the README: where the key comes from)",
        )
    key = api_key.strip()
    if not key.startswith(KEY_PREFIX):
        where = f" (from {source})" if source else ""
        raise ConfigError(f"invalid Featrix API key{where}: it must start with {KEY_PREFIX!r}")
    return key


def check_base_url(url: str) -> str:
    if not is_http_url(url):
        raise ConfigError(f"invalid Featrix base URL {url!r}: it must start with http:// or https://")
    return url.rstrip("/")

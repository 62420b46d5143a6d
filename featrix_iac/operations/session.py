"""A loaded project with its lockfile store, and a client for its server (or the embedded local server)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featrix_iac.diagnostics import fail
from featrix_iac.operations.collector import collector_paused

if TYPE_CHECKING:
    from featrix_iac.client import FeatrixClient, RetryEvent
    from featrix_iac.config import LoadedProject
    from featrix_iac.graph import ResourceGraph
    from featrix_iac.state import StateStore


LOCAL = "local"
REDACTED = "(sensitive value)"


@dataclass
class Session:
    """A loaded project with its lockfile store, and (inside `connect`) a client."""

    loaded: LoadedProject
    graph: ResourceGraph
    store: StateStore


@collector_paused()
def open_session(root: Path | str, env: str | None = None) -> Session:
    from featrix_iac.config import load_project
    from featrix_iac.graph import build_graph
    from featrix_iac.state import StateStore

    loaded = load_project(root, env)
    store = StateStore(loaded.root, loaded.environment, project=loaded.project.project)
    return Session(loaded, build_graph(loaded.project), store)


@contextmanager
def connect(
    loaded: LoadedProject, *, on_retry: Callable[[RetryEvent], None] | None = None
) -> Iterator[tuple[FeatrixClient, str]]:
    """A client for the manifest's server: (client, server url as the plan records it).

    `server.url: local` starts the bundled server on `<root>/.featrix/local` for the duration.
    """
    from featrix_iac.client import FeatrixClient

    server = loaded.project.server
    options: dict[str, Any] = {"compute_cluster": server.compute_cluster, "timeout": server.timeout}
    if on_retry is not None:
        options["on_retry"] = on_retry
    if server.url != LOCAL:
        with FeatrixClient.from_environment(server.url, api_key_env=server.api_key_env, **options) as client:
            yield client, server.url
        return
    local = _start_local(loaded.root)
    try:
        with FeatrixClient(local.url, local.api_key, alive=local.running, **options) as client:
            yield client, LOCAL
    finally:
        local.stop()


def _start_local(root: Path) -> Any:
    try:
        from featrix_iac.server.embedded import start_local_server
    except ImportError as exc:
        raise fail(
            "server.url is 'local' but the local server is not installed",
            f"install it with `pip install 'featrix-iac[local]'` ({exc.name} is missing)",
        ) from None
    try:
        return start_local_server(root / ".featrix" / "local")
    except RuntimeError as exc:
        raise fail("cannot start the local Featrix server", str(exc)) from None

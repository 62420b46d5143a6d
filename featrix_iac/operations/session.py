"""A loaded project with its lockfile store, and a client for its server (or the embedded local server)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featrix_iac.collector import collector_paused
from featrix_iac.diagnostics import fail

if TYPE_CHECKING:
    from featrix_iac.client import FeatrixClient, RetryEvent
    from featrix_iac.config import LoadedProject
    from featrix_iac.graph import ResourceGraph
    from featrix_iac.resources.base import DesiredContext
    from featrix_iac.state import StateStore


LOCAL = "local"


@dataclass
class Session:
    """A loaded project with its lockfile store, and (inside `connect`) a client."""

    loaded: LoadedProject
    graph: ResourceGraph
    store: StateStore

    def desired_context(self) -> DesiredContext:
        """What handlers need to build desired state: who we are, and cached fingerprints and data summaries."""
        from functools import partial

        from featrix_iac.config.data_profile import data_summary
        from featrix_iac.resources.base import DesiredContext

        loaded = self.loaded
        return DesiredContext(
            loaded.project.project,
            loaded.environment,
            loaded.root,
            self.store.fingerprint,
            _once_per_file(partial(data_summary, root=loaded.root)),
        )


def _once_per_file(summarize: Callable[[Path], dict[str, Any] | None]) -> Callable[[Path], dict[str, Any] | None]:
    """`summarize`, run once per data file (models often share one); each caller gets its own copy."""
    import copy

    done: dict[Path, dict[str, Any] | None] = {}

    def once(path: Path) -> dict[str, Any] | None:
        if path not in done:
            done[path] = summarize(path)
        return copy.deepcopy(done[path])

    return once


def load(root: Path | str, env: str | None = None) -> LoadedProject:
    """The project in `root` with `env`'s overlay, its references checked too (config, then graph): every
    problem in one DiagnosticsError."""
    from featrix_iac.config import load_project
    from featrix_iac.graph import diagnose_references

    return load_project(root, env, checks=(diagnose_references,))


@collector_paused()
def open_session(root: Path | str, env: str | None = None) -> Session:
    from featrix_iac.config import load_project
    from featrix_iac.graph import GraphCheck, build_graph

    check = GraphCheck()  # load()'s reference check, keeping the graph it builds (built once per session)
    loaded = load_project(root, env, checks=(check,))
    return Session(loaded, check.graph or build_graph(loaded.project), open_store(loaded))


def open_store(loaded: LoadedProject, backend: str | None = None) -> StateStore:
    """The lockfile store the manifest's `state:` block names (or `backend`, for state migrate)."""
    import os

    from featrix_iac.state import StateStore

    # on the embedded local server, the objects live in .featrix/local next to the key file: a key
    # generated in CI goes with them (see state/secrets.py)
    options: dict[str, Any] = {"project": loaded.project.project, "local_only": loaded.project.server.url == LOCAL}
    config = loaded.project.state
    if (backend or config.backend) == "file":
        return StateStore(loaded.root, loaded.environment, **options)
    from featrix_iac.state.postgres import PgState, PgStateStore

    url = os.environ.get(config.url_env, "").strip()
    if not url:
        raise fail(
            f"the postgres state backend needs {config.url_env}",
            f"set {config.url_env} to the PostgreSQL URL (postgresql://user:password@host:5432/db); "
            "it is read from the environment only, so no password lands in the manifest.",
            source=loaded.source("state"),
        )
    pg = PgState(url, config.db_schema, loaded.project.project, loaded.environment, config.history)
    return PgStateStore(loaded.root, loaded.environment, pg, **options)


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
        with _remote_client(loaded, options) as client:
            yield client, server.url
        return
    local = _start_local(loaded)
    try:
        with FeatrixClient(local.url, local.api_key, alive=local.running, **options) as client:
            yield client, LOCAL
    finally:
        local.stop()


def _remote_client(loaded: LoadedProject, options: dict[str, Any]) -> FeatrixClient:
    """A client for server.url exactly as the manifest says (FEATRIX_BASE_URL and ~/.featrix never override it);
    its connection errors name server.url and its position, a missing key the variable to set."""
    from featrix_iac.client import ConfigError, FeatrixClient, check_base_url

    server = loaded.project.server
    where = loaded.source("server", "url")
    try:
        check_base_url(server.url)
    except ConfigError as exc:
        raise fail(exc.message, "server.url must be `local` or the API's http(s) base URL.", source=where) from None
    options["url_source"] = f"server.url in {where}" if where else "server.url"
    try:
        return FeatrixClient.from_environment(server.url, api_key_env=server.api_key_env, exact_url=True, **options)
    except ConfigError as exc:  # the key: missing or malformed
        named = "api_key_env" in server.model_fields_set
        raise fail(exc.message, exc.detail, source=loaded.source("server", "api_key_env") if named else None) from None


def _start_local(loaded: LoadedProject) -> Any:
    from featrix_iac.server.embedded import INSTALL_LOCAL, missing_packages, start_local_server

    missing = missing_packages()
    if missing:
        raise fail(
            "server.url is 'local' but the local server's packages are not installed",
            f"Install them with `{INSTALL_LOCAL}` (missing: {', '.join(missing)}), or set server.url to a "
            "Featrix API URL.",
            source=loaded.source("server", "url"),
        )
    root = loaded.root
    try:
        return start_local_server(root / ".featrix" / "local")
    except RuntimeError as exc:
        raise fail("cannot start the local Featrix server", str(exc)) from None

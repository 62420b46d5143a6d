"""`featrix server`: run the bundled local Featrix-compatible server in the foreground."""

from __future__ import annotations

from pathlib import Path

import click

from featrix_iac.cli.output import err, out
from featrix_iac.diagnostics import fail


@click.command("server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", default=8787, show_default=True, type=int, help="Port (0 picks a free one).")
@click.option(
    "--data-dir",
    default=".featrix/local",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the database and trained artifacts.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    envvar="FEATRIX_LOCAL_WORKERS",
    help="Training workers, each computing in a process of its own (default 2; env FEATRIX_LOCAL_WORKERS).",
)
@click.option("--enable-test-hooks", is_flag=True, help="Enable fault-injection routes (tests only).")
@click.option(
    "--realism",
    is_flag=True,
    envvar="FEATRIX_LOCAL_REALISM",
    help="Durations like the real service: publishes of minutes, longer 404s while queued "
    "(env FEATRIX_LOCAL_REALISM; FEATRIX_LOCAL_PUBLISH_SECONDS / _SHADOW_SECONDS set each one).",
)
@click.option(
    "--allow-loopback-webhooks",
    is_flag=True,
    help="Let webhooks go to 127.0.0.1 / localhost (local development; the embedded server sets it).",
)
@click.option("--ready-file", type=click.Path(dir_okay=False, path_type=Path), hidden=True)
@click.option("--parent-pid", type=int, hidden=True)
@click.option("--leased", is_flag=True, hidden=True, help="Stop when no command holds a lease (embedded server).")
@click.option(
    "--log-level", default="warning", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)
def server_cmd(
    host: str,
    port: int,
    data_dir: Path,
    enable_test_hooks: bool,
    allow_loopback_webhooks: bool,
    ready_file: Path | None,
    parent_pid: int | None,
    leased: bool,
    log_level: str,
    workers: int | None,
    realism: bool,
) -> None:
    """Run the bundled local Featrix-compatible server (really trains small models).

    The account API key is FEATRIX_API_KEY when set (must start with fx_); otherwise one is
    generated at first start, stored in DATA_DIR (mode 0600) and printed once.
    """
    from featrix_iac.server.embedded import INSTALL_LOCAL, missing_packages

    missing = missing_packages()
    if missing:
        raise fail(
            "the local server's packages are not installed",
            detail=f"Install them with `{INSTALL_LOCAL}` (missing: {', '.join(missing)}).",
        )
    try:
        from featrix_iac.server.durations import durations_from_env
        from featrix_iac.server.http.app import hooks_enabled_by_env
        from featrix_iac.server.keys import KeyError_, resolve_account_key
        from featrix_iac.server.serve import serve
        from featrix_iac.server.service import DataDirBusy
    except ImportError as exc:
        raise fail(
            "the local server needs the 'local' extra", detail=f"pip install 'featrix-iac[local]' ({exc})"
        ) from exc
    hooks = enable_test_hooks or hooks_enabled_by_env()
    try:
        key, generated = resolve_account_key(data_dir, None)
    except (KeyError_, OSError) as exc:
        raise fail("cannot set up the account API key", detail=str(exc)) from exc
    if generated:
        out(f"Generated the account API key (stored in {data_dir / 'account.key'}, shown once):")
        out(f"  {key}")
    quiet = parent_pid is not None or leased

    def listening(url: str) -> None:
        if not quiet:
            err(f"featrix local server listening on {url} (data: {data_dir}){' [test hooks ON]' if hooks else ''}")

    try:
        serve(
            host=host,
            port=port,
            data_dir=data_dir,
            api_key=key,
            test_hooks=hooks,
            ready_file=ready_file,
            parent_pid=parent_pid,
            log_level=log_level,
            on_listening=listening,
            workers=workers,
            durations=durations_from_env(realism),
            allow_loopback_webhooks=allow_loopback_webhooks,
            leased=leased,
        )
    except DataDirBusy as exc:
        raise fail("the local server's data folder is busy", detail=str(exc)) from exc
    except OSError as exc:
        raise fail(f"cannot start the server on {host}:{port}", detail=str(exc)) from exc

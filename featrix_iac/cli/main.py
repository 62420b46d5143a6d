"""The `featrix` command group: global options, lazy subcommands, and the one error boundary."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from featrix_iac import __version__

# command name -> "module:function"; imported only when the command runs, so --help stays fast
COMMANDS: dict[str, str] = {
    "init": "featrix_iac.cli.cmd_project:init_cmd",
    "validate": "featrix_iac.cli.cmd_project:validate_cmd",
    "render": "featrix_iac.cli.cmd_project:render_cmd",
    "fmt": "featrix_iac.cli.cmd_fmt:fmt_cmd",
    "server": "featrix_iac.cli.cmd_server:server_cmd",
    "plan": "featrix_iac.cli.cmd_plan:plan_cmd",
    "apply": "featrix_iac.cli.cmd_plan:apply_cmd",
    "destroy": "featrix_iac.cli.cmd_plan:destroy_cmd",
    "output": "featrix_iac.cli.cmd_state:output_cmd",
    "state": "featrix_iac.cli.cmd_state:state_group",
    "show": "featrix_iac.cli.cmd_show:show_cmd",
    "predict": "featrix_iac.cli.cmd_predict:predict_cmd",
    "check": "featrix_iac.cli.cmd_check:check_cmd",
    "import": "featrix_iac.cli.cmd_import:import_cmd",
    "unlock": "featrix_iac.cli.cmd_unlock:unlock_cmd",
}
SHORT_HELP: dict[str, str] = {
    "check": "Run the endpoints' smoke checks through their URLs with their keys.",
    "predict": "Predict through an endpoint (with its key) or a predictor that apply created.",
    "init": "Create a new featrix project in the current folder.",
    "validate": "Check the manifests: syntax, types, references, templates.",
    "render": "Print the resolved manifest for an environment (secrets redacted).",
    "fmt": "Rewrite manifests in canonical formatting (keeps comments).",
    "server": "Run the bundled local Featrix-compatible server.",
    "plan": "Show what apply would change on the server, and why.",
    "apply": "Converge the server to the manifests (asks first).",
    "destroy": "Delete everything the lockfile records (asks first).",
    "output": "Print recorded outputs; a secret only when named (ADDRESS.FIELD).",
    "state": "The lockfile: list, show ADDRESS, rm (forget), mv (re-address).",
    "import": "Adopt an existing server object into the lockfile (ADDRESS ID).",
    "unlock": "Release an environment's lock held by a stuck process (LOCK_ID).",
    "show": "Show a saved plan file (--json, --markdown), or the lockfile.",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        cmd = getattr(importlib.import_module(module), attr)
        assert isinstance(cmd, click.Command)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # listed from SHORT_HELP so that `featrix --help` imports no command module
        with formatter.section("Commands"):
            formatter.write_dl([(name, SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)])

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and name not in COMMANDS and not name.startswith("-"):
            import difflib

            close = difflib.get_close_matches(name, list(COMMANDS), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise click.UsageError(f"no such command {name!r}.{hint}", ctx)
        return super().resolve_command(ctx, args)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="featrix-iac")
@click.option("-C", "chdir", metavar="DIR", type=click.Path(file_okay=False), help="Run as if started in DIR.")
@click.option("--debug", is_flag=True, envvar="FEATRIX_DEBUG", help="Show tracebacks and debug logs.")
@click.option("--no-color", is_flag=True, help="Plain output without colours (NO_COLOR is honoured too).")
@click.pass_context
def cli(ctx: click.Context, chdir: str | None, debug: bool, no_color: bool) -> None:
    """Declarative infrastructure as code for the Featrix Sphere ML platform.

    Declare foundational models, predictors, endpoints, webhooks and vector databases in
    featrix.yaml; `featrix plan` shows what would change and why; `featrix apply` does it.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    ctx.obj["color"] = not no_color and not os.environ.get("NO_COLOR")
    if chdir:
        try:
            os.chdir(chdir)
        except OSError as exc:
            raise click.UsageError(f"cannot change to directory {chdir!r}: {exc.strerror}") from exc


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the group, map every failure to `Error:` and exit code 1."""
    from featrix_iac.cli.errors import run
    from featrix_iac.collector import one_shot_process

    one_shot_process()  # this process ends with its command
    sys.exit(run(cli, argv))

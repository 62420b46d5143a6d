"""The CLI's error boundary: diagnostics and unexpected failures become `Error:` lines and exit 1."""

from __future__ import annotations

import sys
import traceback

import click

from featrix_iac.cli.output import echo_diagnostics, err
from featrix_iac.diagnostics import DiagnosticsError

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
EXIT_QUALITY = 3  # `plan --refresh-only --quality --detailed-exitcode`: an endpoint's model quality degraded


class CommandExit(Exception):
    """Raised by a command to leave with a specific exit code after it printed its output."""

    def __init__(self, code: int):
        self.code = code
        super().__init__(code)


def _debug(argv: list[str]) -> bool:
    import os

    return "--debug" in argv or os.environ.get("FEATRIX_DEBUG", "") not in ("", "0", "false")


def run(group: click.Group, argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = _debug(args)
    try:
        group.main(args=args, prog_name="featrix", standalone_mode=False)
        return EXIT_OK
    except CommandExit as exc:
        return exc.code
    except DiagnosticsError as exc:
        echo_diagnostics(exc.diagnostics)
        return EXIT_ERROR
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.Abort:
        err("Error: aborted.")
        return EXIT_ERROR
    except click.ClickException as exc:
        # usage errors exit 1, never 2 (2 means "changes present" with --detailed-exitcode)
        msg = exc.format_message()
        ctx = getattr(exc, "ctx", None)
        if isinstance(exc, click.UsageError) and ctx is not None:
            err(ctx.get_usage())
        err(f"Error: {msg}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        err("\nError: interrupted.")
        return 130
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - the one boundary that turns crashes into errors
        if debug:
            traceback.print_exc()
        err(f"Error: internal error: {type(exc).__name__}: {exc}")
        if not debug:
            err("  (run again with --debug for the traceback, and please report it)")
        return EXIT_ERROR

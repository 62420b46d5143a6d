"""`featrix unlock LOCK_ID`: force-release an environment's lock held by a stuck or vanished process."""

from __future__ import annotations

import click

from featrix_iac.cli.cmd_state import ENV_OPTION, _root
from featrix_iac.cli.output import out


@click.command("unlock")
@ENV_OPTION
@click.argument("lock_id")
def unlock_cmd(env: str | None, lock_id: str) -> None:
    """Release the environment's lock whose id is LOCK_ID (any other id is refused).

    The id is printed in the "state is locked" error. Only release a lock whose holder is stuck
    or gone: two applies at once on one environment can record conflicting states.
    """
    from featrix_iac import operations

    holder = operations.unlock(_root(), env, lock_id)
    out(f"Released the lock {holder.id} held by {holder.describe()}.")

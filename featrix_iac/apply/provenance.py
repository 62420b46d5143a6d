"""A trained model's provenance (its lineage) for the lockfile: what it was built from and by whom.

Kept beside what the entry records already (the data fingerprint in `hashes`, its summary in `applied`, the
training's figures in `training`, the gate's metrics in `gate`): the effective configuration's hash, the trained
objects it was built on, its metrics, the tool and server versions, who applied it from where, and the plan id.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Mapping
from typing import Any

from featrix_iac import __version__

# the run URL each CI service exposes: (variables, how to build the URL from them)
CI_URLS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"), "{0}/{1}/actions/runs/{2}"),
    (("CI_JOB_URL",), "{0}"),  # GitLab
    (("BUILDKITE_BUILD_URL",), "{0}"),
    (("CIRCLE_BUILD_URL",), "{0}"),
    (("SYSTEM_COLLECTIONURI", "SYSTEM_TEAMPROJECT", "BUILD_BUILDID"), "{0}{1}/_build/results?buildId={2}"),  # Azure
    (("BUILD_URL",), "{0}"),  # Jenkins
)


def ci_run_url(environ: Mapping[str, str] | None = None) -> str:
    """The URL of the CI run this process belongs to, from the standard CI variables ("" outside CI)."""
    env = os.environ if environ is None else environ
    for names, form in CI_URLS:
        values = [env.get(n, "").strip() for n in names]
        if all(values):
            return form.format(*values)
    return ""


def applied_by(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Who applied, from where: {user, host} and, in CI, {ci_run_url}."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        user = ""
    out = {"user": user, "host": socket.gethostname()}
    url = ci_run_url(environ)
    if url:
        out["ci_run_url"] = url
    return {k: v for k, v in out.items() if v}


def provenance(
    *,
    config_hash: str,
    built_on: Mapping[str, str],
    metrics: Mapping[str, float],
    server_version: str,
    plan: str,
    at: str,
    who: Mapping[str, str],
    development: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The lockfile's `provenance` of one training (empty values left out)."""
    out: dict[str, Any] = {
        "config_hash": config_hash,
        "built_on": dict(built_on),
        "metrics": dict(metrics),
        "tool_version": __version__,
        "server_version": server_version,
        "plan": plan,
        "applied_at": at,
        "applied_by": dict(who),
        # built in a development environment (sampled data, capped epochs): never promoted
        "development": dict(development or {}),
    }
    return {k: v for k, v in out.items() if v}

"""The whole desired project: server block, variables, environments and resources by kind."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from featrix_iac.addresses import KEY_RE, SECTION_OF_KIND, SECTIONS, Address
from featrix_iac.model.base import Strict, is_http_url
from featrix_iac.model.resources import Endpoint, FoundationalModel, Predictor, Resource, VectorDatabase


class WaitLimit(Strict):
    """Limits of one kind of wait, in seconds; unset ones keep their defaults."""

    stall: float | None = Field(None, gt=0, description="Longest time without any progress reported.")
    total: float | None = Field(None, gt=0, description="Longest wait in all.")


class Timeouts(Strict):
    """How long apply waits on the service's asynchronous work (README: waits and timeouts)."""

    training: WaitLimit | None = Field(None, description="A training (default stall 3600, total 86400).")
    queued: WaitLimit | None = Field(None, description="A queued predictor training (default 3600 / 86400).")
    publish: WaitLimit | None = Field(None, description="A publish or shadow publish job (default 600 / 21600).")


class ServerConfig(Strict):
    """Where the Featrix API is and how to reach it."""

    url: str = Field("local", description="'local' for the bundled local server, or the API base URL.")
    api_key_env: str = Field("FEATRIX_API_KEY", description="Environment variable holding the account API key.")
    compute_cluster: str | None = Field(None, description="Compute cluster sent as X-Featrix-Node.")
    timeout: float = Field(30.0, gt=0, le=3600, description="Per-request timeout in seconds.")
    training_timeout: float | None = Field(
        None, gt=0, description="Deprecated: the total limit of a training wait (use timeouts.training.total)."
    )
    timeouts: Timeouts = Field(default_factory=Timeouts, description="Stall and total limits of every wait.")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v != "local" and not is_http_url(v):
            raise ValueError("must be 'local' or an http(s) URL")
        return v.rstrip("/")


class Budget(Strict):
    """Limits a plan must stay within, or it fails (exit 1) before anything trains."""

    max_training_minutes: float | None = Field(
        None, gt=0, description="Longest estimated critical path of the plan's trainings, in minutes."
    )


class StateConfig(Strict):
    """Where the lockfile lives: the file next to featrix.yaml (default), or PostgreSQL for a team."""

    backend: Literal["file", "postgres"] = Field("file", description="file (featrix.lock, in git) or postgres.")
    url_env: str = Field(
        "FEATRIX_STATE_URL", description="Environment variable holding the PostgreSQL URL (postgres backend)."
    )
    db_schema: str = Field(
        "featrix",
        alias="schema",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL schema of the state tables (created when missing).",
    )
    history: int = Field(20, ge=1, le=10000, description="How many past serials `featrix state history` keeps.")


class Environment(Strict):
    """An overlay selected with `-e NAME`: variables, server block and any resource field."""

    mode: Literal["standard", "development"] = Field(
        "standard",
        description="development: train cheaply (a sample of every data file, capped epochs, prefixed names); "
        "its models are never promoted.",
    )
    sample: float | None = Field(
        None,
        gt=0,
        description="development mode: the share of each data file's rows to train on (a fraction below 1), or a "
        "row count (1 or more). Default 0.1.",
    )
    max_epochs: int | None = Field(None, ge=1, description="development mode: the most epochs a training gets (5).")
    name_prefix: str | None = Field(
        None, description="development mode: prefix of every name (default: the user's login and a dash)."
    )
    variables: dict[str, Any] = Field(default_factory=dict, description="Variables overriding the root ones.")
    server: dict[str, Any] = Field(default_factory=dict, description="Server fields overriding the root block.")
    state: dict[str, Any] = Field(default_factory=dict, description="State fields overriding the root block.")
    foundational_models: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Field overrides by key.")
    predictors: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Field overrides by key.")
    endpoints: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Field overrides by key.")
    vector_databases: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Field overrides by key.")

    @model_validator(mode="after")
    def _development_only(self) -> Environment:
        stray = [f for f in ("sample", "max_epochs", "name_prefix") if getattr(self, f) is not None]
        if stray and self.mode != "development":
            verb = "applies" if len(stray) == 1 else "apply"
            raise ValueError(f"{', '.join(stray)} only {verb} with mode: development")
        if self.sample is not None and self.sample > 1 and self.sample != int(self.sample):
            raise ValueError(f"sample {self.sample:g}: a fraction below 1, or a whole row count")
        return self


def _keys_ok(v: dict[str, Any]) -> dict[str, Any]:
    for key in v:
        if not KEY_RE.match(key):
            raise ValueError(f"invalid key {key!r}: use letters, digits, '_' and '-', starting with a letter or '_'")
    return v


class Project(Strict):
    """A featrix project after includes, templating and the environment overlay."""

    version: int = Field(1, ge=1, le=1, description="Manifest format version (1).")
    project: str = Field(description="Project name; tags every object this project creates.", min_length=1)
    server: ServerConfig = Field(default_factory=ServerConfig, description="The Featrix API to manage.")
    state: StateConfig = Field(default_factory=StateConfig, description="Where the lockfile lives (file or postgres).")
    budget: Budget = Field(default_factory=Budget, description="Limits a plan must stay within.")
    variables: dict[str, Any] = Field(default_factory=dict, description="Values for var('name') in templates.")
    environments: dict[str, Environment] = Field(default_factory=dict, description="Named overlays, selected with -e.")
    include: list[str] = Field(default_factory=list, description="Globs of more manifest files, relative to this one.")
    foundational_models: dict[str, FoundationalModel] = Field(
        default_factory=dict, description="Foundational models by key."
    )
    predictors: dict[str, Predictor] = Field(default_factory=dict, description="Predictors by key.")
    endpoints: dict[str, Endpoint] = Field(default_factory=dict, description="API endpoints by key.")
    vector_databases: dict[str, VectorDatabase] = Field(default_factory=dict, description="Vector databases by key.")

    _keys = field_validator("foundational_models", "predictors", "endpoints", "vector_databases")(_keys_ok)

    def resources(self) -> list[tuple[Address, Resource]]:
        """Every declared resource with its address, in section order then key order."""
        out: list[tuple[Address, Resource]] = []
        for section, kind in SECTIONS.items():
            items: dict[str, Resource] = getattr(self, section, None) or {}
            out.extend((Address(kind, key), items[key]) for key in sorted(items))
        return out

    def get(self, address: Address) -> Resource | None:
        items: dict[str, Resource] = getattr(self, SECTION_OF_KIND[address.kind], None) or {}
        return items.get(address.key)


_EXTENDED: dict[tuple[tuple[str, int], ...], type[Project]] = {}


def project_model() -> type[Project]:
    """Project, with a section (and an environment overlay) for each registered kind it has no field for.

    The built-in kinds are Project's own fields (documented in the JSON Schema); a kind registered by its own
    modules only (kinds.py) gets its section here, so adding a kind edits nothing else.
    """
    from pydantic import create_model

    from featrix_iac.kinds import FACTS

    added = [f for f in FACTS.values() if f.section not in Project.model_fields]
    if not added:
        return Project
    key = tuple((f.section, id(f.model)) for f in added)
    if key not in _EXTENDED:
        overlays: dict[str, Any] = {
            f.section: (dict[str, dict[str, Any]], Field(default_factory=dict, description="Field overrides by key."))
            for f in added
        }
        env = create_model("Environment", __base__=Environment, **overlays)
        sections: dict[str, Any] = {
            f.section: (_by_key(f.model), Field(default_factory=dict, description=f"{f.name} resources by key."))
            for f in added
        }
        sections["environments"] = (_by_key(env), Field(default_factory=dict, description="Named overlays."))
        checks: dict[str, Any] = {"_added_keys": field_validator(*(f.section for f in added))(_keys_ok)}
        _EXTENDED[key] = create_model("Project", __base__=Project, __validators__=checks, **sections)
    return _EXTENDED[key]


def _by_key(model: Any) -> Any:
    """The annotation `dict[str, model]` of a section built at run time."""
    return dict[str, model]

"""Desired-state models of each resource kind, with the Featrix API's own field names."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from featrix_iac.kinds import KindFacts, register
from featrix_iac.model.base import Strict, is_http_url, is_url, sensitive

Priority = Literal["urgent", "regular", "low", "qa"]
# sent only with an upload: FeatrixSphere.create_foundational_model passes none of them to the URL create
UPLOAD_ONLY = ("time_column", "sequential_timestamp_col", "sequential_entity_id_col", "sequential_rolling_windows")


DURATION = r"^\s*\d+\s*[smhdw]\s*$"  # 30d, 12h, 2w, 90s
DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def duration_seconds(text: str) -> int:
    """`30d` -> 2592000 (units s, m, h, d, w), for lifecycle.retire.deprecate_for and gates.max_wait."""
    text = text.strip()
    return int(text[:-1].strip()) * DURATION_SECONDS[text[-1]]


class Retire(Strict):
    """Removing the resource from the manifest deprecates it first and deletes it only on a later apply."""

    deprecate_for: str = Field(
        pattern=DURATION,
        description="How long it stays deprecated before it may be deleted, and how long it must have gone "
        "unused (endpoint stats' last_used_at) before it is: e.g. 30d, 12h, 2w (units s, m, h, d, w).",
    )
    warning_message: str | None = Field(
        None, min_length=1, description="The deprecation's warning (foundational models); a default says when it goes."
    )

    @field_validator("deprecate_for")
    @classmethod
    def _positive(cls, v: str) -> str:
        if duration_seconds(v) <= 0:
            raise ValueError("deprecate_for must be longer than 0")
        return v.replace(" ", "")

    def recorded(self) -> dict[str, Any]:
        """The policy as the lockfile keeps it (it must outlive the manifest block it was declared in)."""
        out: dict[str, Any] = {"deprecate_for": self.deprecate_for, "seconds": duration_seconds(self.deprecate_for)}
        if self.warning_message:
            out["warning_message"] = self.warning_message
        return out


class Lifecycle(Strict):
    """How the planner may treat this resource (as Terraform's lifecycle block)."""

    prevent_destroy: bool = Field(False, description="Refuse, at plan time, any plan that would delete or replace it.")
    ignore_changes: list[str] | Literal["all"] = Field(
        default_factory=list,
        description="Fields whose changes never cause an update or replacement ('all' for every field).",
    )
    create_before_destroy: bool = Field(
        False, description="On replacement, create the new object before deleting the old one."
    )
    retrain_on: Literal["content", "schema", "never"] = Field(
        "content",
        description="Foundational models: which data change retrains: any (content), a column or type change "
        "(schema), or none (never; the plan still shows the change).",
    )
    retire: Retire | None = Field(
        None,
        description="Foundational models and endpoints: once removed from the manifest, deprecate it and delete "
        "it only on a later apply, after deprecate_for has passed and it has gone unused that long.",
    )


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class Deprecation(Strict):
    """A deprecation notice on a foundational model (set in place; the API cannot clear it)."""

    warning_message: str = Field(description="Message shown to callers of the deprecated model.", min_length=1)
    expiration_date: dt.datetime | dt.date = Field(
        description="ISO date or datetime after which the model is expected to go away (a date means 00:00 UTC)."
    )


class Published(Strict):
    """Publish state with an explicit published name."""

    name: str | None = Field(None, description="Published name (defaults to the foundational model's name).")


class Webhooks(Strict):
    """Webhook URLs per event for a predictor; the secret signs deliveries (X-Featrix-Signature)."""

    training_started: str | None = Field(None, description="URL called when training begins.")
    training_finished: str | None = Field(None, description="URL called when training completes.")
    alert_drift: str | None = Field(None, description="URL called when input drift is detected.")
    alert_performance_degradation: str | None = Field(None, description="URL called when model quality drops.")
    alert_error_rate: str | None = Field(None, description="URL called when the prediction error rate rises.")
    alert_quota_threshold: str | None = Field(None, description="URL called when usage nears the quota.")
    prediction_error: str | None = Field(None, description="URL called when a prediction fails.")
    usage: str | None = Field(None, description="URL called with usage statistics (noisy).")
    batch_job_completed: str | None = Field(None, description="URL called when a batch job finishes.")
    webhook_secret: str | None = sensitive(
        description="HMAC-SHA256 secret for X-Featrix-Signature; write-only, compared by hash."
    )

    @field_validator("*")
    @classmethod
    def _url(cls, v: Any, info: Any) -> Any:
        if info.field_name != "webhook_secret" and v is not None:
            if not is_http_url(v):
                raise ValueError("must be an http(s) URL")
        return v

    def events(self) -> dict[str, str]:
        """The configured event → URL pairs (without the secret)."""
        data = self.model_dump(exclude={"webhook_secret"}, exclude_none=True)
        return {k: str(v) for k, v in data.items()}


class Resource(Strict):
    """Fields every resource kind has."""

    RETIRABLE: ClassVar[bool] = False  # lifecycle.retire allowed (deprecate, then delete once unused)

    depends_on: list[str] = Field(
        default_factory=list, description="Extra ordering: addresses (kind.key) that must be applied first."
    )
    lifecycle: Lifecycle = Field(default_factory=Lifecycle, description="Planner behaviour for this resource.")

    @model_validator(mode="after")
    def _retrain_on_data_only(self) -> Resource:
        if self.lifecycle.retrain_on != "content" and "data" not in type(self).model_fields:
            raise ValueError("lifecycle.retrain_on applies only to resources trained on data (foundational models)")
        return self

    @model_validator(mode="after")
    def _retire_retirable_only(self) -> Resource:
        if self.lifecycle.retire is not None and not self.RETIRABLE:
            raise ValueError("lifecycle.retire applies only to foundational models and endpoints")
        return self

    @model_validator(mode="after")
    def _ignore_changes_known(self) -> Resource:
        ignored = self.lifecycle.ignore_changes
        if not ignored or not isinstance(ignored, list):
            return self
        fields = set(type(self).model_fields) - {"depends_on", "lifecycle"}
        for name in ignored if isinstance(ignored, list) else []:
            if name.split(".")[0] not in fields:
                import difflib

                close = difflib.get_close_matches(name, sorted(fields), n=1)
                hint = f'; did you mean "{close[0]}"?' if close else ""
                raise ValueError(f'lifecycle.ignore_changes names unknown field "{name}"{hint}')
        return self


class FoundationalModel(Resource):
    """A foundational model (embedding space, a Featrix session) trained on a table."""

    RETIRABLE: ClassVar[bool] = True

    data: str = Field(
        description="Training table: a path relative to the manifest (CSV, CSV.gz, Parquet, JSON) or a URL."
    )
    name: str | None = Field(None, description="Display name (defaults to the key).")
    session_name_prefix: str | None = Field(None, description="Prefix of the session id (defaults to the name).")
    ignore_columns: list[str] = Field(default_factory=list, description="Columns left out of training.")
    column_overrides: dict[str, str] = Field(
        default_factory=dict, description="Column → Featrix type, e.g. sparse_multihot."
    )
    epochs: int | None = Field(None, ge=0, le=10000, description="Training epochs (omit for automatic).")
    d_model: int | None = Field(None, ge=2, le=1024, description="Embedding dimensions (omit for the server default).")
    foundation_mode: bool | None = Field(None, description="Force foundation mode on or off (default: automatic).")
    time_column: str | None = Field(None, description="Column for a chronological train/validation split.")
    sequential_timestamp_col: str | None = Field(None, description="Timestamp column for time-series features.")
    sequential_entity_id_col: str | None = Field(None, description="Entity column for time-series features.")
    sequential_window_units: Literal["days", "hours"] | None = Field(None, description="Window units.")
    sequential_window_interval: int | None = Field(None, ge=1, le=10, description="Window interval (1–10).")
    sequential_rolling_windows: list[int] = Field(default_factory=list, description="Rolling window sizes.")
    user_metadata: dict[str, Any] = Field(default_factory=dict, description="Free-form metadata (create-only).")
    webhooks: dict[str, str] = Field(default_factory=dict, description="Creation-time webhooks: event → URL.")
    priority: Priority | None = Field(None, description="Queue priority hint; never diffed.")
    compute_cluster: str | None = Field(
        None,
        description="Compute cluster (X-Featrix-Node); a change retrains (replace); a promotion to another cluster clones.",
    )
    published: bool | Published = Field(False, description="Publish state (true, or {name: ...}).")
    # no `null` in the schema: a deprecation cannot be cleared (only leaving the block out means "none")
    deprecation: Deprecation | SkipJsonSchema[None] = Field(
        None,
        description="Deprecation notice (set in place; the API cannot clear it once set).",
        json_schema_extra=_no_default,  # no `null` to offer
    )
    deletion_protection: bool = Field(False, description="Refuse deletion on the server.")

    @field_validator("deprecation", mode="before")
    @classmethod
    def _no_null_deprecation(cls, v: Any) -> Any:
        if v is None:
            raise ValueError(
                "deprecation cannot be null: the Featrix API cannot clear a deprecation; leave the block out "
                "when the model was never deprecated"
            )
        return v

    @model_validator(mode="after")
    def _checks(self) -> FoundationalModel:
        if self.sequential_entity_id_col and not self.sequential_timestamp_col:
            raise ValueError("sequential_entity_id_col needs sequential_timestamp_col")
        timed = [f for f in UPLOAD_ONLY if getattr(self, f)]
        if timed and is_url(self.data):  # the official client sends them only with an upload (client.py)
            verb, it = ("needs", "it") if len(timed) == 1 else ("need", "them")
            raise ValueError(f"{', '.join(timed)} {verb} a local data file: the URL create cannot carry {it}")
        return self

    def publish_name(self, key: str) -> str | None:
        if self.published is False:
            return None
        if isinstance(self.published, Published) and self.published.name:
            return self.published.name
        return self.name or key


class PredictorType(str, Enum):
    binary_classifier = "binary_classifier"
    multi_classifier = "multi_classifier"
    regressor = "regressor"


BINARY_INTENTS = {
    "balanced",
    "only_alert_when_confident",
    "catch_everything",
    "catch_everything_aggressive",
    "minimize_cost",
    "rank",
    "predict_probabilities",
}
MULTI_INTENTS = {"balanced", "accuracy", "rank_classes", "top_k_hit"}
REGRESSOR_INTENTS = {"balanced", "minimize_typical_error", "minimize_worst_case", "minimize_relative_error"}
INTENTS = {
    PredictorType.binary_classifier: BINARY_INTENTS,
    PredictorType.multi_classifier: MULTI_INTENTS,
    PredictorType.regressor: REGRESSOR_INTENTS,
}
# fields that only make sense for some predictor types
TYPE_ONLY_FIELDS: dict[str, set[PredictorType]] = {
    "rare_label_value": {PredictorType.binary_classifier},
    "cost_false_positive": {PredictorType.binary_classifier},
    "cost_false_negative": {PredictorType.binary_classifier},
    "k": {PredictorType.multi_classifier},
    "allow_null": {PredictorType.regressor},
    "class_imbalance": {PredictorType.binary_classifier, PredictorType.multi_classifier},
    "label_mapping": {PredictorType.binary_classifier, PredictorType.multi_classifier},
    "auto_collapse_synonyms": {PredictorType.binary_classifier, PredictorType.multi_classifier},
    "synonym_collapse_threshold": {PredictorType.binary_classifier, PredictorType.multi_classifier},
}

# a predictor's quality gates: gate → (training metric, "min" | "max", the predictor types that report it)
GATE_METRICS: dict[str, tuple[str, str, set[PredictorType]]] = {
    "min_accuracy": ("accuracy", "min", {PredictorType.binary_classifier, PredictorType.multi_classifier}),
    "min_auc": ("auc", "min", {PredictorType.binary_classifier, PredictorType.multi_classifier}),
    "min_f1": ("f1", "min", {PredictorType.binary_classifier, PredictorType.multi_classifier}),
    "max_rmse": ("rmse", "max", {PredictorType.regressor}),
    "min_r2": ("r2", "min", {PredictorType.regressor}),
}


class Gates(Strict):
    """Thresholds on the held-out training metrics: a predictor that misses one is gated out, not served."""

    min_accuracy: float | None = Field(None, ge=0, le=1, description="Lowest accuracy (classifiers).")
    min_auc: float | None = Field(None, ge=0, le=1, description="Lowest ROC AUC (classifiers).")
    min_f1: float | None = Field(None, ge=0, le=1, description="Lowest F1 (classifiers).")
    max_rmse: float | None = Field(None, ge=0, description="Highest RMSE, in the target's unit (regressors).")
    min_r2: float | None = Field(None, le=1, description="Lowest R² (regressors).")

    def thresholds(self) -> dict[str, float]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class Predictor(Resource):
    """A predictor (single predictor) trained on a foundational model's table."""

    foundational_model: str = Field(description="Key of the foundational model it is trained on.")
    type: PredictorType = Field(description="binary_classifier, multi_classifier or regressor.")
    target_column: str = Field(description="Column to predict.", min_length=1)
    name: str | None = Field(None, description="Display name (defaults to the key).")
    epochs: int = Field(0, ge=0, le=10000, description="Training epochs (0 = automatic).")
    rare_label_value: str | None = Field(None, description="Positive / minority class (binary).")
    class_imbalance: dict[str, float] | None = Field(
        None, description="Expected production distribution: label → fraction."
    )
    cost_false_positive: float | None = Field(None, ge=0, description="Cost of a false positive (binary).")
    cost_false_negative: float | None = Field(None, ge=0, description="Cost of a false negative (binary).")
    intent: str | None = Field(
        None,
        description="Training intent. binary_classifier: "
        + ", ".join(sorted(BINARY_INTENTS))
        + "; multi_classifier: "
        + ", ".join(sorted(MULTI_INTENTS))
        + "; regressor: "
        + ", ".join(sorted(REGRESSOR_INTENTS))
        + ".",
        json_schema_extra={"enum": [*sorted(BINARY_INTENTS | MULTI_INTENTS | REGRESSOR_INTENTS), None]},
    )
    k: int | None = Field(None, gt=0, description="k for the top_k_hit intent (multi classifier).")
    auto_collapse_synonyms: bool | None = Field(None, description="Collapse synonymous labels.")
    synonym_collapse_threshold: float | None = Field(None, ge=0, le=1, description="Similarity threshold for synonyms.")
    label_mapping: dict[str, str] | None = Field(None, description="Label → canonical label.")
    group_column: str | None = Field(None, description="Group column (kept together across splits).")
    allow_null: bool | None = Field(None, description="Allow null targets (regressor).")
    keep_duplicates: bool | None = Field(None, description="Keep duplicate rows (server default: on).")
    fine_tune: Literal["frozen", "progressive", "wild_style"] | None = Field(None, description="Fine-tuning mode.")
    priority: Priority | None = Field(None, description="Queue priority hint; never diffed.")
    value_meaning: dict[str, str] = Field(default_factory=dict, description="Label → customer-facing text (in place).")
    deletion_protection: bool = Field(False, description="Block deletion of the parent foundational model.")
    webhooks: Webhooks | None = Field(None, description="Webhooks for this predictor (in place).")
    gates: Gates | None = Field(
        None, description="Metric thresholds checked after training, before anything depends on the new predictor."
    )

    @model_validator(mode="after")
    def _checks(self) -> Predictor:
        for name, types in TYPE_ONLY_FIELDS.items():
            if getattr(self, name) is not None and self.type not in types:
                allowed = " or ".join(sorted(t.value for t in types))
                raise ValueError(f"{name} applies only to {allowed}, not {self.type.value}")
        if self.intent is not None and self.intent not in INTENTS[self.type]:
            raise ValueError(
                f"intent {self.intent!r} is not valid for {self.type.value}; "
                f"expected one of {', '.join(sorted(INTENTS[self.type]))}"
            )
        costs = self.cost_false_positive is not None or self.cost_false_negative is not None
        if self.intent == "minimize_cost" and (self.cost_false_positive is None or self.cost_false_negative is None):
            raise ValueError("intent minimize_cost needs both cost_false_positive and cost_false_negative")
        if costs and self.intent not in (None, "minimize_cost"):
            raise ValueError("costs are only allowed with intent minimize_cost")
        if (self.intent == "top_k_hit") != (self.k is not None):
            raise ValueError("k is required with intent top_k_hit and allowed only with it")
        for gate in self.gates.thresholds() if self.gates else {}:
            metric, _, types = GATE_METRICS[gate]
            if self.type not in types:
                allowed = " or ".join(sorted(t.value for t in types))
                raise ValueError(f"gate {gate} ({metric}) applies only to {allowed}, not {self.type.value}")
        return self


class ApiKey(Strict):
    """The endpoint's API key: rotated by bumping `rotation`, disabled with `revoked`."""

    rotation: int = Field(0, ge=0, description="Bump to regenerate the key (the new key goes only to the lockfile).")
    revoked: bool = Field(False, description="Revoke the key: every prediction is refused until it is regenerated.")


class CheckExpect(Strict):
    """What a smoke check's prediction must show: a label (with a confidence), or a number in a range."""

    label: str | None = Field(None, description="The predicted class (classifiers).")
    min_confidence: float | None = Field(None, ge=0, le=1, description="Lowest confidence of the predicted class.")
    between: tuple[float, float] | None = Field(None, description="[low, high] of a regressor's prediction.")

    @model_validator(mode="after")
    def _something(self) -> CheckExpect:
        if self.label is None and self.between is None and self.min_confidence is None:
            raise ValueError("expect needs label, min_confidence or between")
        if self.between is not None and self.between[0] > self.between[1]:
            raise ValueError("between: [low, high] needs low <= high")
        return self


class SmokeCheck(Strict):
    """A prediction through the endpoint's URL with its own key, after every apply and by `featrix check`."""

    name: str | None = Field(None, description="Shown in results (defaults to check N).")
    record: dict[str, Any] = Field(description="The query record.")
    expect: CheckExpect = Field(description="What the prediction must show.")
    on_failure: Literal["fail", "rollback"] = Field(
        "fail",
        description="fail: exit 1 (recorded); rollback: also, when the apply just moved the endpoint to another "
        "predictor, promote it back to the previous one.",
    )


class ShadowGates(Strict):
    """Checked while the new predictor shadows the old one, before promote (the endpoint's comparisons)."""

    require_verdict: Literal["shadow_better", "not_worse"] = Field(
        description="shadow_better: the comparison must say so; not_worse: anything but shadow_worse."
    )
    min_paired: int = Field(0, ge=0, description="Predictions paired with ground truth the verdict needs.")
    max_wait: str = Field(
        "1h", pattern=DURATION, description="How long to wait for the verdict before the gate fails (e.g. 2h)."
    )

    def recorded(self) -> dict[str, Any]:
        return {
            "require_verdict": self.require_verdict,
            "min_paired": self.min_paired,
            "max_wait": self.max_wait,
            "max_wait_seconds": duration_seconds(self.max_wait),
        }


class Endpoint(Resource):
    """A named API endpoint serving one predictor, called with its own API key."""

    RETIRABLE: ClassVar[bool] = True

    predictor: str = Field(description="Key of the predictor it serves (a change moves it by shadow → promote).")
    name: str | None = Field(
        None, description="Endpoint name (defaults to the key); a change replaces it (new URL and key)."
    )
    description: str | None = Field(None, description="Description; a change replaces the endpoint (new URL and key).")
    api_key: ApiKey = Field(default_factory=ApiKey, description="Key rotation and revocation.")
    checks: list[SmokeCheck] = Field(
        default_factory=list, description="Smoke checks run through the endpoint after apply (never diffed)."
    )
    gates: ShadowGates | None = Field(
        None, description="Shadow-verdict gates checked before the endpoint is promoted to a new predictor."
    )


class VectorDatabase(Resource):
    """A named vector database of record embeddings on a foundational model."""

    foundational_model: str = Field(description="Key of the foundational model whose embeddings it holds.")
    name: str | None = Field(None, description="Name on the server (defaults to the key).")
    auto_populate: bool = Field(True, description="Load the foundational model's training data at creation.")
    records: list[dict[str, Any]] = Field(
        default_factory=list, description="Records added after creation (additions are in place)."
    )
    records_file: str | None = Field(None, description="A data file of records to add (path relative to the manifest).")


# each kind's data facts (kinds.py), in dependency order; the engine's facts are in resources/<kind>.py
FOUNDATIONAL_MODEL = register(KindFacts("foundational_model", "foundational_models", FoundationalModel, (), ("data",)))
PREDICTOR = register(KindFacts("predictor", "predictors", Predictor, (("foundational_model", "foundational_model"),)))
ENDPOINT = register(KindFacts("endpoint", "endpoints", Endpoint, (("predictor", "predictor"),)))
VECTOR_DATABASE = register(
    KindFacts(
        "vector_database",
        "vector_databases",
        VectorDatabase,
        (("foundational_model", "foundational_model"),),
        ("records_file",),
    )
)

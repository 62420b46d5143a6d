"""API endpoints: keyed prediction URLs; predictor moves by shadow → promote, key rotation and revocation in place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from featrix_iac.client import AmbiguousResult, FeatrixClient, NotFoundError
from featrix_iac.model.resources import ENDPOINT
from featrix_iac.resources import retirement, shadow_gates
from featrix_iac.resources.base import (
    Change,
    CreateFailed,
    DesiredContext,
    FieldRule,
    GatedOut,
    Handler,
    Lister,
    LiveObject,
    Operation,
    Probe,
    Progress,
    StepResult,
    get_confirmed,
    get_list,
    has_list,
    one_of,
)
from featrix_iac.resources.foundational_model import publish_progress
from featrix_iac.resources.spec import KindNotes, KindSpec, RefIds
from featrix_iac.resources.waits import Waits, wait_for
from featrix_iac.state import LockEntry

R, IP = Change.REPLACE, Change.IN_PLACE


class EndpointHandler(Handler):
    """The key is returned only by create and regenerate_key: the applier encrypts it into the lockfile
    (secrets["api_key"]) at once. Name and description have no update route: changing them replaces the
    endpoint (new id, URL and key)."""

    kind = "endpoint"
    makes_secrets = True
    id_field = "endpoint_id"
    reports_use = True
    rules = (
        FieldRule("predictor", IP, route="shadow+promote+stop_shadowing"),
        FieldRule("name", R),
        FieldRule("description", R),
        FieldRule("api_key.rotation", IP, live=False, route="regenerate_key"),
        FieldRule("api_key.revoked", IP, route="revoke_key+regenerate_key"),
        retirement.RULE,
        # the manifest's gates: checked while a new predictor shadows (a step), never an update
        FieldRule("shadow_gates", Change.IGNORED, live=False),
    )

    # -- planning ------------------------------------------------------------------------------

    def desired(self, key: str, resource: Any, ctx: DesiredContext) -> dict[str, Any]:
        ep = resource
        return {
            "predictor": ep.predictor,
            "name": ep.name or key,
            "description": ep.description,
            "api_key.rotation": ep.api_key.rotation,
            "api_key.revoked": ep.api_key.revoked,
            **retirement.desired(ep),
            **({"shadow_gates": ep.gates.recorded()} if ep.gates is not None else {}),
        }

    def read(self, client: FeatrixClient, entry: LockEntry) -> LiveObject | None:
        eid = entry.ids.get("endpoint_id")
        if not eid:
            return None
        doc = get_confirmed(client, f"/endpoints/{eid}", check=lambda d: _endpoint_problem(d, eid))
        return None if doc is None else self._live(doc, entry)

    def read_all(self, client: FeatrixClient, entries: dict[str, LockEntry]) -> dict[str, LiveObject | None]:
        """One GET /endpoints; entries missing from the list are read one by one (confirming a 404)."""
        if not entries:
            return {}
        listed = {d.get("id"): d for d in get_list(client, "/endpoints", "endpoints") if isinstance(d, dict)}
        return self.read_listed(client, entries, listed, lambda e: e.ids.get("endpoint_id"), self._live)

    def _live(self, doc: dict[str, Any], entry: LockEntry) -> LiveObject:
        serving = doc.get("serving_predictor_id")
        predictor = entry.applied.get("predictor")
        if serving and serving != entry.ids.get("predictor_id"):
            predictor = f"(another predictor: {serving})"
        elif _other_shadows(doc, serving):  # e.g. an apply stopped between promote and stop_shadowing
            predictor = f"{predictor} (still shadowing {', '.join(_other_shadows(doc, serving))})"
        live = {
            "name": doc.get("name"),
            "description": doc.get("description"),
            "api_key.revoked": not bool(doc.get("has_api_key", True)),
            "predictor": predictor,
        }
        ids = {"endpoint_id": str(doc.get("id")), "predictor_id": str(serving or entry.ids.get("predictor_id", ""))}
        if doc.get("session_id"):
            ids["session_id"] = str(doc["session_id"])
        status = "failed" if doc.get("plan_error") else "ready"
        # the endpoint object's last_used_at (api_endpoint.py:APIEndpoint.from_response), for lifecycle.retire
        used = doc.get("last_used_at")
        return LiveObject(
            ids=ids, fields=self.merge_live(entry, live), status=status, last_used=str(used) if used else None
        )

    def find_in(self, get: Lister, probe: Probe) -> dict[str, str] | None:
        """Identity, from GET /endpoints (the endpoint object of api_endpoint.py:APIEndpoint.from_response):
        the endpoint's name and its serving predictor, the one the create named. Endpoints carry no
        metadata of ours (POST /endpoints takes a fixed body, predictor.py:create_api_endpoint)."""
        pid = probe.refs.get("predictor_id")
        if not pid:
            return None  # its predictor does not exist, so neither can it
        matches = [
            (
                str(doc["id"]),
                {"endpoint_id": str(doc["id"]), "predictor_id": pid, "session_id": probe.refs.get("session_id", "")},
            )
            for doc in get("/endpoints", has_list("endpoints"))["endpoints"]
            if isinstance(doc, dict)
            and doc.get("id")
            and str(doc["id"]) not in probe.known
            and doc.get("name") == probe.desired.get("name")
            and doc.get("serving_predictor_id") == pid
        ]
        found = one_of(probe, "endpoint", matches)
        return None if found is None else {k: v for k, v in found.items() if v}

    # -- applying ------------------------------------------------------------------------------

    def create(self, client: FeatrixClient, op: Operation) -> StepResult:
        d = op.desired
        pred = op.ref_ids(f"predictor.{d['predictor']}")
        body: dict[str, Any] = {
            "name": d["name"],
            "predictor_id": pred["predictor_id"],
            "session_id": pred["session_id"],
        }
        if d.get("description") is not None:
            body["description"] = d["description"]
        resp = client.post("/endpoints", body, once=True)
        eid, key = resp.get("id"), resp.get("api_key")
        if not eid:
            raise AmbiguousResult("POST /endpoints answered without an endpoint id")
        ids = {"endpoint_id": str(eid), "predictor_id": pred["predictor_id"], "session_id": pred["session_id"]}
        return StepResult(ids=ids, secrets={"api_key": key} if key else {}, outputs=_outputs(resp))

    def followups(self, desired: dict[str, Any]) -> list[str]:
        return ["revoke_key"] if desired.get("api_key.revoked") else []

    def adopt_steps(self, entry: LockEntry) -> list[str]:
        """An adopted endpoint's key was never recorded (it is returned only once): rotate it."""
        return [] if entry.secrets.get("api_key") or entry.applied.get("api_key.revoked") else ["regenerate_key"]

    def update_steps(self, fields: list[str], desired: dict[str, Any], applied: dict[str, Any]) -> list[str]:
        steps: list[str] = []
        if "predictor" in fields:
            # promote keeps the previous predictor as a rollback shadow (REST contract §5.2, APIEndpoint.promote);
            # it is retired, and its foundational model may be deleted in this same apply: stop shadowing it
            # first, so no endpoint ever shadows a predictor of a deleted model
            steps += ["shadow", *(["shadow_gate"] if desired.get("shadow_gates") else []), "promote", "stop_shadowing"]
        revoke = bool(desired.get("api_key.revoked"))
        unrevoke = "api_key.revoked" in fields and not revoke  # revoked (by us, or outside: drift): a new key
        if "api_key.rotation" in fields or unrevoke:
            steps.append("regenerate_key")
        if "api_key.revoked" in fields and revoke:
            steps.append("revoke_key")
        return steps

    def update(self, client: FeatrixClient, op: Operation, step: str) -> StepResult:
        eid = op.ids["endpoint_id"]
        if step == "stop_shadowing":
            _stop_other_shadows(client, eid, op.ref_ids(f"predictor.{op.desired['predictor']}")["predictor_id"])
            return StepResult()
        if step == "shadow_gate":
            return self._shadow_gate(client, op)
        if step in ("shadow", "promote"):
            pred = op.ref_ids(f"predictor.{op.desired['predictor']}")
            moved = StepResult(ids={"predictor_id": pred["predictor_id"], "session_id": pred["session_id"]})
            if client.get(f"/endpoints/{eid}").get("serving_predictor_id") == pred["predictor_id"]:
                return moved  # already serving it (an earlier apply promoted but could not record it)
            if step == "shadow":
                body = {"predictor_id": pred["predictor_id"], "session_id": pred["session_id"]}
                resp = client.post(f"/endpoints/{eid}/shadow", body, once=True)
                outputs = {"shadow_publish_name": resp.get("publish_name"), "shadow_job_id": resp.get("job_id")}
                return StepResult(outputs=outputs)
            job_id = str((op.entry.outputs if op.entry else {}).get("shadow_job_id") or "")
            _wait_shadow_published(client, eid, pred, job_id, op.waits or Waits())
            client.post(f"/endpoints/{eid}/promote", {"neural_function_id": pred["predictor_id"]}, once=True)
            return moved
        if step == "regenerate_key":
            resp = client.post(f"/endpoints/{eid}/regenerate_key", {}, once=True)
            if not resp.get("api_key"):
                raise CreateFailed("regenerate_key returned no key")
            return StepResult(secrets={"api_key": str(resp["api_key"])})
        if step == "revoke_key":
            client.post(f"/endpoints/{eid}/revoke_key", {})
            return StepResult()
        return super().update(client, op, step)

    def _shadow_gate(self, client: FeatrixClient, op: Operation) -> StepResult:
        """The endpoint's gates on the new predictor's shadow verdict, before promote; a failure stops shadowing
        it (the endpoint keeps serving its predictor) and fails the step."""
        eid = op.ids["endpoint_id"]
        pred = op.ref_ids(f"predictor.{op.desired['predictor']}")
        if client.get(f"/endpoints/{eid}").get("serving_predictor_id") == pred["predictor_id"]:
            return StepResult()  # already promoted by an earlier apply
        job_id = str((op.entry.outputs if op.entry else {}).get("shadow_job_id") or "")
        _wait_shadow_published(client, eid, pred, job_id, op.waits or Waits())
        gates = op.desired["shadow_gates"]
        try:
            found = shadow_gates.wait_verdict(client, eid, pred["predictor_id"], gates, op.waits)
        except shadow_gates.GateFailed as exc:
            serving = client.get(f"/endpoints/{eid}").get("serving_predictor_id")
            _stop_other_shadows(client, eid, str(serving or ""))
            raise GatedOut(
                f"shadow gate failed: {exc}; the endpoint keeps serving predictor_id {serving} (the new predictor "
                "no longer shadows it)",
                shadow_gates.record(gates, shadow_gates.GATED_OUT, exc.found, pred),
            ) from None
        return StepResult(gate=shadow_gates.record(gates, shadow_gates.PASSED, found, pred))

    def rollback(self, client: FeatrixClient, op: Operation, previous: dict[str, str]) -> StepResult:
        """Promote the endpoint back to the predictor it served before (`previous` ids): shadow it, wait for its
        publish, promote it, stop the other shadows (the same calls as a move: api_endpoint.py shadow / promote /
        stop_shadowing). Same endpoint, URL and key."""
        ref = f"predictor.{op.desired['predictor']}"
        old = {"predictor_id": previous["predictor_id"], "session_id": previous.get("session_id", "")}
        if ref not in op.refs:
            raise CreateFailed(f"{op.address} has no {ref} in the lockfile to roll back from")
        back = Operation(
            address=op.address,
            key=op.key,
            resource=op.resource,
            desired=op.desired,
            entry=op.entry,
            refs={**op.refs, ref: op.refs[ref].model_copy(update={"ids": old})},
            waits=op.waits,
        )
        shadowed = self.update(client, back, "shadow")
        if back.entry is not None:
            back.entry = back.entry.model_copy(update={"outputs": {**back.entry.outputs, **shadowed.outputs}})
        moved = self.update(client, back, "promote")
        self.update(client, back, "stop_shadowing")
        return moved

    def delete(self, client: FeatrixClient, op: Operation, step: str) -> None:
        try:
            client.delete(f"/endpoints/{op.ids['endpoint_id']}")
        except NotFoundError:
            return


def _outputs(resp: dict[str, Any]) -> dict[str, Any]:
    out = {"endpoint_id": resp.get("id"), "predict_url": resp.get("predict_url")}
    return {k: v for k, v in out.items() if v}


def _other_shadows(doc: dict[str, Any], serving: str | None) -> list[str]:
    """The predictors an endpoint object (APIEndpoint.from_response: plan.shadows) shadows besides `serving`.

    An endpoint featrix manages serves its declared predictor and shadows nothing once an apply is done, so
    refresh reports a shadow left behind as drift of `predictor`, and apply stops it.
    """
    shadows = (doc.get("plan") or {}).get("shadows") or []
    found = (s.get("neural_function_id") for s in shadows if isinstance(s, dict))
    return sorted({str(nf) for nf in found if nf and nf != serving})


def _stop_other_shadows(client: FeatrixClient, eid: str, serving: str) -> None:
    """Stop every shadow of the endpoint but the predictor it now serves (APIEndpoint.stop_shadowing)."""
    for nf in _other_shadows(client.get(f"/endpoints/{eid}"), serving):
        try:
            client.post(f"/endpoints/{eid}/stop_shadowing", {"neural_function_id": nf})
        except NotFoundError:
            continue  # already stopped (a re-run of this step)


def _wait_shadow_published(client: FeatrixClient, eid: str, pred: dict[str, str], job_id: str, waits: Waits) -> None:
    """Promote only once the shadow's publish landed (`name` present in plan.shadows, contract §9.3).

    The shadow publishes the predictor through the publish machinery (api_endpoint.py `shadow`): its job's
    progress, when the service reports it, resets the stall timer like a foundational model's publish.
    """
    pid = pred["predictor_id"]

    def poll() -> Progress:
        doc = client.get(f"/endpoints/{eid}")
        shadows = (doc.get("plan") or {}).get("shadows") or []
        if any(s.get("neural_function_id") == pid and s.get("name") for s in shadows if isinstance(s, dict)):
            return Progress("ready", 1.0, "shadow published")
        if doc.get("serving_predictor_id") == pid:
            return Progress("ready", 1.0, "already serving")
        if job_id and pred.get("session_id"):
            try:
                job = client.get(f"/compute/session/{pred['session_id']}/publish_job/{job_id}")
            except NotFoundError:
                return Progress("training", None, "shadow publishing")
            progress = publish_progress(job, "shadow publish")
            if progress.state == "ready":  # landed; the endpoint names the shadow next
                return Progress("training", 1.0, "shadow publish completed, waiting for the endpoint")
            return progress
        return Progress("training", None, "shadow publishing")

    wait_for(poll, what=f"the shadow {pid} of endpoint {eid}", limit=waits.limit("publish"), waits=waits)


def _endpoint_problem(doc: Any, eid: str) -> str:
    """What is wrong with an answer to GET /endpoints/{eid} (`api_endpoint.py:APIEndpoint.from_response` reads `id`)."""
    if not isinstance(doc, dict):
        return f"a JSON {type(doc).__name__}, not an object"
    return "" if str(doc.get("id")) == eid else f"the document of endpoint {doc.get('id')!r}, not of {eid}"


# an endpoint's key is returned once, by create or rotation; what `output`, `predict` and `import` say without one
KEY_NOTE = (
    "an endpoint's API key cannot be read back from the server, so the lockfile records none: "
    "`featrix output {address}.api_key` has no key until you rotate it (raise api_key.rotation in the "
    "manifest and apply)"
)


def _endpoint_import_ids(object_id: str, ref: RefIds) -> dict[str, str]:
    _, pred = ref("predictor")
    return {"endpoint_id": object_id, "predictor_id": pred["predictor_id"], "session_id": pred["session_id"]}


def _endpoint_outputs(client: FeatrixClient, ids: dict[str, str]) -> dict[str, Any]:
    """Its id and predict URL, read from GET /endpoints/{id} (just the id when that fails)."""
    from featrix_iac.client import FeatrixError

    try:
        doc = client.get(f"/endpoints/{ids['endpoint_id']}")
    except FeatrixError:
        return {"endpoint_id": ids["endpoint_id"]}
    return {k: v for k, v in {"endpoint_id": doc.get("id"), "predict_url": doc.get("predict_url")}.items() if v}


def _endpoint_import_notes(address: str, wanted: dict[str, Any]) -> list[str]:
    return [] if wanted.get("api_key.revoked") else [KEY_NOTE.format(address=address)]


def _predict(client: FeatrixClient, ids: dict[str, str], secret: str) -> Callable[[dict[str, Any]], Any]:
    """With the endpoint's own key: POST /endpoint/{id}/predict."""
    path = f"/endpoint/{ids['endpoint_id']}/predict"

    def call(record: dict[str, Any]) -> Any:
        return client.post(path, {"query_record": record}, headers={"X-API-Key": secret})

    return call


SPEC = KindSpec(
    facts=ENDPOINT,
    handler=EndpointHandler(),
    identity=("endpoint_id",),
    import_ids=_endpoint_import_ids,
    import_outputs=_endpoint_outputs,
    import_notes=_endpoint_import_notes,
    predict=_predict,
    predict_secret="api_key",
    secrets=("api_key",),
    secret_note=KEY_NOTE,
    notes=KindNotes(
        replaced="{address}: a new endpoint has a new URL and a new API key; callers must be updated",
        recreated="{address}: the endpoint is created again with a new URL and a new API key",
        adopted="{address}: its API key was shown only to the run that created it, so apply gives it a new "
        "one and the old key stops working (featrix output {address}.api_key)",
        adopted_unless=("api_key.revoked",),
        follows="; the endpoint moves to the new predictor by shadow → promote, keeping its URL and API key",
    ),
)

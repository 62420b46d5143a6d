"""The handler contract every kind implements, and field rules declared as data (DESIGN §5)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from featrix_iac.client.errors import ConnectionFailed, FeatrixError, NotFoundError, ServerError
from featrix_iac.resources.pacing import Pacer

if TYPE_CHECKING:
    from featrix_iac.client import FeatrixClient
    from featrix_iac.state import LockEntry


class Change(str, Enum):
    IN_PLACE = "in_place"  # a route changes it, same id
    REPLACE = "replace"  # only by creating a new object (create-only fields too)
    COMPUTED = "computed"  # set by the server; shown, never diffed
    IGNORED = "ignored"  # hints such as priority: never diffed


@dataclass(frozen=True)
class SetOnly:
    """A field the API can set but never set back to empty: clearing it is a positioned plan error."""

    why: str  # why no call can clear it (the official client's function that shows it)
    way_out: str  # what the user can do instead
    path: tuple[str, ...] = ()  # where the field is written in the manifest (default: its name)


@dataclass(frozen=True)
class FieldRule:
    """How one desired field of a kind is compared and changed."""

    name: str
    change: Change
    sensitive: bool = False  # never shown: redacted in plans, logs and errors
    write_only: bool = False  # the server never returns it: compared by the hash kept in the lockfile
    live: bool = True  # the server reports it, so drift can be detected
    route: str = ""  # the API route that changes it in place (documentation and plan detail)
    append_only: bool = False  # a list changed in place when the old value is a prefix of the new, else replace
    set_only: SetOnly | None = None  # set in place, but no route clears it (deprecation, webhook secret)


@dataclass
class LiveObject:
    """What refresh read from the server for one lockfile entry, normalised like the desired fields."""

    ids: dict[str, str]
    fields: dict[str, Any]
    status: str = "ready"  # server status vocabulary folded to: ready | training | failed | deleted
    tag: dict[str, Any] = field(default_factory=dict)  # the user_metadata tag, when present
    last_used: str | None = None  # when it last served a request (ISO), for kinds that report it (endpoints)


# --- the handler contract -----------------------------------------------------------------------
# (extended by the resources helper; FieldRule / LiveObject / Change above are the planner's contract)

TAG_KEY = "featrix_iac"  # user_metadata key of the creation tag
GONE_SECONDS = 30.0  # a 404 streak must last this long (and 5 polls) before a waited-on object counts as gone


@dataclass(frozen=True)
class DesiredContext:
    """What `Handler.desired` needs besides the resource: who we are and how to fingerprint data."""

    project: str
    environment: str
    root: Path
    fingerprint: Callable[[Path], str]  # StateStore.fingerprint: cached "sha256:<hex>" of a data file
    # a data file's summary {file, rows, columns: {name: type}} (cached profile), or None when it cannot be read
    summarize: Callable[[Path], dict[str, Any] | None] | None = None


@dataclass
class Operation:
    """One apply step of one address, as a handler sees it. Plaintext secrets exist only in `resource`."""

    address: str
    key: str
    resource: Any  # the manifest model (featrix_iac.model.resources.*), or None for deletes
    desired: dict[str, Any]  # Handler.desired() form (secrets as hashes)
    entry: LockEntry | None  # the lockfile entry as it is now (ids, applied, protected)
    refs: dict[str, LockEntry] = field(default_factory=dict)  # lockfile entries of referenced addresses
    tag: dict[str, Any] = field(default_factory=dict)  # {"featrix_iac": {project, environment, address, token}}
    root: Path = Path(".")
    token: str = ""  # the creation token (also the FM upload's idempotency key)
    waits: Any = None  # resources.waits.Waits: limits, progress callback and interrupt check of the run

    @property
    def ids(self) -> dict[str, str]:
        return dict(self.entry.ids) if self.entry else {}

    @classmethod
    def on_entry(
        cls,
        address: str,
        entry: LockEntry,
        refs: dict[str, LockEntry],
        root: Path,
        desired: dict[str, Any] | None = None,
    ) -> Operation:
        """A step on a recorded object the manifest may no longer declare (a delete, a deprecation, a rollback):
        its desired fields are what was applied to it, unless given."""
        from featrix_iac.addresses import Address

        return cls(
            address=address,
            key=Address.parse(address).key,
            resource=None,
            desired=dict(entry.applied) if desired is None else desired,
            entry=entry,
            refs=refs,
            root=root,
        )

    def ref_ids(self, address: str) -> dict[str, str]:
        entry = self.refs.get(address)
        if entry is None or not entry.ids:
            raise CreateFailed(f"{self.address} needs {address}, which has no ids in the lockfile")
        return dict(entry.ids)


@dataclass
class StepResult:
    """What a create or update step produced. `secrets` are plaintext: the applier encrypts them at once."""

    ids: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    gate: dict[str, Any] | None = None  # a gate the step checked and passed (e.g. shadow_gate): in the apply summary


@dataclass(frozen=True)
class Progress:
    """One poll of a training: state is training | ready | failed | gone."""

    state: str
    fraction: float | None = None
    message: str = ""


class CannotTell(Exception):
    """find_existing could not determine whether an earlier create happened (e.g. a training queued without id)."""


class Ambiguous(CannotTell):
    """Several server objects fit the identity: only the user can say which one is ours (`featrix import`)."""

    def __init__(self, message: str, candidates: list[str]):
        super().__init__(message)
        self.candidates = candidates  # import ids (Handler.import_id) of the objects that fit


class CreateFailed(Exception):
    """A create or step was refused for a reason the handler explains (not an HTTP error)."""


class GatedOut(CreateFailed):
    """A step refused by a gate (an endpoint's shadow verdict): `record` is what the lockfile entry keeps."""

    def __init__(self, message: str, record: dict[str, Any]):
        super().__init__(message)
        self.record = record


class WaitTimeout(Exception):
    """A wait (training, shadow publish) exceeded its timeout. The object still exists: re-apply re-attaches."""


class TrainingFailed(Exception):
    """The server reports the training failed (seen several times in a row)."""


@dataclass(frozen=True)
class Probe:
    """What identifies the object an earlier apply may have created for `address`, from fields the real
    service documents: the desired fields, the creation token and when the intent was recorded (empty when
    the lockfile was lost), the ids of the objects it refers to, and the ids the lockfile already records
    for this kind (never someone's orphan)."""

    project: str
    environment: str
    address: str
    desired: dict[str, Any]
    token: str = ""
    started: str = ""  # ISO time the lockfile recorded the intent to create it
    refs: dict[str, str] = field(default_factory=dict)  # ids of referenced objects: session_id, predictor_id
    known: frozenset[str] = frozenset()

    @property
    def tag(self) -> dict[str, Any]:
        return make_tag(self.project, self.environment, self.address, self.token)


# (path, check) -> the checked GET answer, memoised over one search (one request per path); a malformed
# answer raises MalformedDocument (a FeatrixError): it confirms nothing, least of all an absence
Lister = Callable[[str, Callable[[Any], str]], Any]


def make_tag(project: str, environment: str, address: str, token: str) -> dict[str, Any]:
    return {TAG_KEY: {"project": project, "environment": environment, "address": address, "token": token}}


def tag_of(user_metadata: Any) -> dict[str, Any]:
    """The creation tag inside a user_metadata value (object or JSON string), or {}."""
    if isinstance(user_metadata, str):
        try:
            user_metadata = json.loads(user_metadata)
        except ValueError:
            return {}
    tag = user_metadata.get(TAG_KEY) if isinstance(user_metadata, dict) else None
    return dict(tag) if isinstance(tag, dict) else {}


def tag_matches(user_metadata: Any, tag: dict[str, Any]) -> bool:
    """Same project, environment, address and (when the tag has one) creation token."""
    mine, theirs = tag.get(TAG_KEY, tag), tag_of(user_metadata)
    keys = (
        ("project", "environment", "address", "token") if mine.get("token") else ("project", "environment", "address")
    )
    return bool(theirs) and all(theirs.get(k) == mine.get(k) for k in keys)


class MalformedDocument(FeatrixError):
    """A successful answer that is not the document asked for: it confirms nothing, least of all an absence."""


Check = Callable[[Any], str]  # a document -> what is wrong with it ("" when it is the document asked for)


def is_object(doc: Any) -> str:
    return "" if isinstance(doc, dict) else f"a JSON {type(doc).__name__}, not an object"


def malformed(path: str, problem: str) -> MalformedDocument:
    return MalformedDocument(
        f"GET {path} answered with a malformed document: {problem}", detail=problem, method="GET", path=path
    )


def get_checked(client: FeatrixClient, path: str, check: Check = is_object, **kwargs: Any) -> Any:
    """GET `path` and check the answer's shape; MalformedDocument (a FeatrixError) when it is wrong."""
    doc = client.get(path, **kwargs)
    problem = check(doc)
    if problem:
        raise malformed(path, problem)
    return doc


def has_list(key: str) -> Check:
    """The check of a list answer (`{"endpoints": [...]}`): an object with a `key` list."""

    def check(doc: Any) -> str:
        if not isinstance(doc, dict):
            return is_object(doc)
        return "" if isinstance(doc.get(key), list) else f"no {key!r} list"

    return check


def get_list(client: FeatrixClient, path: str, key: str, **kwargs: Any) -> list[Any]:
    """The `key` list of a list answer (`{"endpoints": [...]}`); MalformedDocument when there is none.

    An answer without the list (`{}`, an error body sent with 200) must not read as "nothing exists".
    """
    items: list[Any] = get_checked(client, path, has_list(key), **kwargs)[key]
    return items


CLOCK_SKEW = 300.0  # seconds a server's clock may be behind ours when comparing a training start with an intent


def started_after(created_at: str, intent: str) -> bool:
    """Whether a server record created at `created_at` may come from an intent recorded at `intent` (ISO
    times; unknown on either side counts as possible: the other identity fields then decide)."""
    from datetime import datetime, timezone

    def parse(text: str) -> datetime | None:
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return when if when.tzinfo else when.replace(tzinfo=timezone.utc)

    born, asked = parse(created_at), parse(intent)
    return born is None or asked is None or (born - asked).total_seconds() >= -CLOCK_SKEW


def one_of(probe: Probe, kind: str, matches: list[tuple[str, dict[str, str]]]) -> dict[str, str] | None:
    """The ids of the single (import id, ids) match; None for none; Ambiguous for several."""
    if len(matches) > 1:
        shown = ", ".join(i for i, _ in matches)
        raise Ambiguous(f"{len(matches)} {kind}s on the server fit {probe.address}: {shown}", [i for i, _ in matches])
    return matches[0][1] if matches else None


def get_confirmed(
    client: FeatrixClient, path: str, *, delays: tuple[float, ...] = (0.2, 0.5, 1.0), check: Check = is_object
) -> dict[str, Any] | None:
    """GET `path`; None only when 404 is seen 1 + len(delays) times in a row (eventual consistency).

    Any other error (401/403, 5xx after the client's retries, connection failures) is raised, and so
    is an answer that fails `check` (MalformedDocument): refresh must never mistake an error, or a
    200 that is not the document asked for, for a deletion.
    """
    for delay in (*delays, None):
        try:
            doc: dict[str, Any] = get_checked(client, path, check)
            return doc
        except NotFoundError:
            if delay is None:
                return None
            time.sleep(delay)
    return None  # pragma: no cover - the loop always returns


class Handler:
    """Base of every kind's handler: field rules as data, desired form, read, and one call per step.

    Subclasses set `kind` and `rules` and implement desired / read / create / poll / update / delete.
    A step is a string naming one API call (e.g. "publish", "deletion_protection", "shadow").
    """

    kind: ClassVar[str] = ""
    rules: ClassVar[tuple[FieldRule, ...]] = ()
    trains: ClassVar[bool] = False  # create starts a training that wait_ready waits for
    deletable: ClassVar[bool] = True  # False: the API has no delete (predictors are retired)
    makes_secrets: ClassVar[bool] = False  # creating or changing it returns a secret for the lockfile (a key)
    # deleting it deletes what is recorded with its id_field too (a model's session, with every predictor retired in it)
    owns_recorded: ClassVar[bool] = False
    read_parallelism: ClassVar[int] = 8
    id_field: ClassVar[str] = "id"  # the id that names one object of this kind (import id, known ids)
    reports_use: ClassVar[bool] = False  # read() fills LiveObject.last_used (lifecycle.retire waits for disuse)
    clonable: ClassVar[bool] = False  # clone() copies a trained object to another compute cluster (promotion)

    def rule(self, name: str) -> FieldRule | None:
        return next((r for r in self.rules if r.name == name), None)

    def merge_live(self, entry: LockEntry, live: dict[str, Any]) -> dict[str, Any]:
        """Every rule's field: what the server reports, else the hash kept for it, else what was applied."""
        fields: dict[str, Any] = {r.name: None for r in self.rules}
        fields.update(entry.applied)
        fields.update(entry.hashes)
        fields.update(live)
        return fields

    def split_applied(self, desired: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """(applied, hashes): write-only fields go to the lockfile's hashes, the rest to applied."""
        write_only = {r.name for r in self.rules if r.write_only}
        applied = {k: v for k, v in desired.items() if k not in write_only}
        hashes = {k: str(v) for k, v in desired.items() if k in write_only and v is not None}
        return applied, hashes

    # -- planning ------------------------------------------------------------------------------

    def desired(self, key: str, resource: Any, ctx: DesiredContext) -> dict[str, Any]:
        raise NotImplementedError

    def read(self, client: FeatrixClient, entry: LockEntry) -> LiveObject | None:
        raise NotImplementedError

    def read_all(self, client: FeatrixClient, entries: dict[str, LockEntry]) -> dict[str, LiveObject | None]:
        """Every entry read, with bounded concurrency when the server's answers wait on the network (kinds with a
        list route override this)."""
        from featrix_iac.resources.fetching import fetch_each

        return fetch_each(list(entries), lambda a: self.read(client, entries[a]), self.read_parallelism)

    def read_listed(
        self,
        client: FeatrixClient,
        entries: dict[str, LockEntry],
        listed: dict[Any, dict[str, Any]],
        id_of: Callable[[LockEntry], Any],
        live_of: Callable[[dict[str, Any], LockEntry], LiveObject],
    ) -> dict[str, LiveObject | None]:
        """Entries found in a list answer (by `id_of`) become live objects; the rest are read one by one."""
        out: dict[str, LiveObject | None] = {}
        missing: dict[str, LockEntry] = {}
        for address, entry in entries.items():
            doc = listed.get(id_of(entry))
            if doc is None:
                missing[address] = entry
            else:
                out[address] = live_of(doc, entry)
        out.update(Handler.read_all(self, client, missing))
        return out

    def find_existing(self, client: FeatrixClient, probe: Probe) -> dict[str, str] | None:
        """Ids of the object an earlier apply created for `probe` (found by the kind's identity); None when
        surely absent; CannotTell / Ambiguous when it cannot tell. FeatrixError (auth, 5xx) is raised."""
        return self.find_all(client, {probe.address: probe})[probe.address]

    def find_all(self, client: FeatrixClient, probes: dict[str, Probe]) -> dict[str, dict[str, str] | None]:
        """find_existing for several probes, each list or document read once (no N+1). Raises the first
        CannotTell; use `find_each` to get every outcome."""
        out: dict[str, dict[str, str] | None] = {}
        for address, outcome in self.find_each(client, probes).items():
            if isinstance(outcome, CannotTell):
                raise outcome
            out[address] = outcome
        return out

    def find_each(
        self, client: FeatrixClient, probes: dict[str, Probe]
    ) -> dict[str, dict[str, str] | None | CannotTell]:
        """Every probe's outcome (ids, None, or the CannotTell that explains why not), one GET per path."""
        memo: dict[str, Any] = {}

        def get(path: str, check: Check) -> Any:
            if path not in memo:
                memo[path] = get_checked(client, path, check)
            return memo[path]

        out: dict[str, dict[str, str] | None | CannotTell] = {}
        for address, probe in probes.items():
            try:
                out[address] = self.find_in(get, probe)
            except CannotTell as exc:
                out[address] = exc
            except MalformedDocument as exc:  # an answer that is not the list asked for confirms no absence
                out[address] = CannotTell(str(exc))
        return out

    def find_in(self, get: Lister, probe: Probe) -> dict[str, str] | None:
        """The kind's identity: match `probe` against what `get(path)` lists."""
        raise CannotTell(f"{self.kind} objects cannot be searched on the server")

    def import_id(self, ids: dict[str, str]) -> str:
        """The ID argument of `featrix import ADDRESS ID` for an object with these ids."""
        return ids.get(self.id_field, "")

    # -- applying ------------------------------------------------------------------------------

    def create(self, client: FeatrixClient, op: Operation) -> StepResult:
        raise NotImplementedError

    def pending(self, ids: dict[str, str]) -> bool:
        """True when the create was accepted but its id is still to come (a queued training)."""
        return False

    def resolve(self, client: FeatrixClient, ids: dict[str, str], probe: Probe, waits: Any) -> dict[str, str]:
        """The full ids of a pending create, waiting until the service assigns them (`waits`: resources.waits.Waits)."""
        return ids

    def poll(self, client: FeatrixClient, ids: dict[str, str]) -> Progress:
        """One GET: how the training of a created object is going (kinds without training: ready)."""
        return Progress("ready")

    def metrics(self, client: FeatrixClient, ids: dict[str, str]) -> dict[str, float]:
        """The held-out training metrics a kind's gates are checked on (only kinds that train have them)."""
        raise NotImplementedError(f"{self.kind} has no training metrics")

    def followups(self, desired: dict[str, Any]) -> list[str]:
        """Steps that bring a freshly created object to `desired` (fields the create route cannot set)."""
        return []

    def update_steps(self, fields: list[str], desired: dict[str, Any], applied: dict[str, Any]) -> list[str]:
        """The ordered steps (one API call each) that change `fields` in place from `applied` to `desired`."""
        return []

    def update(self, client: FeatrixClient, op: Operation, step: str) -> StepResult:
        raise CreateFailed(f"{self.kind} has no in-place step {step!r}")

    def step_fields(self, step: str) -> list[str]:
        """The desired fields a step brings up to date (recorded as applied once it succeeded)."""
        base = step.split(":", 1)[0]
        return [r.name for r in self.rules if r.route and base in r.route.split("+")]

    def step_applied(self, step: str, desired: dict[str, Any]) -> dict[str, Any]:
        """The desired values a successful step has put in place (recorded in the lockfile at once)."""
        return {f: desired[f] for f in self.step_fields(step) if f in desired}

    def delete_steps(self, entry: LockEntry) -> list[str]:
        return ["delete"] if self.deletable else []

    def clone(self, client: FeatrixClient, ids: dict[str, str], to: str, name: str, node: str | None) -> StepResult:
        """Copy the trained object `ids` (on cluster `node`) to compute cluster `to` as a new object named `name`:
        the new object's ids and outputs (kinds that are `clonable`)."""
        raise CreateFailed(f"{self.kind} cannot be cloned")

    def rollback(self, client: FeatrixClient, op: Operation, previous: dict[str, str]) -> StepResult:
        """Bring the object back to what it served before an apply moved it (`previous`: its ids then), for a
        failed smoke check with on_failure: rollback; the ids it has afterwards. Kinds that move in place say how."""
        raise CreateFailed(f"{self.kind} cannot be rolled back")

    def retire_steps(self, entry: LockEntry) -> list[str]:
        """The calls that deprecate the object when its retirement begins (lifecycle.retire; none by default)."""
        return []

    def delete(self, client: FeatrixClient, op: Operation, step: str) -> None:
        raise NotImplementedError

    def wait_ready(
        self,
        client: FeatrixClient,
        ids: dict[str, str],
        *,
        timeout: float,
        stall: float | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        stop: Callable[[], bool] | None = None,
        max_interval: float = 5.0,
        pause: Callable[[float], None] | None = None,
    ) -> Progress:
        """Poll until ready. TrainingFailed after 3 failed reads in a row; WaitTimeout after `timeout` in all,
        or `stall` seconds without any change in the reported progress (the official client's stall timer).

        A 404 counts as gone only when seen 5 times in a row over GONE_SECONDS (a queued or fresh session
        404s for a while on the real service); other errors are ridden out (auth errors raise at once).
        `stop()` true ends the wait early with the last progress. Polls are paced by the elapsed time, or come
        sooner at the end the progress fraction predicts (resources/pacing.py). `pause(seconds)` (default: sleep)
        waits between polls (apply/reads.py ends it early when another wait's poll brought a newer document).
        """
        start = last_change = time.monotonic()
        failed, missing, first_miss, last = 0, 0, 0.0, Progress("training")
        pacer = Pacer()  # the paced wait, or the end the progress predicts when that comes sooner
        stall = timeout if stall is None else stall
        while True:
            counts = True  # errors and 404s are ridden out but are not progress
            try:
                progress = self.poll(client, ids)
                missing = 0
            except NotFoundError:
                counts = False
                missing, first_miss = missing + 1, first_miss if missing else time.monotonic()
                gone = missing >= 5 and time.monotonic() - first_miss >= GONE_SECONDS
                progress = Progress("gone" if gone else "training", None, "not found (yet)")
            except (ServerError, ConnectionFailed, MalformedDocument) as exc:  # not an answer about the object
                counts = False
                progress = Progress("training", last.fraction, f"status unavailable: {exc.detail or exc}")
            failed = failed + 1 if progress.state == "failed" else 0
            if progress.state == "ready" or progress.state == "gone" or failed >= 3:
                if progress.state == "failed":
                    raise TrainingFailed(progress.message or "training failed")
                if progress.state == "gone":
                    raise TrainingFailed("the object disappeared from the server while training")
                return progress
            if progress != last:
                last_change = time.monotonic() if counts else last_change
                if on_progress is not None:
                    on_progress(progress)
            last = progress
            now = time.monotonic()
            if now - start > timeout:
                raise WaitTimeout(f"still training after {timeout:.0f}s ({progress.message or 'no progress'})")
            if now - last_change > stall:
                raise WaitTimeout(f"training: no progress for {stall:.0f}s ({progress.message or 'no progress'})")
            if stop is not None and stop():
                return last
            paced = min(max_interval, max(0.2, (now - start) * 0.05))
            (pause or time.sleep)(0.05 if failed else pacer.wait(now, progress.fraction if counts else None, paced))

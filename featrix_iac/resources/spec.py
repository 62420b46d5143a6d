"""One spec per kind (DESIGN §4): everything the engine knows of a kind, declared in its resources/ module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from featrix_iac.kinds import KindFacts

if TYPE_CHECKING:
    from featrix_iac.client import FeatrixClient
    from featrix_iac.resources.base import Handler

# `featrix import`: (field of a reference) -> (address it names, its ids in the lockfile); refuses when unrecorded
RefIds = Callable[[str], tuple[str, dict[str, str]]]
# how a kind predicts: (client, ids, secret or "") -> call(record) -> the server's answer
Predictor = Callable[["FeatrixClient", dict[str, str], str], Callable[[dict[str, Any]], Any]]


@dataclass(frozen=True)
class KindNotes:
    """What the plan tells about a kind's actions, beyond its field changes (`{address}` is filled in)."""

    replaced: str = ""  # a replacement ({when}: the old one goes first or last; {retired}: RETIRED_NOTE)
    recreated: str = ""  # a create after the object was deleted outside featrix
    adopted: str = ""  # an orphan adopted (an earlier apply lost the create answer) ...
    adopted_unless: tuple[str, ...] = ()  # ... unless one of these desired fields is true
    follows: str = ", so this is created again on the new one"  # what a dependent does when its target is renewed


class ImportRefused(Exception):
    """An import ID that cannot name an object of this address (e.g. in another session than its model's)."""

    def __init__(self, summary: str, detail: str = ""):
        super().__init__(summary)
        self.summary, self.detail = summary, detail


def no_outputs(client: FeatrixClient, ids: dict[str, str]) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class KindSpec:
    """A kind's facts: its data facts (kinds.py: names, section, model, references) and the engine's."""

    facts: KindFacts
    handler: Handler  # read / create / update / delete: one API call each; rules, deletable, trains, id_field
    # the ids that name one object of the kind: two entries with these equal record the same object
    identity: tuple[str, ...]
    # `featrix import ADDRESS ID`: the ids an ID names (ImportRefused when it cannot be this address's object)
    import_ids: Callable[[str, RefIds], dict[str, str]]
    # the outputs recorded for an imported object (read with one call where the server has them)
    import_outputs: Callable[[FeatrixClient, dict[str, str]], dict[str, Any]] = no_outputs
    # notes an import prints, by (address, desired fields): what it could not check
    import_notes: Callable[[str, dict[str, Any]], list[str]] = lambda address, wanted: []
    reference_id: str = "id"  # the lockfile id a reference to this kind reads (and that names a replaced object)
    always_create_first: bool = False  # a replacement always creates first (nothing is lost: the old one is kept)
    predict: Predictor | None = None  # how `featrix predict` calls it; None: it cannot predict
    predict_secret: str = ""  # the lockfile secret a prediction needs (an endpoint's own key)
    secrets: tuple[str, ...] = ()  # secret outputs (read with `featrix output`), e.g. an endpoint's api_key
    # seconds per unit of training work (rows x columns x epochs) before any training of the kind was recorded:
    # a guess of the order of the local server's speed; the first recorded training of the kind replaces it
    seconds_per_unit: float = 1e-5
    notes: KindNotes = KindNotes()  # what the plan says of its replacements, re-creations, adoptions, cascades
    secret_note: str = ""  # why a secret may be missing from the lockfile (`{address}` is filled in)

    @property
    def kind(self) -> str:
        return self.facts.name


def in_session(object_id: str, ref: RefIds, field: str, kind: str) -> tuple[str, str]:
    """(session id, rest) of a `[SESSION/]ID` import ID naming an object in the session of the model that `field`
    refers to; ImportRefused when the ID gives another session."""
    from featrix_iac.addresses import a_kind

    fm_address, fm = ref(field)
    sid, _, rest = object_id.rpartition("/")
    if sid and sid != fm["session_id"]:
        raise ImportRefused(
            f"{object_id} is in session {sid}, but {fm_address} is session {fm['session_id']} in the lockfile",
            f"{a_kind(kind)} lives in its foundational model's session; import the matching "
            "foundational model, or give an object of the recorded session",
        )
    return fm["session_id"], rest

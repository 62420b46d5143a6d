"""Job bodies: the store half (server) and the compute half (a training process, jobs/procs.py) of a training."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from featrix_iac.server.ml.fm_model import Check, EpochCallback, FoundationalModel, train_fm
from featrix_iac.server.ml.predictor_model import Predictor, train_predictor
from featrix_iac.server.service import Service, now_iso, write_pickle
from featrix_iac.server.store import Doc

FM_PATH = "{sid}/fm.pkl"
PRED_PATH = "{sid}/predictors/{pid}.pkl"
FM_TASK, PREDICTOR_TASK = "fm", "predictor"


def fm_path(sid: str) -> str:
    return FM_PATH.format(sid=sid)


def predictor_path(sid: str, pid: str) -> str:
    return PRED_PATH.format(sid=sid, pid=pid)


def load_fm(svc: Service, sid: str) -> FoundationalModel:
    fm: FoundationalModel = svc.load_object(fm_path(sid))
    return fm


def load_predictor(svc: Service, sid: str, pid: str) -> Predictor:
    pred: Predictor = svc.load_object(predictor_path(sid, pid))
    return pred


Compute = Callable[[str, dict[str, Any]], dict[str, Any]]  # (task kind, spec) -> summary: runs a task somewhere
Reader = Callable[[str], Any]  # an artifact's object by its relative path (the training process caches them)


def run_fm_job(svc: Service, job: Doc, compute: Compute) -> dict[str, Any]:
    """A foundational model's job: the training runs through `compute` (a worker process); the store stays here."""
    sid = job["session_id"]
    session = svc.store.get("session", sid) or {}
    svc.store.update("session", sid, lambda d: d.update(started_at=d.get("started_at") or now_iso()))
    spec = {
        "sid": sid,
        "epochs": int(job["total_epochs"]),
        "d_model": int(session.get("d_model") or 16),
        "seed": int(session.get("seed") or 0),
        "overrides": session.get("column_overrides") or None,
    }
    summary = compute(FM_TASK, spec)
    svc.forget_objects(fm_path(sid))  # the process wrote a new model: the next read loads it
    svc.store.update("session", sid, lambda d: d.update(column_types=summary["column_types"]))
    result: dict[str, Any] = summary["result"]
    return result


def compute_fm(root: Path, spec: dict[str, Any], read: Reader, on_epoch: EpochCallback, check: Check) -> dict[str, Any]:
    """Train a foundational model from its session's data under `root`; write it and its checkpoints there."""
    sid = spec["sid"]
    fm = train_fm(
        read(f"{sid}/data.pkl"),
        epochs=spec["epochs"],
        d_model=spec["d_model"],
        seed=spec["seed"],
        overrides=spec["overrides"],
        on_epoch=on_epoch,
        check=check,
        on_checkpoint=lambda epoch, model: save_checkpoint(root, sid, epoch, model),
    )
    write_pickle(root, fm_path(sid), fm)
    val = fm.history["val_loss"]
    best = min(range(len(val)), key=lambda i: val[i]) if val else None
    result = {
        "history": fm.history,
        "best_epoch": best,
        "best_val_loss": val[best] if best is not None else None,
        "n_parameters": fm.n_parameters(),
        "final_loss": val[-1] if val else None,
    }
    return {"result": result, "column_types": fm.encoder.column_types()}


def save_checkpoint(root: Path, sid: str, epoch: int, fm: FoundationalModel) -> None:
    """Per-epoch weights (small) plus, once, a template model to rebuild any epoch from."""
    if epoch == 1:
        write_pickle(root, f"{sid}/checkpoints/template.pkl", fm)
    coefs, intercepts = fm.weights()
    write_pickle(root, f"{sid}/checkpoints/epoch_{epoch}.pkl", (coefs, intercepts, fm.history))


def checkpoint_epochs(svc: Service, sid: str) -> list[int]:
    folder = svc.artifacts / sid / "checkpoints"
    if not (folder / "template.pkl").is_file():
        return []
    return sorted(int(p.stem.split("_", 1)[1]) for p in folder.glob("epoch_*.pkl"))


def checkpoint_fm(svc: Service, sid: str, epoch: int) -> FoundationalModel:
    template: FoundationalModel = svc.read_pickle(f"{sid}/checkpoints/template.pkl")
    coefs, intercepts, history = svc.read_pickle(f"{sid}/checkpoints/epoch_{epoch}.pkl")
    return template.at_checkpoint(coefs, intercepts, history)


def run_predictor_job(svc: Service, job: Doc, compute: Compute) -> dict[str, Any]:
    """A predictor's job: the training runs through `compute` (a worker process); the store stays here."""
    sid, pid = job["session_id"], job["predictor_id"]
    pred_doc = svc.store.get("predictor", pid) or {}
    spec = {
        "sid": sid,
        "pid": pid,
        "fm_sid": pred_doc.get("fm_session_id") or sid,
        "target_column": job["target_column"],
        "target_type": job["target_column_type"],
        "epochs": int(job["total_epochs"]),
        "seed": int(pred_doc.get("seed") or 0),
        "rare_label_value": pred_doc.get("rare_label_value"),
    }
    result = compute(PREDICTOR_TASK, spec)
    svc.forget_objects(predictor_path(sid, pid))
    return result


def compute_predictor(
    root: Path, spec: dict[str, Any], read: Reader, on_epoch: EpochCallback, check: Check
) -> dict[str, Any]:
    """Train a predictor on its foundational model's embedding; write it under `root`; its job's result fields."""
    sid, pid = spec["sid"], spec["pid"]
    pred = train_predictor(
        read(fm_path(spec["fm_sid"])),
        read(f"{sid}/data.pkl"),
        target_column=spec["target_column"],
        target_type=spec["target_type"],
        epochs=spec["epochs"],
        seed=spec["seed"],
        rare_label_value=spec["rare_label_value"],
        on_epoch=on_epoch,
        check=check,
    )
    write_pickle(root, predictor_path(sid, pid), pred)
    m = pred.metrics
    return {
        "metrics": {k: v for k, v in m.items() if k != "confusion_matrix"},
        "confusion_matrix": m.get("confusion_matrix"),
        "training_info": pred.history,
        "accuracy": m.get("accuracy"),
        "auc": m.get("auc"),
        "roc_auc": m.get("auc"),
        "f1": m.get("f1"),
        "model_path": predictor_path(sid, pid),
    }


TASKS = {FM_TASK: compute_fm, PREDICTOR_TASK: compute_predictor}

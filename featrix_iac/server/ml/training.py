"""Job bodies: train a foundational model or a predictor from a session's data, and record the results."""

from __future__ import annotations

from typing import Any

from featrix_iac.server.ml.fm_model import Check, EpochCallback, FoundationalModel, train_fm
from featrix_iac.server.ml.predictor_model import Predictor, train_predictor
from featrix_iac.server.service import Service, now_iso
from featrix_iac.server.store import Doc

FM_PATH = "{sid}/fm.pkl"
PRED_PATH = "{sid}/predictors/{pid}.pkl"


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


def run_fm_job(svc: Service, job: Doc, on_epoch: EpochCallback, check: Check | None = None) -> dict[str, Any]:
    sid = job["session_id"]
    session = svc.store.get("session", sid) or {}
    svc.store.update("session", sid, lambda d: d.update(started_at=d.get("started_at") or now_iso()))
    df = svc.load_frame(sid)
    fm = train_fm(
        df,
        epochs=int(job["total_epochs"]),
        d_model=int(session.get("d_model") or 16),
        seed=int(session.get("seed") or 0),
        overrides=session.get("column_overrides") or None,
        on_epoch=on_epoch,
        check=check,
        on_checkpoint=lambda epoch, model: save_checkpoint(svc, sid, epoch, model),
    )
    svc.save_object(fm_path(sid), fm)
    val = fm.history["val_loss"]
    best = min(range(len(val)), key=lambda i: val[i]) if val else None
    svc.store.update("session", sid, lambda d: d.update(column_types=fm.encoder.column_types()))
    return {
        "history": fm.history,
        "best_epoch": best,
        "best_val_loss": val[best] if best is not None else None,
        "n_parameters": fm.n_parameters(),
        "final_loss": val[-1] if val else None,
    }


def save_checkpoint(svc: Service, sid: str, epoch: int, fm: FoundationalModel) -> None:
    """Per-epoch weights (small) plus, once, a template model to rebuild any epoch from."""
    if epoch == 1:
        svc.write_pickle(f"{sid}/checkpoints/template.pkl", fm)
    coefs, intercepts = fm.weights()
    svc.write_pickle(f"{sid}/checkpoints/epoch_{epoch}.pkl", (coefs, intercepts, fm.history))


def checkpoint_epochs(svc: Service, sid: str) -> list[int]:
    folder = svc.artifacts / sid / "checkpoints"
    if not (folder / "template.pkl").is_file():
        return []
    return sorted(int(p.stem.split("_", 1)[1]) for p in folder.glob("epoch_*.pkl"))


def checkpoint_fm(svc: Service, sid: str, epoch: int) -> FoundationalModel:
    template: FoundationalModel = svc.read_pickle(f"{sid}/checkpoints/template.pkl")
    coefs, intercepts, history = svc.read_pickle(f"{sid}/checkpoints/epoch_{epoch}.pkl")
    return template.at_checkpoint(coefs, intercepts, history)


def run_predictor_job(svc: Service, job: Doc, on_epoch: EpochCallback, check: Check | None = None) -> dict[str, Any]:
    sid, pid = job["session_id"], job["predictor_id"]
    pred_doc = svc.store.get("predictor", pid) or {}
    fm_sid = pred_doc.get("fm_session_id") or sid
    fm = load_fm(svc, fm_sid)
    df = svc.load_frame(sid)
    pred = train_predictor(
        fm,
        df,
        target_column=job["target_column"],
        target_type=job["target_column_type"],
        epochs=int(job["total_epochs"]),
        seed=int(pred_doc.get("seed") or 0),
        rare_label_value=pred_doc.get("rare_label_value"),
        on_epoch=on_epoch,
        check=check,
    )
    svc.save_object(predictor_path(sid, pid), pred)
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

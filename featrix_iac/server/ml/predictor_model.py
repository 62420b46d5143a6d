"""Predictors: scikit-learn MLP heads on the foundational model's embedding plus the encoded features."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from featrix_iac.server.ml.encoding import _as_label, _is_missing
from featrix_iac.server.ml.fm_model import Check, EpochCallback, FoundationalModel, fit_epoch, split_indices

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class TrainingError(ValueError):
    """The predictor cannot be trained on this data; the message is the job's error text."""


@dataclass
class Predictor:
    """A trained head: classifier (`set`) or regressor (`scalar`) with its held-out metrics."""

    target_column: str
    target_type: str
    model: Any
    classes: list[str] = field(default_factory=list)
    pos_label: str | None = None
    threshold: float = 0.5
    y_mean: float = 0.0
    y_std: float = 1.0
    sigma: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    def features(self, fm: FoundationalModel, records: list[dict[str, Any]]) -> np.ndarray:
        import numpy as np

        x = fm.encoder.encode_records(records, masked={self.target_column})
        return np.hstack([fm.embed_matrix(x), x])

    def predict_records(self, fm: FoundationalModel, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not records:
            return []
        feats = self.features(fm, records)
        if self.target_type == "scalar":
            values = self.model.predict(feats) * self.y_std + self.y_mean
            return [self._regression_result(float(v)) for v in values]
        probs = self.model.predict_proba(feats)
        return [self._class_result(row) for row in probs]

    def _class_result(self, row: np.ndarray) -> dict[str, Any]:
        probabilities = {c: round(float(p), 6) for c, p in zip(self.classes, row, strict=True)}
        if self.pos_label is not None and len(self.classes) == 2:
            p_pos = probabilities[self.pos_label]
            other = next(c for c in self.classes if c != self.pos_label)
            predicted = self.pos_label if p_pos >= self.threshold else other
            confidence = min(1.0, abs(p_pos - self.threshold) / max(self.threshold, 1 - self.threshold))
        else:
            predicted = max(probabilities, key=lambda c: probabilities[c])
            confidence = probabilities[predicted]
        out: dict[str, Any] = {
            "prediction": predicted,
            "predicted_class": predicted,
            "probability": probabilities[predicted],
            "confidence": round(float(confidence), 6),
            "probabilities": probabilities,
        }
        if self.pos_label is not None:
            out["threshold"] = self.threshold
            out["pos_label"] = self.pos_label
        return out

    def _regression_result(self, value: float) -> dict[str, Any]:
        half = 1.645 * self.sigma
        scale = abs(self.y_std) or 1.0
        return {
            "prediction": round(value, 6),
            "predicted_class": None,
            "probability": None,
            "confidence": round(1.0 / (1.0 + self.sigma / scale), 6),
            "probabilities": None,
            "sigma": round(self.sigma, 6),
            "interval_low": round(value - half, 6),
            "interval_high": round(value + half, 6),
            "coverage_level": 0.9,
        }


def train_predictor(
    fm: FoundationalModel,
    df: pd.DataFrame,
    *,
    target_column: str,
    target_type: str,
    epochs: int,
    seed: int,
    rare_label_value: str | None = None,
    on_epoch: EpochCallback | None = None,
    check: Check | None = None,
) -> Predictor:
    if target_column not in df.columns:
        raise TrainingError(f"target column {target_column!r} is not in the data (columns: {', '.join(df.columns)})")
    rows = [r for r in df.to_dict(orient="records") if not _is_missing(r.get(target_column))]
    if len(rows) < 4:
        raise TrainingError(f"target column {target_column!r} has fewer than 4 non-missing values")
    if target_type == "scalar":
        return _train_regressor(fm, rows, target_column, epochs, seed, on_epoch, check)
    return _train_classifier(fm, rows, target_column, epochs, seed, rare_label_value, on_epoch, check)


def _train_classifier(
    fm: FoundationalModel,
    rows: list[dict[str, Any]],
    target: str,
    epochs: int,
    seed: int,
    rare_label_value: str | None,
    on_epoch: EpochCallback | None,
    check: Check | None = None,
) -> Predictor:
    import numpy as np
    from sklearn.neural_network import MLPClassifier

    labels = np.array([_as_label(r[target]) for r in rows])
    classes = sorted(set(labels.tolist()))
    if len(classes) < 2:
        raise TrainingError(f"target column {target!r} has a single class ({classes[0]!r}); a classifier needs two")
    pred = Predictor(target_column=target, target_type="set", model=None, classes=classes)
    if len(classes) == 2:
        counts = {c: int((labels == c).sum()) for c in classes}
        pos = str(rare_label_value) if rare_label_value is not None else min(classes, key=lambda c: (counts[c], c))
        if pos not in classes:
            raise TrainingError(f"rare_label_value {pos!r} is not a value of {target!r} ({', '.join(classes)})")
        pred.pos_label = pos
    x = pred.features(fm, rows)
    tr, va = split_indices(len(rows), seed)
    model = MLPClassifier(hidden_layer_sizes=(32,), learning_rate_init=5e-3, random_state=seed, batch_size=32)
    pred.model = model
    for epoch in range(1, epochs + 1):
        loss = fit_epoch(model, x[tr], labels[tr], check, classes=classes)
        val_loss = _log_loss(model, x[va], labels[va], classes) if len(va) else loss
        acc = float((model.predict(x[va]) == labels[va]).mean()) if len(va) else None
        pred.history.append(_epoch_row(epoch, loss, val_loss, {"accuracy": acc}))
        if on_epoch:
            on_epoch(epoch, loss, val_loss)
    eval_idx = va if len(va) else tr
    pred.metrics = classification_metrics(pred, model.predict_proba(x[eval_idx]), labels[eval_idx])
    return pred


def _log_loss(model: Any, x: np.ndarray, y: np.ndarray, classes: list[str]) -> float:
    import numpy as np

    probs = np.clip(model.predict_proba(x), 1e-12, 1.0)
    idx = np.array([classes.index(v) for v in y])
    return float(-np.log(probs[np.arange(len(y)), idx]).mean())


def _epoch_row(epoch: int, loss: float, val_loss: float, metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        "epoch_idx": epoch - 1,
        "loss": loss,
        "validation_loss": val_loss,
        "hyperparameters": {"learning_rate": 5e-3},
        "metrics": metrics,
    }


def classification_metrics(pred: Predictor, probs: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    import numpy as np
    from sklearn import metrics as skm

    predicted = np.array([pred._class_result(row)["predicted_class"] for row in probs])
    out: dict[str, Any] = {"accuracy": float(skm.accuracy_score(y, predicted)), "n_samples": len(y)}
    binary = pred.pos_label is not None
    avg = "binary" if binary else "macro"
    kw: dict[str, Any] = {"pos_label": pred.pos_label} if binary else {}
    out["precision"] = float(skm.precision_score(y, predicted, average=avg, zero_division=0, **kw))
    out["recall"] = float(skm.recall_score(y, predicted, average=avg, zero_division=0, **kw))
    out["f1"] = float(skm.f1_score(y, predicted, average=avg, zero_division=0, **kw))
    out["macro_f1"] = float(skm.f1_score(y, predicted, average="macro", zero_division=0))
    out["auc"] = _auc(pred, probs, y)
    out["roc_auc"] = out["auc"]
    out["confusion_matrix"] = {
        "labels": pred.classes,
        "matrix": skm.confusion_matrix(y, predicted, labels=pred.classes).tolist(),
    }
    return out


def _auc(pred: Predictor, probs: np.ndarray, y: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    try:
        if pred.pos_label is not None:
            col = pred.classes.index(pred.pos_label)
            return float(roc_auc_score(y == pred.pos_label, probs[:, col]))
        return float(roc_auc_score(y, probs, multi_class="ovr", labels=pred.classes))
    except ValueError:
        return None  # a single class in the held-out split


def _train_regressor(
    fm: FoundationalModel,
    rows: list[dict[str, Any]],
    target: str,
    epochs: int,
    seed: int,
    on_epoch: EpochCallback | None,
    check: Check | None = None,
) -> Predictor:
    import numpy as np
    from sklearn.neural_network import MLPRegressor

    try:
        y = np.array([float(r[target]) for r in rows])
    except (TypeError, ValueError) as exc:
        raise TrainingError(f"target column {target!r} is not numeric; use a classifier (set)") from exc
    pred = Predictor(target_column=target, target_type="scalar", model=None)
    pred.y_mean, pred.y_std = float(y.mean()), float(y.std()) or 1.0
    ys = (y - pred.y_mean) / pred.y_std
    x = pred.features(fm, rows)
    tr, va = split_indices(len(rows), seed)
    model = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=5e-3, random_state=seed, batch_size=32)
    pred.model = model
    for epoch in range(1, epochs + 1):
        loss = fit_epoch(model, x[tr], ys[tr], check)
        val_loss = float(((model.predict(x[va]) - ys[va]) ** 2).mean() / 2) if len(va) else loss
        pred.history.append(_epoch_row(epoch, loss, val_loss, {}))
        if on_epoch:
            on_epoch(epoch, loss, val_loss)
    eval_idx = va if len(va) else tr
    predicted = model.predict(x[eval_idx]) * pred.y_std + pred.y_mean
    pred.metrics = regression_metrics(y[eval_idx], predicted)
    pred.sigma = pred.metrics["rmse"]
    return pred


def regression_metrics(y: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    from sklearn import metrics as skm

    r2 = float(skm.r2_score(y, predicted)) if len(y) > 1 else 0.0
    return {
        "rmse": float(math.sqrt(skm.mean_squared_error(y, predicted))),
        "mae": float(skm.mean_absolute_error(y, predicted)),
        "r2": r2,
        "n_samples": len(y),
    }

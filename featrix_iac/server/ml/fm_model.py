"""The foundational model: a denoising, masked-column autoencoder (scikit-learn MLP) over an encoded table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from featrix_iac.server.ml.encoding import TableEncoder

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MASK_RATE = 0.15
EpochCallback = Callable[[int, float, float], None]  # (epoch, train_loss, val_loss); may raise to cancel
Check = Callable[[], None]  # called between slices of an epoch; raises to cancel or interrupt at once
SLICE_ROWS = 4096  # an epoch over more rows than this is fitted in slices, checking in between


def fit_epoch(model: Any, x: Any, y: Any, check: Check | None, **kwargs: Any) -> float:
    """One `partial_fit` pass; over a large table in slices with `check()` between them, so a cancelled
    or stopping job ends within a slice instead of an epoch (minutes on a big table). Returns the loss."""
    if check is None or len(x) <= SLICE_ROWS:
        model.partial_fit(x, y, **kwargs)
        return float(model.loss_)
    total = 0.0
    for start in range(0, len(x), SLICE_ROWS):
        check()
        part = slice(start, start + SLICE_ROWS)
        model.partial_fit(x[part], y[part], **kwargs)
        total += float(model.loss_) * len(x[part])
    return total / len(x)


@dataclass
class FoundationalModel:
    """The fitted encoder and the MLP whose bottleneck layer is the embedding."""

    encoder: TableEncoder
    mlp: Any
    d_model: int
    history: dict[str, list[float]] = field(default_factory=dict)

    def embed_matrix(self, x: np.ndarray) -> np.ndarray:
        import numpy as np

        h = x
        for w, b in zip(self.mlp.coefs_[:2], self.mlp.intercepts_[:2], strict=True):
            h = np.tanh(h @ w + b)
        return h

    def embed_records(self, records: list[dict[str, Any]], masked: set[str] | None = None) -> np.ndarray:
        return self.embed_matrix(self.encoder.encode_records(records, masked))

    def weights(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return [w.copy() for w in self.mlp.coefs_], [b.copy() for b in self.mlp.intercepts_]

    def at_checkpoint(
        self, coefs: list[np.ndarray], intercepts: list[np.ndarray], history: dict[str, list[float]]
    ) -> FoundationalModel:
        """A copy of this model with other weights (those of a checkpoint) and that checkpoint's history."""
        import copy

        fm = copy.deepcopy(self)
        fm.mlp.coefs_, fm.mlp.intercepts_ = coefs, intercepts
        fm.history = {k: list(v) for k, v in history.items()}
        return fm

    def n_parameters(self) -> int:
        return int(sum(w.size for w in self.mlp.coefs_) + sum(b.size for b in self.mlp.intercepts_))


def split_indices(n: int, seed: int, frac: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    n_val = max(1, int(round(n * frac))) if n >= 5 else 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def train_fm(
    df: pd.DataFrame,
    *,
    epochs: int,
    d_model: int,
    seed: int,
    overrides: dict[str, str] | None = None,
    on_epoch: EpochCallback | None = None,
    on_checkpoint: Callable[[int, FoundationalModel], None] | None = None,
    check: Check | None = None,
) -> FoundationalModel:
    """Fit the encoder, then train the autoencoder one epoch per partial_fit on freshly masked inputs."""
    import numpy as np
    from sklearn.neural_network import MLPRegressor

    encoder = TableEncoder.fit(df, overrides)
    if check:
        check()
    x = encoder.encode_frame(df)
    train_idx, val_idx = split_indices(len(x), seed)
    hidden = max(2 * d_model, 32)
    mlp = MLPRegressor(
        hidden_layer_sizes=(hidden, d_model, hidden),
        activation="tanh",
        learning_rate_init=3e-3,
        batch_size=min(64, max(1, len(train_idx))),
        random_state=seed,
    )
    rng = np.random.default_rng(seed + 1)
    val_input = encoder.mask_matrix(x[val_idx], np.random.default_rng(seed + 2), MASK_RATE) if len(val_idx) else None
    fm = FoundationalModel(encoder=encoder, mlp=mlp, d_model=d_model, history={"train_loss": [], "val_loss": []})
    for epoch in range(1, epochs + 1):
        xt = x[train_idx]
        train_loss = fit_epoch(mlp, encoder.mask_matrix(xt, rng, MASK_RATE), xt, check)
        val_loss = train_loss
        if val_input is not None:
            val_loss = float(((mlp.predict(val_input) - x[val_idx]) ** 2).mean() / 2)
        fm.history["train_loss"].append(train_loss)
        fm.history["val_loss"].append(val_loss)
        if on_epoch:
            on_epoch(epoch, train_loss, val_loss)  # may raise to cancel
        if on_checkpoint:
            on_checkpoint(epoch, fm)
    return fm

"""Real training: determinism for a fixed seed, d_model, free text and missing values, per-epoch loss."""

from __future__ import annotations

import numpy as np
import pandas as pd

from featrix_iac.server.ml.fm_model import train_fm
from featrix_iac.server.ml.predictor_model import train_predictor

POSITIVE = ["great", "battery", "bright", "screen", "fast", "delivery", "excellent", "value", "works", "love"]
NEGATIVE = ["terrible", "support", "died", "broken", "refund", "awful", "stopped", "never", "answered", "slow"]


def _reviews_table(n: int = 160) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    good = rng.random(n) < 0.5
    reviews = [" ".join(rng.choice(POSITIVE if g else NEGATIVE, 4)) + f" order {i}" for i, g in enumerate(good)]
    price = np.where(good, 120.0, 80.0) + rng.normal(0, 10, n)
    price[rng.random(n) < 0.15] = np.nan  # missing numbers
    channel = rng.choice(["web", "store", None], n)  # missing categories
    return pd.DataFrame(
        {"review": reviews, "price": price, "channel": channel, "sentiment": np.where(good, "positive", "negative")}
    )


def test_training_is_deterministic_for_a_seed(penguins) -> None:
    a = train_fm(penguins, epochs=5, d_model=8, seed=3)
    b = train_fm(penguins, epochs=5, d_model=8, seed=3)
    c = train_fm(penguins, epochs=5, d_model=8, seed=4)
    records = penguins.head(5).to_dict(orient="records")
    assert a.history == b.history and len(a.history["train_loss"]) == 5
    assert np.array_equal(a.embed_records(records), b.embed_records(records))
    assert a.embed_records(records).shape == (5, 8)
    assert not np.array_equal(a.embed_records(records), c.embed_records(records))
    pa = train_predictor(a, penguins, target_column="species", target_type="set", epochs=5, seed=0)
    pb = train_predictor(b, penguins, target_column="species", target_type="set", epochs=5, seed=0)
    assert pa.metrics == pb.metrics and pa.predict_records(a, records) == pb.predict_records(b, records)


def test_free_text_and_missing_values_over_http(api) -> None:
    df = _reviews_table()
    sid = api.upload(df, "reviews", epochs=10, d_model=12)
    pid = api.ok(
        "post",
        f"/compute/session/{sid}/train_predictor",
        json={"target_column": "sentiment", "target_column_type": "set", "epochs": 20},
    )["predictor_id"]
    doc = api.wait(sid)
    assert doc["session"]["status"] == "done" and doc["session"]["es_architecture"]["d_model"] == 12
    types = api.ok("get", f"/compute/session/{sid}/columns")["column_types"]
    assert types == {"review": "free_string", "price": "scalar", "channel": "set", "sentiment": "set"}
    cls = api.ok("get", f"/compute/session/{sid}/predictor/{pid}/classification_metrics")["classification_metrics"]
    assert cls["accuracy"] > 0.9
    good = api.ok(
        "post",
        f"/compute/session/{sid}/predict",
        json={"query_record": {"review": "bright screen, great battery"}, "predictor_id": pid},
    )
    bad = api.ok(
        "post",
        f"/compute/session/{sid}/predict",
        json={"query_record": {"review": "broken, support never answered", "price": None}, "predictor_id": pid},
    )
    assert good["predicted_class"] == "positive" and bad["predicted_class"] == "negative"
    empty = api.ok("post", f"/compute/session/{sid}/predict", json={"query_record": {}, "predictor_id": pid})
    assert set(empty["probabilities"]) == {"positive", "negative"}
    losses = api.ok("get", f"/compute/session/{sid}/training_metrics")["data"]["train_loss"]
    assert len(losses) == 10 and losses[-1] < losses[0]


def test_a_predictor_that_cannot_train_fails_with_its_reason(api, penguins) -> None:
    sid = api.upload(penguins.head(40), "adelie-only", epochs=2)  # the first 40 rows are all Adelie
    api.ok(
        "post",
        f"/compute/session/{sid}/train_predictor",
        json={"target_column": "species", "target_column_type": "set", "epochs": 2},
    )
    api.ok(
        "post",
        f"/compute/session/{sid}/train_predictor",
        json={"target_column": "island", "target_column_type": "scalar", "epochs": 2},
    )
    doc = api.wait(sid)
    errors = sorted(j.get("error") or "" for j in doc["jobs"].values() if j["job_type"] == "train_single_predictor")
    assert all(j["status"] == "failed" for j in doc["jobs"].values() if j["job_type"] == "train_single_predictor")
    assert "single class" in errors[1] and "not numeric" in errors[0]

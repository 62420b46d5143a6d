"""The official featrixsphere 2.0.13460 client drives the whole flow against the running local server."""

from __future__ import annotations

import hashlib
import hmac
import time
from types import ModuleType
from typing import Any

import pytest

pd = pytest.importorskip("pandas")
requests = pytest.importorskip("requests")
penguins = pytest.importorskip("palmerpenguins")

SECRET = "compat-secret"
RECORD = {
    "island": "Biscoe",
    "bill_length_mm": 47.5,
    "bill_depth_mm": 15.0,
    "flipper_length_mm": 218.0,
    "body_mass_g": 5200.0,
    "sex": "male",
}


def _wait_for(predicate: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


@pytest.fixture(scope="module")
def client(featrixsphere: ModuleType, compat_server: Any) -> Any:
    return featrixsphere.FeatrixSphere(api_key=compat_server.api_key, base_url=compat_server.url)


@pytest.fixture(scope="module")
def trained(client: Any, receiver: Any) -> dict[str, Any]:
    """A foundational model from a DataFrame and three predictors, all trained."""
    df = penguins.load_penguins()
    fm = client.create_foundational_model(
        name="compat-penguins",
        df=df,
        epochs=8,
        user_metadata={"project": "compat"},
        webhooks={"training_finished": receiver.url + "/fm"},
    )
    fm.wait_for_training(poll_interval=1, show_progress=False)
    hooks = {
        "training_started": receiver.url + "/sp",
        "training_finished": receiver.url + "/sp",
        "webhook_secret": SECRET,
    }
    binary = fm.create_binary_classifier(target_column="sex", name="sex", epochs=15, webhooks=hooks)
    multi = fm.create_multi_classifier(target_column="species", name="species", epochs=15)
    reg = fm.create_regressor(target_column="body_mass_g", name="mass", epochs=15)
    for p in (binary, multi, reg):
        p.wait_for_training(poll_interval=1, show_progress=False)
    return {"fm": fm, "binary": binary, "multi": multi, "reg": reg, "df": df}


def test_foundational_model_from_dataframe(client: Any, trained: dict[str, Any]) -> None:
    fm = client.foundational_model(trained["fm"].id)
    assert fm.status == "done"
    assert fm.dimensions == 16
    assert fm.user_metadata == {"project": "compat"}
    names = [m.name for m in client.list_foundational_models(name_prefix="compat-")]
    assert "compat-penguins" in names
    summary = fm.training_summary()
    assert summary["epochs"] == 8 and summary["d_model"] == 16
    assert summary["final_val_loss"] is not None and summary["n_parameters"] > 0
    assert {p.target_column for p in fm.list_predictors()} == {"sex", "species", "body_mass_g"}


def test_predictors_report_metrics(trained: dict[str, Any]) -> None:
    multi, binary, reg = trained["multi"], trained["binary"], trained["reg"]
    assert multi.status == "done" and binary.status == "done" and reg.status == "done"
    cls = multi.get_classification_metrics()["classification_metrics"]
    assert cls["accuracy"] > 0.8 and cls["macro_f1"] > 0.7 and cls["auc"] > 0.9
    assert binary.get_classification_metrics()["classification_metrics"]["auc"] > 0.7
    regm = reg.get_classification_metrics()["regression_metrics"]
    assert regm["r2"] > 0.5 and regm["rmse"] > 0 and regm["mae"] > 0
    final = reg.get_metrics()["training_metrics"]["final_metrics"]
    assert set(final) >= {"accuracy"} or set(final) >= {"rmse", "r2"}


def test_predict_and_batch_predict(trained: dict[str, Any]) -> None:
    result = trained["multi"].predict(RECORD)
    assert result.predicted_class in {"Adelie", "Chinstrap", "Gentoo"}
    assert abs(sum(result.probabilities.values()) - 1.0) < 1e-3
    assert 0.0 <= result.confidence <= 1.0
    assert result.send_feedback(ground_truth="Gentoo").send()["recorded"] is True
    reg = trained["reg"].predict({k: v for k, v in RECORD.items() if k != "body_mass_g"})
    assert isinstance(reg.prediction, float) and 2000 < reg.prediction < 8000
    batch = trained["binary"].batch_predict(trained["df"].drop(columns=["sex"]).head(12), show_progress=False)
    assert len(batch) == 12
    assert {r.predicted_class for r in batch} <= {"male", "female"}


def test_webhooks_delivered_signed_and_configurable(trained: dict[str, Any], receiver: Any) -> None:
    calls = _wait_for(lambda: [c for c in receiver.events("/sp") if c["json"]["event"] == "training_finished"])
    assert calls, "training_finished was never delivered"
    call = calls[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), call["raw"], hashlib.sha256).hexdigest()
    assert call["headers"]["X-Featrix-Signature"] == expected
    assert call["json"]["foundational_model_id"] == trained["fm"].id
    assert call["json"]["predictor_id"] == trained["binary"].id
    assert _wait_for(lambda: receiver.events("/fm"))
    binary = trained["binary"]
    binary.configure_webhooks(alert_drift="https://hooks.example.com/drift", webhook_secret="other")
    hooks = binary.get_webhooks()
    assert hooks.get("alert_drift") == "https://hooks.example.com/drift"
    assert "webhook_secret" not in hooks
    binary.disable_webhook("alert_drift")
    assert "alert_drift" not in binary.get_webhooks()


def test_endpoint_predict_and_key_rotation(client: Any, trained: dict[str, Any], featrixsphere: ModuleType) -> None:
    from featrixsphere.api.exceptions import FeatrixAuthenticationError

    endpoint = trained["multi"].create_api_endpoint(name="species-api", description="compat")
    assert endpoint.api_key and endpoint.api_key.startswith("fx_ep_")
    assert endpoint.predict(RECORD).predicted_class in {"Adelie", "Chinstrap", "Gentoo"}
    old_key = endpoint.api_key
    new_key = endpoint.regenerate_api_key()
    assert new_key != old_key
    with pytest.raises(FeatrixAuthenticationError):
        endpoint.predict(RECORD, api_key=old_key)
    assert endpoint.predict(RECORD).predicted_class
    fresh = client.api_endpoint(endpoint.id)
    assert fresh.usage_count == 2 and fresh.serving_predictor_id == trained["multi"].id
    assert endpoint.id in {e.id for e in client.list_api_endpoints()}
    endpoint.revoke_api_key()
    with pytest.raises(requests.HTTPError):
        endpoint.predict(RECORD, api_key=new_key)
    endpoint.delete()
    assert endpoint.id not in {e.id for e in client.list_api_endpoints()}


def test_vector_search(trained: dict[str, Any]) -> None:
    vdb = trained["fm"].create_vector_database(name="default")
    assert vdb.size() == len(trained["df"])
    results = vdb.similarity_search(RECORD, k=5)
    assert len(results) == 5
    top = results[0]
    assert top.get("record", top.get("original_data"))["island"] == "Biscoe"
    filtered = vdb.similarity_search(RECORD, k=3, where="island = 'Dream'")
    assert all(r["record"]["island"] == "Dream" for r in filtered)


def test_publish_deprecate_protect_delete(client: Any, trained: dict[str, Any]) -> None:
    fm, binary = trained["fm"], trained["binary"]
    fm.publish(name="compat-penguins", poll_interval=1)
    fm.deprecate(warning_message="superseded", expiration_date="2030-01-01T00:00:00+00:00")
    binary.set_deletion_protection(True)
    fm.set_deletion_protection(False)
    with pytest.raises(requests.HTTPError) as refused:
        fm.delete()
    assert refused.value.response.status_code == 409
    binary.set_deletion_protection(False)
    fm.delete()
    with pytest.raises(requests.HTTPError) as gone:
        client.foundational_model(fm.id)
    assert gone.value.response.status_code == 404

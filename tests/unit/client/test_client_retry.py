"""The retry table itself: which rule each outcome meets, and the decisions' budgets."""

from __future__ import annotations

import pytest

from featrix_iac.client.retry import (
    RULES,
    Action,
    Budget,
    Outcome,
    Transport,
    backoff,
    classify,
    decide,
    retry_after_seconds,
)

ORDINARY = Budget.for_request("/x", upload=False, timeout=30, max_retry_time=120, once=False)


@pytest.mark.parametrize(
    "outcome, rule",
    [
        (Outcome("GET", "/x", status=401), "auth"),
        (Outcome("GET", "/x", status=403, body={"detail": "stalled-node-busy"}), "auth"),
        (Outcome("GET", "/x", status=503, body={"detail": "NodeUpgradingException"}), "node_upgrading"),
        (
            Outcome("GET", "/x", status=500, body={"error": {"message": "node is currently upgrading"}}),
            "node_upgrading",
        ),
        (Outcome("POST", "/x", status=429, body={"quota_exceeded": True}), "quota_exceeded"),
        (Outcome("POST", "/s/predict", status=503, body={"status": "training_in_progress"}), "training_in_progress"),
        (Outcome("POST", "/x", status=409, body={"detail": "stalled-node-busy"}), "stalled_node_busy"),
        (Outcome("POST", "/x", status=409, body={"detail": "resource-already-exists"}), "other"),
        (Outcome("GET", "/x", status=502, body="<html>bad gateway</html>"), "transient_status"),
        (Outcome("GET", "/x", status=404), "other"),
        (Outcome("POST", "/endpoint/e/predict", transport=Transport.READ_TIMEOUT), "predict_sent_lost"),
        (Outcome("POST", "/s/predict_table", transport=Transport.DROPPED), "predict_sent_lost"),
        (Outcome("POST", "/s/predict", transport=Transport.CONNECT), "connect_error"),
        (Outcome("POST", "/endpoints", once=True, transport=Transport.READ_TIMEOUT), "sent_once_lost"),
        (Outcome("POST", "/endpoints", once=True, transport=Transport.CONNECT), "connect_error"),
        (Outcome("GET", "/x", transport=Transport.READ_TIMEOUT, upgrading=True), "transport_during_upgrade"),
        (Outcome("GET", "/x", transport=Transport.DROPPED), "transport_error"),
    ],
)
def test_classification(outcome: Outcome, rule: str) -> None:
    assert classify(outcome).name == rule


def test_rule_names_are_unique_and_the_table_ends_with_a_catch_all() -> None:
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    assert RULES[-1].when(Outcome("GET", "/x", status=418)) and RULES[-1].action is Action.RAISE


def test_backoff_sequence() -> None:
    assert [backoff(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]


@pytest.mark.parametrize(
    "raw, secs", [("5", 5.0), ("0", None), ("-1", None), ("abc", None), ("500", 120.0), (None, None)]
)
def test_retry_after(raw: str | None, secs: float | None) -> None:
    assert retry_after_seconds({"retry-after": raw} if raw is not None else {}) == secs


def test_budgets() -> None:
    upload = Budget.for_request(
        "/compute/upload_with_new_session/", upload=False, timeout=30, max_retry_time=120, once=False
    )
    assert (upload.timeout, upload.max_retry_time, upload.max_attempts) == (600, 1800, None)
    assert Budget.for_request("/x", upload=False, timeout=30, max_retry_time=120, once=True).max_attempts == 1
    assert (ORDINARY.timeout, ORDINARY.max_attempts) == (30, 5)


def test_decisions() -> None:
    busy = Outcome("GET", "/x", status=503)
    assert decide(busy, attempt=1, elapsed=0, budget=ORDINARY).delay == 2.0
    assert decide(busy, attempt=2, elapsed=0, budget=ORDINARY, retry_after=9).delay == 9.0
    assert decide(busy, attempt=5, elapsed=0, budget=ORDINARY).action is Action.RAISE
    assert decide(busy, attempt=2, elapsed=121, budget=ORDINARY).action is Action.RAISE
    up = Outcome("GET", "/x", status=503, body={"detail": "NodeUpgradingException"})
    assert decide(up, attempt=50, elapsed=1000, budget=ORDINARY).action is Action.WAIT
    assert decide(up, attempt=1, elapsed=1200, budget=ORDINARY).action is Action.RAISE
    lost = Outcome("POST", "/endpoints", once=True, transport=Transport.DROPPED)
    assert decide(lost, attempt=1, elapsed=0, budget=ORDINARY).action is Action.AMBIGUOUS

"""Webhook targets: a policy at upload and at delivery, and a pool so one hanging receiver delays no other."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fxserver_helpers import Api, Receiver

from featrix_iac.server.embedded import start_local_server
from featrix_iac.server.webhook_policy import TargetPolicy
from featrix_iac.server.webhooks import WebhookSender

REFUSED = [
    "file:///etc/passwd",
    "ftp://hooks.example.com/x",
    "gopher://hooks.example.com/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://[::ffff:169.254.169.254]/",
    "http://2852039166/",
    "http://0xa9.0xfe.0xa9.0xfe/",
    "http://169.254.1.1:8080/hook",
    "http://[fe80::1]/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://0.0.0.0:8080/",
    "https:///no-host",
]


@pytest.mark.parametrize("url", REFUSED)
def test_the_policy_refuses_non_http_link_local_and_metadata_targets(url: str) -> None:
    assert TargetPolicy(allow_loopback=True).refusal(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://localhost/x", "http://[::1]:80/", "http://127.1/"])
def test_loopback_needs_the_flag(url: str) -> None:
    assert TargetPolicy().refusal(url)
    assert TargetPolicy(allow_loopback=True).refusal(url) is None


def test_ordinary_targets_pass() -> None:
    for url in ("https://hooks.example.com/featrix", "http://10.1.2.3:8080/x", "https://[2001:db8::1]/"):
        assert TargetPolicy().refusal(url) is None, url


@pytest.mark.parametrize("url", ["file:///etc/passwd", "http://169.254.169.254/x", "http://[fe80::1]/"])
def test_refused_targets_are_a_400_when_stored(api: Api, penguins: Any, url: str) -> None:
    files = {"file": ("d.csv", penguins.head(20).to_csv(index=False).encode())}
    data = {"name": "policy", "epochs": "1", "webhooks": json.dumps({"training_finished": url})}
    resp = api.post("/compute/upload_with_new_session/", files=files, data=data)
    assert resp.status_code == 400, resp.text
    assert "training_finished" in resp.json()["detail"]


def test_refused_targets_are_a_400_on_configure_and_train(api: Api, trained: dict[str, Any]) -> None:
    sid = trained["sid"]
    hooks = {"training_finished": "http://169.254.169.254/"}
    resp = api.post(f"/compute/session/{sid}/configure_webhooks", json={"webhooks": hooks})
    assert resp.status_code == 400, resp.text
    body = {"target_column": "species", "target_column_type": "set", "epochs": 1, "webhooks": hooks}
    assert api.post(f"/compute/session/{sid}/train_predictor", json=body).status_code == 400


def test_a_server_without_the_flag_refuses_loopback(tmp_path: Path) -> None:
    with start_local_server(tmp_path / "strict", allow_loopback_webhooks=False) as srv:
        api = Api(srv.url, srv.api_key)
        files = {"file": ("d.csv", b"a,b\n1,2\n3,4\n")}
        data = {"name": "strict", "epochs": "1", "webhooks": '{"training_finished": "http://127.0.0.1:9/x"}'}
        resp = api.post("/compute/upload_with_new_session/", files=files, data=data)
        assert resp.status_code == 400, resp.text
        assert "loopback" in resp.json()["detail"]


@pytest.fixture()
def hanging() -> Iterator[str]:
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            release.wait(30)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    release.set()
    httpd.shutdown()


def test_a_hanging_receiver_does_not_delay_another(hanging: str, receiver: Receiver) -> None:
    sender = WebhookSender(TargetPolicy(allow_loopback=True))
    try:
        for i in range(3):
            sender.send({"training_started": f"{hanging}/slow{i}"}, "training_started", "s1", None, {})
        start = time.monotonic()
        sender.send({"training_finished": receiver.url + "/fast"}, "training_finished", "s1", None, {})
        assert receiver.delivered("/fast", timeout=10), "the fast receiver got nothing"
        assert time.monotonic() - start < 5
    finally:
        sender.stop()


def test_delivery_rechecks_the_policy(receiver: Receiver) -> None:
    sender = WebhookSender(TargetPolicy(allow_loopback=False))
    try:
        port = receiver.url.rsplit(":", 1)[1]
        sender.send({"training_finished": f"http://localhost:{port}/no"}, "training_finished", "s1", None, {})
        assert not receiver.delivered("/no", timeout=1.5)
    finally:
        sender.stop()

"""The golden-transcript machinery itself (no server): normalising, progress order, selectors, the secrets canary."""

from __future__ import annotations

from pathlib import Path

import pytest
from transcript import LITERAL, Run, ScriptError, normalise, progress_in_order, run_script, selected

EP1, EP2 = "ep_" + "a" * 32, "ep_" + "b" * 32
SESSION = "penguins-0f8fad5b-d9cb-469f-a165-70867728950e"


def test_the_same_id_keeps_its_number_and_what_varies_is_replaced(tmp_path: Path) -> None:
    lines = [
        f"endpoint_id = {EP1}",
        f"moved from {EP2} to {EP1} in {SESSION}",
        f"predict_url = http://127.0.0.1:41234/endpoint/{EP1}/predict in {tmp_path}/x",
        "key fx_ep_" + "Q" * 40 + " at 2026-12-01T18:11:02.5Z, created [12.3s], serial 17",
        LITERAL + f"$ sed -i '1s/a/b/' {tmp_path}",
    ]
    assert normalise(lines, root=tmp_path, server_url="http://127.0.0.1:41234").splitlines() == [
        "endpoint_id = <ep:1>",
        "moved from <ep:2> to <ep:1> in penguins-<id:1>",
        "predict_url = <server>/endpoint/<ep:1>/predict in <case>/x",
        "key <api-key> at <time>, created [<duration>], serial <n>",
        f"$ sed -i '1s/a/b/' {tmp_path}",  # a script line is echoed as written
    ]


def test_progress_keeps_each_addresss_events_in_address_order() -> None:
    lines = [
        "Plan: 2 to add.",
        "predictor.b: creating...",
        "predictor.a: creating...",
        "predictor.b: training running epoch 3/5 (60%)",
        "predictor.a: created [1.0s]",
        "predictor.b: FAILED: gated out",
        "Apply complete!",
    ]
    assert progress_in_order(lines) == [
        "Plan: 2 to add.",
        "predictor.a: creating...",
        "predictor.a: created [1.0s]",
        "predictor.b: creating...",
        "predictor.b: FAILED: gated out",
        "Apply complete!",
    ]


def test_selectors_read_paths_indices_and_counts() -> None:
    doc = '{"ok": true, "done": ["a", "b"], "gates": {"p": {"status": "waived"}}}'
    assert selected(doc, ["ok", "done.1", "gates.p.status", "done#", "missing.x"]) == [
        "ok = true",
        'done.1 = "b"',
        'gates.p.status = "waived"',
        "done# = 2",
        "missing.x = null",
    ]
    assert selected("not json", ["ok"]) == ["(not JSON)", "not json"]


def test_a_printed_key_or_one_in_clear_in_a_lockfile_is_a_leak(tmp_path: Path) -> None:
    run = Run(tmp_path, {}, server=None, secrets={"canary-secret"})
    run.check_secrets("all fine", "plan")
    assert run.leaks == []
    run.check_secrets("the canary-secret", "plan")
    run.check_secrets("fx_ep_" + "k" * 30, "show")
    (tmp_path / "featrix.lock").write_text('{"api_key": "fx_ep_' + "k" * 30 + '"}')
    run.check_secrets("", "apply")
    assert run.leaks == ["plan: printed a secret", "show: printed a secret", "apply: a secret in clear in featrix.lock"]


def test_a_broken_script_is_an_error_not_an_outcome(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match=r"\$NOPE is not set"):
        run_script("featrix plan --target $NOPE", tmp_path, {}, server=None)
    with pytest.raises(ScriptError, match="failed"):
        run_script("cp missing.yaml featrix.yaml", tmp_path, {"PATH": "/usr/bin:/bin"}, server=None)
    with pytest.raises(ScriptError, match="no closing EOF"):
        run_script("write a.txt <<EOF\nhello", tmp_path, {}, server=None)


def test_environment_and_heredoc_lines(tmp_path: Path) -> None:
    run = run_script(
        "# set up\nexport NAME=world\nwrite hello.txt <<EOF\nhello $NAME\nEOF\nunset NAME\ncat hello.txt",
        tmp_path,
        {"PATH": "/usr/bin:/bin"},
        server=None,
    )
    assert (tmp_path / "hello.txt").read_text() == "hello world\n"
    assert "NAME" not in run.env
    assert normalise(run.lines, root=tmp_path, server_url="-").splitlines() == [
        "# set up",
        "$ export NAME=world",
        "$ write hello.txt <<EOF",
        "$ unset NAME",
        "$ cat hello.txt",
        "hello world",
    ]

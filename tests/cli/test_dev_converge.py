"""`webhookctl dev` bringing emulator and state into agreement, with Terraform and the emulator faked."""
from __future__ import annotations

import json

import pytest

from cli import dev, stack_ops
from cli.errors import TerraformFailed
from cli.workspace import Workspace


@pytest.fixture
def session(project):
    ws = Workspace.open(project / "webhookctl.toml", "local")
    said: list[str] = []
    return dev.DevSession(ws=ws, log=said.append), said


@pytest.fixture
def emulator_side(monkeypatch):
    """The emulator as state_check sees it: what it holds, and every reset asked of it."""
    from local_runtime import state_check

    calls = {"resets": 0, "restore_pending": 0}
    world = {"mismatches": [], "fresh": True}

    def reset(endpoint, state_path):
        calls["resets"] += 1
        return {"pending": {}}

    def restore_pending(endpoint):
        calls["restore_pending"] += 1
        return {"restored": {"messages": 2}, "missing": []}

    monkeypatch.setattr(state_check, "reset_keeping_data", reset)
    monkeypatch.setattr(state_check, "restore_pending", restore_pending)
    monkeypatch.setattr(state_check, "state_mismatches", lambda *a, **k: world["mismatches"])
    monkeypatch.setattr(state_check, "is_fresh", lambda *a, **k: world["fresh"])
    return calls, world


def deploys(monkeypatch, *outcomes):
    """stack_ops.deploy answering each call with the next outcome (None: success)."""
    calls = []

    def fake(ws, confirm, log):
        calls.append(confirm)
        outcome = outcomes[len(calls) - 1]
        if outcome is not None:
            raise outcome

    monkeypatch.setattr(stack_ops, "deploy", fake)
    return calls


def test_a_deploy_that_hits_a_resource_the_state_lost_resets_and_applies_again(monkeypatch, session, emulator_side):
    s, said = session
    calls, _ = emulator_side
    conflict = TerraformFailed("terraform apply failed for environment 'local': ResourceConflictException: "
                               "Function already exist: webhooks-local-process")
    attempts = deploys(monkeypatch, conflict, None)
    dev._converge(s)
    assert attempts == [None, None] and calls == {"resets": 1, "restore_pending": 1}
    assert any(line.startswith("dev: the deploy to the emulator failed (") for line in said)
    assert "dev: data kept aside by the reset is back: {'messages': 2}" in said


def test_any_other_deploy_failure_is_reported_at_once(monkeypatch, session, emulator_side):
    s, _ = session
    calls, _ = emulator_side
    broken = TerraformFailed("terraform plan failed for environment 'local': Unsupported argument")
    attempts = deploys(monkeypatch, broken)
    with pytest.raises(TerraformFailed, match="Unsupported argument"):
        dev._converge(s)
    assert attempts == [None] and calls["resets"] == 0


def test_state_and_emulator_disagreeing_resets_before_the_deploy(monkeypatch, session, emulator_side):
    s, said = session
    calls, world = emulator_side
    s.ws.local_state_file.parent.mkdir(parents=True, exist_ok=True)
    s.ws.local_state_file.write_text(json.dumps({"resources": [
        {"mode": "managed", "type": "aws_sqs_queue", "name": "q", "instances": [{"attributes": {"name": "q"}}]}]}))
    world["mismatches"] = ["aws_sqs_queue.q: queue url x != y", "aws_dynamodb_table.t: missing"]
    deploys(monkeypatch, None)
    dev._converge(s)
    assert calls["resets"] == 1
    assert any("does not match the local state (aws_sqs_queue.q: queue url x != y, and 1 more)" in line
               for line in said)


def test_an_emulator_holding_resources_the_state_does_not_list_is_reset(monkeypatch, session, emulator_side):
    s, said = session
    calls, world = emulator_side
    world["fresh"] = False
    deploys(monkeypatch, None)
    dev._converge(s)
    assert calls["resets"] == 1 and any("holds resources the local state does not list" in line for line in said)


def test_describe_restore_says_what_came_back():
    assert dev.describe_restore({"restore": {"control_calls": 0, "data": {}}}) is None
    line = dev.describe_restore({"restore": {"control_calls": 72, "data": {"messages": 3, "items": 5},
                                             "seconds": 0.44, "control_errors": ["x"]}})
    assert line == "72 resource calls, 5 items, 3 messages in 0.4 s; 1 replayed call(s) failed"

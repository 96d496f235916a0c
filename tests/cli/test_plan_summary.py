"""The plan summary: per resource the action and Terraform's reason; a short table; `plan --json`/`--markdown`."""
from __future__ import annotations

import io
import json

import pytest
import tf_ui as ui

from cli.plan_summary import from_show_json, render

LOGS = "aws_cloudwatch_log_group.events_logs-audit-log_11C05552"
DASHBOARD = "aws_cloudwatch_dashboard.monitoring_dashboard_4CE328EF"
TARGET = "aws_cloudwatch_event_target.events_target-audit-log_5822399A"
SECRET = "aws_secretsmanager_secret.secrets_zoom_1A2B3C4D"
QUEUE = "aws_sqs_queue.ingest-queue_CE7EB37C"

# What `terraform show -json` said of a real plan against moto: a log group renamed (replaced), the
# dashboard removed from the configuration, two targets updated, plus a new secret and a queue in step.
SHOW = ui.show(
    (LOGS, ["delete", "create"], "replace_because_cannot_update", [["name"]],
     {"name": "/aws/events/audit-log"}, {"name": "/aws/events/audit-log-renamed"}),
    (DASHBOARD, ["delete"], "delete_because_no_resource_config"),
    (TARGET, ["update"], None, None, {"arn": "a", "input": None, "rule": "r"}, {"arn": "b", "input": None, "rule": "r"}),
    (SECRET, ["create"]),
    (QUEUE, ["no-op"]),
    ("data.aws_caller_identity.caller", ["read"]),
)


@pytest.fixture
def summary():
    return from_show_json(json.loads(SHOW), changed=True)


def test_each_change_has_its_action_and_terraforms_reason(summary):
    assert [(c.address, c.action, c.reason, c.attributes, c.why) for c in summary.changes] == [
        (LOGS, "replace", "replace_because_cannot_update", ("name",), "name cannot be changed in place"),
        (DASHBOARD, "delete", "delete_because_no_resource_config", (), "no longer in the configuration"),
        (TARGET, "update", None, ("arn",), None),
        (SECRET, "create", None, (), None),
    ]  # no-ops and data source reads are no changes


def test_counts_follow_terraform_a_replacement_is_one_add_and_one_destroy(summary):
    assert summary.counts() == {"add": 2, "change": 1, "destroy": 2, "replace": 1}
    assert summary.operations == 5
    assert summary.headline() == "Plan: 2 to add, 1 to change, 2 to destroy (1 replaced)."


def test_the_table_names_what_is_replaced_or_destroyed_and_why(summary):
    text = render(summary, stream=io.StringIO())
    lines = text.splitlines()
    assert lines[0] == "Plan: 2 to add, 1 to change, 2 to destroy (1 replaced)."
    assert lines[2].split() == ["add", "change", "destroy", "replace"]
    assert lines[3].split() == ["2", "1", "2", "1"]
    assert lines[5].split()[:2] == ["action", "resource"]
    assert lines[6].split(None, 2) == ["replace", LOGS, "name cannot be changed in place"]
    assert lines[7].split(None, 2) == ["delete", DASHBOARD, "no longer in the configuration"]
    assert len(lines) == 8  # adds and updates are counted, not listed


def test_a_destroy_plan_counts_its_deletions_without_listing_them():
    doc = json.loads(ui.show(*[(f"aws_sqs_queue.q{i}", ["delete"]) for i in range(40)]))
    summary = from_show_json(doc, destroy_plan=True, changed=True)
    assert summary.counts()["destroy"] == 40 and summary.named() == []
    assert len(render(summary, stream=io.StringIO()).splitlines()) == 4


def test_markdown_tables_for_a_job_summary(summary):
    text = render(summary, markdown=True)
    assert "| add | change | destroy | replace |\n|---:|---:|---:|---:|\n| 2 | 1 | 2 | 1 |" in text
    assert f"| replace | {LOGS} | name cannot be changed in place |" in text


def test_no_changes_and_outputs_only():
    assert render(from_show_json({})) == "No changes: the environment matches its configuration."
    assert from_show_json({}, changed=True).headline() == "Plan: no resource changes; only the stack's outputs change."


# --------------------------------------------------------------------------- the commands (fake Terraform)

PLAN_STREAM = ui.lines(ui.version(), ui.planned(LOGS, "replace", "cannot_update"), ui.planned(DASHBOARD, "delete"),
                       ui.planned(TARGET, "update"), ui.planned(SECRET, "create"), ui.summary(2, 1, 2, "plan"))


def test_plan_json_is_one_event_a_line_per_resource_then_the_counts(run_cli, fake_tf):
    fake_tf.answer("plan", returncode=2, stdout=PLAN_STREAM)
    fake_tf.answer("show", stdout=SHOW)
    result = run_cli("plan", "--json", "--detailed-exitcode")
    assert result.exit_code == 2
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0] == {"event": "planned", "address": LOGS, "resource_type": "aws_cloudwatch_log_group",
                         "action": "replace", "reason": "replace_because_cannot_update",
                         "why": "name cannot be changed in place", "attributes": ["name"]}
    assert [(e["address"], e["action"]) for e in events[1:4]] == [
        (DASHBOARD, "delete"), (TARGET, "update"), (SECRET, "create")]
    assert events[-1] == {"event": "plan", "add": 2, "change": 1, "destroy": 2, "replace": 1, "changes": True,
                          "operations": 5}
    assert "{" not in result.stderr  # people's progress on stderr, JSON only on stdout


def test_plan_prints_the_table_on_stdout_and_progress_on_stderr(run_cli, fake_tf):
    fake_tf.answer("plan", returncode=2, stdout=PLAN_STREAM)
    fake_tf.answer("show", stdout=SHOW)
    result = run_cli("plan")
    assert result.exit_code == 0
    assert result.stdout == render(from_show_json(json.loads(SHOW), changed=True), stream=io.StringIO()) + "\n"
    assert result.stderr.splitlines()[-1].startswith("plan: done in ")


def test_plan_markdown_and_json_are_one_or_the_other(run_cli, fake_tf):
    fake_tf.answer("plan", returncode=2, stdout=PLAN_STREAM)
    fake_tf.answer("show", stdout=SHOW)
    result = run_cli("plan", "--markdown")
    assert result.stdout.startswith("Plan: 2 to add, 1 to change, 2 to destroy (1 replaced).\n\n| add |")
    both = run_cli("plan", "--markdown", "--json")
    assert both.exit_code == 2 and "--json and --markdown both print the summary: choose one" in both.stderr


def test_deploy_json_events_count_what_the_plan_said(run_cli, fake_tf):
    fake_tf.answer("plan", returncode=2, stdout=PLAN_STREAM)
    fake_tf.answer("show", stdout=SHOW)
    fake_tf.answer("apply", stdout=ui.lines(
        ui.planned(LOGS, "replace"), ui.planned(DASHBOARD, "delete"), ui.planned(TARGET, "update"),
        ui.planned(SECRET, "create"),
        ui.start(LOGS, "delete"), ui.complete(LOGS, "delete"), ui.start(DASHBOARD, "delete"),
        ui.complete(DASHBOARD, "delete"), ui.start(LOGS), ui.complete(LOGS), ui.start(TARGET, "update"),
        ui.complete(TARGET, "update"), ui.start(SECRET), ui.complete(SECRET), ui.summary(2, 1, 2, "apply")))
    fake_tf.answer("output", stdout="{}")
    result = run_cli("deploy", "-y", "--json")
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds == ["planned"] * 4 + ["plan"] + ["start", "done"] * 5 + ["summary"]
    plan = events[4]
    assert kinds.count("done") == plan["operations"] == 5
    assert events[-1]["done"] == events[-1]["total"] == 5 and events[-1]["ok"] is True
    assert (events[-1]["add"], events[-1]["change"], events[-1]["destroy"]) == (plan["add"], plan["change"],
                                                                               plan["destroy"])
    # People still see the plan's table and the progress on stderr.
    assert "Plan: 2 to add, 1 to change, 2 to destroy (1 replaced)." in result.stderr
    assert "[5/5] aws_secretsmanager_secret.secrets_zoom_1A2B3C4D: Creation complete after 0s" in result.stderr


def test_deploy_json_with_nothing_to_do(run_cli, fake_tf):
    fake_tf.answer("plan", returncode=0, stdout=ui.lines(ui.summary(0, 0, 0, "plan")))
    events = [json.loads(line) for line in run_cli("deploy", "-y", "--json").stdout.splitlines()]
    assert [e["event"] for e in events] == ["plan", "summary"]
    assert events[0]["changes"] is False and events[1]["total"] == 0


def test_a_failed_deploy_ends_its_json_with_the_error(run_cli, fake_tf):
    fake_tf.answer("plan", returncode=1, stdout=ui.lines(ui.diagnostic("Invalid provider configuration")))
    result = run_cli("deploy", "-y", "--json")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events == [{"event": "diagnostic", "severity": "error", "summary": "Invalid provider configuration"},
                      {"event": "error", "message": "terraform plan failed for environment 'local': "
                                                    "Invalid provider configuration"}]
    assert result.exit_code == 1


def test_verbose_streams_terraforms_own_lines_unfiltered(run_cli, fake_tf):
    human = ('Terraform will perform the following actions:\n\n  # aws_api_gateway_integration.x will be created\n'
             '  + resource "aws_api_gateway_integration" "x" {\n      + integrationError = "x"\n    }\n\n'
             'Plan: 1 to add, 0 to change, 0 to destroy.\n')
    fake_tf.answer("plan", returncode=2, stdout=human)
    fake_tf.answer("show", stdout=ui.show(("aws_api_gateway_integration.x", ["create"])))
    fake_tf.answer("apply", stdout="aws_api_gateway_integration.x: Creating...\nApply complete! Resources: 1 added.\n")
    fake_tf.answer("output", stdout="{}")
    result = run_cli("deploy", "-y", "--verbose")
    assert result.exit_code == 0, result.output
    assert all("-json" not in argv for argv in fake_tf.argvs if argv[0] in ("plan", "apply"))
    assert human in result.stderr and "Apply complete! Resources: 1 added.\n" in result.stderr


def test_default_output_holds_no_plan_fragments(run_cli, fake_tf):
    """Terraform's JSON carries no diff lines, and nothing else of Terraform's reaches the screen."""
    fake_tf.answer("plan", returncode=2, stdout=PLAN_STREAM)
    fake_tf.answer("show", stdout=SHOW)
    fake_tf.answer("apply", stdout=ui.lines(ui.planned(SECRET, "create"), ui.start(SECRET), ui.complete(SECRET)))
    fake_tf.answer("output", stdout="{}")
    result = run_cli("deploy", "-y")
    for fragment in ("+ ", "integrationError", '"4XXError"', "metric_name", "{"):
        assert fragment not in result.stderr

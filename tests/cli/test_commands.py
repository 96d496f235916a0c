"""webhookctl commands against a fake Terraform: exact argv, exit codes, error lines, JSON."""
from __future__ import annotations

import json

import click
import pytest
import tf_ui as ui

from cli.main import cli

PLAN = ["plan", "-json", "-input=false", "-lock-timeout=0s", "-no-color", "-detailed-exitcode"]
INIT = ["init", "-input=false", "-reconfigure", "-no-color"]
SHOW = ["show", "-json", "-no-color", "local.tfplan"]
QUEUE = "aws_sqs_queue.ingest-queue_CE7EB37C"


def all_commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


@pytest.mark.parametrize("path", sorted(all_commands(cli)), ids=" ".join)
def test_every_command_has_help(run_cli, path):
    for flag in ("--help", "-h"):
        result = run_cli(*path, flag)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("Usage: ")
        assert len(result.stdout.splitlines()) > 3


def test_version(run_cli):
    result = run_cli("--version")
    assert result.exit_code == 0 and result.stdout.strip() == "webhookctl, version 0.1.0"


def test_unknown_environment_is_one_error_line(run_cli):
    result = run_cli("plan", "--env", "qa")
    assert result.exit_code == 1
    assert result.stderr == "Error: unknown environment 'qa' (known: dev, local, prod)\n"


def test_env_comes_from_WEBHOOKCTL_ENV(run_cli, fake_tf, project):
    result = run_cli("plan", env={"WEBHOOKCTL_ENV": "dev"})
    assert result.exit_code == 0, result.output
    assert fake_tf.calls[-1][1] == project / "cdktf.out" / "stacks" / "webhooks-dev"


def test_bad_config_is_one_error_naming_the_field(run_cli, project):
    text = (project / "webhookctl.toml").read_text().replace('scheme = "github"', 'scheme = "gitlub"')
    (project / "webhookctl.toml").write_text(text)
    result = run_cli("synth")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {project / 'webhookctl.toml'}: providers.github.scheme: must be one of:")
    assert "Traceback" not in result.output


def test_usage_errors_exit_2(run_cli):
    assert run_cli("state", "show").exit_code == 2
    assert run_cli("deploy", "--nope").exit_code == 2


def test_plan_runs_init_once_then_plan_in_the_stack_folder(run_cli, fake_tf, project):
    fake_tf.answer("plan", returncode=2, stdout=ui.lines(ui.planned(QUEUE, "create"), ui.summary(1, 0, 0, "plan")))
    fake_tf.answer("show", stdout=ui.show((QUEUE, ["create"])))
    assert run_cli("plan").exit_code == 0
    assert run_cli("plan", "--detailed-exitcode").exit_code == 2
    # The saved plan is read back (`show -json`) for the summary: each resource's action and reason.
    assert fake_tf.argvs == [INIT, [*PLAN, "-out=local.tfplan"], SHOW, [*PLAN, "-out=local.tfplan"], SHOW]
    args, cwd, env = fake_tf.calls[0]
    assert cwd == project / "cdktf.out" / "stacks" / "webhooks-local"
    assert env["CHECKPOINT_DISABLE"] == "1"
    assert env["TF_CLI_CONFIG_FILE"] == str(project / ".webhookctl" / "terraform.rc")
    # `local` talks to the emulator with emulator credentials, never a developer's profile.
    assert env["AWS_ACCESS_KEY_ID"] == "testing" and "AWS_PROFILE" not in env


def test_plan_detailed_exitcode_no_changes_is_0(run_cli, fake_tf):
    fake_tf.answer("plan", returncode=0, stdout=ui.lines(ui.summary(0, 0, 0, "plan")))
    result = run_cli("plan", "--detailed-exitcode")
    assert result.exit_code == 0
    assert result.stdout == "No changes: the environment matches its configuration.\n"
    assert "show" not in [argv[0] for argv in fake_tf.argvs]  # nothing to summarize


def test_each_environment_has_its_own_stack_folder_and_backend(run_cli, fake_tf, project):
    for env in ("dev", "prod"):
        assert run_cli("plan", "--env", env).exit_code == 0
    folders = {cwd for _, cwd, _ in fake_tf.calls}
    assert folders == {project / "cdktf.out" / "stacks" / "webhooks-dev", project / "cdktf.out" / "stacks" / "webhooks-prod"}
    assert [argv for argv in fake_tf.argvs if argv[0] == "init"] == [INIT, INIT]
    prod_env = fake_tf.calls[-1][2]
    assert prod_env["AWS_REGION"] == "eu-west-1"


def test_backend_change_reinitialises(run_cli, fake_tf, project):
    assert run_cli("plan").exit_code == 0
    stamp = project / "cdktf.out" / "stacks" / "webhooks-local" / ".terraform" / "webhookctl-backend.sha256"
    assert stamp.exists()
    stamp.write_text("another backend")
    assert run_cli("plan").exit_code == 0
    assert [argv[0] for argv in fake_tf.argvs] == ["init", "plan", "init", "plan"]


def test_plan_failure_keeps_terraforms_message(run_cli, fake_tf):
    fake_tf.answer("plan", returncode=1, stdout=ui.lines(ui.version(), ui.diagnostic(
        "Invalid provider configuration", "Provider \"registry.terraform.io/hashicorp/aws\" requires explicit "
        "configuration.")))
    result = run_cli("plan")
    assert result.exit_code == 1
    assert result.stderr.endswith(
        "Error: terraform plan failed for environment 'local': Invalid provider configuration\n"
    )


def test_plan_failure_in_terraforms_own_lines_keeps_its_message(run_cli, fake_tf):
    """--verbose runs Terraform in its human mode: the error line is read from its own lines."""
    fake_tf.answer("plan", returncode=1, stdout="╷\n│ Error: Invalid provider configuration\n│ \n╵")
    result = run_cli("plan", "--verbose")
    assert fake_tf.argvs[-1][:2] == ["plan", "-input=false"]  # no -json
    assert result.exit_code == 1
    assert "│ Error: Invalid provider configuration\n" in result.stderr  # its lines, unfiltered
    assert result.stderr.endswith(
        "Error: terraform plan failed for environment 'local': Invalid provider configuration\n"
    )


LOCK_DETAIL = (
    "Error message: operation error S3: PutObject, https response error StatusCode: 412, RequestID: 4QFSNV3M, "
    "HostID: abc, api error PreconditionFailed: At least one of the pre-conditions you specified did not hold\n"
    "Lock Info:\n  ID:        8d1c-22\n  Path:      bucket/webhookctl/dev.tfstate\n  Operation: OperationTypePlan\n"
    "  Who:       ci@runner\n  Version:   1.11.4\n  Created:   2026-11-29 08:00:00 UTC\n  Info:      \n\n\n"
    "Terraform acquires a state lock to protect the state from being written\nby multiple users at the same time.")


def test_held_lock_is_reported_clearly(run_cli, fake_tf):
    fake_tf.answer("plan", returncode=1, stdout=ui.lines(ui.version(), ui.diagnostic(
        "Error acquiring the state lock", LOCK_DETAIL)))
    result = run_cli("plan", "--env", "dev")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: terraform plan failed for environment 'dev': the state is locked by another run "
        "(lock 8d1c-22, held by ci@runner, since 2026-11-29 08:00:00 UTC); wait for it to finish, "
        "or if it died run `terraform force-unlock <ID>` in the stack folder"
    )


def test_deploy_applies_exactly_the_saved_plan(run_cli, fake_tf):
    fake_tf.answer("plan", returncode=2)
    result = run_cli("deploy", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert fake_tf.argvs[1:] == [
        [*PLAN, "-out=local.tfplan"],
        SHOW,  # the summary shown before applying
        ["apply", "-json", "-input=false", "-lock-timeout=0s", "-no-color", "local.tfplan"],
        ["output", "-json", "-no-color"],  # cached for send/status
    ]


def test_deploy_with_no_changes_applies_nothing(run_cli, fake_tf):
    fake_tf.answer("plan", returncode=0, stdout=ui.lines(ui.summary(0, 0, 0, "plan")))
    result = run_cli("deploy", "--auto-approve")
    assert result.exit_code == 0
    assert "apply" not in [argv[0] for argv in fake_tf.argvs]
    assert "webhooks-local is up to date, nothing to apply" in result.stderr


def test_deploy_asks_and_a_no_changes_nothing(run_cli, fake_tf):
    fake_tf.answer("plan", returncode=2)
    result = run_cli("deploy", input="n\n", env={"WEBHOOKCTL_ASSUME_TTY": "1"})
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "Error: deploy cancelled: nothing was changed"
    assert "apply" not in [argv[0] for argv in fake_tf.argvs]


def test_deploy_without_a_terminal_needs_auto_approve(run_cli, fake_tf):
    fake_tf.answer("plan", returncode=2)
    result = run_cli("deploy")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: no terminal to confirm on: rerun with --auto-approve to apply without asking"
    )


def test_failed_apply_is_one_line_with_terraforms_reason(run_cli, fake_tf):
    fake_tf.answer("plan", returncode=2)
    fake_tf.answer("show", stdout=ui.show((QUEUE, ["create"])))
    fake_tf.answer("apply", returncode=1, stdout=ui.lines(
        ui.planned(QUEUE, "create"), ui.start(QUEUE), ui.errored(QUEUE),
        ui.diagnostic("creating SQS Queue (x.fifo): AccessDenied", address=QUEUE)))
    result = run_cli("deploy", "-y")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[-1] == (
        "Error: terraform apply failed for environment 'local': creating SQS Queue (x.fifo): AccessDenied"
    )
    # The progress names the resource that failed, with Terraform's words and its reason.
    assert f"[0/1] {QUEUE}: Creation errored after 0s: creating SQS Queue (x.fifo): AccessDenied" in lines
    assert "apply: 0/1 resources FAILED in" in lines[-2]


def test_several_errors_name_the_first_and_count_the_rest(run_cli, fake_tf):
    fake_tf.answer("plan", returncode=1, stdout=ui.lines(
        ui.diagnostic("Unsupported argument", 'An argument named "nope" is not expected here.'),
        ui.diagnostic("Missing required argument"), ui.diagnostic("Invalid reference")))
    result = run_cli("plan")
    assert result.stderr.splitlines()[-1] == (
        "Error: terraform plan failed for environment 'local': Unsupported argument "
        "(and 2 more errors: --verbose shows them all)")


def test_a_terraform_that_dies_without_an_error_message_says_how_it_ended(run_cli, fake_tf):
    fake_tf.answer("apply", returncode=2, stdout="panic: runtime error: invalid memory address\n")
    fake_tf.answer("plan", returncode=2)
    result = run_cli("deploy", "-y")
    assert result.stderr.splitlines()[-1] == (
        "Error: terraform apply failed for environment 'local': terraform exited with code 2: "
        "panic: runtime error: invalid memory address")


def test_destroy_of_a_protected_environment_refuses_without_force(run_cli, fake_tf):
    result = run_cli("destroy", "--env", "prod", "--auto-approve")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: environment 'prod' is protected: destroy needs --force and typing its name to confirm\n"
    )
    assert fake_tf.calls == []


def test_destroy_of_a_protected_environment_needs_the_typed_name(run_cli, fake_tf):
    result = run_cli("destroy", "--env", "prod", "--force", input="dev\n")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "Error: confirmation did not match 'prod': nothing was destroyed"
    assert fake_tf.calls == []
    result = run_cli("destroy", "--env", "prod", "--force", input="prod\n")
    assert result.exit_code == 0, result.output
    assert fake_tf.argvs[-1] == ["destroy", "-json", "-auto-approve", "-input=false", "-lock-timeout=0s", "-no-color"]


def test_destroy_unprotected_with_auto_approve(run_cli, fake_tf):
    assert run_cli("destroy", "-y").exit_code == 0
    assert fake_tf.argvs[-1][0] == "destroy"


def test_outputs_json_is_one_document_on_stdout(run_cli, fake_tf):
    fake_tf.answer("output", stdout=json.dumps({
        "api_endpoint": {"value": "http://x/local", "type": "string", "sensitive": False},
        "dlq_url": {"value": "http://q", "type": "string", "sensitive": False},
    }))
    result = run_cli("outputs", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"api_endpoint": "http://x/local", "dlq_url": "http://q"}
    assert fake_tf.argvs[-1] == ["output", "-json", "-no-color"]


def test_outputs_before_deploy_says_so(run_cli, fake_tf):
    fake_tf.answer("output", stdout="{}")
    result = run_cli("outputs")
    assert result.stderr.splitlines()[-1] == (
        "Error: environment 'local' has no outputs: deploy it first (`webhookctl deploy --env local`)"
    )


def test_state_list_and_show(run_cli, fake_tf):
    fake_tf.answer("state", stdout="aws_s3_bucket.archive\naws_sqs_queue.queue\n")
    result = run_cli("state", "list", "--json")
    assert json.loads(result.stdout) == ["aws_s3_bucket.archive", "aws_sqs_queue.queue"]
    assert fake_tf.argvs[-1] == ["state", "list"]

    fake_tf.answer("show", stdout=json.dumps({"values": {"root_module": {"resources": [
        {"address": "aws_sqs_queue.queue", "values": {"fifo_queue": True}}]}}}))
    result = run_cli("state", "show", "aws_sqs_queue.queue", "--json")
    assert json.loads(result.stdout)["values"] == {"fifo_queue": True}
    result = run_cli("state", "show", "aws_sqs_queue.nope", "--json")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: 'aws_sqs_queue.nope' is not in the state of environment 'local' (no such resource); "
        "see `webhookctl state list --env local`"
    )


def test_state_show_text_uses_terraform_state_show(run_cli, fake_tf):
    fake_tf.answer("state", stdout='resource "aws_sqs_queue" "queue" {\n}\n')
    result = run_cli("state", "show", "aws_sqs_queue.queue")
    assert result.exit_code == 0
    assert fake_tf.argvs[-1] == ["state", "show", "-no-color", "aws_sqs_queue.queue"]
    assert result.stdout.startswith('resource "aws_sqs_queue"')


def test_missing_terraform_says_how_to_get_it(run_cli, project, monkeypatch):
    from cli import stack_ops

    monkeypatch.setattr(stack_ops, "check_reachable", lambda ws: None)
    monkeypatch.setattr(stack_ops, "synth", lambda ws, force=False, log=print: _write_stack(ws))
    monkeypatch.setenv("PATH", str(project))
    result = run_cli("plan")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith("Error: terraform not found on PATH: install Terraform 1.11")


def _write_stack(ws):
    ws.stack_dir.mkdir(parents=True, exist_ok=True)
    ws.stack_json.write_text('{"terraform": {"backend": {"local": {}}}}')


def test_local_environment_needs_a_running_emulator(run_cli, project, monkeypatch):
    from cli import stack_ops

    monkeypatch.setattr(stack_ops, "synth", lambda ws, force=False, log=print: _write_stack(ws))
    text = (project / "webhookctl.toml").read_text().replace("127.0.0.1:4566", "127.0.0.1:9")
    (project / "webhookctl.toml").write_text(text)
    result = run_cli("deploy", "-y")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: the emulator for environment 'local' is not running at http://127.0.0.1:9: start it with "
        "`webhookctl emulator start` (or run everything with `webhookctl dev`)"
    )


def test_real_aws_environment_without_credentials(run_cli, project, monkeypatch):
    from cli import stack_ops

    monkeypatch.setattr(stack_ops, "synth", lambda ws, force=False, log=print: _write_stack(ws))
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(project / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(project / "none"))
    result = run_cli("plan", "--env", "prod")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: no AWS credentials for environment 'prod': set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY), then check with `webhookctl doctor --env prod`"
    )


def test_unexpected_errors_are_one_line_not_a_traceback(run_cli, fake_tf, monkeypatch):
    from cli import stack_ops

    def boom(*a, **k):
        raise KeyError("surprise")

    monkeypatch.setattr(stack_ops, "tf_env", boom)
    result = run_cli("plan")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.splitlines()[-1] == (
        "Error: unexpected KeyError: 'surprise' (rerun with WEBHOOKCTL_DEBUG=1 for the traceback)"
    )


def test_doctor_json(run_cli, project):
    text = (project / "webhookctl.toml").read_text().replace("127.0.0.1:4566", "127.0.0.1:9")
    (project / "webhookctl.toml").write_text(text)
    result = run_cli("doctor", "--json")
    doc = json.loads(result.stdout)
    names = [c["name"] for c in doc["checks"]]
    assert names == ["python", "node", "terraform", "aws provider", "emulator"]
    assert doc["ok"] is False and result.exit_code == 1
    emulator = doc["checks"][-1]
    assert emulator["ok"] is False and "webhookctl emulator start" in emulator["fix"]


def test_doctor_finds_the_provider_mirror(run_cli, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "registry.terraform.io/hashicorp/aws/5.100.0").mkdir(parents=True)
    monkeypatch.setenv("WEBHOOKCTL_PROVIDER_MIRROR", str(mirror))
    doc = json.loads(run_cli("doctor", "--json").stdout)
    provider = next(c for c in doc["checks"] if c["name"] == "aws provider")
    assert provider["detail"] == f"5.100.0 from the local mirror {mirror}"

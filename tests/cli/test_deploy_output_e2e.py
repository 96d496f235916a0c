"""What deploy, plan and destroy show, with the real Terraform against the own_emulator, and the CI workflow of docs/ci.md.

One applied stack for the module (a full apply is ~65 s): deployed once with stderr on a
pseudo-terminal, then changed a little at a time (a provider added: a deploy into a pipe; removed
again: `deploy --json`; a resource tainted: `plan --json`, `plan --verbose`, and a deploy on a
terminal with NO_COLOR), planned as the documented CI workflow does, and destroyed with --json.
The tests run in file order and each leaves the stack as the next expects.
"""
from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import yaml

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]

WEBHOOKCTL = str(Path(sys.executable).parent / "webhookctl")
ROOT = Path(__file__).resolve().parents[2]
# Fragments of Terraform's human plan that used to leak into the default output.
PLAN_FRAGMENTS = ("integrationError", '"4XXError"', "metric_name", "+ resource", "~ update in-place")
ZOOM = '[providers.zoom]\nscheme = "zoom"\n'


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def webhookctl(project: Path, *args: str, tty: bool = False, env: dict | None = None, timeout: float = 600) -> Run:
    """Run webhookctl in the project; with tty, its stderr is a pseudo-terminal 200 columns wide."""
    environ = {**os.environ, "TERM": "xterm", "PYTHONUNBUFFERED": "1", **(env or {})}
    for name in ("COLUMNS", "NO_COLOR", "WEBHOOKCTL_ENV"):
        if name not in (env or {}):
            environ.pop(name, None)
    if not tty:
        proc = subprocess.run([WEBHOOKCTL, *args], cwd=project, env=environ, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        return Run(proc.returncode, proc.stdout, proc.stderr)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    proc = subprocess.Popen([WEBHOOKCTL, *args], cwd=project, env=environ, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    out = proc.communicate(timeout=timeout)[0]
    reader.join(10)
    os.close(master)
    # The terminal turns each "\n" into "\r\n": what is left of "\r" is the line rewritten in place.
    return Run(proc.returncode, out.decode(), b"".join(chunks).decode().replace("\r\n", "\n"))


def frames(text: str) -> list[str]:
    return [re.sub(r"\x1b\[[0-9;]*m", "", f) for f in re.split(r"[\r\n]", text) if f.strip()]


def events(run: Run) -> list[dict]:
    return [json.loads(line) for line in run.stdout.splitlines()]


def built_resources(project: Path) -> int:
    """How many resources the last synth of `local` holds: what a deploy from nothing adds."""
    doc = json.loads((project / "cdktf.out" / "stacks" / "webhooks-local" / "cdk.tf.json").read_text())
    return sum(len(resources) for resources in doc["resource"].values())


@pytest.fixture(scope="module")
def project(tmp_path_factory, project_root, own_emulator):
    folder = tmp_path_factory.mktemp("output-project")
    text = (project_root / "webhookctl.toml").read_text().replace("http://127.0.0.1:4566", own_emulator.endpoint)
    (folder / "webhookctl.toml").write_text(text)
    return folder


@pytest.fixture(scope="module")
def first_deploy(project):
    """The stack deployed from nothing, stderr on a terminal: what a person sees on a first deploy."""
    return webhookctl(project, "deploy", "-y", tty=True)


def set_zoom(project: Path, on: bool) -> None:
    config = project / "webhookctl.toml"
    text = config.read_text().replace(ZOOM, "")
    config.write_text(text + ("\n" + ZOOM if on else ""))


def test_a_first_deploy_on_a_terminal_rewrites_one_line_until_n_of_n(project, first_deploy):
    run = first_deploy
    assert run.code == 0, run.stderr[-3000:]
    total = int(re.search(r"Plan: (\d+) to add, 0 to change, 0 to destroy\.", run.stderr).group(1))
    assert total == built_resources(project)
    shown = frames(run.stderr)
    progress = [f for f in shown if f.startswith("apply ")]
    assert len(progress) > 50  # rewritten in place, many times, on one line
    assert f"apply: {total}/{total} resources done in" in run.stderr
    counts = [int(m.group(1)) for f in progress if (m := re.match(rf"apply (\d+)/{total} ·", f))]
    assert counts == sorted(counts) and counts[-1] == total  # it climbs to N/N
    # While the provider holds a slow resource, the line says which, for how long, and why.
    assert any("S3 lifecycle configuration archive_lifecycle: " in f and " of 55 s, the AWS provider's fixed wait "
               "whatever the endpoint" in f for f in progress)
    assert all(len(f.rstrip()) < 200 for f in shown)  # clipped to the terminal: never wraps
    assert "\x1b[" in run.stderr  # colour on a terminal
    for fragment in PLAN_FRAGMENTS:
        assert fragment not in run.stderr
    assert run.stdout == ""


def test_a_deploy_into_a_pipe_prints_plain_lines_with_counts(project, first_deploy):
    set_zoom(project, True)
    run = webhookctl(project, "deploy", "-y")
    assert run.code == 0, run.stderr[-3000:]
    lines = run.stderr.splitlines()
    steps = [line for line in lines if re.match(r"\[\d+/\d+\] ", line)]
    assert steps and all(re.match(r"\[\d/4\] aws_\S+: (Creation|Modifications) complete after \d+s$", s) for s in steps)
    assert [int(s[1]) for s in steps] == [1, 2, 3, 4]
    assert "aws_secretsmanager_secret.secrets_zoom_" in run.stderr
    assert re.search(r"^apply: 4/4 resources done in \d", run.stderr, re.M)
    assert "\r" not in run.stderr and "\x1b" not in run.stderr
    for fragment in PLAN_FRAGMENTS:
        assert fragment not in run.stderr


def test_deploy_json_events_parse_and_their_counts_match_the_plan(project, first_deploy):
    set_zoom(project, False)
    run = webhookctl(project, "deploy", "-y", "--json")
    assert run.code == 0, run.stderr[-3000:]
    got = events(run)
    planned = [e for e in got if e["event"] == "planned"]
    [plan] = [e for e in got if e["event"] == "plan"]
    done = [e for e in got if e["event"] == "done"]
    [summary] = [e for e in got if e["event"] == "summary"]
    assert [e["action"] for e in planned if e["resource_type"] == "aws_secretsmanager_secret"] == ["delete"]
    assert plan["operations"] == plan["add"] + plan["change"] + plan["destroy"] == len(done) == len(planned)
    assert summary["ok"] and summary["done"] == summary["total"] == len(done)
    assert (summary["add"], summary["change"], summary["destroy"]) == (plan["add"], plan["change"], plan["destroy"])
    assert {e["address"] for e in done} == {e["address"] for e in planned}
    assert [e["event"] for e in got if e["event"] not in ("planned", "start", "done")] == ["plan", "summary"]


def taint(project: Path, address: str) -> None:
    from cli.stack_ops import tf_env
    from cli.workspace import Workspace

    ws = Workspace.open(project / "webhookctl.toml", "local")
    subprocess.run(["terraform", "taint", address], cwd=ws.stack_dir, env=tf_env(ws), check=True, capture_output=True)


def log_group(project: Path) -> str:
    run = webhookctl(project, "state", "list")
    return next(a for a in run.stdout.split() if a.startswith("aws_cloudwatch_log_group.events_logs-audit-log"))


def test_plan_json_gives_the_action_and_the_reason_for_a_replacement(project, first_deploy):
    address = log_group(project)
    taint(project, address)
    run = webhookctl(project, "plan", "--json", "--detailed-exitcode")
    assert run.code == 2, run.stderr[-3000:]
    got = events(run)
    assert got[0] == {"event": "planned", "address": address, "resource_type": "aws_cloudwatch_log_group",
                      "action": "replace", "reason": "replace_because_tainted",
                      "why": "tainted: an earlier apply failed part-way through it, or it was marked for replacement"}
    plan = got[-1]
    # The event targets that name the log group's ARN change with it.
    assert plan == {"event": "plan", "add": 1, "change": plan["change"], "destroy": 1, "replace": 1, "changes": True,
                    "operations": 2 + plan["change"]}
    assert [e["action"] for e in got[1:-1]] == ["update"] * plan["change"]
    table = webhookctl(project, "plan")
    assert table.stdout.splitlines()[0] == f"Plan: 1 to add, {plan['change']} to change, 1 to destroy (1 replaced)."
    assert re.search(rf"^replace\s+{re.escape(address)}\s+tainted: ", table.stdout, re.M)


def test_verbose_shows_terraforms_own_lines(project, first_deploy):
    run = webhookctl(project, "plan", "--verbose")
    assert run.code == 0, run.stderr[-3000:]
    assert "is tainted, so must be replaced" in run.stderr  # Terraform's own plan, unfiltered
    assert re.search(r"^Plan: 1 to add, \d+ to change, 1 to destroy\.$", run.stderr, re.M)
    assert "Refreshing state..." in run.stderr


def test_no_color_on_a_terminal_gives_no_escape_codes(project, first_deploy):
    run = webhookctl(project, "deploy", "-y", tty=True, env={"NO_COLOR": "1"})
    assert run.code == 0, run.stderr[-3000:]
    assert "\x1b" not in run.stderr
    assert "\r" in run.stderr  # still one line rewritten in place
    assert re.search(r"apply: (\d+)/\1 resources done in", run.stderr)


# --------------------------------------------------------------------------- the CI workflow of docs/ci.md

GITHUB_SHELL = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]  # GitHub's `shell: bash`
NOT_RUN = {"Install webhookctl"}  # the test's own venv already has this checkout installed (editable)


def documented_workflow() -> dict:
    text = (ROOT / "docs" / "ci.md").read_text()
    block = re.search(r"<!-- ci-workflow -->\n```yaml\n(.*?)\n```", text, re.S).group(1)
    return yaml.safe_load(block)


def condition(expr: str | None, outputs: dict[str, dict[str, str]], event: str) -> bool:
    """The few `if:` forms the workflow uses; anything else fails the test rather than pass unseen."""
    if expr is None:
        return True
    if m := re.fullmatch(r"github\.event_name == '([^']*)'", expr):
        return event == m.group(1)
    if m := re.fullmatch(r"steps\.(\w+)\.outputs\.(\w+) == '([^']*)'", expr):
        return outputs.get(m.group(1), {}).get(m.group(2)) == m.group(3)
    raise AssertionError(f"the test cannot evaluate `if: {expr}`: teach condition() or simplify the workflow")


def run_job(project: Path, environment: str, event: str, tmp: Path) -> tuple[int | None, str, list[str]]:
    """Run the plan job's steps as GitHub would: (the failing step's exit code or None, the job summary, steps run)."""
    job = documented_workflow()["jobs"]["plan"]
    env = {k: str(v).replace("${{ matrix.environment }}", environment) for k, v in job["env"].items()}
    summary, outputs_file = tmp / "summary.md", tmp / "output"
    summary.write_text("")
    outputs: dict[str, dict[str, str]] = {}
    ran: list[str] = []
    for step in job["steps"]:
        if not condition(step.get("if"), outputs, event):
            continue
        if "uses" in step:
            if "path" in step.get("with", {}):  # an action posting a file: it must be there
                assert (project / step["with"]["path"]).is_file()
            continue
        if step["name"] in NOT_RUN:
            continue
        assert "${{" not in step["run"]  # values reach scripts through env, never pasted into the script
        outputs_file.write_text("")
        step_env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **env,
                    "GITHUB_OUTPUT": str(outputs_file), "GITHUB_STEP_SUMMARY": str(summary),
                    "GITHUB_EVENT_NAME": event}
        step_env.pop("NO_COLOR", None)
        proc = subprocess.run([*GITHUB_SHELL, "-c", step["run"]], cwd=project, env=step_env, capture_output=True,
                              text=True, timeout=600)
        ran.append(step["name"])
        if "id" in step:
            outputs[step["id"]] = dict(line.split("=", 1) for line in outputs_file.read_text().splitlines() if line)
        if proc.returncode != 0:
            return proc.returncode, summary.read_text(), ran
    return None, summary.read_text(), ran


def test_the_documented_ci_workflow_against_the_emulator(project, first_deploy, own_emulator, tmp_path):
    workflow = documented_workflow()
    assert workflow["permissions"]["id-token"] == "write"  # OIDC, no stored keys
    job = workflow["jobs"]["plan"]
    assert job["strategy"]["matrix"]["environment"] == ["dev", "prod"]
    uses = {s["uses"].split("@")[0]: s.get("with", {}) for s in job["steps"] if "uses" in s}
    assert uses["aws-actions/configure-aws-credentials"]["role-to-assume"] == "${{ vars.WEBHOOKCTL_PLAN_ROLE_ARN }}"
    assert uses["hashicorp/setup-terraform"]["terraform_wrapper"] is False

    # Nothing changed since the last deploy: the job passes and says so, on a pull request too.
    failed, summary, ran = run_job(project, "local", "pull_request", tmp_path)
    assert failed is None and ran == ["Synth", "Plan"]
    assert summary == ("### webhookctl plan: `local`\n\n"
                       "No changes: the environment matches its configuration.\n")
    # Drift: someone deleted a log group behind Terraform's back. The nightly run fails, and says what.
    logs = boto3.client("logs", endpoint_url=own_emulator.endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")
    logs.delete_log_group(logGroupName="/aws/events/webhooks-local-bus/audit-log")
    failed, summary, ran = run_job(project, "local", "schedule", tmp_path)
    assert failed == 1 and ran == ["Synth", "Plan", "Fail on drift"]
    # The group comes back; the targets naming its ARN update with it.
    assert re.search(r"^Plan: 1 to add, \d+ to change, 0 to destroy\.$", summary, re.M)
    assert "| add | change | destroy | replace |\n|---:|---:|---:|---:|\n| 1 |" in summary
    assert webhookctl(project, "deploy", "-y").code == 0  # put it back for the next test


def test_destroy_json_counts_every_resource_and_leaves_nothing(project, first_deploy):
    run = webhookctl(project, "destroy", "-y", "--json")
    assert run.code == 0, run.stderr[-3000:]
    got = events(run)
    [plan] = [e for e in got if e["event"] == "plan"]
    done = [e for e in got if e["event"] == "done"]
    assert plan["destroy"] == plan["operations"] == len(done) == built_resources(project)
    assert all(e["action"] == "delete" for e in done)
    assert got[-1]["event"] == "summary" and got[-1]["done"] == got[-1]["total"] == len(done)
    assert re.search(rf"^destroy: {len(done)}/{len(done)} resources done in", run.stderr, re.M)
    assert webhookctl(project, "state", "list").stdout == ""

"""plan, deploy, destroy, outputs and state inspection of one environment's stack.

Plain functions over a Workspace; click commands in cli/main.py are shims.
Terraform always runs in the synthesized stack folder, through cli/terraform.py.
"""
from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from handlers.contract import StackOutputs

from . import terraform
from .errors import TerraformFailed, WebhookctlError
from .synth import synth
from .workspace import Workspace

if TYPE_CHECKING:  # progress and plan_summary load only when a command runs Terraform
    from .plan_summary import PlanSummary
    from .progress import View

Log = Callable[[str], None]

LOCK_TIMEOUT = "-lock-timeout=0s"  # a held lock is reported at once, never waited on silently


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def tf_env(ws: Workspace) -> dict[str, str]:
    cli_config = terraform.write_cli_config(ws.work_dir)
    env = terraform.terraform_env(cli_config)
    for key, value in ws.aws_env.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def check_reachable(ws: Workspace) -> None:
    """Fail early, in one line, when the environment cannot be reached at all."""
    if ws.env.is_emulated:
        from local_runtime.emulator import is_moto

        if not is_moto(ws.env.emulator_endpoint):
            raise WebhookctlError(
                f"the emulator for environment '{ws.env.name}' is not running at {ws.env.emulator_endpoint}: "
                f"start it with `webhookctl emulator start` (or run everything with `webhookctl dev`)"
            )
        return
    from .aws import require_credentials

    require_credentials(ws)


def _backend_signature(ws: Workspace) -> str:
    doc = json.loads(ws.stack_json.read_text())
    backend = doc.get("terraform", {}).get("backend", {})
    return hashlib.sha256(json.dumps(backend, sort_keys=True).encode()).hexdigest()


def init(ws: Workspace, env: dict[str, str], log: Log = _stderr, view: View | None = None) -> None:
    """`terraform init` once per backend configuration (the stamp lives in .terraform/).

    Its lines are shown only with --verbose; a failure is one line with Terraform's reason."""
    stamp = ws.stack_dir / ".terraform" / "webhookctl-backend.sha256"
    signature = _backend_signature(ws)
    if stamp.exists() and stamp.read_text() == signature:
        return
    if ws.env.backend.type == "local":
        ws.local_state_file.parent.mkdir(parents=True, exist_ok=True)
    log(f"terraform: init ({ws.env.backend.type} backend)")
    result = terraform.run(["init", "-input=false", "-reconfigure", "-no-color"], ws.stack_dir, env,
                           on_line=view.raw if view is not None else None)
    if result.returncode != 0:
        raise TerraformFailed(f"terraform init failed for environment '{ws.env.name}': {_tf_error(result.stdout)}")
    stamp.parent.mkdir(exist_ok=True)
    stamp.write_text(signature)


def prepare(ws: Workspace, *, force_synth: bool = False, log: Log = _stderr, view: View | None = None) -> dict[str, str]:
    """Synth (cached), check the environment is reachable, init. Returns Terraform's environment."""
    synth(ws, force=force_synth, log=log)
    check_reachable(ws)
    env = tf_env(ws)
    init(ws, env, log, view)
    if ws.env.backend.type == "local":
        terraform.release_stale_lock(ws.stack_dir, ws.local_state_file, log)
    return env


def _default_view(**kwargs) -> View:
    from .progress import for_command

    return for_command(**kwargs)


def _watched(ws: Workspace, env: dict[str, str], args: list[str], operation: str, view: View,
             ok_codes: tuple[int, ...] = (0,), plan_events: bool = False):
    """Run one Terraform operation, its messages shown by `view` while it runs (`-json` unless the
    view wants Terraform's own lines). Returns (the tracker, the result); a failure raises one line."""
    from .progress import Tracker

    argv = [args[0], "-json", *args[1:]] if view.machine_ui else list(args)  # flags before the plan file
    tracker = Tracker(view.event, operation, raw=view.raw, plan_events=plan_events)
    view.begin(operation)
    outcome = "failed"
    try:
        result = terraform.run(argv, ws.stack_dir, env, on_line=tracker)
        outcome = "ok" if result.returncode in ok_codes else "failed"
    except KeyboardInterrupt:  # Ctrl-C, and SIGTERM (cli.children.Terminated)
        outcome = "interrupted"
        raise
    finally:
        tracker.finish(outcome)
        view.end(outcome)
    if outcome != "ok":
        message = f"terraform {operation} failed for environment '{ws.env.name}': {_reason(tracker, result)}"
        view.event({"event": "error", "message": message})
        raise TerraformFailed(message)
    return tracker, result


def _reason(tracker, result) -> str:
    """Terraform's first error (the lock case made actionable), how many more, or how it ended."""
    reason = _tf_error(tracker.error_text())
    more = len({d.get("summary") for d in tracker.errors}) - 1
    if more > 0:
        reason += f" (and {more} more error{'s' if more > 1 else ''}: --verbose shows them all)"
    if not tracker.errors and not _ERROR_IN.search(tracker.error_text()):
        reason = f"terraform exited with code {result.returncode}" + (
            f": {tracker.stray[-1].strip()}" if tracker.stray else " (rerun with --verbose to see its output)")
    return reason


def plan(ws: Workspace, *, destroy: bool = False, log: Log = _stderr, view: View | None = None) -> PlanSummary:
    """terraform plan into the environment's plan file, summarized (shown by `view`; has_changes: exit code 2)."""
    from .plan_summary import PlanSummary

    view = view if view is not None else _default_view()
    env = prepare(ws, log=log, view=view)
    args = ["plan", "-input=false", LOCK_TIMEOUT, "-no-color", "-detailed-exitcode", f"-out={ws.plan_file.name}"]
    if destroy:
        args.insert(1, "-destroy")
    _, result = _watched(ws, env, args, "plan", view, ok_codes=(0, 2))
    summary = read_plan(ws, env, destroy=destroy) if result.returncode == 2 else PlanSummary(destroy_plan=destroy)
    view.plan(summary)
    return summary


def read_plan(ws: Workspace, env: dict[str, str], *, destroy: bool = False) -> PlanSummary:
    """The saved plan's resource changes, with Terraform's reasons (`terraform show -json <planfile>`)."""
    from .plan_summary import from_show_json

    result = terraform.run(["show", "-json", "-no-color", ws.plan_file.name], ws.stack_dir, env, capture=True)
    if result.returncode != 0:
        raise TerraformFailed(f"terraform show failed for environment '{ws.env.name}': "
                              f"{_tf_error(result.stderr or result.stdout)}")
    try:
        doc = json.loads(result.stdout or "{}")
    except ValueError:
        raise TerraformFailed(f"terraform show printed no JSON for the plan of environment '{ws.env.name}'") from None
    return from_show_json(doc, destroy_plan=destroy, changed=True)


def apply_plan(ws: Workspace, env: dict[str, str], view: View) -> None:
    """Apply exactly the saved plan that was shown."""
    try:
        _watched(ws, env, ["apply", "-input=false", LOCK_TIMEOUT, "-no-color", ws.plan_file.name], "apply", view)
    finally:
        ws.plan_file.unlink(missing_ok=True)


def deploy(ws: Workspace, *, confirm: Callable[[str], bool] | None, log: Log = _stderr,
           view: View | None = None) -> bool:
    """Plan, show, confirm (unless confirm is None: --auto-approve), apply that plan. True if applied."""
    from .bootstrap import check_apigateway_logging_role

    view = view if view is not None else _default_view(plan_stream=sys.stderr)
    check_apigateway_logging_role(ws)  # on AWS: without the account's role the stage fails mid-apply
    summary = plan(ws, log=log, view=view)
    if not summary.has_changes:
        ws.plan_file.unlink(missing_ok=True)
        view.event({"event": "summary", "operation": "apply", "ok": True, "interrupted": False, "done": 0,
                    "total": 0, "failed": 0, "add": 0, "change": 0, "destroy": 0, "seconds": 0.0})
        log(f"deploy: {ws.stack} is up to date, nothing to apply")
        return False
    if confirm is not None and not confirm(f"Apply this plan to environment '{ws.env.name}'?"):
        ws.plan_file.unlink(missing_ok=True)
        raise WebhookctlError("deploy cancelled: nothing was changed")
    env = tf_env(ws)
    apply_plan(ws, env, view)
    _save_outputs(ws, _read_outputs(ws, env))
    log(f"deploy: {ws.stack} applied")
    return True


def destroy(ws: Workspace, *, log: Log = _stderr, view: View | None = None) -> None:
    view = view if view is not None else _default_view()
    env = prepare(ws, log=log, view=view)
    _watched(ws, env, ["destroy", "-auto-approve", "-input=false", LOCK_TIMEOUT, "-no-color"], "destroy", view,
             plan_events=True)  # destroy plans and applies in one run: its plan comes from the run itself
    _outputs_cache(ws).unlink(missing_ok=True)


def outputs(ws: Workspace, log: Log = _stderr) -> dict:
    values = _read_outputs(ws, prepare(ws, log=log))
    if not values:
        raise WebhookctlError(f"environment '{ws.env.name}' has no outputs: deploy it first (`webhookctl deploy --env {ws.env.name}`)")
    _save_outputs(ws, values)
    return values


def _read_outputs(ws: Workspace, env: dict[str, str]) -> dict:
    result = terraform.run(["output", "-json", "-no-color"], ws.stack_dir, env, capture=True)
    if result.returncode != 0:
        raise TerraformFailed(f"terraform output failed: {_tf_error(result.stderr or result.stdout)}")
    return {name: item.get("value") for name, item in json.loads(result.stdout or "{}").items()}


def _outputs_cache(ws: Workspace) -> Path:
    return ws.work_dir / f"outputs-{ws.env.name}.json"


def _save_outputs(ws: Workspace, values: dict) -> None:
    ws.work_dir.mkdir(parents=True, exist_ok=True)
    _outputs_cache(ws).write_text(json.dumps(values, indent=2, sort_keys=True))


def known_outputs(ws: Workspace, log: Log = _stderr) -> StackOutputs:
    """Outputs as of the last deploy (no Terraform run); falls back to `terraform output`."""
    try:
        values = json.loads(_outputs_cache(ws).read_text())
    except (OSError, ValueError):
        values = outputs(ws, log)
    try:
        return StackOutputs.from_dict(values)
    except KeyError as exc:
        raise WebhookctlError(
            f"environment '{ws.env.name}' was deployed by another version ({exc.args[0]}): "
            f"run `webhookctl deploy --env {ws.env.name}`"
        ) from None


def state_list(ws: Workspace, log: Log = _stderr) -> list[str]:
    env = prepare(ws, log=log)
    result = terraform.run(["state", "list"], ws.stack_dir, env, capture=True)
    if result.returncode != 0:
        raise TerraformFailed(f"terraform state list failed: {_tf_error(result.stderr or result.stdout)}")
    return [line for line in result.stdout.splitlines() if line.strip()]


def state_show(ws: Workspace, address: str, *, as_json: bool, log: Log = _stderr) -> str | dict:
    env = prepare(ws, log=log)
    if not as_json:
        result = terraform.run(["state", "show", "-no-color", address], ws.stack_dir, env, capture=True)
        if result.returncode != 0:
            raise WebhookctlError(_not_in_state(ws, address, result.stderr or result.stdout))
        return result.stdout
    result = terraform.run(["show", "-json", "-no-color"], ws.stack_dir, env, capture=True)
    if result.returncode != 0:
        raise TerraformFailed(f"terraform show failed: {_tf_error(result.stderr or result.stdout)}")
    for resource in _resources(json.loads(result.stdout or "{}").get("values", {}).get("root_module", {})):
        if resource.get("address") == address:
            return resource
    raise WebhookctlError(_not_in_state(ws, address, ""))


def _resources(module: dict):
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from _resources(child)


def _not_in_state(ws: Workspace, address: str, detail: str) -> str:
    reason = _tf_error(detail) if detail.strip() else "no such resource"
    return f"'{address}' is not in the state of environment '{ws.env.name}' ({reason}); see `webhookctl state list --env {ws.env.name}`"


_ERROR_LINE = re.compile(r"^[\s│╷╵]*Error:\s*(.+?)\s*$")
_ERROR_IN = re.compile(r"(?m)^[\s│╷╵]*Error:")


def _tf_error(output: str) -> str:
    """Terraform's own first `Error:` line (kept verbatim), with the lock case made actionable."""
    errors = [m.group(1) for line in output.splitlines() if (m := _ERROR_LINE.match(line))]
    if any("acquiring the state lock" in e for e in errors):
        # The "Lock Info:" block's own lines, not e.g. an AWS "RequestID:" in the same output.
        lock_id = re.search(r"(?m)^[\s│]*ID:\s+(\S+)", output)
        who = re.search(r"(?m)^[\s│]*Who:\s+(\S+)", output)
        since = re.search(r"(?m)^[\s│]*Created:\s+(.+?)\s*$", output)
        return (
            "the state is locked by another run"
            + (f" (lock {lock_id.group(1)}" if lock_id else " (")
            + (f", held by {who.group(1)}" if who else "")
            + (f", since {since.group(1).strip()}" if since else "")
            + "); wait for it to finish, or if it died run `terraform force-unlock <ID>` in the stack folder"
        )
    return errors[0] if errors else "see Terraform's output above"

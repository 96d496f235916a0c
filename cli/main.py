"""webhookctl: define, deploy and operate the webhook pipeline, per environment.

Each command is a thin shim over a plain function; heavy imports (boto3, cdktf)
happen inside those functions so `webhookctl --help` stays instant.
"""
from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

import click

from .errors import WebhookctlError
from .options import CONTEXT_SETTINGS, env_option, json_option

VERSION = "0.1.0"


def _progress(line: str) -> None:
    click.echo(line, err=True)


def _emit_json(doc) -> None:
    click.echo(json.dumps(doc, indent=2, sort_keys=True, default=str))


def _workspace(config_path: str, env_name: str):
    from .workspace import Workspace

    return Workspace.open(config_path, env_name)


class Group(click.Group):
    """Turns unexpected exceptions into one line (the traceback with WEBHOOKCTL_DEBUG=1)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:  # the last line of defence: never a raw traceback
            if os.environ.get("WEBHOOKCTL_DEBUG"):
                traceback.print_exc()
            raise WebhookctlError(
                f"unexpected {type(exc).__name__}: {exc} (rerun with WEBHOOKCTL_DEBUG=1 for the traceback)"
            ) from None


@click.group(cls=Group, context_settings=CONTEXT_SETTINGS)
@click.version_option(VERSION, "--version", "-V", prog_name="webhookctl")
def cli():
    """Receive webhooks on your own AWS account.

    Every command takes --env (default `local`: the embedded emulator).
    Start with `webhookctl dev`, then `webhookctl send stripe`.
    """


# ---------------------------------------------------------------- infrastructure


@cli.command()
@env_option
@json_option
@click.option("--force", is_flag=True, help="Synthesize even if nothing changed.")
def synth(env_name, config_path, as_json, force):
    """Write the stack's Terraform JSON into cdktf.out/stacks/<stack>/."""
    from .synth import synth as do_synth

    result = do_synth(_workspace(config_path, env_name), force=force, log=_progress)
    if as_json:
        _emit_json(result)
    else:
        click.echo(result["path"])


def _terraform_output(events_help: str):
    """--json (events on stdout) and --verbose (Terraform's own lines), for commands that run Terraform."""

    def decorate(fn):
        fn = click.option("--verbose", "-v", is_flag=True,
                          help="Stream everything Terraform prints, unfiltered, on stderr.")(fn)
        return click.option("--json", "as_json", is_flag=True, help=events_help)(fn)

    return decorate


def _view(as_json: bool, verbose: bool, *, plan_stream=None, markdown: bool = False):
    from .progress import for_command

    return for_command(as_json=as_json, verbose=verbose, markdown=markdown, plan_stream=plan_stream)


@cli.command()
@env_option
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 when there are no changes, 2 when there are (for CI drift checks), 1 on error.")
@click.option("--destroy", "plan_destroy", is_flag=True, help="Plan the destruction of the stack instead.")
@_terraform_output("One JSON event per line on stdout: each resource's planned action (and the reason for a "
                   "replacement or a deletion), then the counts.")
@click.option("--markdown", is_flag=True, help="The summary as Markdown tables (a CI job summary, a PR comment).")
def plan(env_name, config_path, detailed_exitcode, plan_destroy, as_json, verbose, markdown):
    """Show what deploy would change (terraform plan): a short table of adds, changes and destroys,
    naming each replaced or destroyed resource and why."""
    from .stack_ops import plan as do_plan

    if as_json and markdown:
        raise click.UsageError("--json and --markdown both print the summary: choose one")
    view = _view(as_json, verbose, plan_stream=None if as_json else sys.stdout, markdown=markdown)
    summary = do_plan(_workspace(config_path, env_name), destroy=plan_destroy, log=_progress, view=view)
    sys.exit(2 if detailed_exitcode and summary.has_changes else 0)


@cli.command()
@env_option
@click.option("--auto-approve", "-y", is_flag=True, help="Apply without asking (CI).")
@_terraform_output("One JSON event per line on stdout: the plan, each resource started, done or failed, "
                   "then the summary.")
def deploy(env_name, config_path, auto_approve, as_json, verbose):
    """Plan, then apply exactly that plan (asks first unless --auto-approve).

    Progress shows on stderr: one line rewritten in place on a terminal, plain lines elsewhere."""
    from .stack_ops import deploy as do_deploy

    ws = _workspace(config_path, env_name)
    confirm = None if auto_approve else _confirm_or_refuse
    do_deploy(ws, confirm=confirm, log=_progress, view=_view(as_json, verbose, plan_stream=sys.stderr))


def _confirm_or_refuse(question: str) -> bool:
    if not sys.stdin.isatty() and not os.environ.get("WEBHOOKCTL_ASSUME_TTY"):
        raise WebhookctlError("no terminal to confirm on: rerun with --auto-approve to apply without asking")
    return click.confirm(question, default=False, err=True)


@cli.command()
@env_option
@click.option("--force", is_flag=True, help="Required to destroy a protected environment.")
@click.option("--auto-approve", "-y", is_flag=True, help="Do not ask (unprotected environments only).")
@_terraform_output("One JSON event per line on stdout: each resource started, done or failed, then the summary.")
def destroy(env_name, config_path, force, auto_approve, as_json, verbose):
    """Destroy every resource of the environment's stack."""
    from .stack_ops import destroy as do_destroy

    ws = _workspace(config_path, env_name)
    if ws.env.protect:
        if not force:
            raise WebhookctlError(
                f"environment '{ws.env.name}' is protected: destroy needs --force and typing its name to confirm"
            )
        typed = click.prompt(f"Type the environment name ({ws.env.name}) to destroy it", default="",
                             show_default=False, err=True)
        if typed.strip() != ws.env.name:
            raise WebhookctlError(f"confirmation did not match '{ws.env.name}': nothing was destroyed")
    elif not auto_approve and not _confirm_or_refuse(f"Destroy every resource of '{ws.stack}'?"):
        raise WebhookctlError("destroy cancelled: nothing was changed")
    do_destroy(ws, log=_progress, view=_view(as_json, verbose))
    _progress(f"destroy: {ws.stack} destroyed")


@cli.command()
@env_option
@json_option
def outputs(env_name, config_path, as_json):
    """The stack's outputs (API endpoint, table, bucket, queue, bus, functions)."""
    from .stack_ops import outputs as do_outputs

    values = do_outputs(_workspace(config_path, env_name), log=_progress)
    if as_json:
        _emit_json(values)
        return
    from .output import key_values

    click.echo(key_values({k: values[k] for k in sorted(values)}))


@cli.group(context_settings=CONTEXT_SETTINGS)
def state():
    """Inspect the environment's Terraform state."""


@state.command("list")
@env_option
@json_option
def state_list(env_name, config_path, as_json):
    """Every resource address in the state."""
    from .stack_ops import state_list as do_list

    addresses = do_list(_workspace(config_path, env_name), log=_progress)
    if as_json:
        _emit_json(addresses)
    else:
        for address in addresses:
            click.echo(address)


@state.command("show")
@click.argument("address")
@env_option
@json_option
def state_show(address, env_name, config_path, as_json):
    """One resource's attributes, e.g. aws_sqs_queue.queue_fifo_...."""
    from .stack_ops import state_show as do_show

    result = do_show(_workspace(config_path, env_name), address, as_json=as_json, log=_progress)
    if as_json:
        _emit_json(result)
    else:
        click.echo(result, nl=False)


@cli.command()
@env_option
@json_option
def bootstrap(env_name, config_path, as_json):
    """Create the S3 bucket for an environment's remote state (safe to run twice)."""
    from .bootstrap import bootstrap as do_bootstrap

    result = do_bootstrap(_workspace(config_path, env_name), log=_progress)
    if as_json:
        _emit_json(result)


@cli.command()
@env_option
@json_option
def doctor(env_name, config_path, as_json):
    """Check node, terraform, the provider mirror, credentials and the emulator."""
    from .doctor import as_dicts, run_checks

    checks = run_checks(_workspace(config_path, env_name))
    if as_json:
        _emit_json({"ok": all(c.ok for c in checks), "checks": as_dicts(checks)})
    else:
        for check in checks:
            mark = "ok  " if check.ok else "FAIL"
            click.echo(f"{mark} {check.name}: {check.detail}" + (f"\n     -> {check.fix}" if check.fix and not check.ok else ""))
    failed = [c.name for c in checks if not c.ok]
    if failed:
        raise WebhookctlError(f"{len(failed)} check(s) failed: {', '.join(failed)}")



# ---------------------------------------------------------------- emulator


@cli.group(context_settings=CONTEXT_SETTINGS)
def emulator():
    """Run the local AWS emulator in the background (for step-by-step work on `local`)."""


@emulator.command("start")
@env_option
def emulator_start(env_name, config_path):
    """Start the emulator on the environment's emulator_endpoint."""
    from .emulator_cmd import start

    start(_workspace(config_path, env_name), _progress)


@emulator.command("stop")
@env_option
def emulator_stop(env_name, config_path):
    """Stop this project's emulator, whichever command started it (its journal keeps the data)."""
    from .emulator_cmd import stop

    stop(_workspace(config_path, env_name), _progress)


@emulator.command("status")
@env_option
@json_option
def emulator_status(env_name, config_path, as_json):
    """Is the emulator answering?"""
    from .emulator_cmd import status

    result = status(_workspace(config_path, env_name))
    if as_json:
        _emit_json(result)
    else:
        click.echo(f"{'running' if result['running'] else 'not running'} at {result['endpoint']}")
    if not result["running"]:
        sys.exit(1)


# ---------------------------------------------------------------- day-2 operations


@cli.group(context_settings=CONTEXT_SETTINGS)
def secrets():
    """Manage the providers' signing secrets (stored in Secrets Manager, never in config or state)."""


@secrets.command("set")
@click.argument("provider", required=False)
@env_option
@click.option("--keep-previous", is_flag=True, help="Keep the current secret active too (rotation).")
@click.option("--route", "route", metavar="NAME",
              help="Set an http route's credential instead (API key, password or OAuth client secret).")
def secrets_set(provider, env_name, config_path, keep_previous, route):
    """Read PROVIDER's signing secret from stdin (one line, kept exactly: spaces included, only the
    line end dropped) and store it; in effect for the next request.

    With --route NAME instead of PROVIDER: the credential EventBridge sends to that http route
    (stored by EventBridge in Secrets Manager, never in config or Terraform state)."""
    from .operations import secret_line, set_secret

    if (provider is None) == (route is None):
        raise click.UsageError("give either PROVIDER or --route NAME")
    if route is not None and keep_previous:
        raise click.UsageError("--keep-previous is for provider secrets: a route's connection holds one credential")
    value = secret_line(click.get_text_stream("stdin").read())
    ws = _workspace(config_path, env_name)
    if route is not None:
        from .targets import set_route_secret

        set_route_secret(ws, route, value, log=_progress)
        return
    set_secret(ws, provider, value, keep_previous=keep_previous, log=_progress)


@cli.command()
@click.argument("webhook_id")
@env_option
@json_option
def status(webhook_id, env_name, config_path, as_json):
    """The record of one delivery: status, attempts, S3 key, timestamps."""
    from .operations import delivery_status
    from .stack_ops import known_outputs

    ws = _workspace(config_path, env_name)
    record = delivery_status(ws, webhook_id, known_outputs(ws, _progress).table_name)
    if as_json:
        _emit_json(record)
        return
    from .output import key_values

    click.echo(key_values(record))


@cli.command()
@click.argument("provider")
@env_option
@json_option
@click.option("--file", "-f", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Send this payload instead of the built-in sample.")
@click.option("--url", help="Base URL of the ingest API (default: `webhookctl dev`'s, or the stack's api_endpoint).")
def send(provider, env_name, config_path, as_json, file, url):
    """Sign a sample (or --file) payload with PROVIDER's scheme and secret, and POST it."""
    from .send import send as do_send

    result = do_send(_workspace(config_path, env_name), provider, file=file, url=url, secret=None)
    if as_json:
        _emit_json(result)
    else:
        click.echo(f"{result['status']} {json.dumps(result['response'])}  ({result['milliseconds']} ms, {result['url']})")
    if result["status"] >= 400:
        reason = result["response"].get("message") or result["response"].get("error") or "see the response"
        raise WebhookctlError(f"{provider} webhook was rejected with HTTP {result['status']}: {reason}")


# ---------------------------------------------------------------- embedded default


@cli.command()
@env_option
@click.option("--port", "-p", default=3000, show_default=True, type=click.IntRange(1, 65535),
              help="Loopback port for the ingest API.")
@click.option("--visibility-timeout", default=5, show_default=True, type=click.IntRange(1, 43200),
              help="Seconds before a failed message is received again (local redrive; AWS uses the queue's).")
@click.option("--no-self-test", is_flag=True, help="Skip sending one signed webhook through at start.")
def dev(env_name, config_path, port, visibility_timeout, no_self_test):
    """Run the whole pipeline locally: emulator, deploy, ingest API on 127.0.0.1, processor.

    No AWS account needed. Ctrl-C stops everything.
    """
    from .dev import serve

    serve(_workspace(config_path, env_name), port=port, log=_progress, out=click.echo,
          visibility_timeout=visibility_timeout, self_test=not no_self_test)


@cli.command()
@env_option
@click.option("--port", "-p", default=8787, show_default=True, type=click.IntRange(0, 65535),
              help="Loopback port for the console (0: any free port).")
@click.option("--no-open", is_flag=True, help="Print the URL only; do not open a browser.")
def console(env_name, config_path, port, no_open):
    """The local web console on 127.0.0.1: the pipeline at a glance, deliveries, replay, DLQ and redrive.

    Prints its URL with a random token (required on every request). Ctrl-C stops it."""
    from .console import serve

    serve(_workspace(config_path, env_name), port=port, open_browser=not no_open, log=_progress, out=click.echo)

@cli.command()
@env_option
@json_option
@click.option("--provider", "providers", multiple=True, help="Only this provider (repeatable; default: all).")
@click.option("--since", help="Received at or after (ISO-8601; default: 24 hours ago).")
@click.option("--until", help="Received at or before (ISO-8601; default: now).")
@click.option("--status", default="processed", show_default=True,
              type=click.Choice(["processed", "failed", "queued", "received", "any"]), help="Only records in this status.")
@click.option("--max", "limit", default=1000, show_default=True, type=click.IntRange(1, 100000))
@click.option("--dry-run", is_flag=True, help="Only list what would be published.")
def replay(env_name, config_path, as_json, providers, since, until, status, limit, dry_run):
    """Publish archived deliveries to the bus again (marked "replayed": true)."""
    from .replay import replay as do_replay

    result = do_replay(_workspace(config_path, env_name), providers=providers, since=since, until=until,
                       status=None if status == "any" else status, limit=limit, dry_run=dry_run, log=_progress)
    if as_json:
        _emit_json(result)
    else:
        for webhook_id in result["webhook_ids"]:
            click.echo(webhook_id)


@cli.group(context_settings=CONTEXT_SETTINGS)
def dlq():
    """Inspect the dead-letter queue and move its messages back."""


TARGET_OPTION = click.option("--target", "target", metavar="ROUTE",
                             help="A route's target DLQ: the events that route's target never took.")


@dlq.command("list")
@env_option
@json_option
@click.option("--max", "limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@TARGET_OPTION
def dlq_list(env_name, config_path, as_json, limit, target):
    """The messages in the DLQ: which deliveries failed processing (--target: which events a route missed)."""
    from .output import Column, table

    ws = _workspace(config_path, env_name)
    ids = [Column("webhook_id", "webhook id", min_width=12), Column("provider"), Column("event_type", "event type")]
    if target is not None:
        from .dlq import target_dlq_list

        messages = target_dlq_list(ws, target, limit=limit, log=_progress)
        columns = [*ids, Column("error_code", "error"), Column("exhausted", "retries exhausted by"),
                   Column("retry_attempts", "retries", align="right")]
    else:
        from .dlq import dlq_list as do_list

        messages = do_list(ws, limit=limit, log=_progress)
        columns = [*ids, Column("received_at", "received", min_width=10),
                   Column("receive_count", "receives", align="right")]
    if as_json:
        _emit_json(messages)
        return
    if not messages:
        _progress("dlq: empty")
        return
    click.echo(table(messages, columns))


@dlq.command("redrive")
@env_option
@json_option
@click.option("--max", "limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@click.option("--dry-run", is_flag=True, help="Only list what would be moved.")
@TARGET_OPTION
def dlq_redrive(env_name, config_path, as_json, limit, dry_run, target):
    """Move DLQ messages back to the ingest queue (their records back to `queued`); with --target,
    put a route's dead-lettered events back on the bus for that route's target alone."""
    ws = _workspace(config_path, env_name)
    if target is not None:
        from .dlq import target_dlq_redrive

        moved = target_dlq_redrive(ws, target, limit=limit, dry_run=dry_run, log=_progress)
    else:
        from .dlq import dlq_redrive as do_redrive

        moved = do_redrive(ws, limit=limit, dry_run=dry_run, log=_progress)
    if as_json:
        _emit_json(moved)


@cli.command()
@env_option
@json_option
@click.option("--per-month", default=1_000_000, show_default=True, type=click.IntRange(1, 10 ** 12),
              help="Webhooks accepted a month.")
@click.option("--payload-kb", default=5.0, show_default=True, type=click.FloatRange(0, 10 * 1024),
              help="Average body size in KB.")
@click.option("--records-per-batch", type=click.FloatRange(1, 10),
              help="Records per process invocation (default: the config's batch_size, as in bursts; 1 for a trickle).")
@click.option("--measured", is_flag=True, help="Use last month's CloudWatch metrics of the deployed environment instead of --per-month.")
@click.option("--prices", "prices_path", type=click.Path(dir_okay=False),
              help="JSON file of prices replacing the built-in us-east-1 table (see cli/prices.py).")
@click.option("--free-tier", is_flag=True, help="Credit AWS's always-free allowances (an account running nothing else).")
def cost(env_name, config_path, as_json, per_month, payload_kb, records_per_batch, measured, prices_path, free_tier):
    """The environment's monthly AWS cost, itemized per service (usage, storage, fixed)."""
    from .cost import cost as do_cost, render

    result = do_cost(_workspace(config_path, env_name), per_month=per_month, payload_kb=payload_kb,
                     records_per_batch=records_per_batch, measured=measured, prices_path=prices_path, log=_progress,
                     free_tier=free_tier)
    if as_json:
        _emit_json(result.as_dict())
    else:
        click.echo(render(result))


# ---------------------------------------------------------------- operate it (issue 12)


@cli.group(context_settings=CONTEXT_SETTINGS)
def events():
    """Find deliveries and look inside one."""


@events.command("list")
@env_option
@json_option
@click.option("--provider", "providers", multiple=True, help="Only this provider (repeatable; default: all).")
@click.option("--type", "event_type", help="Only this event type (exactly as recorded, e.g. charge.succeeded).")
@click.option("--status", type=click.Choice(["queued", "processed", "failed", "received"]), help="Only this status.")
@click.option("--since", help="Received at or after: ISO-8601, or a duration ago (30m, 1h, 2d). Default: 24h.")
@click.option("--until", help="Received at or before (same forms). Default: now.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000), help="Deliveries per page.")
@click.option("--next", "cursor", help="The cursor a previous page printed: the next page of the same listing.")
def events_list(env_name, config_path, as_json, providers, event_type, status, since, until, limit, cursor):
    """Deliveries, newest first. With --json: one object a line, then {"next": CURSOR} when more match."""
    from .events import list_columns, list_events, table_rows
    from .output import table

    page = list_events(_workspace(config_path, env_name), providers=providers, event_type=event_type, status=status,
                       since=since, until=until, limit=limit, cursor=cursor, log=_progress)
    if as_json:
        for row in page["events"]:
            click.echo(json.dumps(row, sort_keys=True))
        if page["next"]:
            click.echo(json.dumps({"next": page["next"]}))
        return
    if page["events"]:
        click.echo(table(table_rows(page["events"]), list_columns(), width=100))
    else:
        _progress(f"events: no deliveries received between {page['since']} and {page['until']}")
    if page["next"]:
        _progress(f"events: more: webhookctl events list --next {page['next']}")


@events.command("show")
@click.argument("webhook_id")
@env_option
@json_option
@click.option("--raw", is_flag=True, help="Write the exact archived bytes to stdout, nothing else.")
@click.option("--verify", "verify", is_flag=True,
              help="Re-check the stored signature against the provider's current secrets (no tolerance window).")
def events_show(webhook_id, env_name, config_path, as_json, raw, verify):
    """One delivery: its record, the headers stored to re-verify it, and its payload."""
    from . import events as ev

    ws = _workspace(config_path, env_name)
    if raw:
        if as_json or verify:
            raise click.UsageError("--raw writes the bytes alone: use it without --json and --verify")
        click.get_binary_stream("stdout").write(ev.raw_event(ws, webhook_id))
        return
    clients: dict = {}
    shown = ev.show_event(ws, webhook_id, clients=clients)
    check = ev.verify_event(ws, webhook_id, clients=clients) if verify else None
    if as_json:
        _emit_json({**shown, **({"verification": check} if check else {})})
        return
    click.echo(ev.render_show(shown))
    if check:
        click.echo("\n" + ev.render_verification(check))


@cli.command()
@click.argument("provider", required=False)
@click.argument("event_type", required=False)
@env_option
@json_option
@click.option("--list", "show_list", is_flag=True, help="Show the catalog (PROVIDER's events, or every provider's).")
@click.option("--set", "sets", multiple=True, metavar="PATH=VALUE",
              help="Change a field: dotted path, list items by index, the value as JSON (else text). Repeatable.")
@click.option("--file", "-f", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Send this body instead (EVENT_TYPE then fills the provider's type header).")
@click.option("--redeliver", metavar="ID", help="Send an earlier delivery again (webhook id or the provider's "
                                                "delivery id): same bytes, same delivery id, signed anew.")
@click.option("--url", help="Base URL of the ingest API (default: `webhookctl dev`'s, or the stack's api_endpoint).")
def trigger(provider, event_type, env_name, config_path, as_json, show_list, sets, file, redeliver, url):
    """Send a realistic, signed PROVIDER event from the catalog (default: its first EVENT_TYPE)."""
    from . import trigger as tr

    ws = _workspace(config_path, env_name)
    if show_list:
        rows = tr.listing(ws, provider)
        if as_json:
            _emit_json(rows)
        else:
            from .output import Column, table

            click.echo(table(rows, [Column("provider", min_width=6), Column("event_type", "event type", min_width=12),
                                    Column("default"), Column("summary", min_width=20)]))
        return
    if provider is None:
        raise click.UsageError("give PROVIDER (or --list)")
    result = tr.trigger(ws, provider, event_type, sets=sets, file=file, redeliver=redeliver, url=url)
    if as_json:
        _emit_json(result)
    else:
        what = f"{provider} {result['event_type'] or 'event'}" + (" (redelivered)" if redeliver else "")
        click.echo(f"{result['status']} {json.dumps(result['response'])}  {what}  ({result['milliseconds']} ms, "
                   f"{result['url']})")
    if result["status"] >= 400:
        reason = result["response"].get("message") or result["response"].get("error") or "see the response"
        raise WebhookctlError(f"{provider} event was rejected with HTTP {result['status']}: {reason}")


@cli.command()
@click.argument("args", nargs=-1, metavar="[ingest|process] [ID]...")
@env_option
@json_option
@click.option("--since", help="From: ISO-8601, or a duration ago (30m, 1h, 2d). Default: 1h.")
@click.option("--grep", help="Only lines containing this text.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until Ctrl-C.")
def logs(args, env_name, config_path, as_json, since, grep, follow):
    """The functions' logs (both by default): on AWS their CloudWatch Logs, on `local` what `webhookctl dev`'s
    in-process handlers logged. An ID (webhook id or the provider's delivery id) shows that delivery's lines.
    With --json: one object a line."""
    import threading

    from . import logs as lg

    ws = _workspace(config_path, env_name)
    functions, ids = lg.select_functions(args)
    match = lg.matcher(ws, since=since, grep=grep, ids=ids)

    def show(line) -> None:
        text = json.dumps(line.as_dict(), sort_keys=True) if as_json else lg.human(line)
        if text is not None:
            click.echo(text)

    for line in lg.lines(ws, functions, match):
        show(line)
    if follow:
        stop = threading.Event()
        try:
            for line in lg.follow(ws, functions, match, stop):
                show(line)
        except KeyboardInterrupt:
            stop.set()


@cli.command()
@env_option
@json_option
@click.option("--forward-to", "url", metavar="URL", help="Where to POST each event's detail, e.g. http://localhost:3000/hook.")
@click.option("--name", help="The listener's name (default: <user>-<host>); the same name resumes its queue.")
@click.option("--provider", "providers", multiple=True, help="Only this provider's events (repeatable).")
@click.option("--type", "types", multiple=True, help="Only this event type (repeatable).")
@click.option("--filter", "pattern_json", metavar="JSON", help="An EventBridge event pattern instead of --provider/--type.")
@click.option("--keep", is_flag=True, help="On Ctrl-C keep the queue and rule: events wait for the next listen --name.")
@click.option("--replay-since", metavar="WHEN", help="First forward the archived deliveries since then (30m, 2d, ISO).")
@click.option("--cleanup", is_flag=True, help="Remove stale listeners (or the one named by --name), then exit.")
@click.option("--stale-after", default="24h", show_default=True, help="With --cleanup: idle for longer than this.")
@click.option("--poll-seconds", default=10, type=click.IntRange(0, 20), hidden=True)  # listen.WAIT_SECONDS
def listen(env_name, config_path, as_json, url, name, providers, types, pattern_json, keep, replay_since, cleanup,
           stale_after, poll_seconds):
    """Forward the bus's events to a local URL through a queue of this listener's own: nothing is lost
    while the receiver or the laptop is down. Each POST is signed Standard Webhooks style with a secret
    printed at start; a message is deleted only after a 2xx."""
    from . import listen as ls

    ws = _workspace(config_path, env_name)
    if cleanup:
        rows = ls.cleanup(ws, name=name, stale_after=stale_after, log=_progress)
        if as_json:
            _emit_json(rows)
        elif rows:
            from .output import Column, table

            click.echo(table(rows, [Column("name"), Column("owner"), Column("last_seen", "last seen"),
                                    Column("pending", align="right"), Column("removed")]))
        else:
            _progress("listen: no listeners in this environment")
        return
    if not url:
        raise click.UsageError("give --forward-to URL (or --cleanup)")
    pattern = ls.event_pattern(providers, types, pattern_json)

    def report(result) -> None:
        if as_json:
            click.echo(json.dumps(result.as_dict(), sort_keys=True))
        elif result.ok:
            click.echo(f"{result.status}  {result.provider}  {result.event_type or '-'}  {result.webhook_id}"
                       + ("  (replayed)" if result.replayed else ""))
        elif result.replayed:
            _progress(f"listen: replayed {result.webhook_id} not taken ({result.error}); replays are tried once")
        else:
            _progress(f"listen: {result.webhook_id} not taken ({result.error}): it stays queued, retried with backoff")

    ls.serve(ws, url, name=name, pattern=pattern, keep=keep, replay_since=replay_since, log=_progress,
             report=report, wait_seconds=poll_seconds)


@cli.command("stats")
@env_option
@json_option
@click.option("--since", help="Count deliveries received since: ISO-8601, or a duration ago (30m, 1h, 2d). Default: 24h.")
@click.option("--until", help="...and until (same forms). Default: now.")
@click.option("--provider", "providers", multiple=True, help="Only this provider (repeatable; default: all).")
def stats_command(env_name, config_path, as_json, since, until, providers):
    """Deliveries per provider and status, the oldest still queued, the queues' and DLQs' depths, and what
    each route's target delivered, failed and dead-lettered."""
    from .stats import render, stats

    doc = stats(_workspace(config_path, env_name), since=since, until=until, providers=providers, log=_progress)
    if as_json:
        _emit_json(doc)
    else:
        click.echo(render(doc))


def main() -> None:  # pragma: no cover - console entry alias
    cli()

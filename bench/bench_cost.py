"""`webhookctl cost` for the committed config, before and after issue 14, item by item.

    .venv/bin/python bench/bench_cost.py [--env prod] [--per-month 1000000] [--payload-kb 5]

"After" is the product's own model (cli/cost.py, `DESIGN`: what the handlers do now, checked
against them by tests/handlers/test_cost_model_facts.py). "Before" is the same model with the
design of main at e646c4f, written here only (never in the product):

- ingest: 4 calls (PutItem `received`, PutObject, SendMessage, UpdateItem `queued`), so 3
  table writes per webhook with process's UpdateItem, plus the index;
- process: a GetObject for every inline-size payload (the message carried none);
- X-Ray: the API stage traced by X-Ray's default rule (1 a second, then 5%) and both
  functions Active, process sampling its own invocations the same way;
- logs: Lambda's start and report lines on every invocation (~0.5 KB), ingest's log line
  and its EMF document apart (with the unread `received` metric), one line per processed
  record, the longer access log line; EventBridge's own archive of every event (30 days);
- fixed: the `received` metric per provider, the status-update alarm.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cli import cost  # noqa: E402
from cli.prices import US_EAST_1  # noqa: E402

BEFORE = dataclasses.replace(
    cost.DESIGN,
    ingest_calls=("PutItem", "PutObject", "SendMessage", "UpdateItem"),
    table_writes_per_webhook=3,
    carries_payload=False,
    api_sampling_rule=False,
    platform_log_bytes=520 + 2 * 26,
    eventbridge_archive=True,
    ingest_log_bytes=690, ingest_log_events=2,
    process_batch_log_bytes=256, process_batch_log_events=1,
    process_record_log_bytes=207 + 26,
    access_log_bytes=457,
    ingest_ms=80.0, process_batch_ms=40.0, process_record_ms=16.0,
    pointer_bytes=261,
    stack_alarms=8, provider_metrics=3,
)


def before_config(config):
    """The committed config as main had it: EventBridge kept every event 30 days."""
    return dataclasses.replace(config, archive=dataclasses.replace(config.archive, eventbridge_archive_days=30))


def table(config, env, per_month: int, payload: int, batch: float) -> tuple[str, dict]:
    usage = cost.usage_from_config(config, per_month, payload, batch)
    after = cost.estimate(config, env, usage, US_EAST_1)
    before = cost.estimate(before_config(config), env, usage, US_EAST_1, design=BEFORE)
    rows = {}
    for est, column in ((before, 0), (after, 1)):
        for item in est.items:
            rows.setdefault((item.kind, item.service, _label(item.item)), [0.0, 0.0])[column] += item.monthly
    lines = ["| kind | service | item | before $/month | after $/month |", "|---|---|---|---:|---:|"]
    for (kind, service, label), (b, a) in rows.items():
        if b or a:
            lines.append(f"| {kind} | {service} | {label} | {b:,.2f} | {a:,.2f} |")
    for kind in ("usage", "storage", "fixed"):
        lines.append(f"| **{kind}** | | **total** | **{before.total(kind):,.2f}** | **{after.total(kind):,.2f}** |")
    lines.append(f"| | | **usage per million webhooks** | **{before.per_million:,.2f}** | **{after.per_million:,.2f}** |")
    return "\n".join(lines), {"before": before.per_million, "after": after.per_million}


def _label(item: str) -> str:
    """Items named alike before and after share a row (the archive's months are the same)."""
    return item.split(" (")[0] if item.startswith(("archive", "records", "logs (")) else item


def main() -> None:
    import config as config_mod

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="prod")
    parser.add_argument("--per-month", type=int, default=1_000_000)
    parser.add_argument("--payload-kb", type=float, default=5)
    args = parser.parse_args()
    config = config_mod.load(ROOT / "webhookctl.toml")
    env = config.environment(args.env)
    payload = int(args.payload_kb * 1024)
    for batch, label in ((config.limits.batch_size, "full batches (bursts)"), (1, "one record per batch (a trickle)")):
        text, totals = table(config, env, args.per_month, payload, batch)
        print(f"\n`{args.env}`, {args.per_month:,} webhooks a month of {args.payload_kb:g} KB, {label}, "
              f"{US_EAST_1.region} list prices of {US_EAST_1.date}:\n")
        print(text)
        target = "met" if totals["after"] <= 13 else "NOT met"
        print(f"\nper million webhooks: before ${totals['before']:,.2f}, after ${totals['after']:,.2f} "
              f"(target <= $13: {target})")
    usage = cost.usage_from_config(config, args.per_month, payload, config.limits.batch_size)
    print("\n`webhookctl cost --env {0}` (the command's own output):\n\n```".format(args.env))
    print(cost.render(cost.estimate(config, env, usage, US_EAST_1)))
    print("```")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Infrastructure benchmark: cold synth (time, peak memory) against a bare cdktf app with the
same provider, then terraform apply / plan / destroy of the `local` stack against the emulator.

    .venv/bin/python bench/bench_infra.py [--runs 3] [--skip-apply]

Prints a Markdown table (paste it into bench/README.md). Peak memory is the largest sum of
RSS over the process tree (python + the jsii node process), sampled every 20 ms from /proc.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BARE_APP = textwrap.dedent(
    """
    import os, sys
    from cdktf import App, TerraformStack
    from cdktf_cdktf_provider_aws.provider import AwsProvider
    from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
    app = App(outdir=os.environ["CDKTF_OUTDIR"])
    stack = TerraformStack(app, "bare")
    AwsProvider(stack, "aws", region="us-east-1")
    SqsQueue(stack, "queue", name="bare")
    app.synth()
    sys.stdout.flush()
    os._exit(0)
    """
)
# The same bare app, importing only the bindings it uses (as constructs_lib does).
BARE_APP_LAZY = "import constructs_lib.bindings\n" + BARE_APP
# main.py without the os._exit shortcut: the interpreter exits normally and jsii stops node.
MAIN_NORMAL_EXIT = "import sys; sys.argv = ['main.py']; import main; sys.exit(main.main())"


def _tree_rss_kib(root_pid: int) -> int:
    """Sum of VmRSS of root_pid and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        ppid = int(re.search(r"^PPid:\s+(\d+)", status, re.M).group(1))
        found = re.search(r"^VmRSS:\s+(\d+)", status, re.M)
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = int(found.group(1)) if found else 0
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak tree RSS in MiB) of one run."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss_kib(proc.pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{argv} failed:\n{proc.stderr.read().decode()[-3000:]}")
    return seconds, peak / 1024


def synth_rows(runs: int) -> list[tuple[str, str, str]]:
    variants = {
        "bare cdktf app (provider + 1 resource)": [sys.executable, "-c", BARE_APP],
        "bare cdktf app, lazy bindings (constructs_lib.bindings)": [sys.executable, "-c", BARE_APP_LAZY],
        "webhookctl `python main.py` (local stack)": [sys.executable, "main.py"],
        "webhookctl, all 3 environments": [sys.executable, "main.py"],
        "webhookctl local, normal exit (no os._exit)": [sys.executable, "-c", MAIN_NORMAL_EXIT],
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(runs):  # interleaved, so machine noise hits every variant alike
        for name, argv in variants.items():
            with tempfile.TemporaryDirectory() as out:
                env = {**os.environ, "CHECKPOINT_DISABLE": "1", "CDKTF_OUTDIR": out, "WEBHOOKCTL_ENV": "local"}
                if "all 3" in name:
                    env.pop("WEBHOOKCTL_ENV")
                results[name].append(measure(argv, env))
    rows = []
    for name, samples in results.items():
        seconds = statistics.median(s for s, _ in samples)
        peak = max(m for _, m in samples)
        rows.append((name, f"{seconds:.1f}", f"{peak:.0f}"))
    return rows


def _timed_terraform(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, list[tuple[float, str]], int]:
    from cli.terraform import run

    started = time.perf_counter()
    lines: list[tuple[float, str]] = []
    proc = run(args, cwd, env, on_line=lambda line: lines.append((time.perf_counter() - started, line)))
    return time.perf_counter() - started, lines, proc.returncode


def apply_rows() -> list[tuple[str, str]]:
    from cli.terraform import terraform_env, write_cli_config
    from local_runtime.emulator import Emulator, free_port

    work = Path(tempfile.mkdtemp(prefix="bench-infra-"))
    try:
        with Emulator(port=free_port()) as emulator:
            config = work / "webhookctl.toml"
            config.write_text(re.sub(r'(?m)^emulator_endpoint = "[^"]*"',
                                     f'emulator_endpoint = "{emulator.endpoint}"', (ROOT / "webhookctl.toml").read_text()))
            env = {**os.environ, "CHECKPOINT_DISABLE": "1", "WEBHOOKCTL_CONFIG": str(config),
                   "WEBHOOKCTL_ENV": "local", "CDKTF_OUTDIR": str(work / "cdktf.out")}
            subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, check=True, capture_output=True)
            stack = work / "cdktf.out" / "stacks" / "webhooks-local"
            tf_env = terraform_env(write_cli_config(work / "terraform"))
            doc = main_json(stack)
            count = sum(len(v) for v in doc["resource"].values())

            init_s, _, code = _timed_terraform(["init", "-input=false", "-no-color"], stack, tf_env)
            assert code == 0, "terraform init failed"
            # Round 1: plan to a file, apply the saved plan, destroy (what a reviewed deploy does).
            saved_plan_s, _, code = _timed_terraform(["plan", "-out=bench.tfplan", "-input=false", "-no-color"], stack, tf_env)
            assert code == 0, "terraform plan failed"
            saved_apply_s, _, code = _timed_terraform(["apply", "-input=false", "-no-color", "bench.tfplan"], stack, tf_env)
            assert code == 0, "terraform apply of the saved plan failed"
            _, _, code = _timed_terraform(["destroy", "-auto-approve", "-input=false", "-no-color"], stack, tf_env)
            assert code == 0, "terraform destroy failed"
            # Round 2: one `apply -auto-approve`, a second plan, destroy.
            apply_s, lines, code = _timed_terraform(["apply", "-auto-approve", "-input=false", "-no-color"], stack, tf_env)
            assert code == 0, "\n".join(l for _, l in lines[-40:])
            first_create = next(t for t, l in lines if l.endswith("Creating..."))
            done = [(t, l.split(":")[0]) for t, l in lines if "Creation complete" in l]
            queue_done = max(t for t, name in done if name.startswith("aws_lambda_event_source_mapping"))
            last_t, last_name = max(done)
            slowest = sorted(
                ((int(m.group(2)), m.group(1).split(".")[0]) for _, l in lines
                 if (m := re.match(r"^(\S+): Creation complete after (\d+)s", l))),
                reverse=True,
            )
            plan_s, plan_lines, plan_code = _timed_terraform(
                ["plan", "-detailed-exitcode", "-input=false", "-no-color"], stack, tf_env)
            destroy_s, _, code = _timed_terraform(["destroy", "-auto-approve", "-input=false", "-no-color"], stack, tf_env)
            assert code == 0, "terraform destroy failed"
            left = subprocess.run(["terraform", "state", "list"], cwd=stack, env=tf_env, capture_output=True, text=True).stdout.split()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    waits = ", ".join(f"{kind} {secs} s" for secs, kind in _dedupe(slowest)[:4])
    return [
        ("resources in the `local` stack", str(count)),
        ("`terraform init` (provider from the local mirror)", f"{init_s:.1f} s"),
        ("`terraform plan -out` then `terraform apply <saved plan>`", f"{saved_plan_s:.1f} s + {saved_apply_s:.1f} s"),
        ("`terraform apply -auto-approve`", f"{apply_s:.1f} s"),
        ("… of which before the first create (provider start-ups, validate, plan)", f"{first_create:.1f} s"),
        ("… DLQ → queue → event source mapping chain done at", f"{queue_done:.1f} s"),
        ("… last resource done (the critical path)", f"{last_name.split('.')[0]} at {last_t:.1f} s"),
        ("… slowest resources (provider fixed waits)", waits),
        ("second `plan -detailed-exitcode`", f"{plan_s:.1f} s, exit {plan_code} ({'no changes' if plan_code == 0 else 'CHANGES'})"),
        ("`terraform destroy -auto-approve`", f"{destroy_s:.1f} s, {len(left)} left in state"),
    ]


def _dedupe(items: list[tuple[int, str]]) -> list[tuple[int, str]]:
    seen, out = set(), []
    for secs, kind in items:
        if kind not in seen:
            seen.add(kind)
            out.append((secs, kind))
    return out


def main_json(stack: Path) -> dict:
    import json

    return json.loads((stack / "cdk.tf.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="synth repetitions per variant (median time, max memory)")
    parser.add_argument("--skip-apply", action="store_true", help="only the synth measurements")
    args = parser.parse_args()
    print(f"Synth, {args.runs} cold runs each (fresh process; median wall time, peak RSS of python + node):\n")
    print("| app | wall (s) | peak RSS (MiB) |\n|---|---:|---:|")
    for row in synth_rows(args.runs):
        print("| " + " | ".join(row) + " |")
    if not args.skip_apply:
        print("\nApply, plan and destroy of the `local` stack against the emulator (moto on loopback):\n")
        print("| step | result |\n|---|---|")
        for row in apply_rows():
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()

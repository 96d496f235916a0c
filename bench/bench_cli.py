"""CLI benchmarks: start-up, cold and warm synth, deploy to the emulator.

Each number comes with its baseline measured in the same run:
  - `webhookctl --help` vs `python -c 'import click'`      (target <= 3x)
  - cold `webhookctl synth` vs `npx cdktf synth`, same app  (target <= 0.65x)
  - warm (cached) `webhookctl synth` vs cold               (target <= 0.05x)
  - `webhookctl deploy` of `local` to a fresh emulator, and the no-op redeploy

Usage: .venv/bin/python bench/bench_cli.py [--runs N] [--skip-deploy]
Prints a Markdown table (paste it into bench/README.md).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent
WEBHOOKCTL = str(VENV_BIN / "webhookctl")
ENV = {**os.environ, "CHECKPOINT_DISABLE": "1", "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}


def timed(argv, cwd=ROOT, env=None) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env or ENV, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def median_of(runs: int, argv, **kw) -> float:
    return statistics.median(timed(argv, **kw) for _ in range(runs))


def project_copy(endpoint: str | None = None) -> Path:
    """A throwaway project folder (config only; code comes from this checkout)."""
    folder = Path(tempfile.mkdtemp(prefix="webhookctl-bench-"))
    text = (ROOT / "webhookctl.toml").read_text()
    if endpoint:
        text = text.replace("http://127.0.0.1:4566", endpoint)
    (folder / "webhookctl.toml").write_text(text)
    return folder


def bench_startup(runs: int) -> list[tuple]:
    base = median_of(runs, [sys.executable, "-c", "import click"])
    ours = median_of(runs, [WEBHOOKCTL, "--help"])
    return [("`webhookctl --help`", ours, "`python -c 'import click'`", base, ours / base, "<= 3x")]


def bench_synth(runs: int) -> list[tuple]:
    npx = shutil.which("npx")
    rows = []
    cold, base = [], []
    for _ in range(runs):
        # npx cdktf synth of the same app (all environments, as main.py does without WEBHOOKCTL_ENV),
        # against webhookctl synth of one environment: what a user runs before a plan.
        out = Path(tempfile.mkdtemp(prefix="npx-synth-"))
        if npx:
            base.append(timed([npx, "--no-install", "cdktf", "synth", "--output", str(out)],
                              env={**ENV, "WEBHOOKCTL_ENV": "local"}))
        folder = project_copy()
        cold.append(timed([WEBHOOKCTL, "synth", "--env", "local"], cwd=folder))
        shutil.rmtree(out, ignore_errors=True)
    warm = median_of(max(runs, 5), [WEBHOOKCTL, "synth", "--env", "local"], cwd=folder)
    cold_s = statistics.median(cold)
    if base:
        base_s = statistics.median(base)
        rows.append(("cold `webhookctl synth`", cold_s, "`npx cdktf synth` (same app, same env)", base_s,
                     cold_s / base_s, "<= 0.65x"))
    else:
        rows.append(("cold `webhookctl synth`", cold_s, "npx not found", float("nan"), float("nan"), "<= 0.65x"))
    rows.append(("warm `webhookctl synth` (cached)", warm, "cold `webhookctl synth`", cold_s, warm / cold_s, "<= 0.05x"))
    return rows


def bench_deploy() -> list[tuple]:
    from local_runtime.emulator import Emulator, free_port

    with Emulator(port=free_port()) as emu:
        folder = project_copy(emu.endpoint)
        timed([WEBHOOKCTL, "synth", "--env", "local"], cwd=folder)  # synth is measured above
        first = timed([WEBHOOKCTL, "deploy", "--env", "local", "--auto-approve"], cwd=folder)
        again = timed([WEBHOOKCTL, "deploy", "--env", "local", "--auto-approve"], cwd=folder)
        count = subprocess.run([WEBHOOKCTL, "state", "list"], cwd=folder, env=ENV, capture_output=True, text=True)
        resources = len(count.stdout.split())
        gone = timed([WEBHOOKCTL, "destroy", "--env", "local", "--auto-approve"], cwd=folder)
    return [
        (f"`webhookctl deploy` to the emulator ({resources} resources)", first, "target", 60.0, first / 60.0, "<= 60 s"),
        ("no-op `webhookctl deploy` (nothing changed)", again, "first deploy", first, again / first, "-"),
        ("`webhookctl destroy`", gone, "target", 20.0, gone / 20.0, "<= 20 s"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-deploy", action="store_true")
    args = parser.parse_args()
    rows = bench_startup(max(args.runs, 10)) + bench_synth(args.runs)
    if not args.skip_deploy:
        rows += bench_deploy()
    print("| measurement | seconds | baseline | baseline s | ratio | target |")
    print("|---|---:|---|---:|---:|---|")
    for name, ours, base_name, base, ratio, target in rows:
        print(f"| {name} | {ours:.3f} | {base_name} | {base:.3f} | {ratio:.2f} | {target} |")


if __name__ == "__main__":
    main()

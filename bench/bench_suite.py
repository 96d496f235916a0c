"""The test suite's time: the fast loop and the full suite, ours against a baseline checkout, side by side.

    .venv/bin/python bench/bench_suite.py --baseline /path/to/old/checkout [--full] [--runs 1]

Each run is a fresh `python -m pytest` process in its project folder, with that checkout's own
venv (`<folder>/.venv/bin/python`), `-p no:cacheprovider` and a `--basetemp` under bench/out/,
so runs share nothing. Wall time is measured around the process; CPU is the user + system time
of the process and all its children (pytest-xdist workers, emulators, Terraform), from
`getrusage(RUSAGE_CHILDREN)`. Baseline and ours alternate run by run, so a busy machine slows
both alike; the table shows each run and the ratio ours / baseline of the medians.

- fast loop: `pytest -m "not slow"` (ours runs on every core, as pyproject's addopts say; the
  baseline as its own addopts say);
- full suite (`--full`): `pytest` with `HYPOTHESIS_PROFILE=ci`, what `.ci/run` runs (~10-20 min each).
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
LOOPS = {"fast loop": ["-m", "not slow"], "full suite": []}


def run_suite(checkout: Path, args: list[str], tag: str) -> dict:
    """One pytest run in `checkout`; its wall and CPU seconds and pytest's own summary line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run([str(checkout / ".venv" / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           f"--basetemp={OUT / tag}", *args], cwd=checkout, capture_output=True, text=True,
                          env={**os.environ, "HYPOTHESIS_PROFILE": "ci" if not args else "dev"})
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = next((line for line in reversed(proc.stdout.splitlines()) if re.search(r"\d+ (passed|failed)", line)), "?")
    (OUT / f"{tag}.log").write_text(proc.stdout + proc.stderr)
    return {"wall": wall, "cpu": cpu, "summary": summary.strip("= ")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="an older checkout with its own .venv")
    parser.add_argument("--full", action="store_true", help="the full suite too (what .ci/run runs)")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    loops = {k: v for k, v in LOOPS.items() if args.full or v}
    sides = {"baseline": args.baseline.resolve(), "ours": ROOT}
    results: dict[tuple[str, str], list[dict]] = {}
    for loop, loop_args in loops.items():
        for n in range(args.runs):
            for side, checkout in sides.items():
                tag = f"{loop.replace(' ', '-')}-{side}-{n}"
                results.setdefault((loop, side), []).append(run_suite(checkout, loop_args, tag))
    print("| suite | side | wall (s) | CPU (s) | pytest says |")
    print("|---|---|---:|---:|---|")
    for (loop, side), runs in results.items():
        for r in runs:
            print(f"| {loop} | {side} | {r['wall']:.0f} | {r['cpu']:.0f} | {r['summary']} |")
    for loop in loops:
        wall = {s: statistics.median(r["wall"] for r in results[(loop, s)]) for s in sides}
        cpu = {s: statistics.median(r["cpu"] for r in results[(loop, s)]) for s in sides}
        print(f"| {loop} | ours / baseline | {wall['ours'] / wall['baseline']:.2f} | "
              f"{cpu['ours'] / cpu['baseline']:.2f} | |")


if __name__ == "__main__":
    main()

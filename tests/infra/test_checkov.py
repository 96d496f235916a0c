"""checkov on the synthesized JSON: every failed check must be accepted in code, with a reason.

checkov's Terraform JSON runner ignores inline `checkov:skip` comments, so the
constructs record accepted findings in each resource's `//` comment block
(`constructs_lib.defaults.checkov_skip`); this test is what enforces them.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _resources_by_name(stack_json: Path) -> dict[str, dict]:
    doc = json.loads(stack_json.read_text())
    return {name: body for bodies in doc.get("resource", {}).values() for name, body in bodies.items()}


def test_no_failed_check_without_a_written_reason(synth_outdir):
    proc = subprocess.run(
        [sys.executable, "-m", "checkov.main", "-d", str(synth_outdir / "stacks"), "--framework", "terraform_json",
         "-o", "json", "--quiet", "--skip-download"],
        capture_output=True, text=True, timeout=300,
    )
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert reports and sum(r["summary"]["passed"] for r in reports) > 100, proc.stderr[-2000:]
    unexplained, accepted = [], 0
    for report in reports:
        for failed in report["results"]["failed_checks"]:
            name = failed["resource"].split(".")[-1]  # "resource.<name>" or "<type>.<name>"
            body = _resources_by_name(Path(failed["file_abs_path"]))[name]
            reason = body.get("//", {}).get("checkov_skip", {}).get(failed["check_id"], "").strip()
            if reason:
                accepted += 1
            else:
                unexplained.append(f"{failed['check_id']} {failed['resource']} ({failed['check_name']})")
    assert not unexplained, "failed checks without a reason:\n" + "\n".join(sorted(set(unexplained)))
    assert accepted > 0

"""main.py, the cdktf app: environment variables and errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_synthesizes_every_environment(synth_outdir):
    manifest = json.loads((synth_outdir / "manifest.json").read_text())
    assert sorted(manifest["stacks"]) == ["webhooks-dev", "webhooks-local", "webhooks-prod"]
    for name in manifest["stacks"]:
        stack = synth_outdir / "stacks" / name
        doc = json.loads((stack / "cdk.tf.json").read_text())
        [zip_path] = {f["filename"] for f in doc["resource"]["aws_lambda_function"].values()}
        assert (stack / zip_path).is_file()  # one shared asset


def test_unknown_environment_is_one_error_line(tmp_path):
    env = {**os.environ, "WEBHOOKCTL_ENV": "nope", "CDKTF_OUTDIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "Error: unknown environment 'nope' (known: dev, local, prod)"
    assert not (tmp_path / "stacks").exists()


def test_missing_config_is_one_error_line(tmp_path):
    env = {**os.environ, "WEBHOOKCTL_CONFIG": str(tmp_path / "none.toml"), "CDKTF_OUTDIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: ") and "none.toml: no such file" in proc.stderr

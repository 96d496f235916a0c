"""`npx cdktf synth` (cdktf-cli 0.21.0) on the same cdktf.json writes the same stack JSON as `webhookctl synth`."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent


def test_npx_cdktf_synth_matches_webhookctl_synth(tmp_path, project_root):
    cdktf_cli = project_root / "node_modules" / ".bin" / "cdktf"
    assert cdktf_cli.exists(), "cdktf-cli is installed by `npm install` (see README / .ci/run)"
    for name in ("webhookctl.toml", "cdktf.json"):
        shutil.copy(project_root / name, tmp_path / name)
    (tmp_path / "main.py").symlink_to(project_root / "main.py")
    # cdktf.json's app is `python3 main.py`: the project's venv python, as a user with the venv active has it.
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", "CHECKPOINT_DISABLE": "1",
           "WEBHOOKCTL_ENV": "local"}
    env.pop("CDKTF_OUTDIR", None)
    stack = tmp_path / "cdktf.out" / "stacks" / "webhooks-local" / "cdk.tf.json"

    npx = subprocess.run([str(cdktf_cli), "synth"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert npx.returncode == 0, npx.stdout + npx.stderr
    by_npx = json.loads(stack.read_text())
    shutil.rmtree(tmp_path / "cdktf.out")

    ours = subprocess.run([str(VENV_BIN / "webhookctl"), "synth", "--env", "local"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert ours.returncode == 0, ours.stderr
    assert Path(ours.stdout.strip()) == stack
    assert json.loads(stack.read_text()) == by_npx
    assert by_npx["terraform"]["backend"]["local"]["path"] == "../../../.webhookctl/state/webhooks-local.tfstate"

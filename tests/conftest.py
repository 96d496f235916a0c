"""Fixtures shared by every test folder.

Expensive things happen once per session: one synth (~10 s, ~1.2 GiB), one
emulator. Tests that need Terraform or the emulator carry the `terraform` /
`emulator` markers; they run in CI like every other test.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Tests never talk to real AWS: fake credentials, no metadata lookups.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["CHECKPOINT_DISABLE"] = "1"


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def emulator():
    """A moto server on a free loopback port for the whole session."""
    from local_runtime.emulator import Emulator, free_port

    with Emulator(port=free_port()) as emu:
        yield emu


@pytest.fixture(scope="session")
def synth_outdir(tmp_path_factory) -> Path:
    """`python main.py` once per session into a temporary cdktf.out (every environment)."""
    outdir = tmp_path_factory.mktemp("cdktf.out")
    env = {**os.environ, "CDKTF_OUTDIR": str(outdir)}
    env.pop("WEBHOOKCTL_ENV", None)
    proc = subprocess.run(
        [sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"synth failed:\n{proc.stdout}\n{proc.stderr}"
    return outdir

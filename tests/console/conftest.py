"""The console's tests: a project folder, and the helpers of tests/cli (the emulator-backed storage)
and tests/e2e (`webhookctl dev` as a child process)."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for folder in (HERE.parent / "cli", HERE.parent / "e2e"):  # operate_stack, dev_harness
    if str(folder) not in sys.path:
        sys.path.append(str(folder))


@pytest.fixture
def project(tmp_path, project_root) -> Path:
    shutil.copy(project_root / "webhookctl.toml", tmp_path / "webhookctl.toml")
    return tmp_path

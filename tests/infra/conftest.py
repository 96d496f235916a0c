"""Terraform fixtures: the CLI config with the local provider mirror, and the seam to run it.
The applied `local` stack is the session's `applied_local_stack` (tests/applied_stack.py)."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Sequence

import pytest


@pytest.fixture(scope="session")
def tf_env(tmp_path_factory) -> dict[str, str]:
    from cli.terraform import write_cli_config, terraform_env

    return terraform_env(write_cli_config(tmp_path_factory.mktemp("terraform")))


@pytest.fixture(scope="session")
def tf(tf_env):
    """tf(args, cwd) -> CompletedProcess (captured), through the project's Terraform seam."""
    from cli.terraform import run

    def call(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess:
        return run(list(args), cwd, tf_env, capture=True)

    return call

"""Terraform fixtures: the CLI config with the local provider mirror, and the `local` stack
synthesized against this folder's own emulator (its endpoint differs from the committed config)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Sequence

import pytest

ROOT = Path(__file__).resolve().parents[2]


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


@pytest.fixture(scope="session")
def emulator():
    """An emulator for these tests alone: the stack's secret names must not meet other tests' secrets."""
    from local_runtime.emulator import Emulator, free_port

    with Emulator(port=free_port()) as emu:
        yield emu


# Alarm subscribers for the applied `local` stack: SNS subscriptions apply, plan clean and destroy on moto.
LOCAL_ALARMS = 'alarms = { email = ["oncall@example.com"], https = ["https://hooks.example.com/alarms"] }'


@pytest.fixture(scope="session")
def emulated_project(emulator, tmp_path_factory) -> Path:
    """A copy of the project config whose `local` environment targets this folder's emulator,
    with alarm subscribers."""
    project = tmp_path_factory.mktemp("project")
    text = (ROOT / "webhookctl.toml").read_text()
    text, count = re.subn(r'(?m)^emulator_endpoint = "[^"]*"',
                          f'emulator_endpoint = "{emulator.endpoint}"\n{LOCAL_ALARMS}', text)
    assert count == 1, "webhookctl.toml: expected one emulator_endpoint line under [environments.local]"
    (project / "webhookctl.toml").write_text(text)
    return project


@pytest.fixture(scope="session")
def local_stack_dir(emulated_project) -> Path:
    """The `local` stack synthesized (in this process) into the temp project's cdktf.out."""
    import main

    outdir = emulated_project / "cdktf.out"
    main.build_app(outdir=str(outdir), env_name="local", config_path=str(emulated_project / "webhookctl.toml")).synth()
    return outdir / "stacks" / "webhooks-local"

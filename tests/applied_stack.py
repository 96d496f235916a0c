"""One `local` stack applied by `webhookctl deploy` to its own emulator, shared by the modules that
read it (tests/infra/test_terraform.py, tests/cli/test_terraform_e2e.py: xdist group
`applied-local-stack`), destroyed by the test marked `destroys_stack`, which runs last.

An apply takes ~65 s, 55 of them the AWS provider's fixed wait on the S3 lifecycle configuration
(bench/README.md): paid once per run instead of once per module.
"""
from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from click.testing import CliRunner, Result

STACK = "webhooks-local"
# Alarm subscribers for the applied `local` stack: SNS subscriptions apply, plan clean and destroy on moto.
LOCAL_ALARMS = 'alarms = { email = ["oncall@example.com"], https = ["https://hooks.example.com/alarms"] }'


@dataclass
class AppliedStack:
    project: Path
    emulator: object  # local_runtime.emulator.Emulator
    deploy: Result  # `webhookctl deploy --auto-approve --verbose`: Terraform's own lines on stderr

    @property
    def stack_dir(self) -> Path:
        return self.project / "cdktf.out" / "stacks" / STACK

    @property
    def state_file(self) -> Path:
        return self.project / ".webhookctl" / "state" / f"{STACK}.tfstate"

    def resources(self) -> dict[str, dict[str, dict]]:
        """The synthesized stack's resources: type -> name -> attributes."""
        return json.loads((self.stack_dir / "cdk.tf.json").read_text())["resource"]

    def addresses(self) -> set[str]:
        """Every resource address of the synthesized stack (what the state must hold, data sources aside)."""
        return {f"{rtype}.{name}" for rtype, resources in self.resources().items() for name in resources}

    def cli(self, *args: str) -> Result:
        return run_cli(self.project, *args)


def run_cli(project: Path, *args: str) -> Result:
    """webhookctl in-process on the project's config; stdout and stderr kept apart."""
    from cli.main import cli

    return CliRunner().invoke(cli, [*args, "--config", str(project / "webhookctl.toml")],
                              env={"WEBHOOKCTL_ENV": None}, catch_exceptions=False)


def emulated_config(project_root: Path, endpoint: str) -> str:
    """The committed config, its `local` environment on this emulator, with alarm subscribers."""
    text = (project_root / "webhookctl.toml").read_text()
    text, count = re.subn(r'(?m)^emulator_endpoint = "[^"]*"', f'emulator_endpoint = "{endpoint}"\n{LOCAL_ALARMS}', text)
    assert count == 1, "webhookctl.toml: expected one emulator_endpoint line under [environments.local]"
    return text


@contextmanager
def applied(project_root: Path, project: Path) -> Iterator[AppliedStack]:
    """Deploy `local` into `project` on an emulator of its own (its secret names meet no other test's)."""
    from local_runtime.emulator import Emulator, free_port

    with Emulator(port=free_port()) as emu:
        (project / "webhookctl.toml").write_text(emulated_config(project_root, emu.endpoint))
        yield AppliedStack(project, emu, run_cli(project, "deploy", "--auto-approve", "--verbose"))

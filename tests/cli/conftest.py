"""CLI test doubles: a fake Terraform behind the one seam, and a throwaway project folder."""
from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner


@dataclass
class FakeTerraform:
    """Stands in for cli.terraform.run: records argv, cwd and env; answers per subcommand."""

    calls: list[tuple[list[str], Path, dict]] = field(default_factory=list)
    answers: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)

    def answer(self, subcommand: str, returncode: int = 0, stdout: str = "", stderr: str = "") -> None:
        self.answers[subcommand] = subprocess.CompletedProcess([], returncode, stdout, stderr)

    def __call__(self, args, cwd, env, *, capture=False, on_line=None):
        self.calls.append((list(args), Path(cwd), dict(env)))
        result = self.answers.get(args[0], subprocess.CompletedProcess([], 0, "", ""))
        if on_line:
            for line in result.stdout.splitlines():
                on_line(line)
        return subprocess.CompletedProcess(["terraform", *args], result.returncode, result.stdout, result.stderr)

    @property
    def argvs(self) -> list[list[str]]:
        return [c[0] for c in self.calls]


@pytest.fixture
def project(tmp_path, project_root) -> Path:
    shutil.copy(project_root / "webhookctl.toml", tmp_path / "webhookctl.toml")
    return tmp_path


@pytest.fixture
def fake_tf(monkeypatch, project) -> FakeTerraform:
    """Fake Terraform + a fake synth that writes a minimal stack JSON, + reachable environments."""
    from cli import stack_ops

    fake = FakeTerraform()
    monkeypatch.setattr(stack_ops.terraform, "run", fake)

    def fake_synth(ws, force=False, log=print):
        ws.stack_dir.mkdir(parents=True, exist_ok=True)
        backend = (
            {"local": {"path": f"../../../.webhookctl/state/{ws.stack}.tfstate"}}
            if ws.env.backend.type == "local"
            else {"s3": {"bucket": ws.env.backend.bucket, "key": ws.env.backend.key}}
        )
        ws.stack_json.write_text(json.dumps({"terraform": {"backend": backend}}))
        return {"stack": ws.stack, "path": str(ws.stack_json), "cached": False}

    monkeypatch.setattr(stack_ops, "synth", fake_synth)
    monkeypatch.setattr(stack_ops, "check_reachable", lambda ws: None)
    return fake


@pytest.fixture
def run_cli(project, monkeypatch):
    """Invoke webhookctl in the project folder; stdout and stderr kept apart."""
    from cli.main import cli

    monkeypatch.chdir(project)
    monkeypatch.delenv("WEBHOOKCTL_ENV", raising=False)
    monkeypatch.delenv("WEBHOOKCTL_CONFIG", raising=False)

    def run(*args, input=None, env=None):
        return CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=False)

    return run

"""Where things live for one environment: config, synthesized stack, Terraform files."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from config import Config, ConfigError, Environment, load

from .errors import WebhookctlError

# The repo that holds main.py and the code synth reads (an editable install points here).
CODE_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Workspace:
    config: Config
    env: Environment
    project_dir: Path

    @classmethod
    def open(cls, config_path: str | Path, env_name: str) -> "Workspace":
        path = Path(config_path).resolve()
        try:
            config = load(path)
            env = config.environment(env_name)
        except ConfigError as exc:
            raise WebhookctlError(str(exc)) from None
        return cls(config=config, env=env, project_dir=path.parent)

    @property
    def config_path(self) -> Path:
        return Path(self.config.path)

    @property
    def stack(self) -> str:
        return self.config.stack_name(self.env.name)

    @property
    def app_dir(self) -> Path:
        """Folder with main.py: the project's own, else this installation's."""
        return self.project_dir if (self.project_dir / "main.py").exists() else CODE_DIR

    @property
    def outdir(self) -> Path:
        return self.project_dir / "cdktf.out"

    @property
    def stack_dir(self) -> Path:
        return self.outdir / "stacks" / self.stack

    @property
    def stack_json(self) -> Path:
        return self.stack_dir / "cdk.tf.json"

    @property
    def work_dir(self) -> Path:
        """webhookctl's own files (git-ignored): state of `local`, Terraform CLI config, caches."""
        return self.project_dir / ".webhookctl"

    @property
    def local_state_file(self) -> Path:
        return self.work_dir / "state" / f"{self.stack}.tfstate"

    @property
    def plan_file(self) -> Path:
        return self.stack_dir / f"{self.env.name}.tfplan"

    @cached_property
    def aws_env(self) -> dict[str, str | None]:
        """Environment for anything that talks to this environment's AWS (Terraform, boto3); None unsets."""
        if self.env.is_emulated:
            from local_runtime.emulator import EMULATOR_CREDENTIALS

            # Never let a developer's real profile leak into emulator calls.
            return {**EMULATOR_CREDENTIALS, "AWS_PROFILE": None, "AWS_DEFAULT_REGION": self.env.region,
                    "AWS_REGION": self.env.region}
        return {"AWS_DEFAULT_REGION": self.env.region, "AWS_REGION": self.env.region}

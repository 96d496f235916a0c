#!/usr/bin/env python3
"""The cdktf app: one WebhookStack per environment of webhookctl.toml.

Environment variables (docs/design.md):
  WEBHOOKCTL_ENV       synthesize only this environment (default: all of them)
  WEBHOOKCTL_CONFIG    config file (default: webhookctl.toml)
  CDKTF_OUTDIR         output folder (default: cdktf.out), cdktf's own variable
  WEBHOOKCTL_EMULATOR_ENDPOINT
                       overrides emulator_endpoint of emulated environments
                       (an emulator started on another port)

Works as `python main.py` and as the `app` of cdktf.json (`npx cdktf synth`).
"""
from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path


def build_app(
    outdir: str | None = None,
    env_name: str | None = None,
    config_path: str | None = None,
    emulator_endpoint: str | None = None,
):
    """The cdktf App with its stacks; arguments default to the environment variables above."""
    from config import load  # no cdktf import: fails fast on a bad config

    config = load(config_path or os.environ.get("WEBHOOKCTL_CONFIG", "webhookctl.toml"))
    env_name = env_name or os.environ.get("WEBHOOKCTL_ENV") or None
    names = [env_name] if env_name else list(config.environments)
    environments = [config.environment(n) for n in names]  # unknown name -> ConfigError before the slow import
    endpoint = emulator_endpoint or os.environ.get("WEBHOOKCTL_EMULATOR_ENDPOINT")
    if endpoint:
        environments = [dataclasses.replace(e, emulator_endpoint=endpoint) if e.is_emulated else e for e in environments]

    from cdktf import App

    from constructs_lib.stack import WebhookStack

    app = App(outdir=outdir or os.environ.get("CDKTF_OUTDIR", "cdktf.out"))
    for environment in environments:
        WebhookStack(app, config.stack_name(environment.name), config=config, environment=environment,
                     project_root=Path(config.path).resolve().parent)
    return app


def main() -> int:
    from config import ConfigError
    from constructs_lib.defaults import ValidationError

    try:
        app = build_app()
    except (ConfigError, ValidationError) as exc:  # a bad config, or a limit AWS would refuse at deploy
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip jsii's orderly shutdown of its node process (~0.2 s, bench/README.md): the files are written.
    os._exit(code)

"""Options every command shares, declared once (sqlite-utils style)."""
from __future__ import annotations

import functools

import click

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def env_option(fn):
    """--env NAME (default `local`, or $WEBHOOKCTL_ENV) and --config PATH."""

    @click.option(
        "--env", "-e", "env_name", default="local", envvar="WEBHOOKCTL_ENV", show_default=True, show_envvar=True,
        help="Environment from webhookctl.toml.",
    )
    @click.option(
        "--config", "config_path", default="webhookctl.toml", envvar="WEBHOOKCTL_CONFIG", show_default=True,
        type=click.Path(dir_okay=False), help="Path to the project config.",
    )
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


def json_option(fn):
    """--json: one JSON document on stdout; logs and progress stay on stderr."""
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")(fn)

"""`webhookctl dev`'s banner: every command it suggests is a real command with real options."""
from __future__ import annotations

import shlex
from types import SimpleNamespace

import click

from cli import dev
from cli.main import cli
from cli.workspace import Workspace


def _suggested(text: str) -> list[list[str]]:
    lines = text.split("Try next, in another terminal:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return [shlex.split(line.split("#", 1)[0].replace("<", "").replace(">", ""))[1:] for line in lines]


def test_every_suggested_command_parses(project_root):
    ws = Workspace.open(project_root / "webhookctl.toml", "local")
    session = SimpleNamespace(ws=ws, server=SimpleNamespace(url="http://127.0.0.1:3000"), timings={"ready": 1.0},
                              http_targets=None, console=None)
    suggested = _suggested(dev.banner(session))
    assert [args[:2] for args in suggested] == [["trigger", "stripe"], ["events", "list"], ["events", "show"],
                                                ["listen", "--forward-to"], ["stats"], ["secrets", "set"]]
    for args in suggested:
        command, rest = cli, [a for a in args if a != "secret"]  # `< secret` is the shell's redirect
        while isinstance(command, click.Group):
            command, rest = command.commands[rest[0]], rest[1:]
        command.make_context(command.name, list(rest), resilient_parsing=False)  # raises on a bad option

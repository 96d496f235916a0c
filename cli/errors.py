"""Expected failures: one actionable `Error: ...` line and exit 1, never a traceback."""
from __future__ import annotations

import click


class WebhookctlError(click.ClickException):
    """A failure the user can act on. click prints `Error: <message>` and exits 1."""

    exit_code = 1


class TerraformFailed(WebhookctlError):
    """Terraform exited non-zero; its own output has already been streamed to stderr."""


class NotFound(WebhookctlError):
    """What was asked for does not exist (an unknown delivery): the console answers 404."""

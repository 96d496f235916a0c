"""boto3 access to one environment: the emulator for emulated environments, real AWS otherwise."""
from __future__ import annotations

from .errors import WebhookctlError
from .workspace import Workspace


def session(ws: Workspace):
    import boto3  # imported here: keeps `webhookctl --help` instant

    env = ws.aws_env
    if ws.env.is_emulated:
        return boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=env["AWS_SESSION_TOKEN"],
            region_name=ws.env.region,
        )
    return boto3.session.Session(region_name=ws.env.region)


def client(ws: Workspace, service: str, region: str | None = None):
    from botocore.config import Config

    kwargs = {"config": Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"})}
    if ws.env.is_emulated:
        kwargs["endpoint_url"] = ws.env.emulator_endpoint
    return session(ws).client(service, region_name=region or ws.env.region, **kwargs)


def require_credentials(ws: Workspace) -> None:
    if ws.env.is_emulated:
        return
    if session(ws).get_credentials() is None:
        raise WebhookctlError(
            f"no AWS credentials for environment '{ws.env.name}': set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
            f"AWS_SECRET_ACCESS_KEY), then check with `webhookctl doctor --env {ws.env.name}`"
        )

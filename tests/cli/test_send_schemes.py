"""`webhookctl send` signs a sample for every scheme of the registry (issue 11's included)."""
from __future__ import annotations

import json

import boto3
import pytest

from config import load
from handlers.schemes import REGISTRY
from handlers.signatures import verify
from test_send import Capture, receiver  # noqa: F401

pytestmark = pytest.mark.emulator

ADDED = [name for name in REGISTRY if name not in ("stripe", "github", "shopify", "slack", "standard", "twilio",
                                                      "paddle", "square", "hmac-sha256")]


def _secret(scheme: str) -> str:
    # Discord verifies with a public key; a test key pair (what `webhookctl dev` generates) also signs
    return REGISTRY[scheme].dev_secret() if scheme == "discord" else f"{scheme}-secret-value"


@pytest.fixture
def every_scheme(project, emulator):
    """The project's config plus one provider per added scheme, each with a secret in the emulator."""
    path = project / "webhookctl.toml"
    text = path.read_text().replace("http://127.0.0.1:4566", emulator.endpoint)
    extra = "".join(f'\n[providers.{name}]\nscheme = "{name}"\n' for name in ADDED)
    text = text.replace("\n[limits]", extra + "\n[limits]", 1)
    path.write_text(text)
    sm = boto3.client("secretsmanager", endpoint_url=emulator.endpoint, region_name="us-east-1")
    secrets = {name: _secret(name) for name in ADDED}
    for name, value in secrets.items():
        secret, string = f"webhooks-local/providers/{name}", json.dumps({"secrets": [value]})
        try:
            sm.create_secret(Name=secret, SecretString=string)
        except sm.exceptions.ResourceExistsException:  # the emulator outlives one test
            sm.put_secret_value(SecretId=secret, SecretString=string)
    return load(path), secrets


def test_send_signs_a_sample_for_every_added_scheme(run_cli, every_scheme, receiver):  # noqa: F811
    config, secrets = every_scheme
    for name in ADDED:
        result = run_cli("send", name, "--url", receiver, "--json")
        assert result.exit_code == 0, (name, result.output)
        path, headers, body = Capture.received[-1]
        provider = config.providers[name]
        verified = verify(provider.scheme, body, headers, [secrets[name]], dict(provider.options),
                          url=receiver + path)
        assert verified.event_type, name


def test_send_with_only_discord_public_key_says_how_to_sign(run_cli, every_scheme, receiver, emulator):  # noqa: F811
    sm = boto3.client("secretsmanager", endpoint_url=emulator.endpoint, region_name="us-east-1")
    public = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    sm.put_secret_value(SecretId="webhooks-local/providers/discord", SecretString=json.dumps({"secrets": [public]}))
    result = run_cli("send", "discord", "--url", receiver)
    assert result.exit_code == 1 and Capture.received == []
    assert result.output.strip().splitlines()[-1].startswith("Error: cannot sign a discord request for discord: ")
    assert "ed25519-seed:" in result.output

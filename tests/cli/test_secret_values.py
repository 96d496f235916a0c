"""`secrets set` stores the value exactly as given, less its line end (issue 8 item 12)."""
from __future__ import annotations

import json

import boto3
import pytest

from cli.errors import WebhookctlError
from cli.operations import secret_line, validate_secret
from handlers.signatures import sign, verify


@pytest.mark.parametrize("stdin,value", [
    ("my secret\n", "my secret"),
    ("my secret\r\n", "my secret"),
    ("  padded  \n", "  padded  "),
    ("no line end", "no line end"),
    ("tab\tinside\n", "tab\tinside"),
])
def test_only_the_line_end_is_stripped(stdin, value):
    assert secret_line(stdin) == value
    validate_secret("github", value)
    validate_secret("hmac-sha256", value)


@pytest.mark.parametrize("stdin,message", [
    ("", "no secret on stdin"),
    ("\n", "no secret on stdin"),
    ("   \n", "no secret on stdin"),
    ("two\nlines\n", "the secret spans several lines"),
    ("first\n\n", "the secret spans several lines"),
])
def test_empty_and_multi_line_values_are_refused(stdin, message):
    with pytest.raises(WebhookctlError) as err:
        validate_secret("github", secret_line(stdin))
    assert str(err.value).startswith(message)


@pytest.mark.parametrize("value", ["not-a-whsec", "whsec_", "whsec_not base64!", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
def test_standard_webhooks_secrets_are_whsec_base64(value):
    with pytest.raises(WebhookctlError, match=r"^Standard Webhooks secrets look like whsec_<base64>: copy the whole"):
        validate_secret("standard", value)
    validate_secret("standard", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")


@pytest.mark.emulator
def test_a_secret_with_spaces_is_stored_exactly_and_verifies(run_cli, project, emulator):
    # GIVEN the local environment on the session emulator, with GitHub's empty secret container
    path = project / "webhookctl.toml"
    path.write_text(path.read_text().replace("http://127.0.0.1:4566", emulator.endpoint))
    sm = boto3.client("secretsmanager", endpoint_url=emulator.endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    name = "webhooks-local/providers/github"
    try:
        sm.create_secret(Name=name)
    except sm.exceptions.ResourceExistsException:
        sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        sm.create_secret(Name=name)
    # WHEN a user-chosen secret with inner spaces is piped in with `echo`
    chosen = "It's a Secret to Everybody"
    result = run_cli("secrets", "set", "github", input=chosen + "\n")
    # THEN it is stored byte for byte, and GitHub's own docs vector verifies with what was stored
    assert result.exit_code == 0, result.output
    stored = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])["secrets"]
    assert stored == [chosen]
    headers = {"X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}
    assert verify("github", b"Hello, World!", headers, stored).secret_index == 0
    assert verify("github", b"x", sign("github", b"x", stored[0]), stored)

"""Asana's handshake writes the provider's secret (a spent setup token replaced by the secret it
delivers): ingest may PutSecretValue on the secrets of capturing schemes' providers, and no other."""
from __future__ import annotations

from constructs_lib.secrets import ProviderSecrets
from handlers.schemes import REGISTRY


class Recorder:
    """A Grantee that keeps what it is granted."""

    def __init__(self):
        self.grants: list[tuple[str, list[dict]]] = []

    def add_to_policy(self, sid, statements):
        self.grants.append((sid, list(statements)))


def test_only_capturing_providers_secrets_are_writable(scratch, synthesize):
    assert [name for name, s in REGISTRY.items() if s.captures_secret] == ["asana"]
    secrets = ProviderSecrets(scratch, "secrets", stack_name="s", providers=["asana", "github"], protect=False)
    ingest = Recorder()
    secrets.grant_capture(ingest, ["asana"])
    [(sid, [statement])] = ingest.grants
    assert sid == "CaptureSecrets" and statement["Action"] == ["secretsmanager:PutSecretValue"]
    assert len(statement["Resource"]) == 1  # the asana secret only (github's is not listed)
    # no capturing provider: no statement at all
    none = Recorder()
    assert secrets.grant_capture(none, []) is None and none.grants == []


def test_the_committed_stack_grants_no_write(local):
    # webhookctl.toml configures no Asana provider: ingest may only read secrets
    assert not any("secretsmanager:PutSecretValue" in s["Action"] for s in local.policies_of("ingest"))

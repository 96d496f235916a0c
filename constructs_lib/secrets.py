"""Empty Secrets Manager containers, one per webhook provider.

No secret version resource: values are written later by `webhookctl secrets
set`, so they never appear in the synthesized JSON or in Terraform state.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from . import bindings  # noqa: F401  (first: lazy provider imports)
from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from constructs import Construct

from handlers.contract import secret_name

from .defaults import checkov_skip, raise_if
from .iam import Grantee, sid, statement

_PROVIDER = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


class ProviderSecrets(Construct):
    """`secrets[provider]` resources and `names[provider]` (the secret ids handlers read)."""

    def __init__(self, scope: Construct, id: str, *, stack_name: str, providers: Iterable[str], protect: bool):
        providers = list(providers)
        problems = [f"provider name '{p}' is invalid" for p in providers if not _PROVIDER.match(p)]
        if not providers:
            problems.append("at least one provider is required")
        raise_if(f"ProviderSecrets '{id}'", problems)
        super().__init__(scope, id)
        self.names = {p: secret_name(stack_name, p) for p in providers}
        self.secrets: dict[str, SecretsmanagerSecret] = {}
        for provider, name in self.names.items():
            secret = SecretsmanagerSecret(
                self,
                provider,
                name=name,
                description=f"Signing secrets for {provider} webhooks: {{\"secrets\": [newest, older...]}}",
                # Unprotected environments can be destroyed and re-created at once.
                recovery_window_in_days=30 if protect else 0,
            )
            checkov_skip(secret, {
                "CKV_AWS_149": "encrypted with the AWS managed key; a customer KMS key is a per-deployment choice",
                "CKV2_AWS_57": "webhook signing secrets are issued by the provider; rotation is `webhookctl secrets set --keep-previous`",
            })
            self.secrets[provider] = secret

    def grant_capture(self, grantee: Grantee, providers: Iterable[str]) -> Any:
        """PutSecretValue on these providers' secrets only: a scheme whose handshake delivers the
        secret (Asana) replaces a spent one-time setup token with it (handlers/schemes/challenges.py)."""
        arns = [self.secrets[p].arn for p in providers]
        if not arns:
            return None
        return grantee.add_to_policy(sid("capture", self.node.id),
                                     [statement(["secretsmanager:PutSecretValue"], arns)])

    def grant_read(self, grantee: Grantee) -> Any:
        arns = [s.arn for s in self.secrets.values()]
        return grantee.add_to_policy(sid("read", self.node.id), [statement(["secretsmanager:GetSecretValue"], arns)])

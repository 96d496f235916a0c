"""ARNs built from strings, IAM policy documents, and the grantee seam.

Constructs build the ARNs and URLs other resources need from the account,
region and name instead of referencing the resource: Terraform then does not
make a Lambda or a policy wait for a slow resource (an SQS queue costs 25 s
inside the AWS provider). Only what truly needs the resource references it.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Protocol, Sequence


@functools.lru_cache(maxsize=None)
def partition_for(region: str) -> str:
    """The ARN partition of a region (aws, aws-cn, aws-us-gov, ...).

    botocore's endpoint data knows every partition and region; a hand-written prefix table
    would miss the ones added after it was written.
    """
    import botocore.session  # here: ~0.1 s, paid once and only where an ARN is built

    return botocore.session.get_session().get_partition_for_region(region)


@dataclass(frozen=True)
class AwsContext:
    """Where the stack deploys: account id (often a token), region, and the emulator if any."""

    account_id: str
    region: str
    emulator_endpoint: str | None = None

    @property
    def partition(self) -> str:
        return partition_for(self.region)

    def arn(self, service: str, resource: str, *, regional: bool = True, with_account: bool = True) -> str:
        region = self.region if regional else ""
        account = self.account_id if with_account else ""
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"

    @property
    def is_emulated(self) -> bool:
        return self.emulator_endpoint is not None

    def queue_url(self, name: str) -> str:
        """The URL SQS answers for a queue: moto uses its own endpoint as the host."""
        base = self.emulator_endpoint or f"https://sqs.{self.region}.amazonaws.com"
        return f"{base}/{self.account_id}/{name}"


class Grantee(Protocol):
    """Anything that can receive permissions: Function implements it with an inline role policy."""

    def add_to_policy(self, sid: str, statements: Sequence[dict[str, Any]]) -> Any: ...


def statement(actions: Iterable[str], resources: Iterable[str], *, sid: str | None = None, **extra: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Action": sorted(set(actions)), "Resource": list(resources)}
    if sid:
        st = {"Sid": sid, **st}
    st.update(extra)
    return st


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, separators=(",", ":"))


def deny_insecure_transport(action: str, resources: Iterable[str]) -> dict[str, Any]:
    """The TLS-only statement for a resource policy."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": list(resources),
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def service_principal(service: str) -> dict[str, str]:
    return {"Service": f"{service}.amazonaws.com"}


def arn_parts(arn: str) -> dict[str, str] | None:
    """partition, service, region, account and resource of an ARN; None when it is not one."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return dict(zip(("partition", "service", "region", "account", "resource"), parts[1:]))


def sid(*parts: str) -> str:
    """An IAM statement id (alphanumeric) from names like 'ingest-queue'."""
    return "".join(word.capitalize() for part in parts for word in re.split(r"[^A-Za-z0-9]+", part) if word)

"""An HTTP route target: an EventBridge connection, its API destination, and the role that invokes them.

Secrets never reach Terraform. EventBridge needs a connection's credentials when it is created,
and the provider would keep whatever we give it in state; so the connection is created with a
placeholder and `lifecycle.ignore_changes = [auth_parameters]`, and `webhookctl secrets set
--route NAME` puts the real value with the Events API (UpdateConnection). EventBridge itself
keeps a connection's credentials in a Secrets Manager secret it creates and manages
(`events!connection/...`), and DescribeConnection never returns them, so Terraform's refresh
reads nothing secret back either:
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-target-connection.html

The provider's update of a connection sends `auth_parameters` from state (the placeholder) with
any other change, over the real credentials. So a connection is never updated in place: its
name carries a digest of its non-secret settings (`contract.connection_name`), any change of
those makes a new one (created before the old one goes), and it then needs `secrets set` again.

An OAuth connection created with a placeholder client secret fails its first token request and
is DEAUTHORIZED; the provider waits for AUTHORIZED or DEAUTHORIZED, so the apply goes on, and
`secrets set` authorizes it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from . import bindings  # noqa: F401  (first: lazy provider imports)
from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.cloudwatch_event_api_destination import CloudwatchEventApiDestination
from cdktf_cdktf_provider_aws.cloudwatch_event_connection import CloudwatchEventConnection
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from handlers.contract import api_destination_name, connection_name

from .iam import AwsContext, document, service_principal, statement

# What the connection holds until `webhookctl secrets set --route NAME` replaces it.
PLACEHOLDER_SECRET = "unset-run-webhookctl-secrets-set-route"
# EventBridge connections have no "no auth" type: a `none` route sends this header (not a secret).
NO_AUTH_HEADER = "X-Webhookctl-Route"


@dataclass(frozen=True)
class HttpSpec:
    """An http route's target as deployed in one environment."""

    url: str
    method: str = "POST"
    auth: Mapping[str, str] = field(default_factory=lambda: {"type": "none"})  # HttpAuth.settings()
    rate_limit_per_second: int = 10
    transform: Mapping[str, str] | None = None


def auth_parameters(route: str, auth: Mapping[str, str], secret: str = PLACEHOLDER_SECRET) -> tuple[str, dict[str, Any]]:
    """(AuthorizationType, auth_parameters block) of a connection, with `secret` as its secret value."""
    kind = auth["type"]
    if kind == "none":
        return "API_KEY", {"api_key": {"key": NO_AUTH_HEADER, "value": route}}
    if kind == "api_key":
        return "API_KEY", {"api_key": {"key": auth["header"], "value": secret}}
    if kind == "basic":
        return "BASIC", {"basic": {"username": auth["username"], "password": secret}}
    body = [{"key": "grant_type", "value": "client_credentials", "is_value_secret": False}]
    if auth.get("scope"):
        body.append({"key": "scope", "value": auth["scope"], "is_value_secret": False})
    return "OAUTH_CLIENT_CREDENTIALS", {"oauth": {
        "authorization_endpoint": auth["authorization_endpoint"],
        "http_method": auth.get("http_method", "POST"),
        "client_parameters": {"client_id": auth["client_id"], "client_secret": secret},
        "oauth_http_parameters": {"body": body},
    }}


class HttpDestination(Construct):
    """`connection` and `api_destination` of one route; `arn_pattern` matches the destination's ARN."""

    def __init__(self, scope: Construct, id: str, *, bus: str, route: str, spec: HttpSpec, aws: AwsContext):
        super().__init__(scope, id)
        kind, parameters = auth_parameters(route, spec.auth)
        self.connection = CloudwatchEventConnection(
            self, "connection",
            name=connection_name(bus, route, spec.auth),
            description=f"Credentials for route {route} (webhookctl secrets set --route {route})",
            authorization_type=kind,
            auth_parameters=parameters,
            lifecycle=TerraformResourceLifecycle(ignore_changes=["auth_parameters"], create_before_destroy=True),
        )
        name = api_destination_name(bus, route)
        self.api_destination = CloudwatchEventApiDestination(
            self, "destination",
            name=name,
            description=f"Route {route}: {spec.method} {spec.url}",
            invocation_endpoint=spec.url,
            http_method=spec.method,
            invocation_rate_limit_per_second=spec.rate_limit_per_second,
            connection_arn=self.connection.arn,
        )
        # The ARN ends in a UUID EventBridge draws: the role's policy names the destination with a wildcard.
        self.arn_pattern = aws.arn("events", f"api-destination/{name}/*")


class DestinationsRole(Construct):
    """The role EventBridge assumes to invoke a bus's API destinations (`role`, `arn`)."""

    def __init__(self, scope: Construct, id: str, *, name: str, destination_arns: Sequence[str], aws: AwsContext):
        super().__init__(scope, id)
        # EventBridge needs events:InvokeApiDestination on each destination, and a role it may assume:
        # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-api-destinations.html
        self.role = IamRole(
            self, "role",
            name=name[:64],
            assume_role_policy=document({
                "Effect": "Allow", "Principal": service_principal("events"), "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": aws.account_id}},
            }),
        )
        self.policy = IamRolePolicy(
            self, "policy", name="InvokeApiDestinations", role=self.role.id,
            policy=document(statement(["events:InvokeApiDestination"], destination_arns)),
        )
        self.arn = self.role.arn

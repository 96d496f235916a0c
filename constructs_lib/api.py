"""REST API in front of the ingest function: two POST routes, validated, traced, throttled, logged."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from . import bindings  # noqa: F401  (first: lazy provider imports)
from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.api_gateway_deployment import ApiGatewayDeployment
from cdktf_cdktf_provider_aws.api_gateway_integration import ApiGatewayIntegration
from cdktf_cdktf_provider_aws.api_gateway_method import ApiGatewayMethod
from cdktf_cdktf_provider_aws.api_gateway_method_settings import ApiGatewayMethodSettings
from cdktf_cdktf_provider_aws.api_gateway_request_validator import ApiGatewayRequestValidator
from cdktf_cdktf_provider_aws.api_gateway_resource import ApiGatewayResource
from cdktf_cdktf_provider_aws.api_gateway_rest_api import ApiGatewayRestApi
from cdktf_cdktf_provider_aws.api_gateway_stage import ApiGatewayStage
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from constructs import Construct

from .defaults import API_THROTTLE_BURST_LIMIT, API_THROTTLE_RATE_LIMIT, LOG_RETENTION_IN_DAYS, checkov_skip, raise_if
from .logs import log_group

# Access log line: who called what and how it went; never the request body.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "extendedRequestId": "$context.extendedRequestId",
        "ip": "$context.identity.sourceIp",
        "userAgent": "$context.identity.userAgent",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "path": "$context.path",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "integrationStatus": "$context.integration.status",
        "integrationLatency": "$context.integration.latency",
        "integrationError": "$context.integration.error",
        "xrayTraceId": "$context.xrayTraceId",
    },
    separators=(",", ":"),
)

# The routes: path parts -> the request parameters API Gateway must see before calling the function.
ROUTES = {
    "webhooks/{provider}": {"method.request.path.provider": True},
    "webhook": {"method.request.header.X-Provider-ID": True},  # seed-compatible
}


@dataclass(frozen=True)
class ApiProps:
    name: str
    stage_name: str
    function_name: str  # the ingest function (name or token)
    function_invoke_arn: str
    throttle_burst_limit: int = API_THROTTLE_BURST_LIMIT
    throttle_rate_limit: float = API_THROTTLE_RATE_LIMIT
    log_retention_in_days: int = LOG_RETENTION_IN_DAYS


def validate_api_props(props: ApiProps) -> list[str]:
    problems: list[str] = []
    if not props.name:
        problems.append("name is required")
    if not re.match(r"^[A-Za-z0-9_-]{1,128}$", props.stage_name or ""):
        problems.append(f"stage_name '{props.stage_name}' must be 1-128 letters, digits, '-' or '_'")
    if props.throttle_burst_limit < 0:
        problems.append("throttle_burst_limit must be 0 or more")
    if props.throttle_rate_limit < 0:
        problems.append("throttle_rate_limit must be 0 or more")
    return problems


class Api(Construct):
    """`rest_api`, `resources[path]`, `methods[path]`, `integrations[path]`, `deployment`, `stage`.

    `url` is the invoke URL of the stage; `url_for(path)` joins a route to it.
    """

    def __init__(self, scope: Construct, id: str, *, props: ApiProps):
        raise_if(f"Api '{id}'", validate_api_props(props))
        super().__init__(scope, id)
        self.rest_api = ApiGatewayRestApi(
            self,
            "rest-api",
            name=props.name,
            description="Inbound webhooks",
            endpoint_configuration={"types": ["REGIONAL"]},
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
        api_id = self.rest_api.id
        self.validator = ApiGatewayRequestValidator(
            self,
            "validator",
            rest_api_id=api_id,
            name="params",
            validate_request_parameters=True,
            validate_request_body=False,
        )
        self.resources: dict[str, ApiGatewayResource] = {}
        self.methods: dict[str, ApiGatewayMethod] = {}
        self.integrations: dict[str, ApiGatewayIntegration] = {}
        for path, params in ROUTES.items():
            resource = self._resource(path)
            method = ApiGatewayMethod(
                self,
                f"method-{_slug(path)}",
                rest_api_id=api_id,
                resource_id=resource.id,
                http_method="POST",
                authorization="NONE",
                request_parameters=params,
                request_validator_id=self.validator.id,
            )
            checkov_skip(method, {
                "CKV_AWS_59": "webhook providers cannot sign in: every request is authenticated by its HMAC signature in the function",
            })
            self.methods[path] = method
            self.integrations[path] = ApiGatewayIntegration(
                self,
                f"integration-{_slug(path)}",
                rest_api_id=api_id,
                resource_id=resource.id,
                # From the method, not a literal: destroy then deletes the integration first.
                http_method=method.http_method,
                type="AWS_PROXY",
                integration_http_method="POST",
                uri=props.function_invoke_arn,
            )
        definition = {"routes": ROUTES, "validator": "params", "integration": "AWS_PROXY", "function": props.function_name}
        self.deployment = ApiGatewayDeployment(
            self,
            "deployment",
            rest_api_id=api_id,
            triggers={"redeployment": hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()},
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
            depends_on=[*self.methods.values(), *self.integrations.values()],
        )
        self.access_logs = log_group(
            self, "access-logs", f"/aws/apigateway/{props.name}/access", props.log_retention_in_days
        )
        self.stage = ApiGatewayStage(
            self,
            "stage",
            rest_api_id=api_id,
            deployment_id=self.deployment.id,
            stage_name=props.stage_name,
            xray_tracing_enabled=True,
            access_log_settings={"destination_arn": self.access_logs.arn, "format": ACCESS_LOG_FORMAT},
        )
        checkov_skip(self.stage, {
            "CKV_AWS_120": "responses are per delivery and must never be cached",
            "CKV2_AWS_51": "providers do not present client certificates; requests are authenticated by signature",
            "CKV2_AWS_29": "WAF is a per-deployment choice; throttling and signature checks protect the function",
        })
        self.method_settings = ApiGatewayMethodSettings(
            self,
            "method-settings",
            rest_api_id=api_id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings={
                "metrics_enabled": True,
                "logging_level": "ERROR",
                "data_trace_enabled": False,  # never log bodies
                "throttling_burst_limit": props.throttle_burst_limit,
                "throttling_rate_limit": props.throttle_rate_limit,
            },
        )
        checkov_skip(self.method_settings, {
            "CKV_AWS_225": "responses are per delivery and must never be cached",
        })
        self.permission = LambdaPermission(
            self,
            "invoke-permission",
            statement_id="AllowApiGatewayInvoke",
            action="lambda:InvokeFunction",
            function_name=props.function_name,
            principal="apigateway.amazonaws.com",
            # Any stage, POST, any path: matches /webhooks/{provider} and /webhook alike.
            source_arn=f"{self.rest_api.execution_arn}/*/POST/*",
        )
        self.url = self.stage.invoke_url

    def _resource(self, path: str) -> ApiGatewayResource:
        parent_id = self.rest_api.root_resource_id
        so_far: list[str] = []
        for part in path.split("/"):
            so_far.append(part)
            key = "/".join(so_far)
            if key not in self.resources:
                self.resources[key] = ApiGatewayResource(
                    self, f"resource-{_slug(key)}", rest_api_id=self.rest_api.id, parent_id=parent_id, path_part=part
                )
            parent_id = self.resources[key].id
        return self.resources[key]


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")

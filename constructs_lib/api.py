"""REST API in front of the ingest function: two routes, validated, traced, throttled, logged."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from . import bindings  # noqa: F401  (first: lazy provider imports)
from cdktf import Fn, TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.api_gateway_deployment import ApiGatewayDeployment
from cdktf_cdktf_provider_aws.api_gateway_integration import ApiGatewayIntegration
from cdktf_cdktf_provider_aws.api_gateway_method import ApiGatewayMethod
from cdktf_cdktf_provider_aws.api_gateway_method_settings import ApiGatewayMethodSettings
from cdktf_cdktf_provider_aws.api_gateway_request_validator import ApiGatewayRequestValidator
from cdktf_cdktf_provider_aws.api_gateway_resource import ApiGatewayResource
from cdktf_cdktf_provider_aws.api_gateway_rest_api import ApiGatewayRestApi
from cdktf_cdktf_provider_aws.api_gateway_stage import ApiGatewayStage
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from cdktf_cdktf_provider_aws.xray_sampling_rule import XraySamplingRule
from constructs import Construct

from handlers.contract import API_ROUTE_METHOD, BINARY_MEDIA_TYPES

from .defaults import (
    API_THROTTLE_BURST_LIMIT,
    API_THROTTLE_RATE_LIMIT,
    LOG_RETENTION_IN_DAYS,
    checkov_skip,
    emulator_lifecycle,
    raise_if,
)
from .iam import AwsContext
from .logs import log_group

# Access log line: who called what and how it went; never the request body. Every request writes
# one (billed per byte: docs/cost.md), so nothing another field already says: the concrete `path`
# names the route, `requestId` is the id to quote to AWS.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "userAgent": "$context.identity.userAgent",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "path": "$context.path",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "integrationStatus": "$context.integration.status",
        "integrationLatency": "$context.integration.latency",
        "integrationError": "$context.integration.error",
        "xrayTraceId": "$context.xrayTraceId",
    },
    separators=(",", ":"),
)

# The routes: path parts -> the request parameters API Gateway must see before calling the function.
# `/webhook` with an X-Provider-ID header is the original design's route, kept for its callers.
ROUTES = {
    "webhooks/{provider}": {"method.request.path.provider": True},
    "webhook": {"method.request.header.X-Provider-ID": True},
}


# Before X-Ray's Default rule (10000); the rule matches this stage only (its service name).
SAMPLING_RULE_PRIORITY = 100

# The settings of the API's parts. Each is also hashed into the deployment trigger, so changing
# one redeploys the stage.
VALIDATOR_SETTINGS = {"name": "params", "validate_request_parameters": True, "validate_request_body": False}
# ANY (contract.API_ROUTE_METHOD): every method reaches ingest, which answers POST, the GET / HEAD
# handshakes of the schemes that declare them and 405 with `Allow` for the rest. With POST alone,
# API Gateway would answer a GET itself (403 "Missing Authentication Token"), and a method per
# handshake would still leave the others to that 403 instead of a 405.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
METHOD_SETTINGS = {"http_method": API_ROUTE_METHOD, "authorization": "NONE"}
INTEGRATION_SETTINGS = {"type": "AWS_PROXY", "integration_http_method": "POST"}


@dataclass(frozen=True)
class ApiProps:
    name: str
    stage_name: str
    function_name: str  # the ingest function (name or token)
    function_invoke_arn: str
    throttle_burst_limit: int = API_THROTTLE_BURST_LIMIT
    throttle_rate_limit: float = API_THROTTLE_RATE_LIMIT
    log_retention_in_days: int = LOG_RETENTION_IN_DAYS
    # X-Ray: the fraction of requests traced, after a reservoir per second (0 and 0: no tracing).
    xray_sample_rate: float = 0.01
    xray_reservoir_per_second: int = 0


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
    if not 0 <= props.xray_sample_rate <= 1:
        problems.append("xray_sample_rate must be from 0 to 1")
    if props.xray_reservoir_per_second < 0:
        problems.append("xray_reservoir_per_second must be 0 or more")
    return problems


class Api(Construct):
    """`rest_api`, `resources[path]`, `methods[path]`, `integrations[path]`, `deployment`, `stage`,
    `access_logs`, `execution_logs`, `method_settings`, `permission`, `sampling_rule` (None when
    nothing is traced, and on the emulator); `url` is the stage's invoke URL.

    Pass `aws` to deploy on the emulator (its moto quirks are ignored there only).
    """

    def __init__(self, scope: Construct, id: str, *, props: ApiProps, aws: AwsContext | None = None):
        raise_if(f"Api '{id}'", validate_api_props(props))
        super().__init__(scope, id)
        self.rest_api = ApiGatewayRestApi(
            self,
            "rest-api",
            name=props.name,
            description="Inbound webhooks",
            endpoint_configuration={"types": ["REGIONAL"]},
            # Every body reaches the function as exact bytes (base64): signatures are computed
            # over them, and a non-UTF-8 body passed as text would be mangled first.
            # https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html
            binary_media_types=list(BINARY_MEDIA_TYPES),
            # moto 5.2.1's CreateRestApi drops binaryMediaTypes: every plan would re-add them.
            **emulator_lifecycle(aws, "binary_media_types", create_before_destroy=True),
        )
        self.validator = ApiGatewayRequestValidator(
            self, "validator", rest_api_id=self.rest_api.id, **VALIDATOR_SETTINGS
        )
        # What a deployment snapshots: each part's id and settings, as Terraform resolves them.
        # The media types are the configured ones (a constant): the API's attribute would follow
        # moto's drop of them and redeploy on every plan there.
        self._definition: list[Any] = [
            list(BINARY_MEDIA_TYPES), self.validator.id, *(getattr(self.validator, key) for key in VALIDATOR_SETTINGS),
        ]
        self.resources: dict[str, ApiGatewayResource] = {}
        self.methods: dict[str, ApiGatewayMethod] = {}
        self.integrations: dict[str, ApiGatewayIntegration] = {}
        for path, params in ROUTES.items():
            self._route(path, params, props)
        self.deployment = ApiGatewayDeployment(
            self,
            "deployment",
            rest_api_id=self.rest_api.id,
            # Computed by Terraform from resolved values: a new deployment exactly when a route,
            # method, integration, the validator or the media types change.
            triggers={"redeployment": Fn.sha1(Fn.jsonencode(self._definition))},
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
            depends_on=[*self.methods.values(), *self.integrations.values()],
        )
        self._stage(props)
        self.sampling_rule = self._sampling_rule(props, aws)
        self.permission = LambdaPermission(
            self,
            "invoke-permission",
            statement_id="AllowApiGatewayInvoke",
            action="lambda:InvokeFunction",
            function_name=props.function_name,
            principal="apigateway.amazonaws.com",
            # Any stage, any method (the routes are ANY: ingest answers 405 itself), any path:
            # matches /webhooks/{provider} and /webhook alike.
            source_arn=f"{self.rest_api.execution_arn}/*/*/*",
        )
        self.url = self.stage.invoke_url

    def _route(self, path: str, params: dict[str, bool], props: ApiProps) -> None:
        resource = self._resource(path)
        method_settings = {**METHOD_SETTINGS, "request_parameters": params}
        method = ApiGatewayMethod(
            self, f"method-{_slug(path)}", rest_api_id=self.rest_api.id, resource_id=resource.id,
            request_validator_id=self.validator.id, **method_settings,
        )
        checkov_skip(method, {
            "CKV_AWS_59": "webhook providers cannot sign in: every request is authenticated by its HMAC signature in the function",
        })
        integration_settings = {**INTEGRATION_SETTINGS, "uri": props.function_invoke_arn}
        integration = ApiGatewayIntegration(
            self, f"integration-{_slug(path)}", rest_api_id=self.rest_api.id, resource_id=resource.id,
            # From the method, not a literal: destroy then deletes the integration first.
            http_method=method.http_method, **integration_settings,
        )
        self.methods[path], self.integrations[path] = method, integration
        self._definition += [
            resource.id, resource.path_part, method.id, method.request_validator_id,
            *(getattr(method, key) for key in method_settings),
            integration.id, *(getattr(integration, key) for key in integration_settings),
        ]

    def _stage(self, props: ApiProps) -> None:
        self.access_logs = log_group(
            self, "access-logs", f"/aws/apigateway/{props.name}/access", props.log_retention_in_days
        )
        # API Gateway writes execution logs (level ERROR) to a group it names and would create with
        # no retention; made here first, it keeps the project's retention.
        # https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html
        self.execution_logs = log_group(
            self, "execution-logs", f"API-Gateway-Execution-Logs_{self.rest_api.id}/{props.stage_name}",
            props.log_retention_in_days,
        )
        self.stage = ApiGatewayStage(
            self,
            "stage",
            rest_api_id=self.rest_api.id,
            deployment_id=self.deployment.id,
            stage_name=props.stage_name,
            xray_tracing_enabled=props.xray_sample_rate > 0 or props.xray_reservoir_per_second > 0,
            access_log_settings={"destination_arn": self.access_logs.arn, "format": ACCESS_LOG_FORMAT},
            depends_on=[self.execution_logs],
        )
        checkov_skip(self.stage, {
            "CKV_AWS_120": "responses are per delivery and must never be cached",
            "CKV2_AWS_51": "providers do not present client certificates; requests are authenticated by signature",
            "CKV2_AWS_29": "WAF is a per-deployment choice; throttling and signature checks protect the function",
            "CKV2_AWS_4": "execution logging is at ERROR; detailed per-method metrics (which this check also wants) "
                          "are billed, and the dashboard and the 5XX alarm read the per-stage metrics sent anyway",
        })
        self.method_settings = ApiGatewayMethodSettings(
            self,
            "method-settings",
            rest_api_id=self.rest_api.id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings={
                # Per-method metrics are billed as custom metrics; the dashboard and the 5XX alarm
                # read the per-stage ones (ApiName, Stage), which API Gateway sends anyway.
                # https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html
                "metrics_enabled": False,
                "logging_level": "ERROR",
                "data_trace_enabled": False,  # never log bodies
                "throttling_burst_limit": props.throttle_burst_limit,
                "throttling_rate_limit": props.throttle_rate_limit,
            },
        )
        checkov_skip(self.method_settings, {
            "CKV_AWS_225": "responses are per delivery and must never be cached",
        })

    def _sampling_rule(self, props: ApiProps, aws: AwsContext | None) -> XraySamplingRule | None:
        """The X-Ray sampling rule API Gateway applies to this stage; ingest follows its decision.

        Without it the default rule traces 1 request per second and 5% of the rest: at webhook
        rates, nearly every request. API Gateway matches rules on the service name
        `<api name>/<stage>` and type `AWS::ApiGateway::Stage`; rule names are per account,
        at most 32 characters.
        https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-configuring-xray-sampling-rules.html
        On the emulator there is nothing to sample (the local runtime does not trace) and moto
        has no sampling rules: none is made there.
        """
        if not (props.xray_sample_rate > 0 or props.xray_reservoir_per_second > 0) or (aws and aws.is_emulated):
            return None
        name = props.name if len(props.name) <= 32 else f"{props.name[:23]}-{hashlib.sha1(props.name.encode()).hexdigest()[:8]}"
        return XraySamplingRule(
            self, "sampling-rule", rule_name=name, priority=SAMPLING_RULE_PRIORITY, version=1,
            reservoir_size=props.xray_reservoir_per_second, fixed_rate=props.xray_sample_rate,
            service_name=f"{props.name}/{props.stage_name}", service_type="AWS::ApiGateway::Stage",
            host="*", http_method="*", url_path="*", resource_arn="*",
        )

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

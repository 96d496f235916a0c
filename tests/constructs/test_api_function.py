"""API Gateway routes and stage; functions, their roles and the event source; the handlers zip."""
from __future__ import annotations

import json
import zipfile
from io import BytesIO

import pytest

from constructs_lib.api import ApiProps, validate_api_props
from constructs_lib.defaults import ValidationError
from constructs_lib.function import Function, FunctionCode, FunctionProps
from constructs_lib.packaging import build_package, zip_bytes

ACCOUNT = "${data.aws_caller_identity.caller.account_id}"


def test_two_post_routes_with_request_validation(local):
    paths = sorted(r["path_part"] for r in local.resources("aws_api_gateway_resource").values())
    assert paths == ["webhook", "webhooks", "{provider}"]
    params = sorted(json.dumps(m["request_parameters"]) for m in local.resources("aws_api_gateway_method").values())
    assert params == ['{"method.request.header.X-Provider-ID": true}', '{"method.request.path.provider": true}']
    validator = local.one("aws_api_gateway_request_validator")
    assert validator["validate_request_parameters"] is True
    for method in local.resources("aws_api_gateway_method").values():
        assert method["http_method"] == "POST" and method["request_validator_id"].startswith("${aws_api_gateway_request_validator.")


def test_integrations_are_aws_proxy_and_reference_their_method(local):
    for integration in local.resources("aws_api_gateway_integration").values():
        assert integration["type"] == "AWS_PROXY" and integration["integration_http_method"] == "POST"
        # A reference, so destroy deletes the integration before its method (moto answers 500 otherwise).
        assert integration["http_method"].startswith("${aws_api_gateway_method.")
        assert integration["uri"].endswith(".invoke_arn}")


def test_deployment_redeploys_on_change_and_stage_settings(local, prod):
    deployment = local.one("aws_api_gateway_deployment")
    assert len(deployment["triggers"]["redeployment"]) == 64
    assert deployment["lifecycle"] == {"create_before_destroy": True}
    assert len(deployment["depends_on"]) == 4
    stage = local.one("aws_api_gateway_stage")
    assert stage["stage_name"] == "local" and stage["xray_tracing_enabled"] is True
    access = json.loads(stage["access_log_settings"]["format"])
    assert access["requestId"] == "$context.requestId"
    assert not any("body" in v.lower() for v in access.values())
    settings = local.one("aws_api_gateway_method_settings")
    assert settings["method_path"] == "*/*"
    assert settings["settings"]["throttling_burst_limit"] == 5000
    assert settings["settings"]["throttling_rate_limit"] == 10000
    assert settings["settings"]["data_trace_enabled"] is False
    assert prod.one("aws_api_gateway_stage")["stage_name"] == "prod"
    assert local.one("aws_cloudwatch_log_group", name="/aws/apigateway/webhooks-local-api/access")["retention_in_days"] == 7


def test_lambda_permission_matches_both_routes(local):
    permission = local.one("aws_lambda_permission")
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["source_arn"].endswith(".execution_arn}/*/POST/*")


def test_api_validation():
    props = ApiProps(name="", stage_name="bad stage", function_name="f", function_invoke_arn="a",
                     throttle_burst_limit=-1, throttle_rate_limit=-1)
    assert validate_api_props(props) == [
        "name is required",
        "stage_name 'bad stage' must be 1-128 letters, digits, '-' or '_'",
        "throttle_burst_limit must be 0 or more",
        "throttle_rate_limit must be 0 or more",
    ]


@pytest.mark.parametrize("name,handler", [("ingest", "handlers.ingest.handler"), ("process", "handlers.process.handler")])
def test_function_defaults(local, name, handler):
    fn = local.one("aws_lambda_function", function_name=f"webhooks-local-{name}")
    assert fn["handler"] == handler
    assert (fn["runtime"], fn["memory_size"], fn["timeout"], fn["architectures"]) == ("python3.11", 256, 30, ["arm64"])
    assert fn["tracing_config"] == {"mode": "Active"}
    assert fn["logging_config"] == {"log_format": "JSON", "log_group": f"/aws/lambda/webhooks-local-{name}"}
    assert fn["depends_on"][0].startswith("aws_cloudwatch_log_group.")  # created before the function
    assert fn["filename"].startswith("assets/") and fn["filename"].endswith(".zip")
    group = local.one("aws_cloudwatch_log_group", name=f"/aws/lambda/webhooks-local-{name}")
    assert group["retention_in_days"] == 7
    assert fn["role"].startswith(f"${{aws_iam_role.{name}_role")


def test_function_environment_follows_design(local):
    ingest = local.one("aws_lambda_function", function_name="webhooks-local-ingest")["environment"]["variables"]
    process = local.one("aws_lambda_function", function_name="webhooks-local-process")["environment"]["variables"]
    common = {
        "WEBHOOKCTL_ENV": "local",
        "TABLE_NAME": "webhooks-local-records",
        "BUCKET_NAME": f"webhooks-local-archive-{ACCOUNT}",
        "POWERTOOLS_SERVICE_NAME": "webhookctl",
        "METRICS_NAMESPACE": "Webhookctl/webhooks-local",
    }
    assert ingest.items() >= common.items() and process.items() >= common.items()
    sdk = {"AWS_CONNECT_TIMEOUT", "AWS_READ_TIMEOUT", "AWS_MAX_ATTEMPTS"}
    assert set(ingest) - set(common) == {"QUEUE_URL", "MAX_BODY_BYTES", "RECORD_TTL_DAYS", "SECRET_REFRESH_SECONDS"} | sdk
    assert set(process) - set(common) == {"EVENT_BUS_NAME", "INLINE_PAYLOAD_LIMIT", "MAX_RECEIVE_COUNT",
                                          "PUT_EVENTS_MAX_BYTES"} | sdk
    # Built, not referenced: the function does not wait ~50 s for the queue chain.
    assert ingest["QUEUE_URL"] == f"http://127.0.0.1:4566/{ACCOUNT}/webhooks-local-ingest.fifo"
    assert "PROVIDERS" not in ingest  # the provider table ships in the zip (contract.PROVIDERS_FILE_NAME)
    assert process["EVENT_BUS_NAME"] == "webhooks-local-bus" and process["MAX_RECEIVE_COUNT"] == "3"
    assert "${aws_sqs_queue" not in json.dumps(local.resources("aws_lambda_function"))


def test_real_aws_queue_url(prod):
    ingest = prod.one("aws_lambda_function", function_name="webhooks-prod-ingest")["environment"]["variables"]
    assert ingest["QUEUE_URL"] == f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/webhooks-prod-ingest.fifo"


def test_event_source_mapping(local, prod):
    assert local.one("aws_lambda_event_source_mapping")["enabled"] is False  # the local runtime polls instead
    assert prod.one("aws_lambda_event_source_mapping")["enabled"] is True
    esm = prod.one("aws_lambda_event_source_mapping")
    assert esm["batch_size"] == 10
    assert esm["function_response_types"] == ["ReportBatchItemFailures"]
    assert esm["event_source_arn"].startswith("${aws_sqs_queue.")
    assert esm["depends_on"][0].startswith("aws_iam_role_policy.process_policy-ConsumeFrom")


def test_roles_least_privilege(local):
    def actions(fn):
        return sorted({a for s in local.policies_of(fn) for a in s["Action"]})

    assert actions("ingest") == sorted([
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "logs:CreateLogStream", "logs:PutLogEvents",
        "s3:PutObject", "secretsmanager:GetSecretValue", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage",
        "xray:PutTelemetryRecords", "xray:PutTraceSegments",
    ])
    assert actions("process") == sorted([
        "dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "events:PutEvents", "logs:CreateLogStream",
        "logs:PutLogEvents", "s3:GetObject", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl", "sqs:ReceiveMessage", "xray:PutTelemetryRecords", "xray:PutTraceSegments",
    ])
    wildcard = [s for fn in ("ingest", "process") for s in local.policies_of(fn) if "*" in s["Resource"]]
    assert all(a.startswith("xray:") for s in wildcard for a in s["Action"])


def test_function_validation(scratch):
    code = FunctionCode(path="x.zip", sha256_base64="")
    with pytest.raises(ValidationError) as err:
        Function(scratch, "f", aws=None, props=FunctionProps(
            name="f", handler="nohandler", code=code, memory_size=64, timeout=901, runtime="python3.9",
            environment={"1BAD": "x"}, overrides={"tracing_config": {"mode": "PassThrough"}},
        ))
    assert err.value.problems == [
        "handler 'nohandler' must look like package.module.function",
        "memory_size 64 must be from 128 to 10240 MB",
        "timeout 901 must be from 1 to 900 s",
        "runtime 'python3.9' must be python3.11 or newer",
        "environment variable names are invalid: 1BAD",
        "tracing_config.mode must stay Active",
    ]


def test_handlers_zip_is_deterministic(tmp_path):
    src = tmp_path / "handlers"
    (src / "__pycache__").mkdir(parents=True)
    (src / "__init__.py").write_text("")
    (src / "ingest.py").write_text("def handler(e, c): return 1\n")
    (src / "__pycache__" / "ingest.cpython-311.pyc").write_bytes(b"junk")
    first = build_package(src, tmp_path / "a")
    (src / "ingest.py").touch()  # a new mtime changes nothing
    assert build_package(src, tmp_path / "b").sha256_base64 == first.sha256_base64
    entries = zipfile.ZipFile(BytesIO(zip_bytes(src))).infolist()
    assert [e.filename for e in entries] == ["handlers/__init__.py", "handlers/ingest.py"]
    assert {e.date_time for e in entries} == {(1980, 1, 1, 0, 0, 0)}
    (src / "ingest.py").write_text("def handler(e, c): return 2\n")
    assert build_package(src, tmp_path / "c").sha256_base64 != first.sha256_base64

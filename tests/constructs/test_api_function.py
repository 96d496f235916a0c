"""API Gateway routes and stage; functions, their roles and the event source; the handlers zip."""
from __future__ import annotations

import json
import zipfile
from io import BytesIO

import pytest

from constructs_lib.api import INTEGRATION_SETTINGS, METHOD_SETTINGS, VALIDATOR_SETTINGS, ApiProps, validate_api_props
from constructs_lib.defaults import ValidationError
from constructs_lib.function import Function, FunctionCode, FunctionProps, environment_bytes
from constructs_lib.packaging import build_package, provider_table_bytes, zip_bytes
from handlers.contract import AWS_LIMITS, BINARY_MEDIA_TYPES, PROVIDERS_FILE_NAME

ACCOUNT = "${data.aws_caller_identity.caller.account_id}"


def test_two_routes_take_any_method_with_request_validation(local):
    paths = sorted(r["path_part"] for r in local.resources("aws_api_gateway_resource").values())
    assert paths == ["webhook", "webhooks", "{provider}"]
    params = sorted(json.dumps(m["request_parameters"]) for m in local.resources("aws_api_gateway_method").values())
    assert params == ['{"method.request.header.X-Provider-ID": true}', '{"method.request.path.provider": true}']
    validator = local.one("aws_api_gateway_request_validator")
    assert validator["validate_request_parameters"] is True
    for method in local.resources("aws_api_gateway_method").values():
        # ANY: GET / HEAD handshakes reach ingest, and ingest answers 405 (with Allow) to the rest
        assert method["http_method"] == "ANY" and method["request_validator_id"].startswith("${aws_api_gateway_request_validator.")


def test_integrations_are_aws_proxy_and_reference_their_method(local):
    for integration in local.resources("aws_api_gateway_integration").values():
        assert integration["type"] == "AWS_PROXY" and integration["integration_http_method"] == "POST"
        # A reference, so destroy deletes the integration before its method (moto answers 500 otherwise).
        assert integration["http_method"].startswith("${aws_api_gateway_method.")
        assert integration["uri"].endswith(".invoke_arn}")


def test_redeployment_trigger_is_computed_by_terraform_from_resolved_values(prod):
    trigger = prod.one("aws_api_gateway_deployment")["triggers"]["redeployment"]
    assert trigger.startswith("${sha1(jsonencode([") and trigger.endswith("]))}")
    assert "TfToken" not in trigger  # an unresolved token would hash the synth order, not the API
    # The configured media types, a constant (moto drops the API's own attribute on create).
    expected = {json.dumps(list(BINARY_MEDIA_TYPES))}
    for rtype, settings in (
        ("aws_api_gateway_request_validator", {"id", *VALIDATOR_SETTINGS}),
        ("aws_api_gateway_resource", {"id", "path_part"}),
        ("aws_api_gateway_method", {"id", "request_validator_id", "request_parameters", *METHOD_SETTINGS}),
        ("aws_api_gateway_integration", {"id", "uri", *INTEGRATION_SETTINGS}),
    ):
        for name, body in prod.resources(rtype).items():
            if rtype == "aws_api_gateway_resource" and body["path_part"] == "webhooks":
                continue  # a parent only: its child's path and parent id are hashed
            expected |= {f"{rtype}.{name}.{key}" for key in settings}
    hashed = set(trigger.removeprefix("${sha1(jsonencode([").removesuffix("]))}").split(", "))
    assert hashed == expected


def test_every_integration_and_method_setting_is_hashed(prod):
    """A setting added to an integration or a method without going into the trigger fails here."""
    for rtype, hashed in (("aws_api_gateway_integration", {"uri", *INTEGRATION_SETTINGS}),
                          ("aws_api_gateway_method", {"request_parameters", *METHOD_SETTINGS})):
        for body in prod.resources(rtype).values():
            settings = set(body) - {"//", "rest_api_id", "resource_id", "request_validator_id", "http_method"}
            assert settings <= hashed, (rtype, settings - hashed)


def test_binary_bodies_reach_the_function_as_bytes(local, prod):
    assert prod.one("aws_api_gateway_rest_api")["binary_media_types"] == list(BINARY_MEDIA_TYPES) == ["*/*"]
    assert prod.one("aws_api_gateway_rest_api")["lifecycle"] == {"create_before_destroy": True}
    # moto 5.2.1 drops binaryMediaTypes on CreateRestApi: ignored there only, or every plan would differ.
    assert local.one("aws_api_gateway_rest_api")["lifecycle"] == {
        "create_before_destroy": True, "ignore_changes": ["binary_media_types"]}


def test_deployment_and_stage_settings(local, prod):
    deployment = local.one("aws_api_gateway_deployment")
    assert deployment["lifecycle"] == {"create_before_destroy": True}
    assert len(deployment["depends_on"]) == 4
    stage = local.one("aws_api_gateway_stage")
    assert stage["stage_name"] == "local" and stage["xray_tracing_enabled"] is True  # ([tracing] sample_rate > 0)
    access = json.loads(stage["access_log_settings"]["format"])
    assert access["requestId"] == "$context.requestId"
    assert not any("body" in v.lower() for v in access.values())
    settings = local.one("aws_api_gateway_method_settings")
    assert settings["method_path"] == "*/*"
    assert settings["settings"]["data_trace_enabled"] is False
    assert settings["settings"]["metrics_enabled"] is False  # per-method metrics are billed; nothing reads them
    assert prod.one("aws_api_gateway_stage")["stage_name"] == "prod"
    assert local.one("aws_cloudwatch_log_group", name="/aws/apigateway/webhooks-local-api/access")["retention_in_days"] == 7


def test_throttle_comes_from_the_config_per_environment(local, prod, config):
    for synth, env in ((local, "local"), (prod, "prod")):
        settings = synth.one("aws_api_gateway_method_settings")["settings"]
        expected = config.environment(env)
        assert settings["throttling_rate_limit"] == expected.throttle_rate_limit
        assert settings["throttling_burst_limit"] == expected.throttle_burst_limit
    prod_rate = prod.one("aws_api_gateway_method_settings")["settings"]["throttling_rate_limit"]
    assert (prod_rate, local.one("aws_api_gateway_method_settings")["settings"]["throttling_rate_limit"]) == (500, 50)


def test_execution_log_group_is_managed_with_retention_before_the_stage(prod):
    [(key, group)] = [(k, g) for k, g in prod.resources("aws_cloudwatch_log_group").items()
                      if g["name"].startswith("API-Gateway-Execution-Logs_")]
    [api] = prod.resources("aws_api_gateway_rest_api")
    assert group["name"] == f"API-Gateway-Execution-Logs_${{aws_api_gateway_rest_api.{api}.id}}/prod"
    assert group["retention_in_days"] == 7
    assert f"aws_cloudwatch_log_group.{key}" in prod.one("aws_api_gateway_stage")["depends_on"]


def test_api_gateway_samples_by_a_rule_for_its_stage_and_only_on_aws(local, prod, config):
    # On AWS: one X-Ray sampling rule, matched by API Gateway on <api>/<stage> (the default rule would
    # trace 1 request per second and 5% of the rest: nearly all of them at webhook rates).
    rule = prod.one("aws_xray_sampling_rule")
    tracing = config.environment("prod").tracing
    assert (rule["service_name"], rule["service_type"]) == ("webhooks-prod-api/prod", "AWS::ApiGateway::Stage")
    assert (rule["fixed_rate"], rule["reservoir_size"]) == (tracing.sample_rate, tracing.reservoir_per_second) == (0.01, 0)
    assert rule["priority"] < 10000 and len(rule["rule_name"]) <= 32
    assert all(rule[k] == "*" for k in ("host", "http_method", "url_path", "resource_arn"))
    # The emulator has no X-Ray sampling rules (and nothing traces there).
    assert local.resources("aws_xray_sampling_rule") == {}


def test_nothing_traced_means_no_stage_tracing_and_no_rule(scratch, synthesize, aws):
    from constructs_lib.api import Api

    Api(scratch, "a", aws=aws, props=ApiProps(name="n" * 40, stage_name="s", function_name="f",
                                              function_invoke_arn="arn", xray_sample_rate=0))
    synth = synthesize(scratch)
    assert synth.one("aws_api_gateway_stage")["xray_tracing_enabled"] is False
    assert synth.resources("aws_xray_sampling_rule") == {}
    Api(scratch, "b", aws=aws, props=ApiProps(name="n" * 40, stage_name="s", function_name="f",
                                              function_invoke_arn="arn", xray_reservoir_per_second=1))
    [rule] = synthesize(scratch).resources("aws_xray_sampling_rule").values()
    assert len(rule["rule_name"]) == 32 and rule["rule_name"].startswith("n" * 23 + "-")


def test_lambda_permission_matches_both_routes(local):
    permission = local.one("aws_lambda_permission")
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["source_arn"].endswith(".execution_arn}/*/*/*")  # any stage, method and path


def test_api_validation():
    props = ApiProps(name="", stage_name="bad stage", function_name="f", function_invoke_arn="a",
                     throttle_burst_limit=-1, throttle_rate_limit=-1, xray_sample_rate=2, xray_reservoir_per_second=-1)
    assert validate_api_props(props) == [
        "name is required",
        "stage_name 'bad stage' must be 1-128 letters, digits, '-' or '_'",
        "throttle_burst_limit must be 0 or more",
        "throttle_rate_limit must be 0 or more",
        "xray_sample_rate must be from 0 to 1",
        "xray_reservoir_per_second must be 0 or more",
    ]


@pytest.mark.parametrize("name,handler,timeout", [
    ("ingest", "handlers.ingest.handler", 10), ("process", "handlers.process.handler", 30)])
def test_function_defaults(local, name, handler, timeout):
    fn = local.one("aws_lambda_function", function_name=f"webhooks-local-{name}")
    assert fn["handler"] == handler
    assert (fn["runtime"], fn["memory_size"], fn["timeout"], fn["architectures"]) == ("python3.13", 256, timeout, ["arm64"])
    # ingest follows API Gateway's sampling; process is traced only with [tracing] trace_process
    assert fn["tracing_config"] == {"mode": "PassThrough"}
    # WARN: no "start" and "report" lines for every invocation (billed log bytes; docs/cost.md)
    assert fn["logging_config"] == {"log_format": "JSON", "log_group": f"/aws/lambda/webhooks-local-{name}",
                                    "system_log_level": "WARN"}
    assert fn["depends_on"][0].startswith("aws_cloudwatch_log_group.")  # created before the function
    assert fn["filename"].startswith("assets/") and fn["filename"].endswith(".zip")
    group = local.one("aws_cloudwatch_log_group", name=f"/aws/lambda/webhooks-local-{name}")
    assert group["retention_in_days"] == 7
    assert fn["role"].startswith(f"${{aws_iam_role.{name}_role")
    assert "reserved_concurrent_executions" not in fn  # local shares the (emulated) account pool


def test_ingest_answers_before_api_gateway_gives_up(prod):
    ingest = prod.one("aws_lambda_function", function_name="webhooks-prod-ingest")
    assert ingest["timeout"] < AWS_LIMITS.api_gateway_integration_timeout_seconds


def test_reserved_concurrency_per_function_from_the_config(prod):
    ingest = prod.one("aws_lambda_function", function_name="webhooks-prod-ingest")
    process = prod.one("aws_lambda_function", function_name="webhooks-prod-process")
    assert (ingest["reserved_concurrent_executions"], process["reserved_concurrent_executions"]) == (100, 25)
    # The event source never polls more batches than process may run: no throttled batch burns a receive.
    assert prod.one("aws_lambda_event_source_mapping")["scaling_config"] == {"maximum_concurrency": 25}


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
    sdk = {"AWS_CONNECT_TIMEOUT", "AWS_READ_TIMEOUT", "AWS_MAX_ATTEMPTS"}
    assert ingest.items() >= common.items() and process.items() >= common.items()
    assert set(ingest) - set(common) == sdk | {
        "QUEUE_URL", "PROVIDERS_FILE", "MAX_BODY_BYTES", "RECORD_TTL_DAYS", "SECRET_REFRESH_SECONDS",
        "INLINE_PAYLOAD_LIMIT"}  # which payloads ride in the queue message
    assert ingest["INLINE_PAYLOAD_LIMIT"] == process["INLINE_PAYLOAD_LIMIT"]
    assert set(process) - set(common) == sdk | {
        "EVENT_BUS_NAME", "INLINE_PAYLOAD_LIMIT", "MAX_RECEIVE_COUNT", "PUT_EVENTS_MAX_BYTES"}
    # Built, not referenced: the function does not wait ~50 s for the queue chain.
    assert ingest["QUEUE_URL"] == f"http://127.0.0.1:4566/{ACCOUNT}/webhooks-local-ingest.fifo"
    assert ingest["PROVIDERS_FILE"] == PROVIDERS_FILE_NAME  # the table is in the zip, not the environment
    assert process["EVENT_BUS_NAME"] == "webhooks-local-bus" and process["MAX_RECEIVE_COUNT"] == "5"
    assert "${aws_sqs_queue" not in json.dumps(local.resources("aws_lambda_function"))


def test_sdk_timeouts_fit_each_functions_own_timeout(local):
    """contract.sdk_settings: every call with all its attempts fits the function's timeout."""
    for name, calls in (("ingest", 4), ("process", 3)):
        fn = local.one("aws_lambda_function", function_name=f"webhooks-local-{name}")
        env = fn["environment"]["variables"]
        per_call = int(env["AWS_MAX_ATTEMPTS"]) * (float(env["AWS_CONNECT_TIMEOUT"]) + float(env["AWS_READ_TIMEOUT"]))
        assert calls * per_call <= fn["timeout"], (name, calls, per_call)


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

    # Exactly what each handler calls (no dynamodb:GetItem: no handler calls it).
    assert actions("ingest") == sorted([
        "dynamodb:PutItem", "logs:CreateLogStream", "logs:PutLogEvents",
        "s3:PutObject", "secretsmanager:GetSecretValue", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage",
        "xray:PutTelemetryRecords", "xray:PutTraceSegments",
    ])
    assert actions("process") == sorted([
        "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:UpdateItem", "events:PutEvents", "logs:CreateLogStream",
        "logs:PutLogEvents", "s3:GetObject", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl", "sqs:ReceiveMessage", "xray:PutTelemetryRecords", "xray:PutTraceSegments",
    ])
    wildcard = [s for fn in ("ingest", "process") for s in local.policies_of(fn) if "*" in s["Resource"]]
    assert all(a.startswith("xray:") for s in wildcard for a in s["Action"])


def test_function_validation(scratch):
    code = FunctionCode(path="x.zip", sha256_base64="")
    with pytest.raises(ValidationError) as err:
        Function(scratch, "f", aws=None, props=FunctionProps(
            name="f", handler="nohandler", code=code, memory_size=64, timeout=901, runtime="python3.11",
            environment={"1BAD": "x"}, reserved_concurrency=0, tracing_mode="Off",
            overrides={"tracing_config": {"mode": "PassThrough"}},
        ))
    assert err.value.problems == [
        "handler 'nohandler' must look like package.module.function",
        "memory_size 64 must be from 128 to 10240 MB",
        "timeout 901 must be from 1 to 900 s",
        "runtime 'python3.11' must be python3.12 or newer (Amazon Linux 2023)",
        "environment variable names are invalid: 1BAD",
        "reserved_concurrency must be 1 or more (0 would stop the function)",
        "tracing_mode must be one of: Active, PassThrough",
        "tracing_config is set by tracing_mode",
    ]


def test_environment_over_lambdas_4_kb_fails_at_synth_naming_the_function(scratch, aws):
    code = FunctionCode(path="x.zip", sha256_base64="")
    # 40 variables of 100 characters: 4,000 bytes of values, over 4,096 with names and JSON.
    environment = {f"VAR_{i:02d}": "x" * 100 for i in range(40)}
    assert environment_bytes(environment) > AWS_LIMITS.lambda_environment_bytes
    with pytest.raises(ValidationError) as err:
        Function(scratch, "ingest", aws=aws, props=FunctionProps(
            name="webhooks-prod-ingest", handler="handlers.ingest.handler", code=code, environment=environment))
    size = environment_bytes(environment)
    assert str(err.value) == (f"Function 'ingest': environment variables take {size} bytes, "
                              f"over Lambda's 4096 for all of them together")
    assert scratch.node.children == []  # nothing was created


def test_environment_size_is_measured_as_lambda_measures_it():
    """Lambda's error quotes the measured string: the variables as one JSON object."""
    assert environment_bytes({"A": "1"}) == len('{"A":"1"}')
    assert environment_bytes({"A": "é"}) == len('{"A":"é"}'.encode("utf-8"))


def test_process_reserved_concurrency_must_allow_an_event_source(scratch, aws):
    from constructs_lib.queue import Queue, QueueProps

    code = FunctionCode(path="x.zip", sha256_base64="")
    fn = Function(scratch, "process", aws=aws, props=FunctionProps(
        name="p", handler="handlers.process.handler", code=code, reserved_concurrency=1))
    queue = Queue(scratch, "q", props=QueueProps(name="q"), aws=aws)
    with pytest.raises(ValidationError, match="reserved_concurrency 1 is under 2"):
        fn.add_sqs_event_source(queue, batch_size=10)


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


def test_provider_table_is_a_file_at_the_zip_root(tmp_path, config):
    src = tmp_path / "handlers"
    src.mkdir()
    (src / "__init__.py").write_text("")
    table = provider_table_bytes(config.providers, "webhooks-prod")
    archive = zipfile.ZipFile(BytesIO(zip_bytes(src, {PROVIDERS_FILE_NAME: table})))
    assert archive.namelist() == ["handlers/__init__.py", PROVIDERS_FILE_NAME]
    doc = json.loads(archive.read(PROVIDERS_FILE_NAME))
    assert list(doc) == sorted(config.providers)
    assert doc["stripe"] == config.providers["stripe"].runtime_config("webhooks-prod/providers/stripe")
    # Same config, same bytes; another stack, another table (its secret names).
    assert provider_table_bytes(config.providers, "webhooks-prod") == table
    assert provider_table_bytes(config.providers, "webhooks-dev") != table
    assert build_package(src, tmp_path / "a", {PROVIDERS_FILE_NAME: table}).sha256_base64 == \
        build_package(src, tmp_path / "b", {PROVIDERS_FILE_NAME: table}).sha256_base64

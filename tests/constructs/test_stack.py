"""The stack: provider per environment, default tags, backends, outputs."""
from __future__ import annotations

import json
from pathlib import Path

from constructs_lib.stack import EMULATED_SERVICES, state_path
from handlers.contract import StackOutputs

ROOT = Path(__file__).resolve().parents[2]

# The original design's names (kept as aliases) and the canonical <thing>_name / _arn / _url ones.
OUTPUTS = {
    "api_endpoint", "dynamodb_table_name", "s3_bucket_name", "sqs_queue_url", "eventbridge_bus_arn",
    "ingestion_function_name", "processing_function_name", "dlq_url", "event_bus_name",
    "api_url", "table_name", "bucket_name", "queue_url", "event_bus_arn", "ingest_function_name",
    "process_function_name",
}


def test_emulated_provider_points_every_service_at_the_emulator(local):
    [provider] = local.doc["provider"]["aws"]
    [endpoints] = provider["endpoints"]
    assert set(endpoints.values()) == {"http://127.0.0.1:4566"}
    assert len(endpoints) == len(EMULATED_SERVICES)
    assert {"lambda", "sqs", "s3", "dynamodb", "apigateway", "sts", "iam", "secretsmanager"} <= set(endpoints)
    assert (provider["access_key"], provider["secret_key"]) == ("testing", "testing")
    assert provider["skip_credentials_validation"] is True and provider["skip_requesting_account_id"] is True
    assert provider["s3_use_path_style"] is True
    assert provider["default_tags"] == [{"tags": {"Environment": "local", "Service": "webhooks", "Owner": "you"}}]


def test_real_provider_has_no_emulator_settings(prod):
    [provider] = prod.doc["provider"]["aws"]
    assert set(provider) == {"region", "default_tags"}
    assert provider["default_tags"][0]["tags"] == {
        "Environment": "prod", "Service": "webhooks", "Owner": "platform-team", "CostCenter": "payments"}


def test_backends(local, prod, stacks):
    # Relative to the stack folder; with the default outdir that is ../../../.webhookctl/state/<stack>.tfstate.
    from cdktf import App

    path = local.doc["terraform"]["backend"]["local"]["path"]
    stack_dir = Path(App.of(stacks["local"]).outdir) / "stacks" / "webhooks-local"
    assert (stack_dir / path).resolve() == ROOT / ".webhookctl" / "state" / "webhooks-local.tfstate"
    assert prod.doc["terraform"]["backend"] == {"s3": {
        "bucket": "webhooks-tfstate-prod", "key": "webhookctl/prod.tfstate", "region": "eu-west-1",
        "encrypt": True, "use_lockfile": True,
    }}


def test_state_path_is_relative_to_the_stack_folder():
    root = Path("/somewhere/project")
    assert state_path(root, root / "cdktf.out", "s") == "../../../.webhookctl/state/s.tfstate"
    assert state_path(root, Path("/tmp/out"), "s") == "../../../../somewhere/project/.webhookctl/state/s.tfstate"


def test_outputs(local, prod):
    assert set(local.doc["output"]) == OUTPUTS | {"emulator_endpoint", "emulator_url"}
    assert set(prod.doc["output"]) == OUTPUTS
    assert local.doc["output"]["emulator_endpoint"]["value"] == "http://127.0.0.1:4566"
    for alias, name in StackOutputs.ALIASES.items():  # an alias is the same value under its old name
        if name in local.doc["output"]:
            assert local.doc["output"][alias]["value"] == local.doc["output"][name]["value"]


def test_names_are_prefixed_with_the_stack(local):
    named = [
        r.get("name") or r.get("function_name") or r.get("alarm_name")
        for rtype, rs in local.doc["resource"].items() if rtype != "aws_iam_role_policy"  # named within their role
        for r in rs.values()
    ]
    named = [n for n in named if isinstance(n, str) and not n.startswith("${")]  # references
    # API Gateway names its execution log group itself: API-Gateway-Execution-Logs_<api id>/<stage>.
    named = [n for n in named if not n.startswith("API-Gateway-Execution-Logs_")]
    assert named and all("webhooks-local" in n or n in ("params",) for n in named), named


def test_policy_names_derive_from_construct_ids_and_never_collide(prod):
    """Each grant's policy is named <intent><construct id>: a second grant gets its own name."""
    names = {}
    for key, policy in prod.resources("aws_iam_role_policy").items():
        names.setdefault(policy["role"], []).append(policy["name"])
    assert all(len(n) == len(set(n)) for n in names.values())
    by_function = {role.split(".")[1].split("_")[0]: sorted(n) for role, n in names.items()}
    assert by_function == {
        "ingest": ["PutArchive", "ReadSecrets", "SendToIngestQueue", "TraceIngest", "WriteDataRecords", "WriteLogsIngest"],
        "process": ["ConsumeFromIngestQueue", "PutEventsOnEvents", "ReadArchive", "ReadDataRecords", "TraceProcess",
                    "UpdateDataRecords", "WriteLogsProcess"],
        "events": ["InvokeApiDestinations"],  # the role EventBridge assumes for the http route
    }


def test_synth_json_is_machine_independent(local):
    without_backend = {k: v for k, v in local.doc.items() if k != "terraform"}
    text = json.dumps(without_backend)
    assert "/work/" not in text and "/tmp/" not in text
    assert json.loads(local.text)["terraform"]["required_providers"]["aws"]["version"] == "5.100.0"


def test_emulated_environment_with_an_s3_backend_points_the_backend_at_the_emulator(cdktf_testing, config, synthesize):
    import dataclasses

    from config import Backend
    from constructs_lib.stack import WebhookStack

    env = dataclasses.replace(
        config.environment("local"), backend=Backend(type="s3", bucket="state", key="w/local.tfstate", region="us-east-1")
    )
    stack = WebhookStack(cdktf_testing.app(), "webhooks-local", config=config, environment=env, project_root=ROOT)
    backend = synthesize(stack).doc["terraform"]["backend"]["s3"]
    assert backend["endpoints"] == {"s3": "http://127.0.0.1:4566", "sts": "http://127.0.0.1:4566", "iam": "http://127.0.0.1:4566"}
    assert backend["use_path_style"] is True and backend["use_lockfile"] is True and backend["encrypt"] is True
    assert backend["skip_credentials_validation"] is True and backend["skip_requesting_account_id"] is True
    assert (backend["access_key"], backend["secret_key"]) == ("testing", "testing")


def test_the_cost_model_counts_the_alarms_and_secrets_the_stack_makes(prod, config):
    """`webhookctl cost` prices what the stack really makes: the same alarms, the same secrets."""
    from cli import cost
    from cli.prices import US_EAST_1

    fixed = {i.item: i.quantity for i in cost.fixed_items(config, US_EAST_1, cost.DESIGN)}
    assert fixed["alarms"] == len(prod.resources("aws_cloudwatch_metric_alarm"))
    secrets = fixed["one secret per provider"] + fixed.get("one secret per http route's connection", 0)
    assert secrets == len(prod.resources("aws_secretsmanager_secret")) + len(
        prod.resources("aws_cloudwatch_event_connection"))

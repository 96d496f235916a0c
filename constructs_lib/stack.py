"""WebhookStack: the whole pipeline for one environment of `webhookctl.toml`."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import bindings  # noqa: F401  (first: lazy provider imports)
from cdktf import App, LocalBackend, S3Backend, S3BackendEndpointConfig, TerraformOutput, TerraformStack
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags, AwsProviderEndpoints
from constructs import Construct

from config import Config, Environment
from handlers.contract import EMULATOR_CREDENTIALS as CONTRACT_EMULATOR_CREDENTIALS
from handlers.contract import INGEST_SETTINGS, PROCESS_SETTINGS, SERVICE_NAME, Settings, StackOutputs

from .api import Api, ApiProps
from .bucket import Bucket, BucketProps
from .bus import Bus, BusProps, RouteSpec
from .function import Function, FunctionProps, handlers_code
from .iam import AwsContext
from .monitoring import Monitoring, MonitoringProps
from .packaging import build_package
from .queue import Queue, QueueProps
from .secrets import ProviderSecrets
from .table import Table, TableProps

HANDLERS_DIR = Path(__file__).resolve().parent.parent / "handlers"
INGEST_HANDLER = "handlers.ingest.handler"
PROCESS_HANDLER = "handlers.process.handler"

# Every service the stack talks to: on the emulator each one points at it.
EMULATED_SERVICES = (
    "apigateway", "cloudwatch", "cloudwatchlogs", "dynamodb", "eventbridge", "iam",
    "lambda_", "s3", "secretsmanager", "sqs", "sts",
)
EMULATOR_CREDENTIALS = {
    "access_key": CONTRACT_EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
    "secret_key": CONTRACT_EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
}
EMULATOR_SKIPS = {"skip_credentials_validation": True, "skip_requesting_account_id": True}


def state_path(project_root: Path, outdir: Path, stack_name: str) -> str:
    """The local state file in the project, relative to the stack folder (machine independent)."""
    target = project_root.resolve() / ".webhookctl" / "state" / f"{stack_name}.tfstate"
    return os.path.relpath(target, (outdir.resolve() / "stacks" / stack_name))


class WebhookStack(TerraformStack):
    """Attributes: aws, queue, table, bucket, bus, secrets, ingest, process, api, monitoring."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: Config,
        environment: Environment,
        project_root: Path | None = None,
        handlers_dir: Path = HANDLERS_DIR,
    ):
        super().__init__(scope, id)
        env, limits, name = environment, config.limits, id
        project_root = Path(project_root or Path(config.path).resolve().parent)
        outdir = Path(App.of(self).outdir)
        self._provider(config, env)
        self._backend(env, project_root, outdir)

        identity = DataAwsCallerIdentity(self, "caller")
        self.aws = aws = AwsContext(account_id=identity.account_id, region=env.region, emulator_endpoint=env.emulator_endpoint)

        self.secrets = ProviderSecrets(self, "secrets", stack_name=name, providers=config.providers, protect=env.protect)
        self.queue = Queue(
            self, "ingest-queue",
            props=QueueProps(
                name=f"{name}-ingest",
                consumer_timeout_seconds=limits.function_timeout_seconds,
                max_receive_count=limits.max_receive_count,
            ),
            aws=aws,
        )
        self.table = Table(self, "records", props=TableProps(name=f"{name}-records", deletion_protection=env.protect), aws=aws)
        self.bucket = Bucket(
            self, "archive",
            props=BucketProps(name=f"{name}-archive-{identity.account_id}", protect=env.protect,
                              expiration_days=env.archive_expiration_days, enforce_tls=not env.is_emulated),
            aws=aws,
        )
        self.bus = Bus(
            self, "events",
            props=BusProps(
                name=f"{name}-bus",
                routes=[RouteSpec(r.name, r.pattern_json, r.target) for r in config.routes],
                log_retention_in_days=limits.log_retention_in_days,
            ),
            aws=aws,
        )

        code = handlers_code(self, "handlers", build_package(handlers_dir, outdir / ".build"))
        self.settings = settings = Settings(
            environment=env.name,
            table_name=self.table.name,
            bucket_name=self.bucket.name,
            service_name=SERVICE_NAME,
            metrics_namespace=f"Webhookctl/{name}",
            queue_url=self.queue.url,
            max_body_bytes=limits.max_body_bytes,
            record_ttl_days=limits.record_ttl_days,
            event_bus_name=self.bus.name,
            inline_payload_limit=limits.inline_payload_limit,
            max_receive_count=limits.max_receive_count,
        )

        def function(fid: str, handler: str, environment: dict[str, str]) -> Function:
            return Function(
                self, fid,
                props=FunctionProps(
                    name=f"{name}-{fid}",
                    handler=handler,
                    code=code,
                    environment=environment,
                    memory_size=limits.function_memory_mb,
                    timeout=limits.function_timeout_seconds,
                    runtime=limits.function_runtime,
                    log_retention_in_days=limits.log_retention_in_days,
                ),
                aws=aws,
            )

        self.ingest = function("ingest", INGEST_HANDLER, settings.to_env(INGEST_SETTINGS))
        self.process = function("process", PROCESS_HANDLER, settings.to_env(PROCESS_SETTINGS))

        self.bucket.grant_put(self.ingest)
        self.table.grant(self.ingest, "PutItem", "UpdateItem", "GetItem")
        self.queue.grant_send_messages(self.ingest)
        self.secrets.grant_read(self.ingest)

        self.bucket.grant_read(self.process)
        self.table.grant(self.process, "GetItem", "UpdateItem", "BatchGetItem")
        self.bus.grant_put_events_to(self.process)
        # moto runs an enabled mapping on every SendMessage (receives the batch, fails to start the
        # function without Docker, and so burns receive counts into the DLQ); on the emulator the
        # local runtime polls the queue and runs the processor in-process instead.
        self.event_source = self.process.add_sqs_event_source(
            self.queue, batch_size=limits.batch_size, enabled=not env.is_emulated
        )

        self.api = Api(
            self, "api",
            props=ApiProps(
                name=f"{name}-api",
                stage_name=env.name,
                function_name=self.ingest.function.function_name,
                function_invoke_arn=self.ingest.function.invoke_arn,
                throttle_burst_limit=env.throttle_burst_limit,
                throttle_rate_limit=env.throttle_rate_limit,
                log_retention_in_days=limits.log_retention_in_days,
            ),
        )
        self.monitoring = Monitoring(
            self, "monitoring",
            props=MonitoringProps(
                name=name,
                region=env.region,
                queue_name=self.queue.name,
                dlq_name=self.queue.dlq_name,
                ingest_function_name=self.ingest.name,
                process_function_name=self.process.name,
                api_name=f"{name}-api",
                stage_name=env.name,
            ),
        )
        self._outputs(env)

    def _provider(self, config: Config, env: Environment) -> None:
        emulated: dict[str, Any] = {}
        if env.is_emulated:
            emulated = {
                **EMULATOR_CREDENTIALS,
                **EMULATOR_SKIPS,
                "skip_metadata_api_check": "true",  # a string in the provider schema
                "s3_use_path_style": True,
                "endpoints": [AwsProviderEndpoints(**{service: env.emulator_endpoint for service in EMULATED_SERVICES})],
            }
        AwsProvider(
            self, "aws",
            region=env.region,
            default_tags=[AwsProviderDefaultTags(tags={"Environment": env.name, "Service": config.project, **env.tags})],
            **emulated,
        )

    def _backend(self, env: Environment, project_root: Path, outdir: Path) -> None:
        backend = env.backend
        if backend.type == "local":
            LocalBackend(self, path=state_path(project_root, outdir, self.node.id))
            return
        emulated: dict[str, Any] = {}
        if env.is_emulated:
            emulated = {
                **EMULATOR_CREDENTIALS,
                **EMULATOR_SKIPS,
                "skip_metadata_api_check": True,
                "skip_region_validation": True,
                "use_path_style": True,
                "endpoints": S3BackendEndpointConfig(s3=env.emulator_endpoint, sts=env.emulator_endpoint, iam=env.emulator_endpoint),
            }
        S3Backend(self, bucket=backend.bucket, key=backend.key, region=backend.region, encrypt=True, **emulated)
        # cdktf 0.21's S3Backend has no use_lockfile yet; Terraform 1.10+ does (S3-native locking).
        self.add_override("terraform.backend.s3.use_lockfile", backend.use_lockfile)

    def _outputs(self, env: Environment) -> None:
        outputs = StackOutputs(
            api_url=self.api.url,
            table_name=self.table.table.name,
            bucket_name=self.bucket.bucket.bucket,
            queue_url=self.queue.queue.url,
            dlq_url=self.queue.dead_letter_queue.url,
            event_bus_name=self.bus.bus.name,
            event_bus_arn=self.bus.bus.arn,
            ingest_function_name=self.ingest.function.function_name,
            process_function_name=self.process.function.function_name,
            emulator_url=env.emulator_endpoint if env.is_emulated else None,
        )
        for key, value in outputs.to_dict().items():
            TerraformOutput(self, key, value=value)

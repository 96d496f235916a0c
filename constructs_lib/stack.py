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
from handlers import schemes
from handlers.contract import EMULATOR_CREDENTIALS as CONTRACT_EMULATOR_CREDENTIALS
from handlers.contract import (
    INGEST_SDK_CALLS,
    INGEST_SETTINGS,
    PROCESS_SDK_CALLS,
    PROCESS_SETTINGS,
    PROVIDERS_FILE_NAME,
    SERVICE_NAME,
    Settings,
    StackOutputs,
    pointer_max_bytes,
    sdk_settings,
)

from .api import Api, ApiProps
from .bucket import Bucket, BucketProps
from .bus import Bus, BusProps, route_specs
from .function import Function, FunctionCode, FunctionProps, handlers_code
from .iam import AwsContext
from .monitoring import Monitoring, MonitoringProps
from .notifications import AlarmTopic, AlarmTopicProps
from .packaging import build_package, provider_table_bytes
from .queue import Queue, QueueProps
from .secrets import ProviderSecrets
from .table import Table, TableProps

HANDLERS_DIR = Path(__file__).resolve().parent.parent / "handlers"
INGEST_HANDLER = "handlers.ingest.handler"
PROCESS_HANDLER = "handlers.process.handler"

# AWS calls each function makes in a row (contract.sdk_settings fits their timeouts and retries
# into the function's own timeout).
SEQUENTIAL_CALLS = {"ingest": INGEST_SDK_CALLS, "process": PROCESS_SDK_CALLS}

# Every service the stack talks to: on the emulator each one points at it.
EMULATED_SERVICES = (
    "apigateway", "cloudwatch", "cloudwatchlogs", "dynamodb", "eventbridge", "iam",
    "lambda_", "s3", "secretsmanager", "sns", "sqs", "sts",
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
    """Attributes: aws, secrets, queue, table, bucket, bus, settings, ingest, process, event_source,
    api, alarm_topic, monitoring.

    Built in five steps, each a method: storage, functions, permissions, edge, monitoring.
    """

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
        self.config, self.env = config, environment
        project_root = Path(project_root or Path(config.path).resolve().parent)
        outdir = Path(App.of(self).outdir)
        self._provider(config, environment)
        self._backend(environment, project_root, outdir)
        identity = DataAwsCallerIdentity(self, "caller")
        self.aws = AwsContext(account_id=identity.account_id, region=environment.region,
                              emulator_endpoint=environment.emulator_endpoint)
        self._storage()
        self._functions(handlers_dir, outdir)
        self._permissions()
        self._edge()
        self._monitoring()
        self._outputs(environment)

    def _storage(self) -> None:
        """Secrets, the queue and its DLQ, the records table, the archive bucket, the bus and its routes."""
        name, env, limits, aws = self.node.id, self.env, self.config.limits, self.aws
        self.secrets = ProviderSecrets(self, "secrets", stack_name=name, providers=self.config.providers, protect=env.protect)
        self.queue = Queue(self, "ingest-queue", aws=aws, props=QueueProps(
            name=f"{name}-ingest",
            # The visibility timeout derives from the consumer's: 6x process's timeout.
            consumer_timeout_seconds=env.functions["process"].timeout_seconds,
            max_receive_count=limits.max_receive_count,
            largest_message_bytes=pointer_max_bytes(),
        ))
        self.table = Table(self, "records", aws=aws, props=TableProps(name=f"{name}-records", deletion_protection=env.protect))
        archive = self.config.archive
        self.bucket = Bucket(self, "archive", aws=aws, props=BucketProps(
            name=f"{name}-archive-{aws.account_id}", protect=env.protect,
            expiration_days=env.archive_expiration_days, enforce_tls=not env.is_emulated,
            transition_days=archive.transition_days, transition_min_bytes=archive.transition_min_bytes,
            transition_storage_class=archive.storage_class, noncurrent_days=archive.noncurrent_days,
        ))
        self.bus = Bus(self, "events", aws=aws, props=BusProps(
            name=f"{name}-bus",
            routes=route_specs(self.config.routes, env),
            log_retention_in_days=limits.log_retention_in_days,
            archive_retention_days=archive.eventbridge_archive_days,
        ))

    def _functions(self, handlers_dir: Path, outdir: Path) -> None:
        """The handlers zip (with this stack's provider table) and the two functions."""
        table = provider_table_bytes(self.config.providers, self.node.id)
        package = build_package(handlers_dir, outdir / ".build", {PROVIDERS_FILE_NAME: table})
        code = handlers_code(self, "handlers", package)
        limits = self.config.limits
        self.settings = Settings(
            environment=self.env.name,
            table_name=self.table.name,
            bucket_name=self.bucket.name,
            service_name=SERVICE_NAME,
            metrics_namespace=f"Webhookctl/{self.node.id}",
            queue_url=self.queue.url,
            providers_file=PROVIDERS_FILE_NAME,
            max_body_bytes=limits.max_body_bytes,
            record_ttl_days=limits.record_ttl_days,
            event_bus_name=self.bus.name,
            inline_payload_limit=limits.inline_payload_limit,
            max_receive_count=limits.max_receive_count,
            put_events_max_bytes=limits.put_events_max_bytes,
        )
        self.ingest = self._function("ingest", INGEST_HANDLER, code, INGEST_SETTINGS)
        self.process = self._function("process", PROCESS_HANDLER, code, PROCESS_SETTINGS)

    def _function(self, fid: str, handler: str, code: FunctionCode, variables: tuple[str, ...]) -> Function:
        fn = self.env.functions[fid]
        settings = self.settings.replace(**sdk_settings(fn.timeout_seconds, SEQUENTIAL_CALLS[fid]))
        return Function(self, fid, aws=self.aws, props=FunctionProps(
            name=f"{self.node.id}-{fid}",
            handler=handler,
            code=code,
            environment=settings.to_env(variables),
            memory_size=fn.memory_mb,
            timeout=fn.timeout_seconds,
            runtime=fn.runtime,
            reserved_concurrency=fn.reserved_concurrency,
            log_retention_in_days=self.config.limits.log_retention_in_days,
            # Ingest follows API Gateway's sampling; process is traced only on request (function.py).
            tracing_mode="Active" if fid == "process" and self.env.tracing.trace_process else "PassThrough",
        ))

    def _permissions(self) -> None:
        """Each function may call exactly what its handler calls; process consumes the queue."""
        self.bucket.grant_put(self.ingest)
        self.table.grant_write_data(self.ingest)
        self.queue.grant_send_messages(self.ingest)
        self.secrets.grant_read(self.ingest)
        self.secrets.grant_capture(self.ingest, [name for name, p in self.config.providers.items()
                                                 if schemes.get(p.scheme).captures_secret])

        self.bucket.grant_read(self.process)
        self.table.grant_read_data(self.process)
        self.table.grant_update_data(self.process)
        self.bus.grant_put_events_to(self.process)
        # moto runs an enabled mapping on every SendMessage (receives the batch, fails to start the
        # function without Docker, and so burns receive counts into the DLQ); on the emulator the
        # local runtime polls the queue and runs the processor in-process instead.
        self.event_source = self.process.add_sqs_event_source(
            self.queue, batch_size=self.config.limits.batch_size, enabled=not self.env.is_emulated
        )

    def _edge(self) -> None:
        """The REST API in front of ingest, throttled per environment (docs/capacity.md)."""
        env = self.env
        self.api = Api(self, "api", aws=self.aws, props=ApiProps(
            name=f"{self.node.id}-api",
            stage_name=env.name,
            function_name=self.ingest.function.function_name,
            function_invoke_arn=self.ingest.function.invoke_arn,
            throttle_burst_limit=env.throttle_burst_limit,
            throttle_rate_limit=env.throttle_rate_limit,
            log_retention_in_days=self.config.limits.log_retention_in_days,
            xray_sample_rate=env.tracing.sample_rate,
            xray_reservoir_per_second=env.tracing.reservoir_per_second,
        ))

    def _monitoring(self) -> None:
        """The alarm topic with the environment's subscribers, the alarms and the dashboard."""
        name, alarms = self.node.id, self.env.alarms
        self.alarm_topic = AlarmTopic(self, "alarm-topic", aws=self.aws, props=AlarmTopicProps(
            name=f"{name}-alarms", alarm_name_prefix=name, email=alarms.email, https=alarms.https,
        ))
        self.monitoring = Monitoring(self, "monitoring", props=MonitoringProps(
            name=name,
            region=self.env.region,
            queue_name=self.queue.name,
            dlq_name=self.queue.dlq_name,
            ingest_function_name=self.ingest.name,
            process_function_name=self.process.name,
            api_name=f"{name}-api",
            stage_name=self.env.name,
            metrics_namespace=self.settings.metrics_namespace,
            service_name=self.settings.service_name,
            alarm_actions=[self.alarm_topic.arn, *alarms.topic_arns],
            event_bus_name=self.bus.name,
            rule_names=list(self.bus.rule_names.values()),
            targets_dlq_name=self.bus.dlq_name,
            max_receive_count=self.config.limits.max_receive_count,
        ))

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

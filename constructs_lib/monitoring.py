"""Alarms on what loses or delays deliveries, wired to someone, and one dashboard for the pipeline.

Every alarm notifies `alarm_actions` when it fires and again when it clears. Each watches a
signal that means trouble users care about:

- the API answered 5XX (ingest's own 503 on a storage failure, or a Lambda failure or timeout);
- the handlers' own failure metrics (EMF, `contract.Metric`): storage and internal errors,
  publish failures, and records whose status could not be marked;
- the DLQ holds deliveries; the oldest queued delivery is too old;
- an EventBridge rule failed to deliver to its target, sent events to the targets' dead-letter
  queue, or could not even do that (the event is lost); the targets' DLQ holds events.

No alarm on Lambda `Errors`: ingest catches every failure and answers 503 or 500 itself (the API
5XX alarm sees those), and process reports failed records instead of raising (the DLQ alarm and
the publish/mark metrics see those), so `Errors` stays at zero for every failure that matters.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

from . import bindings  # noqa: F401  (first: lazy provider imports)
from cdktf_cdktf_provider_aws.cloudwatch_dashboard import CloudwatchDashboard
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from constructs import Construct

from handlers.contract import METRIC_DIMENSION_SERVICE, Metric

from .defaults import raise_if

# The handlers' failure metrics, each with what it means for the deliveries.
HANDLER_FAILURES = {
    Metric.STORAGE_ERROR: "ingest could not store deliveries and answered 503 (providers retry)",
    Metric.INTERNAL_ERROR: "ingest failed on a bug and answered 500 (providers retry)",
    Metric.PUBLISH_FAILED: "EventBridge refused events; their records are retried, then dead-lettered",
    Metric.MARK_PROCESSED_FAILED: "events were published but their records could not be marked processed",
}


# Per rule: (alarm key, AWS/Events metric, what it means). The metrics carry EventBusName and
# RuleName on a custom bus: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html
RULE_FAILURES = (
    ("failed", "FailedInvocations", "failed to deliver events to its target"),
    ("dead-lettered", "InvocationsSentToDlq", "sent events its target never took to the targets' DLQ "
     "(webhookctl dlq list --target)"),
    ("lost", "InvocationsFailedToBeSentToDlq", "could not send failed events to the targets' DLQ: they are lost"),
)


@dataclass(frozen=True)
class MonitoringProps:
    name: str  # prefix of alarm names and the dashboard name
    region: str
    queue_name: str
    dlq_name: str
    ingest_function_name: str
    process_function_name: str
    api_name: str
    stage_name: str
    metrics_namespace: str  # the handlers' EMF namespace (Settings.metrics_namespace)
    service_name: str  # the handlers' `service` dimension (Settings.service_name)
    alarm_actions: Sequence[str]  # SNS topic ARNs: notified on ALARM and on OK
    event_bus_name: str = ""
    rule_names: Sequence[str] = ()  # EventBridge rules whose failed deliveries alarm
    targets_dlq_name: str = ""  # the bus's dead-letter queue for every route's target
    max_message_age_seconds: int = 300
    max_receive_count: int = 5


def validate_monitoring_props(props: MonitoringProps) -> list[str]:
    problems = []
    if props.max_message_age_seconds < 60:
        problems.append("max_message_age_seconds must be at least 60")
    if not props.alarm_actions:
        problems.append("alarm_actions is empty: an alarm nobody hears protects nothing")
    if len(props.alarm_actions) > 5:
        problems.append(f"{len(props.alarm_actions)} alarm actions: CloudWatch takes at most 5")
    for arn in props.alarm_actions:
        if not str(arn).startswith(("arn:", "${")):
            problems.append(f"alarm action '{arn}' must be an ARN")
    if props.rule_names and not props.event_bus_name:
        problems.append("rule_names need event_bus_name (custom-bus rule metrics carry both dimensions)")
    return problems


class Monitoring(Construct):
    """`alarms[key]` and `dashboard`."""

    def __init__(self, scope: Construct, id: str, *, props: MonitoringProps):
        raise_if(f"Monitoring '{id}'", validate_monitoring_props(props))
        super().__init__(scope, id)
        self.props = props
        self.alarms: dict[str, CloudwatchMetricAlarm] = {}
        self._api_alarm()
        self._handler_alarms()
        self._queue_alarms()
        self._rule_alarms()
        self.dashboard = CloudwatchDashboard(
            self, "dashboard", dashboard_name=props.name, dashboard_body=_dashboard(props)
        )

    def _api_alarm(self) -> None:
        # Per-stage metrics (ApiName, Stage) need no detailed metrics.
        # https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html
        p = self.props
        self._alarm("api-5xx", "The API answered 5XX: deliveries were not stored (providers retry)",
                    "AWS/ApiGateway", "5XXError", {"ApiName": p.api_name, "Stage": p.stage_name}, "Sum", 0)

    def _handler_alarms(self) -> None:
        # EMF metrics: an alarm reads one dimension set exactly, and the handlers emit
        # [service] besides their per-provider sets, so one alarm covers every provider.
        # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
        p = self.props
        for metric, meaning in HANDLER_FAILURES.items():
            self._alarm(metric.replace("_", "-"), f"The handlers report {metric}: {meaning}", p.metrics_namespace,
                        metric, {METRIC_DIMENSION_SERVICE: p.service_name}, "Sum", 0)

    def _queue_alarms(self) -> None:
        p = self.props
        self._alarm("dlq-not-empty", f"Deliveries failed {p.max_receive_count} receives and wait in the DLQ "
                    "(webhookctl dlq list)", "AWS/SQS", "ApproximateNumberOfMessagesVisible",
                    {"QueueName": p.dlq_name}, "Maximum", 0)
        self._alarm("queue-age", f"The oldest queued delivery is older than {p.max_message_age_seconds} s",
                    "AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": p.queue_name}, "Maximum",
                    p.max_message_age_seconds)

    def _rule_alarms(self) -> None:
        # A custom bus's rule metrics carry EventBusName and RuleName; EventBridge sends
        # FailedInvocations only when it is not zero, so missing data is not breaching.
        # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html
        p = self.props
        for rule in p.rule_names:
            dimensions = {"EventBusName": p.event_bus_name, "RuleName": rule}
            for key, metric, meaning in RULE_FAILURES:
                self._alarm(f"rule-{key}-{rule}", f"EventBridge rule {rule} {meaning}", "AWS/Events", metric,
                            dimensions, "Sum", 0)
        if p.targets_dlq_name:
            self._alarm("targets-dlq-not-empty", "Events a route's target never took wait in the targets' DLQ "
                        "(webhookctl dlq list --target NAME)", "AWS/SQS", "ApproximateNumberOfMessagesVisible",
                        {"QueueName": p.targets_dlq_name}, "Maximum", 0)

    def _alarm(self, key: str, description: str, namespace: str, metric: str, dimensions: dict[str, str],
               statistic: str, threshold: float) -> None:
        actions = list(self.props.alarm_actions)
        self.alarms[key] = CloudwatchMetricAlarm(
            self,
            key,
            alarm_name=f"{self.props.name}-{key}",
            alarm_description=description,
            namespace=namespace,
            metric_name=metric,
            dimensions=dimensions,
            statistic=statistic,
            period=60,
            evaluation_periods=1,
            threshold=threshold,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
        )


def _dashboard(props: MonitoringProps) -> str:
    def widget(title: str, metrics: list[list[Any]], x: int, y: int) -> dict[str, Any]:
        return {
            "type": "metric", "x": x, "y": y, "width": 12, "height": 6,
            "properties": {"title": title, "region": props.region, "stat": "Sum", "period": 60, "view": "timeSeries",
                           "metrics": metrics},
        }

    service = [METRIC_DIMENSION_SERVICE, props.service_name]
    widgets = [
        widget("API requests and errors", [
            ["AWS/ApiGateway", m, "ApiName", props.api_name, "Stage", props.stage_name] for m in ("Count", "4XXError", "5XXError")], 0, 0),
        widget("Deliveries", [
            [props.metrics_namespace, m, *service] for m in (
                Metric.ACCEPTED, Metric.DUPLICATE, Metric.REJECTED, Metric.PUBLISHED)], 12, 0),
        widget("Failures", [[props.metrics_namespace, m, *service] for m in HANDLER_FAILURES], 0, 6),
        widget("Functions: invocations and throttles", [
            ["AWS/Lambda", m, "FunctionName", f] for f in (props.ingest_function_name, props.process_function_name)
            for m in ("Invocations", "Throttles")
        ], 12, 6),
        widget("Queue depth", [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q, {"stat": "Maximum"}]
            for q in (props.queue_name, props.dlq_name, props.targets_dlq_name) if q
        ], 0, 12),
        widget("Oldest queued delivery (s)", [
            ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", props.queue_name, {"stat": "Maximum"}]
        ], 12, 12),
    ]
    if props.rule_names:
        widgets.append(widget("Route targets: delivered, retried, failed, dead-lettered", [
            ["AWS/Events", m, "EventBusName", props.event_bus_name, "RuleName", rule]
            for rule in props.rule_names for m in ("SuccessfulInvocationAttempts", "RetryInvocationAttempts",
                                                   "FailedInvocations", "InvocationsSentToDlq")
        ], 0, 18))
    return json.dumps({"widgets": widgets}, separators=(",", ":"))

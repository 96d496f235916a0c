"""Alarms on what loses or delays deliveries, and one dashboard for the pipeline."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Sequence

from . import bindings  # noqa: F401  (first: lazy provider imports)
from cdktf_cdktf_provider_aws.cloudwatch_dashboard import CloudwatchDashboard
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from constructs import Construct

from .defaults import raise_if


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
    max_message_age_seconds: int = 300
    alarm_actions: Sequence[str] = field(default_factory=tuple)  # e.g. SNS topic ARNs


def validate_monitoring_props(props: MonitoringProps) -> list[str]:
    problems = []
    if props.max_message_age_seconds < 60:
        problems.append("max_message_age_seconds must be at least 60")
    for arn in props.alarm_actions:
        if not str(arn).startswith("arn:"):
            problems.append(f"alarm action '{arn}' must be an ARN")
    return problems


class Monitoring(Construct):
    """`alarms[key]` and `dashboard`."""

    def __init__(self, scope: Construct, id: str, *, props: MonitoringProps):
        raise_if(f"Monitoring '{id}'", validate_monitoring_props(props))
        super().__init__(scope, id)
        self.alarms: dict[str, CloudwatchMetricAlarm] = {}
        sqs = ("AWS/SQS", "QueueName")
        lam = ("AWS/Lambda", "FunctionName")
        self._alarm("dlq-not-empty", "Deliveries failed 3 times and wait in the DLQ (webhookctl dlq list)",
                    sqs, props.dlq_name, "ApproximateNumberOfMessagesVisible", "Maximum", 0, props)
        self._alarm("ingest-errors", "The ingest function raised errors (providers got 5xx and will retry)",
                    lam, props.ingest_function_name, "Errors", "Sum", 0, props)
        self._alarm("process-errors", "The process function raised errors (messages are retried, then dead-lettered)",
                    lam, props.process_function_name, "Errors", "Sum", 0, props)
        self._alarm("queue-age", f"The oldest queued delivery is older than {props.max_message_age_seconds} s",
                    sqs, props.queue_name, "ApproximateAgeOfOldestMessage", "Maximum", props.max_message_age_seconds, props)
        self.dashboard = CloudwatchDashboard(
            self, "dashboard", dashboard_name=props.name, dashboard_body=_dashboard(props)
        )

    def _alarm(self, key: str, description: str, dimension: tuple[str, str], value: str,
               metric: str, statistic: str, threshold: float, props: MonitoringProps) -> None:
        namespace, dimension_name = dimension
        self.alarms[key] = CloudwatchMetricAlarm(
            self,
            key,
            alarm_name=f"{props.name}-{key}",
            alarm_description=description,
            namespace=namespace,
            metric_name=metric,
            dimensions={dimension_name: value},
            statistic=statistic,
            period=60,
            evaluation_periods=1,
            threshold=threshold,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=list(props.alarm_actions),
            ok_actions=list(props.alarm_actions),
        )


def _dashboard(props: MonitoringProps) -> str:
    def widget(title: str, metrics: list[list[Any]], x: int, y: int) -> dict[str, Any]:
        return {
            "type": "metric", "x": x, "y": y, "width": 12, "height": 6,
            "properties": {"title": title, "region": props.region, "stat": "Sum", "period": 60, "view": "timeSeries",
                           "metrics": metrics},
        }

    widgets = [
        widget("API requests and errors", [
            ["AWS/ApiGateway", m, "ApiName", props.api_name, "Stage", props.stage_name] for m in ("Count", "4XXError", "5XXError")], 0, 0),
        widget("Functions: invocations and errors", [
            ["AWS/Lambda", m, "FunctionName", f] for f in (props.ingest_function_name, props.process_function_name)
            for m in ("Invocations", "Errors", "Throttles")
        ], 12, 0),
        widget("Queue depth", [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q, {"stat": "Maximum"}]
            for q in (props.queue_name, props.dlq_name)
        ], 0, 6),
        widget("Oldest queued delivery (s)", [
            ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", props.queue_name, {"stat": "Maximum"}]
        ], 12, 6),
    ]
    return json.dumps({"widgets": widgets}, separators=(",", ":"))

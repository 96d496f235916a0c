"""EMF metrics the alarms can read: namespace = Settings.metrics_namespace, metric = a
contract.Metric name, dimensions {service: Settings.service_name} (and per provider, reason)."""
from __future__ import annotations

import json
from collections import defaultdict

from handler_harness import client_error, connection_error, signed_event
from handlers import aws, observability
from handlers.contract import (
    METRIC_DIMENSION_PROVIDER, METRIC_DIMENSION_REASON, METRIC_DIMENSION_SERVICE, Metric, Settings,
)

BODY = json.dumps({"id": "evt_m", "type": "invoice.paid", "data": {"object": {"customer": "cus_1"}}})
NAMESPACE = "Webhookctl/webhooks-test"  # the harness's METRICS_NAMESPACE
SERVICE = "webhookctl"
METRIC_NAMES = {v for k, v in vars(Metric).items() if not k.startswith("_")}


def emf_documents(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"_aws"' in line]


def cloudwatch(docs: list[dict]) -> dict[tuple, float]:
    """What CloudWatch records from EMF documents: per (namespace, metric, dimensions), the sum.

    Per the EMF specification each dimension set of a directive yields one metric whose
    dimension values are the document's root members of those names.
    """
    recorded: dict[tuple, float] = defaultdict(float)
    for doc in docs:
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dims = frozenset((name, doc[name]) for name in dimension_set)
                for metric in directive["Metrics"]:
                    recorded[(directive["Namespace"], metric["Name"], dims)] += doc[metric["Name"]]
    return recorded


def alarm(metric: str) -> tuple:
    """The metric an alarm of the stack reads."""
    return (NAMESPACE, metric, frozenset({(METRIC_DIMENSION_SERVICE, SERVICE)}))


def test_every_document_has_the_contract_shape():
    doc = observability.emf_document("NS", "svc", "stripe", "bad_sig", {Metric.REJECTED: 2}, 1234)
    assert doc == {
        "_aws": {"Timestamp": 1234, "CloudWatchMetrics": [{
            "Namespace": "NS",
            "Dimensions": [["service"], ["service", "provider"], ["service", "provider", "reason"]],
            "Metrics": [{"Name": "rejected", "Unit": "Count"}],
        }]},
        "service": "svc", "provider": "stripe", "reason": "bad_sig", "rejected": 2,
    }
    plain = observability.emf_document("NS", "svc", "stripe", None, {Metric.PUBLISHED: 1}, 1)
    assert plain["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"], ["service", "provider"]]
    assert "reason" not in plain


def test_one_total_per_service_across_providers_and_reasons(pipeline, capsys):
    pipeline.post(signed_event("stripe", BODY))
    pipeline.post(signed_event("github", BODY))
    pipeline.post(signed_event("stripe", BODY.replace("evt_m", "evt_x"), secret="wrong"))
    pipeline.post(signed_event("github", BODY.replace("evt_m", "evt_y"), secret="wrong"))
    recorded = cloudwatch(emf_documents(capsys.readouterr().out))
    assert alarm(Metric.RECEIVED) not in recorded  # billed per month, read by nothing: not emitted
    assert recorded[alarm(Metric.ACCEPTED)] == 2
    assert recorded[alarm(Metric.REJECTED)] == 2
    by_provider = frozenset({(METRIC_DIMENSION_SERVICE, SERVICE), (METRIC_DIMENSION_PROVIDER, "stripe")})
    assert recorded[(NAMESPACE, Metric.REJECTED, by_provider)] == 1
    by_reason = by_provider | {(METRIC_DIMENSION_REASON, "invalid_signature")}
    assert recorded[(NAMESPACE, Metric.REJECTED, by_reason)] == 1
    assert {metric for _, metric, _ in recorded} <= METRIC_NAMES


def test_storage_and_internal_errors_reach_the_service_total(pipeline, faults, monkeypatch, capsys):
    faults.fail("PutObject", connection_error())
    assert pipeline.post(signed_event("stripe", BODY))[0] == 503
    monkeypatch.setenv("PROVIDERS_FILE", "/nonexistent/providers.json")
    assert pipeline.post(signed_event("stripe", BODY))[0] == 500
    recorded = cloudwatch(emf_documents(capsys.readouterr().out))
    assert recorded[alarm(Metric.STORAGE_ERROR)] == 1
    assert recorded[alarm(Metric.INTERNAL_ERROR)] == 1


def test_publish_failed_when_eventbridge_refuses_the_call_or_an_entry(pipeline, faults, capsys):
    assert pipeline.post(signed_event("stripe", BODY))[0] == 202
    faults.fail("PutEvents", client_error("PutEvents", "ThrottlingException", 400))
    records, result = pipeline.process_once()
    assert len(result["batchItemFailures"]) == 1

    def refuse_entry(model, params, **_):
        if model.name == "PutEvents":
            class Http:
                status_code = 200
                headers: dict = {}
            return Http(), {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]}

    aws.client("events").meta.events.register_first("before-call.eventbridge.PutEvents", refuse_entry)
    records, result = pipeline.process_once()
    aws.client("events").meta.events.unregister("before-call.eventbridge.PutEvents", refuse_entry)
    assert len(result["batchItemFailures"]) == 1
    recorded = cloudwatch(emf_documents(capsys.readouterr().out))
    assert recorded[alarm(Metric.PUBLISH_FAILED)] == 2
    stripe = {(METRIC_DIMENSION_SERVICE, SERVICE), (METRIC_DIMENSION_PROVIDER, "stripe")}
    assert recorded[(NAMESPACE, Metric.PUBLISH_FAILED, frozenset(stripe | {(METRIC_DIMENSION_REASON,
                                                                            "ThrottlingException")}))] == 1
    assert recorded[(NAMESPACE, Metric.PUBLISH_FAILED, frozenset(stripe | {(METRIC_DIMENSION_REASON,
                                                                            "InternalFailure")}))] == 1
    assert recorded[alarm(Metric.FAILED)] == 2


def test_mark_processed_failed_reaches_the_service_total(pipeline, faults, capsys):
    assert pipeline.post(signed_event("stripe", BODY))[0] == 202
    faults.fail("BatchWriteItem", client_error("BatchWriteItem"), times=3)
    assert pipeline.process_once()[1] == {"batchItemFailures": []}
    recorded = cloudwatch(emf_documents(capsys.readouterr().out))
    assert recorded[alarm(Metric.MARK_PROCESSED_FAILED)] == 1
    assert recorded[alarm(Metric.PUBLISHED)] == 1


def test_settings_name_the_namespace_and_service(pipeline, monkeypatch, capsys):
    monkeypatch.setenv("METRICS_NAMESPACE", "Custom/NS")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "svc-x")
    metrics = observability.Metrics()
    metrics.add(Metric.PUBLISHED, "stripe")
    metrics.flush()
    [doc] = emf_documents(capsys.readouterr().out)
    settings = Settings.from_env()
    assert doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == settings.metrics_namespace == "Custom/NS"
    assert doc[METRIC_DIMENSION_SERVICE] == settings.service_name == "svc-x"


def test_a_log_line_rides_in_the_only_emf_document_and_stands_alone_beside_several(capsys):
    one = observability.Metrics()
    one.add(Metric.PUBLISHED, "stripe")
    one.log("INFO", "webhooks processed", count=1, provider="forged")
    one.flush()
    [doc] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert doc["message"] == "webhooks processed" and doc["published"] == 1
    assert doc["provider"] == "stripe"  # the metrics' own dimension values win over log fields
    several = observability.Metrics()
    several.add(Metric.PUBLISHED, "stripe")
    several.add(Metric.PUBLISHED, "github")
    several.log("INFO", "webhooks processed", count=2)
    several.flush()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [("_aws" in line, line.get("message")) for line in lines] == [
        (False, "webhooks processed"), (True, None), (True, None)]
    alone = observability.Metrics()
    alone.log("INFO", "handshake answered")
    alone.flush()
    assert json.loads(capsys.readouterr().out)["message"] == "handshake answered"

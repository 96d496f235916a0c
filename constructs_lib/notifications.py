"""The SNS topic an environment's alarms notify, with its subscribers."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Sequence

from . import bindings  # noqa: F401  (first: lazy provider imports)
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct

from .defaults import checkov_skip, raise_if
from .iam import AwsContext, document, service_principal

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

CHECKOV_SKIPS = {
    # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
    "CKV_AWS_26": "alarm notifications carry alarm names and states, never payloads; with SSE, CloudWatch "
                  "needs kms:GenerateDataKey on a customer managed key (the AWS managed aws/sns key cannot "
                  "grant it), so an encrypted topic would silently drop every alarm",
}


@dataclass(frozen=True)
class AlarmTopicProps:
    name: str
    alarm_name_prefix: str  # only alarms named <prefix>-* may publish
    email: Sequence[str] = ()
    https: Sequence[str] = ()


def validate_alarm_topic_props(props: AlarmTopicProps) -> list[str]:
    problems = []
    if not _NAME.match(props.name or ""):
        problems.append(f"name '{props.name}' must be 1-256 letters, digits, '-' or '_'")
    problems += [f"email subscriber '{e}' is not an email address" for e in props.email if "@" not in e]
    problems += [f"https subscriber '{u}' must start with https://" for u in props.https if not u.startswith("https://")]
    return problems


class AlarmTopic(Construct):
    """`topic` and `subscriptions`; `arn` is the topic's ARN (a reference).

    Email and https subscribers confirm from the message SNS sends them. Until then SNS keeps the
    subscription pending, and Terraform cannot delete a pending one (deleting the topic does).
    https://registry.terraform.io/providers/hashicorp/aws/5.100.0/docs/resources/sns_topic_subscription
    """

    def __init__(self, scope: Construct, id: str, *, props: AlarmTopicProps, aws: AwsContext):
        raise_if(f"AlarmTopic '{id}'", validate_alarm_topic_props(props))
        super().__init__(scope, id)
        topic_arn = aws.arn("sns", props.name)
        # CloudWatch publishes as a service: allow it for this account's alarms of this stack only.
        # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html
        allow_alarms = {
            "Sid": "AllowCloudWatchAlarms",
            "Effect": "Allow",
            "Principal": service_principal("cloudwatch"),
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {
                "StringEquals": {"aws:SourceAccount": aws.account_id},
                "ArnLike": {"aws:SourceArn": aws.arn("cloudwatch", f"alarm:{props.alarm_name_prefix}-*")},
            },
        }
        self.topic = SnsTopic(self, "topic", name=props.name, policy=document(allow_alarms))
        checkov_skip(self.topic, CHECKOV_SKIPS)
        self.arn = self.topic.arn
        # Ids from the endpoint, not its position: reordering the list replaces no subscription
        # (a replaced one would need confirming again).
        self.subscriptions = [
            SnsTopicSubscription(self, f"{protocol}-{_digest(endpoint)}", topic_arn=self.topic.arn,
                                 protocol=protocol, endpoint=endpoint)
            for protocol, endpoints in (("email", props.email), ("https", props.https))
            for endpoint in endpoints
        ]


def _digest(endpoint: str) -> str:
    return hashlib.sha256(endpoint.encode("utf-8")).hexdigest()[:12]

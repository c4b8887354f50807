"""A stack's integrations: per integration a secret, a queue with its dead-letter queue, a
pull schedule, a file-drop prefix and two alarms (``infra.core.integration_config``).

What each one gets:

- a Secrets Manager secret, created empty (``tenantctl integration set-credentials``
  writes it; the value never passes through Pulumi), like the payment secret;
- an SQS queue (SSE on, SQS-managed keys) whose redrive policy moves a message to its
  dead-letter queue after ``MAX_RECEIVE_COUNT`` failed receives; the dead-letter queue
  keeps a message for the 14 days SQS allows at most, so nothing is lost while a person
  looks;
- pull mode: an EventBridge Scheduler schedule that sends a "poll" message to the queue
  every ``scheduleMinutes`` (in the integration's timezone), through the platform's
  scheduler role of the stage (``SCHEDULER_ROLE_OUTPUTS``; the stack creates no IAM
  role); ``ENABLED`` in a preview (it talks to the vendor's sandbox) and in a live
  production, ``DISABLED`` in a production before go-live (``promote`` switches it with
  ``tenants:live``; rollback switches back);
- push mode: no resource at all: the vendor pushes to ``pushUrl`` (an output), a path
  under the platform's one ingest endpoint (``infra.core.integrations.ingest``), whose
  single wildcard route finds the integration from the path, so pushes cost no route,
  rule or API per client;
- a raw archive: every payload kept as received under ``integrations/<id>/raw/`` of the
  content bucket (``infra.core.integrations.archive``), expired by one lifecycle rule
  per integration after ``RAW_RETENTION_DAYS`` of the stage (the bucket's one lifecycle
  configuration holds them all);
- file mode: the prefix ``integrations/<id>/incoming/`` of the stack's content bucket
  (no bucket of its own), an output only;
- a CloudWatch alarm when the dead-letter queue is not empty, and one when no message
  reached the queue for ``silenceAlarmMinutes`` (actions enabled only where messages are
  expected: a live production);
- ``enforcementHours``: three EventBridge Scheduler cron schedules in the integration's
  timezone that enable the silence alarm's actions when enforcement starts and disable
  them when it ends, so a lot not enforced at night pages nobody at 3 am. They call the
  universal targets ``arn:aws:scheduler:::aws-sdk:cloudwatch:enableAlarmActions`` and
  ``disableAlarmActions`` (CloudWatch's EnableAlarmActions / DisableAlarmActions, input
  ``{"AlarmNames": [...]}``), and a third a minute after the start that calls
  ``setAlarmState`` (``StateValue`` OK): an alarm that went into ALARM while its actions
  were off notifies only on its next transition, so it is set back to OK and, if the
  feed is still silent, goes to ALARM again at its next period and pages. All three go
  through the platform's scheduler role; see
  docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-universal.html (only
  read-only prefixes such as get/describe/list are unsupported) and AWS's
  serverless-patterns "eventbridge-schedule-to-cloudwatch-alarm-terraform", which does
  exactly this. Scheduler evaluates cron in the named IANA timezone and follows DST
  (schedule-types.html, "Daylight saving time"); CloudWatch metric math (HOUR(), DAY())
  sees UTC timestamps only, so its window would move by an hour against local time twice
  a year: not acceptable. The schedules are ``ENABLED`` only where alarms act
  (``switch_state``). Pulumi creates the alarm with actions disabled and, in a live
  production, leaves ``actionsEnabled`` to the schedules (``ignore_changes``), so a
  deploy at night never re-enables paging; elsewhere it keeps them disabled.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.core import naming
from infra.core.integration_config import (
    IntegrationNames,
    IntegrationSpec,
    alarms_act,
    integration_names,
    rate_expression,
    rearm_cron,
    schedule_state,
    switch_crons,
    switch_state,
)
from infra.core.integrations.archive import NONCURRENT_DAYS, RAW_RETENTION_DAYS, raw_prefix
from infra.core.integrations.ingest import push_url
from infra.program.options import stateful

MAX_RECEIVE_COUNT = 5
"""Failed receives before a message moves to the dead-letter queue."""
VISIBILITY_TIMEOUT_SECONDS = 120
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600
"""The longest SQS keeps a message (1,209,600 s)."""
DLQ_ALARM_PERIOD_SECONDS = 300
SWITCH_EVENT_AGE_SECONDS = 900
"""A switch retried later than 15 minutes after its time is dropped (the next one comes
at the other end of the window)."""


@dataclass(frozen=True)
class IntegrationsArgs:
    slug: str
    stage: naming.Stage
    live: bool
    integrations: tuple[IntegrationSpec, ...]
    label: str
    recovery_days: int
    durable: bool
    kms_key_arn: pulumi.Input[str]
    tags: Mapping[str, str]
    scheduler_role_arn: pulumi.Input[str] | None = None
    """The platform's scheduler role of ``stage`` (``SCHEDULER_ROLE_OUTPUTS``); required
    when an integration is pulled."""
    ingest_endpoint: pulumi.Input[str] | None = None
    """The platform's ingest endpoint (``INGEST_ENDPOINT_OUTPUT``); required when an
    integration is pushed."""
    content_bucket: pulumi.Input[str] | None = None
    """The stack's content bucket, which holds the raw archive; none: no archive rule."""


def _described(values: list[str], names: IntegrationNames, integration_id: str) -> dict[str, str]:
    described = {
        "queueUrl": values[0],
        "deadLetterQueueUrl": values[1],
        "secretArn": values[2],
        "secretName": names.secret,
        "dropPrefix": names.drop_prefix,
        "rawPrefix": raw_prefix(integration_id),
    }
    if len(values) > 3:
        described["pushUrl"] = values[3]
    return described


class Integrations(pulumi.ComponentResource):
    """Every integration of one stack."""

    outputs: pulumi.Output[dict[str, dict[str, str]]]

    def __init__(
        self, name: str, args: IntegrationsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenants:index:Integrations", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        role_arn = args.scheduler_role_arn
        """The platform's scheduler role of this stage: the stack creates no role."""
        state = schedule_state(args.stage, args.live)
        alarms_on = alarms_act(args.stage, args.live)
        switches = switch_state(args.stage, args.live)
        described: dict[str, pulumi.Output[dict[str, str]]] = {}
        for integration in args.integrations:
            names = integration_names(args.slug, args.stage, integration.id)
            base = f"{name}-{integration.id}"
            secret = aws.secretsmanager.Secret(
                f"{base}-credentials",
                name=names.secret,
                description=(
                    f"{integration.vendor} credentials of integration {integration.id} of "
                    f"{args.label}; set with `{naming.TOOL} integration set-credentials`, "
                    "never through Pulumi."
                ),
                kms_key_id=args.kms_key_arn,
                recovery_window_in_days=args.recovery_days,
                tags=tags,
                opts=stateful(self, args.durable),
            )
            dead_letters = aws.sqs.Queue(
                f"{base}-dlq",
                name=names.dead_letter_queue,
                message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
                sqs_managed_sse_enabled=True,
                tags=tags,
                opts=child,
            )
            queue = aws.sqs.Queue(
                f"{base}-queue",
                name=names.queue,
                message_retention_seconds=QUEUE_RETENTION_SECONDS,
                visibility_timeout_seconds=VISIBILITY_TIMEOUT_SECONDS,
                sqs_managed_sse_enabled=True,
                redrive_policy=dead_letters.arn.apply(
                    lambda arn: json.dumps(
                        {"deadLetterTargetArn": arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
                    )
                ),
                tags=tags,
                opts=child,
            )
            if integration.uses_scheduler and role_arn is None:
                raise ValueError("an integration with schedules needs the platform scheduler role")
            if integration.mode == "pull":
                if role_arn is None:
                    raise ValueError("a pulled integration needs the platform scheduler role")
                minutes = integration.schedule_minutes or 1
                aws.scheduler.Schedule(
                    f"{base}-schedule",
                    name=names.schedule,
                    description=f"Poll {integration.vendor} for {args.label}'s "
                    f"integration {integration.id}.",
                    schedule_expression=rate_expression(minutes),
                    schedule_expression_timezone=integration.timezone,
                    flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
                    state=state,
                    target=aws.scheduler.ScheduleTargetArgs(
                        arn=queue.arn,
                        role_arn=role_arn,
                        input=json.dumps({"kind": "poll", "integration": integration.id}),
                        retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                            maximum_retry_attempts=3,
                            maximum_event_age_in_seconds=minutes * 60,
                        ),
                        dead_letter_config=aws.scheduler.ScheduleTargetDeadLetterConfigArgs(
                            arn=dead_letters.arn
                        ),
                    ),
                    opts=child,
                )
            aws.cloudwatch.MetricAlarm(
                f"{base}-dlq-alarm",
                name=names.dlq_alarm,
                alarm_description=f"{args.label} integration {integration.id}: messages in the "
                f"dead-letter queue {names.dead_letter_queue}; a person must look "
                "(`tenantctl integration replay` re-drives them).",
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": names.dead_letter_queue},
                statistic="Maximum",
                period=DLQ_ALARM_PERIOD_SECONDS,
                evaluation_periods=1,
                threshold=0,
                comparison_operator="GreaterThanThreshold",
                treat_missing_data="notBreaching",
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[dead_letters]),
            )
            hours = integration.enforcement_hours
            silence_opts = pulumi.ResourceOptions(
                parent=self,
                depends_on=[queue],
                # The switch schedules own actionsEnabled where alarms act.
                ignore_changes=["actionsEnabled"] if hours is not None and alarms_on else None,
            )
            silence = aws.cloudwatch.MetricAlarm(
                f"{base}-silence-alarm",
                name=names.silence_alarm,
                alarm_description=f"{args.label} integration {integration.id}: no message for "
                f"{integration.silence_alarm_minutes} minutes.",
                namespace="AWS/SQS",
                metric_name="NumberOfMessagesSent",
                dimensions={"QueueName": names.queue},
                statistic="Sum",
                period=integration.silence_alarm_minutes * 60,
                evaluation_periods=1,
                threshold=1,
                comparison_operator="LessThanThreshold",
                treat_missing_data="breaching",
                actions_enabled=alarms_on and hours is None,
                tags=tags,
                opts=silence_opts,
            )
            if hours is not None and role_arn is not None:
                crons = switch_crons(hours)
                alarms = {"AlarmNames": [names.silence_alarm]}
                rearm = {
                    "AlarmName": names.silence_alarm,
                    "StateValue": "OK",
                    "StateReason": "Enforcement hours started: re-armed, so a feed still "
                    "silent pages now (it went into ALARM while actions were off).",
                }
                for suffix, schedule_name, cron, action, payload, when in (
                    ("on", names.silence_on_schedule, crons[0], "enableAlarmActions", alarms,
                     "start"),
                    ("arm", names.silence_rearm_schedule, rearm_cron(hours), "setAlarmState",
                     rearm, "start (a minute later)"),
                    ("off", names.silence_off_schedule, crons[1], "disableAlarmActions", alarms,
                     "end"),
                ):  # fmt: skip
                    aws.scheduler.Schedule(
                        f"{base}-silence-{suffix}",
                        name=schedule_name,
                        description=f"{action} of {names.silence_alarm} at the "
                        f"{when} of enforcement hours.",
                        schedule_expression=cron,
                        schedule_expression_timezone=integration.timezone,
                        flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(
                            mode="OFF"
                        ),
                        state=switches,
                        target=aws.scheduler.ScheduleTargetArgs(
                            arn=f"arn:aws:scheduler:::aws-sdk:cloudwatch:{action}",
                            role_arn=role_arn,
                            input=json.dumps(payload),
                            retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                                maximum_retry_attempts=3,
                                maximum_event_age_in_seconds=SWITCH_EVENT_AGE_SECONDS,
                            ),
                        ),
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[silence]),
                    )
            values: list[pulumi.Input[str]] = [queue.url, dead_letters.url, secret.arn]
            if integration.mode == "push":
                if args.ingest_endpoint is None:
                    raise ValueError("a pushed integration needs the platform ingest endpoint")
                values.append(
                    pulumi.Output.from_input(args.ingest_endpoint).apply(
                        functools.partial(
                            push_url,
                            slug=args.slug,
                            stage=args.stage,
                            integration_id=integration.id,
                        )
                    )
                )
            described[integration.id] = pulumi.Output.all(*values).apply(
                functools.partial(_described, names=names, integration_id=integration.id)
            )
        if args.integrations and args.content_bucket is not None:
            days = RAW_RETENTION_DAYS[args.stage]
            aws.s3.BucketLifecycleConfiguration(
                f"{name}-raw-archive",
                bucket=args.content_bucket,
                rules=[
                    aws.s3.BucketLifecycleConfigurationRuleArgs(
                        id=f"raw-archive-{integration.id}",
                        status="Enabled",
                        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(
                            prefix=raw_prefix(integration.id)
                        ),
                        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=days),
                        noncurrent_version_expiration=(
                            aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                                noncurrent_days=NONCURRENT_DAYS
                            )
                        ),
                    )
                    for integration in args.integrations
                ],
                opts=child,
            )
        self.outputs = pulumi.Output.all(**described) if described else pulumi.Output.from_input({})
        self.register_outputs({"integrations": self.outputs})

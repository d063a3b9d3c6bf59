"""CloudMonitor alarm rules on the function's custom metrics (README "Metrics").

The function sends its metrics with PutCustomMetric to the application group
`metrics.cloudmonitor.group_id`. CloudMonitor keeps custom metrics in the namespace
`acs_customMetric_<account id>`, and a custom metric's time series is named by its group id and its
dimensions written `k1=v1&k2=v2`, keys in ascending order (CloudMonitor's custom-monitoring samples:
QueryMetricList and alarms with Dimensions [{"groupId": ..., "dimension": ...}]).

NOTE: these are ALIYUN::CMS::ResourceMetricRule resources (PutResourceMetricRule): ROS has no resource
for PutCustomMetricRule, and ros-cdk-cms 1.15.0 no longer has ALIYUN::CMS::Alarm. That the rule takes
the custom namespace with a groupId/dimension resource is our reading of the two APIs: a deployment
that CloudMonitor refuses fails the stack, loudly; none is silently ignored.

The metrics arrive once per run (daily): a rule sees a value in one statistics period, and between runs
there is no data. The threshold rules therefore keep their last state while there is none
(KEEP_LAST_STATE): an alarm raised by a run stays raised until a later run clears it. The dead-man's
switch is the opposite: a rule whose statistics period spans NoRunAlarmHours and which raises
"insufficient data" (INSUFFICIENT_DATA) when no run metric arrived in it; its threshold (a count below
0) can never hold for real data.
"""

from __future__ import annotations

from typing import Any

import ros_cdk_cms as cms
import ros_cdk_core as core
from parameters import Parameters

NAMESPACE = "acs_customMetric_${ALIYUN::TenantId}"
#: The dimension of the per-run metrics (renewer/run/metrics.py RUN_DIMENSIONS), as CloudMonitor writes it.
RUN_DIMENSION = "renewer=byok-renewer"
#: Statistics period of the threshold rules: CloudMonitor aggregates raw custom data per 5 minutes.
PERIOD = 300


def _critical(statistics: str, operator: str, threshold: Any) -> cms.RosResourceMetricRule.EscalationsProperty:
    """A critical alarm the first time the condition holds (times=1: one value per run)."""
    return cms.RosResourceMetricRule.EscalationsProperty(
        critical=cms.RosResourceMetricRule.CriticalProperty(
            statistics=statistics, comparison_operator=operator, threshold=threshold, times=1
        )
    )


def _rule(
    stack: core.Stack,
    p: Parameters,
    rid: str,
    *,
    metric: str,
    dimension: str | None,
    escalations: cms.RosResourceMetricRule.EscalationsProperty,
    period: Any = PERIOD,
    interval: Any = PERIOD,
    no_data: str = "KEEP_LAST_STATE",
) -> cms.ResourceMetricRule:
    resource: dict[str, Any] = {"groupId": p.metric_group_id.value_as_string}
    if dimension is not None:
        resource["dimension"] = dimension
    return cms.ResourceMetricRule(
        stack,
        rid,
        cms.ResourceMetricRuleProps(
            rule_name=core.Fn.sub("${ALIYUN::StackName}-" + rid),
            namespace=core.Fn.sub(NAMESPACE),
            metric_name=metric,
            resources=[resource],
            contact_groups=[p.contact_group.value_as_string],
            escalations=escalations,
            period=period,
            interval=interval,
            no_data_policy=no_data,
        ),
        enable_resource_property_constraint=True,
    )


def build(stack: core.Stack, p: Parameters) -> list[cms.ResourceMetricRule]:
    days = core.Fn.calculate("{0}*86400", 0, [p.expiry_threshold_days.value_as_number])
    window = core.Fn.calculate("{0}*3600", 0, [p.no_run_alarm_hours.value_as_number])
    return [
        # Per key: every time series of the metric in the group (one per cloud, region, key, material)
        # is evaluated on its own; no dimension means all of them, including keys added later.
        # A key that could not be described reports 0 (renewer/run/metrics.py), so it alarms too.
        _rule(
            stack,
            p,
            "KeyMaterialExpiring",
            metric="SecondsUntilKeyMaterialExpiration",
            dimension=None,
            escalations=_critical("Minimum", "LessThanThreshold", core.Fn.str(days)),
        ),
        _rule(
            stack,
            p,
            "RenewalFailed",
            metric="KeyMaterialRenewalFailures",
            dimension=RUN_DIMENSION,
            escalations=_critical("Maximum", "GreaterThanThreshold", "0"),
        ),
        _rule(
            stack,
            p,
            "RenewalsSkippedForTime",
            metric="KeyMaterialRenewalsSkippedForTime",
            dimension=RUN_DIMENSION,
            escalations=_critical("Maximum", "GreaterThanThreshold", "0"),
        ),
        # Per material: its source failed this run's check (1) or worked (0); every material's series.
        _rule(
            stack,
            p,
            "MaterialSourceFailed",
            metric="KeyMaterialSourceFailures",
            dimension=None,
            escalations=_critical("Maximum", "GreaterThanThreshold", "0"),
        ),
        # The dead-man's switch: every run that sends metrics sends KeyMaterialRenewals (0 included).
        _rule(
            stack,
            p,
            "RenewerNotRunning",
            metric="KeyMaterialRenewals",
            dimension=RUN_DIMENSION,
            escalations=_critical("Minimum", "LessThanThreshold", "0"),
            period=window,
            interval=3600,
            no_data="INSUFFICIENT_DATA",
        ),
    ]

"""Where a run's metrics go: each destination's region, resolved once, before any call.

CloudMonitor: ``metrics.cloudmonitor.region``, else the region the function runs in (the invocation
context). CloudWatch: ``metrics.cloudwatch.region``, else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``
(boto3's own convention, set by Lambda). Nothing else: a destination configured without a region
is a configuration error (``InvalidConfiguration``), never a guess from some key's region.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from renewer.config import MetricsConfig
from renewer.errors import ConfigError


@dataclass(frozen=True)
class MetricRegions:
    cloudmonitor: str | None  # None: CloudMonitor is not configured
    cloudwatch: str | None  # None: CloudWatch is not configured


def metric_regions(metrics: MetricsConfig, home_region: str | None, environ: Mapping[str, str]) -> MetricRegions:
    cms = cloudwatch = None
    if metrics.cloudmonitor:
        cms = metrics.cloudmonitor_region or home_region
        if not cms:
            raise ConfigError(
                "metrics.cloudmonitor.region: not set, and the invocation context names no region to default to"
            )
    if metrics.cloudwatch:
        cloudwatch = metrics.cloudwatch_region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
        if not cloudwatch:
            raise ConfigError("metrics.cloudwatch.region: not set, and neither is AWS_REGION nor AWS_DEFAULT_REGION")
    return MetricRegions(cms, cloudwatch)

"""The run's metric destinations: the log line always, CloudMonitor and CloudWatch when configured
(their regions from :mod:`renewer.run.regions`). :func:`deliver` never raises: metrics must not turn a
good renewal into a failed one, whatever goes wrong in them (a bug included)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from renewer.clouds.clients import Clouds
from renewer.config import MetricsConfig
from renewer.errors import RenewerBug, RenewerError
from renewer.logs import log_event
from renewer.redact import Redactor
from renewer.run import metrics
from renewer.run.regions import MetricRegions


@dataclass(frozen=True)
class Sink:
    name: str  # "cloudmonitor:cn-hangzhou"
    send: Callable[[list[metrics.Datum], float], None]


def sinks(config: MetricsConfig, regions: MetricRegions, clouds: Clouds) -> list[Sink]:
    """The configured destinations; their clients are made only when they send."""
    found: list[Sink] = []
    if regions.cloudmonitor is not None:
        cms_region, group = regions.cloudmonitor, config.cloudmonitor_group_id or 0

        def to_cloudmonitor(data: list[metrics.Datum], now: float) -> None:
            metrics.CloudMonitorSink(clouds.cms(cms_region), group).send(data, now)

        found.append(Sink(f"cloudmonitor:{cms_region}", to_cloudmonitor))
    if regions.cloudwatch is not None:
        cw_region, namespace = regions.cloudwatch, config.cloudwatch_namespace or ""

        def to_cloudwatch(data: list[metrics.Datum], now: float) -> None:
            metrics.send_cloudwatch(clouds.aws.cloudwatch(cw_region), namespace, data, now)

        found.append(Sink(f"cloudwatch:{cw_region}", to_cloudwatch))
    return found


def deliver(targets: list[Sink], data: list[metrics.Datum], now: float, redactor: Redactor) -> dict[str, Any]:
    """The log line, then each sink; a failure is logged and reported, never raised."""
    log_event("metrics", data=metrics.as_log(data))
    destinations: list[dict[str, Any]] = [{"destination": "log", "sent": True, "error": None}]
    for sink in targets:
        try:
            sink.send(data, now)
            destinations.append({"destination": sink.name, "sent": True, "error": None})
        except Exception as exc:  # any failure at all: the renewals stand
            if isinstance(exc, RenewerError):
                code, message = exc.code, redactor.scrub(exc.message)
            else:
                code, message = RenewerBug.code, f"{type(exc).__name__} while sending metrics"
            log_event("metrics_failed", destination=sink.name, code=code, message=message)
            destinations.append({"destination": sink.name, "sent": False, "error": f"{code}: {message}"})
    errors = [d["error"] for d in destinations if d["error"]]
    return {"sent": not errors, "destinations": destinations, "error": "; ".join(errors) or None}

"""Metric destinations: each region resolved once, up front, from configuration or the platform;
never guessed from a key. Delivery never raises."""

from __future__ import annotations

import pytest

from renewer.config import MetricsConfig
from renewer.errors import ConfigError
from renewer.redact import Redactor
from renewer.run import sinks
from renewer.run.regions import MetricRegions, metric_regions


def test_cloudmonitor_defaults_to_the_functions_own_region() -> None:
    cms = MetricsConfig(cloudmonitor_group_id=0)
    assert metric_regions(cms, "cn-shanghai", {}) == MetricRegions("cn-shanghai", None)
    configured = MetricsConfig(cloudmonitor_group_id=0, cloudmonitor_region="cn-beijing")
    assert metric_regions(configured, "cn-shanghai", {}).cloudmonitor == "cn-beijing"


def test_cloudwatch_uses_its_setting_then_botos_environment() -> None:
    cw = MetricsConfig(cloudwatch_namespace="BYOK")
    assert metric_regions(cw, None, {"AWS_DEFAULT_REGION": "eu-west-1"}).cloudwatch == "eu-west-1"
    assert metric_regions(cw, None, {"AWS_REGION": "us-east-2", "AWS_DEFAULT_REGION": "x"}).cloudwatch == "us-east-2"
    configured = MetricsConfig(cloudwatch_namespace="BYOK", cloudwatch_region="ap-south-1")
    assert metric_regions(configured, "cn-hangzhou", {"AWS_REGION": "us-east-2"}).cloudwatch == "ap-south-1"


@pytest.mark.parametrize(
    ("metrics", "field"),
    [
        (MetricsConfig(cloudmonitor_group_id=0), "metrics.cloudmonitor.region"),
        (MetricsConfig(cloudwatch_namespace="BYOK"), "metrics.cloudwatch.region"),
    ],
)
def test_a_destination_without_a_region_is_a_configuration_error(metrics: MetricsConfig, field: str) -> None:
    with pytest.raises(ConfigError, match=field) as caught:
        metric_regions(metrics, None, {})
    assert caught.value.code == "InvalidConfiguration"


def test_no_destination_needs_no_region() -> None:
    assert metric_regions(MetricsConfig(), None, {}) == MetricRegions(None, None)


def test_delivery_survives_any_failure_and_reports_it() -> None:
    def broken(data: list, now: float) -> None:
        raise KeyError("a bug in a sink")

    sent = sinks.deliver([sinks.Sink("cloudmonitor:cn-hangzhou", broken)], [], 0.0, Redactor())
    assert sent["sent"] is False
    assert sent["destinations"][0] == {"destination": "log", "sent": True, "error": None}
    assert sent["destinations"][1]["error"] == "RenewerBug: KeyError while sending metrics"


def test_a_configuration_needing_a_missing_extra_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from renewer.config import load
    from renewer.run import wiring

    config = load(
        {
            "materials": [
                {
                    "name": "m",
                    "source": {"type": "env", "var": "X"},
                    "keys": [{"cloud": "aws", "region": "us-east-1", "key_id": "k"}],
                }
            ]
        }
    )
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "boto3" else real(name, *a))
    with pytest.raises(ConfigError, match=r"boto3 is not installed: build the code package with the 'aws' extra"):
        wiring.check_extras(config)

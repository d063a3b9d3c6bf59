"""The ``limits`` fields of the request budgets (issue #15): quota_share, quotas, region_quotas, and the
old max_qps / region_max_qps, now optional caps. Every problem names its field."""

from __future__ import annotations

from typing import Any

import pytest

from renewer.config import Limits, load
from renewer.errors import ConfigError

BASE: dict[str, Any] = {
    "materials": [
        {"name": "m", "source": {"type": "env", "var": "M"}, "keys": [{"region": "cn-hangzhou", "key_id": "k"}]}
    ]
}


def limits(raw: Any) -> Limits:
    return load({**BASE, "limits": raw}).limits


def test_the_budget_fields_parse() -> None:
    parsed = limits(
        {
            "quota_share": 0.6,
            "quotas": {"alibaba": {"query": 40, "modify": 20.5}, "aws": {"GetParametersForImport": 2}},
            "region_quotas": {"ap-southeast-1": {"aws": {"ImportKeyMaterial": 10}}},
            "max_qps": 25,
        }
    )
    assert parsed.quota_share == 0.6
    assert parsed.quotas == {"alibaba": {"query": 40.0, "modify": 20.5}, "aws": {"GetParametersForImport": 2.0}}
    assert parsed.region_quotas == {"ap-southeast-1": {"aws": {"ImportKeyMaterial": 10.0}}}
    assert parsed.max_qps == 25 and parsed.qps("cn-hangzhou") == 25


def test_the_old_fields_still_parse_and_nothing_set_means_no_cap() -> None:
    assert limits({}) == Limits() and Limits().max_qps is None
    old = limits({"max_qps": 50, "region_max_qps": {"cn-shanghai": 10}, "max_attempts": 3, "concurrency": 4})
    assert (old.max_qps, old.region_max_qps, old.max_attempts, old.concurrency) == (50, {"cn-shanghai": 10}, 3, 4)
    assert limits({"max_qps": None}).max_qps is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"quota_share": 0}, "limits.quota_share: expected a number > 0 and <= 1"),
        ({"quota_share": 1.5}, "limits.quota_share: expected a number > 0 and <= 1"),
        ({"quota_share": "half"}, "limits.quota_share: expected a number > 0 and <= 1"),
        ({"quota_share": True}, "limits.quota_share: expected a number > 0 and <= 1"),
        ({"quotas": [1]}, "limits.quotas: expected a mapping of cloud to {group: calls per second}"),
        ({"quotas": {"azure": {"query": 1}}}, "limits.quotas: unknown field(s) 'azure'"),
        ({"quotas": {"alibaba": 50}}, "limits.quotas.alibaba: expected a mapping of operation group"),
        (
            {"quotas": {"alibaba": {"querry": 50}}},
            "limits.quotas.alibaba: unknown field(s) 'querry' (did you mean 'query'?)",
        ),
        ({"quotas": {"aws": {"GetParametersForImports": 1}}}, "(did you mean 'GetParametersForImport'?)"),
        ({"quotas": {"alibaba": {"query": 0}}}, "limits.quotas.alibaba.query: expected a number > 0"),
        ({"quotas": {"alibaba": {"query": "fast"}}}, "limits.quotas.alibaba.query: expected a number > 0"),
        ({"region_quotas": [1]}, "limits.region_quotas: expected a mapping of region to {cloud: {group"),
        ({"region_quotas": {"cn_x": {}}}, "limits.region_quotas.cn_x: 'cn_x' is not a region id"),
        ({"region_quotas": {"cn-hangzhou": {"aws": {"query": 1}}}}, "limits.region_quotas.cn-hangzhou.aws: unknown"),
        (
            {"region_quotas": {"cn-hangzhou": {"alibaba": {"modify": -3}}}},
            "limits.region_quotas.cn-hangzhou.alibaba.modify",
        ),
        ({"max_qps": 0}, "limits.max_qps: expected a number > 0"),
        ({"quota_shares": 0.5}, "limits: unknown field(s) 'quota_shares' (did you mean 'quota_share'?)"),
    ],
)
def test_a_bad_budget_field_is_named(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        limits(raw)
    assert message in raised.value.message

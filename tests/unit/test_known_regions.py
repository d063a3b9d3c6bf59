"""The region ids the installed SDKs know (renewer.known_regions)."""

from __future__ import annotations

import pytest

from renewer import known_regions
from renewer.errors import ConfigError


def test_the_alibaba_list_read_from_source_is_the_cms_clients_own_endpoint_map() -> None:
    from alibabacloud_cms20190101.client import Client
    from alibabacloud_tea_openapi.models import Config

    client = Client(Config(region_id="cn-hangzhou", access_key_id="-", access_key_secret="-"))
    assert known_regions.known("alibaba") == frozenset(client._endpoint_map)
    assert {"cn-hangzhou", "cn-shanghai", "ap-southeast-1"} <= known_regions.known("alibaba")


def test_aws_regions_come_from_botocore() -> None:
    assert {"us-east-1", "eu-west-1", "cn-north-1"} <= known_regions.known("aws")


def test_a_near_miss_is_refused_and_a_stranger_only_warned() -> None:
    warnings: list[str] = []
    with pytest.raises(ConfigError, match="did you mean 'cn-shanghai'"):
        known_regions.check("alibaba", "cn-shangai", "keys[0].region", warnings)
    known_regions.check("alibaba", "xx-newregion-9", "keys[1].region", warnings)
    assert warnings == [
        "keys[1].region: 'xx-newregion-9' is not a region the installed alibaba SDK knows (a new region?)"
    ]

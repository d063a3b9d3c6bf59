"""Tag discovery in few calls (issue #15): ``ListKeys`` with the ``TagKey``/``TagValue`` filters the
SDK model documents, instead of ``ListKeys`` plus one ``ListResourceTags`` per key in the region;
the per-key listing when the service refuses the filter. Calls counted in the emulator's call log."""

from __future__ import annotations

import json
import os
from typing import Any

from alibabacloud_kms20160120 import models as kms_models

from tests.function.conftest import Cloud

MATERIAL = bytes.fromhex("6b" * 16 + "a5" * 16)


def tag(cloud: Cloud, key_id: str, value: str, tag_key: str = "byok") -> None:
    tags = json.dumps([{"TagKey": tag_key, "TagValue": value}])
    cloud.kms().tag_resource(kms_models.TagResourceRequest(key_id=key_id, tags=tags))


def fleet(cloud: Cloud) -> tuple[str, list[str], list[str]]:
    """Five tagged keys holding the material (due), two tagged never imported, three untagged; and
    three keys tagged with the same value under another tag key (they must not be found)."""
    value = os.urandom(4).hex()
    holding = [cloud.key_with_material(MATERIAL, 5) for _ in range(5)]
    fresh = [cloud.create_key() for _ in range(2)]
    for key_id in holding + fresh:
        tag(cloud, key_id, value)
    for _ in range(3):
        cloud.create_key()
    from alibabacloud_kms20160120.models import TagResourceRequest

    for _ in range(3):  # the same value under another tag key
        other = cloud.create_key()
        cloud.kms().tag_resource(
            TagResourceRequest(key_id=other, tags=json.dumps([{"TagKey": "x", "TagValue": value}]))
        )
    return value, holding, fresh


def config(value: str) -> dict[str, Any]:
    return {
        "materials": [
            {
                "name": "payments",
                "source": {"type": "alibaba-secret", "name": "byok/discover", "region": "cn-hangzhou"},
                "discover": {"tag": f"byok={value}", "regions": ["cn-hangzhou"]},
            }
        ]
    }


def count(result: Any, action: str) -> int:
    return len(result.actions(action))


def test_discovery_lists_the_tagged_keys_in_one_call(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/discover", MATERIAL.hex())
    value, holding, fresh = fleet(cloud)

    result = invoke(config(value))

    assert result.error is None, result.report
    outcomes = {k["key_id"]: k["outcome"] for k in result.report["keys"]}
    assert outcomes == {**dict.fromkeys(holding, "renewed"), **dict.fromkeys(fresh, "recovered")}
    assert count(result, "ListKeys") == 1  # one page of tagged keys, not every key of the region
    # Tags read only for the keys whose first import this would be (they bind for good).
    tagged_reads = sorted(c["key_id"] for c in result.actions("ListResourceTags"))
    assert tagged_reads == sorted(fresh)


def test_discovery_falls_back_to_the_per_key_listing_when_the_filter_is_refused(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/discover", MATERIAL.hex())
    value, holding, fresh = fleet(cloud)
    cloud.admin(
        "POST", "faults", {"error_rate": 1.0, "count": 1, "error_code": "InvalidParameter", "actions": ["ListKeys"]}
    )
    try:
        result = invoke(config(value))
    finally:
        cloud.admin("DELETE", "faults")

    assert result.error is None, result.report
    outcomes = {k["key_id"]: k["outcome"] for k in result.report["keys"]}
    assert outcomes == {**dict.fromkeys(holding, "renewed"), **dict.fromkeys(fresh, "recovered")}
    listed_keys = (
        cloud.kms()
        .list_keys(__import__("alibabacloud_kms20160120.models", fromlist=["x"]).ListKeysRequest(page_size=1))
        .body.total_count
    )
    # The refused filtered call, then every page of the region, then one ListResourceTags per key
    # (and again for the never-imported ones, before their first import).
    assert count(result, "ListResourceTags") >= listed_keys

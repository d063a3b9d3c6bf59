"""Issue #13 end to end: every run reads each material's source once and checks it, even when no key
is due; the report says how each material fared (``run.materials``), a failed source fails the
invocation, and ``KeyMaterialSourceFailures`` (dimension ``material``) reaches CloudMonitor."""

from __future__ import annotations

import json
from typing import Any

import pytest

from renewer.errors import RenewalFailedError
from renewer.materials.wrapping import key_check_value
from renewer.run.material_check import CHECK_OFF
from tests.function.conftest import Cloud, Invocation, assert_no_secrets, outcomes

MATERIAL = bytes(range(7, 39))
OTHER = bytes(range(77, 109))
METRICS = {"cloudmonitor": {"group_id": 7}}


def secret(name: str = "byok/payments") -> dict[str, str]:
    return {"type": "alibaba-secret", "name": name, "region": "cn-hangzhou"}


def material(name: str, keys: list[str], source: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    keys_ = [{"region": "cn-hangzhou", "key_id": k} for k in keys]
    return {"name": name, "source": source or secret(), "keys": keys_, **extra}


def source_failures(cloud: Cloud) -> dict[str, Any]:
    """``KeyMaterialSourceFailures`` as CloudMonitor holds it: material -> value."""
    sent = [m for m in cloud.metrics() if m["MetricName"] == "KeyMaterialSourceFailures"]
    return {m["Dimensions"]["material"]: m["Values"]["value"] for m in sent}


def checked(result: Invocation) -> dict[str, tuple[bool | None, str | None]]:
    return {m["name"]: (m["ok"], m["error"] and m["error"]["code"]) for m in result.report["run"]["materials"]}


def test_no_key_due_and_the_secret_gone_fails_the_invocation_and_sends_the_metric(cloud: Cloud, invoke) -> None:
    """The acceptance test: nothing is due, so before #13 nothing read the (deleted) secret."""
    key = cloud.key_with_material(MATERIAL, 80)  # far from due; its secret never existed here
    result = invoke({"materials": [material("payments", [key])], "metrics": METRICS})

    assert isinstance(result.error, RenewalFailedError)
    assert result.error.message == "the source of material(s) payments (Forbidden.ResourceNotFound) failed"
    assert outcomes(result.report) == {key: "skipped"} and result.report["summary"]["failed"] == 0
    [entry] = result.report["run"]["materials"]
    assert entry["name"] == "payments" and entry["ok"] is False and entry["kcv"] is None
    assert entry["source"] == "alibaba-secret:name=byok/payments,region=cn-hangzhou"
    assert entry["error"]["code"] == "Forbidden.ResourceNotFound" and "byok/payments" in entry["error"]["message"]
    assert len(result.actions("GetSecretValue")) == 1
    assert not result.actions("GetParametersForImport") and not result.actions("ImportKeyMaterial")
    assert source_failures(cloud) == {"payments": 1}
    assert '"event": "material"' in result.output and '"error": "Forbidden.ResourceNotFound"' in result.output
    assert_no_secrets(result, cloud, [MATERIAL], [])


def test_no_key_due_and_a_good_secret_is_checked_once_and_reported_with_its_kcv(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    keys = [cloud.key_with_material(MATERIAL, 80), cloud.key_with_material(MATERIAL, 70)]
    result = invoke({"materials": [material("payments", keys)], "metrics": METRICS})

    assert result.error is None, result.report
    assert set(outcomes(result.report).values()) == {"skipped"}
    assert result.report["run"]["materials"] == [
        {
            "name": "payments",
            "source": "alibaba-secret:name=byok/payments,region=cn-hangzhou",
            "ok": True,
            "kcv": key_check_value(MATERIAL),  # shown without a configured kcv: not secret, and it helps
            "error": None,
            "note": None,
        }
    ]
    assert len(result.actions("GetSecretValue")) == 1 and result.report["run"]["api"]["material_reads"] == 1
    assert source_failures(cloud) == {"payments": 0}
    assert_no_secrets(result, cloud, [MATERIAL], [])


def test_keys_and_the_check_share_one_read_per_material(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    cloud.secret("byok/other", OTHER.hex())
    due = cloud.key_with_material(MATERIAL, 5)
    idle = cloud.key_with_material(OTHER, 80)
    config = {"materials": [material("payments", [due]), material("other", [idle], secret("byok/other"))]}
    result = invoke({**config, "metrics": METRICS})

    assert result.error is None, result.report
    assert outcomes(result.report) == {due: "renewed", idle: "skipped"}
    assert checked(result) == {"payments": (True, None), "other": (True, None)}
    assert len(result.actions("GetSecretValue")) == 2  # one each: the due key's, and the check's
    assert source_failures(cloud) == {"payments": 0, "other": 0}


@pytest.mark.parametrize(
    ("held", "kcv", "code", "shown"),
    [
        (OTHER.hex(), key_check_value(MATERIAL), "KcvMismatch", key_check_value(OTHER)),
        # 16 bytes read whole (an SM4 key's size), but its key is an AES-256 key: its SM4 KCV shows what is there
        (MATERIAL[:16].hex(), None, "MaterialWrongSize", key_check_value(MATERIAL[:16])),
        ("neither hex nor base64!", None, "MaterialNotDecodable", None),
    ],
    ids=["another-material", "too-short", "not-decodable"],
)
def test_a_secret_holding_something_else_fails_with_its_code(
    cloud: Cloud, invoke, held: str, kcv: str | None, code: str, shown: str | None
) -> None:
    cloud.secret("byok/payments", held)
    key = cloud.key_with_material(MATERIAL, 80)
    result = invoke({"materials": [material("payments", [key], **({"kcv": kcv} if kcv else {}))], "metrics": METRICS})

    assert isinstance(result.error, RenewalFailedError) and f"payments ({code})" in result.error.message
    [entry] = result.report["run"]["materials"]
    assert (entry["ok"], entry["error"]["code"], entry["kcv"]) == (False, code, shown)
    assert entry["error"]["runbook"]  # the function's own code: its runbook line
    assert source_failures(cloud) == {"payments": 1}
    assert_no_secrets(result, cloud, [MATERIAL, OTHER], [])


def test_a_material_whose_keys_all_failed_describe_key_is_still_checked(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    keys = [cloud.key_with_material(MATERIAL, 80) for _ in range(2)]
    cloud.admin(
        "POST", "faults", {"error_rate": 1.0, "error_code": "Forbidden.NoPermission", "actions": ["DescribeKey"]}
    )
    try:
        result = invoke({"materials": [material("payments", keys)], "metrics": METRICS})
    finally:
        cloud.admin("POST", "faults", {})

    assert isinstance(result.error, RenewalFailedError)
    assert set(outcomes(result.report).values()) == {"failed"}
    assert checked(result) == {"payments": (True, None)}
    assert "source" not in result.error.message  # the keys failed, not the source
    assert source_failures(cloud) == {"payments": 0}


@pytest.mark.parametrize("where", ["defaults", "material"], ids=["off-in-defaults", "off-for-the-material"])
def test_with_check_material_off_a_material_no_key_needs_is_not_read(cloud: Cloud, invoke, where: str) -> None:
    key = cloud.key_with_material(MATERIAL, 80)  # its secret is gone: the check would fail
    entry = material("payments", [key], **({"check_material": False} if where == "material" else {}))
    config = {"materials": [entry], "metrics": METRICS}
    if where == "defaults":
        config["defaults"] = {"check_material": False}
    result = invoke(config)

    assert result.error is None, result.report
    assert not result.actions("GetSecretValue")
    assert result.report["run"]["materials"][0] | {"source": None} == {
        "name": "payments",
        "source": None,
        "ok": None,
        "kcv": None,
        "error": None,
        "note": CHECK_OFF,
    }
    assert source_failures(cloud) == {}  # nothing said about a material nothing read


def test_with_check_material_off_a_due_key_still_reads_and_reports_its_material(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    due = cloud.key_with_material(MATERIAL, 5)
    result = invoke({"materials": [material("payments", [due], check_material=False)], "metrics": METRICS})

    assert result.error is None and outcomes(result.report) == {due: "renewed"}
    assert checked(result) == {"payments": (True, None)}
    assert source_failures(cloud) == {"payments": 0}


def test_a_dry_run_checks_too_and_sends_no_metric(cloud: Cloud, invoke) -> None:
    key = cloud.key_with_material(MATERIAL, 80)
    result = invoke({"materials": [material("payments", [key])], "metrics": METRICS}, event=b'{"dryRun": true}')

    assert isinstance(result.error, RenewalFailedError)
    assert checked(result) == {"payments": (False, "Forbidden.ResourceNotFound")}
    assert cloud.metrics() == []  # a dry run sends no metrics, this one included


def test_only_the_selected_materials_are_checked(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    a, b = cloud.key_with_material(MATERIAL, 80), cloud.key_with_material(OTHER, 80)
    config = {"materials": [material("a", [a]), material("b", [b], secret("byok/gone"))]}
    result = invoke(config, event=json.dumps({"materials": ["a"]}))

    assert result.error is None, result.report
    assert checked(result) == {"a": (True, None)}
    assert len(result.actions("GetSecretValue")) == 1


def test_a_fanout_worker_checks_only_its_shards_materials(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    a, b = cloud.key_with_material(MATERIAL, 80), cloud.key_with_material(OTHER, 80)
    config = {"materials": [material("a", [a]), material("b", [b], secret("byok/gone"))]}
    shard = {"id": 1, "of": 2, "keys": [{"material": "a", "region": "cn-hangzhou", "key_id": a}]}
    result = invoke(config, event=json.dumps({"shard": shard}))

    assert result.error is None, result.report  # b's source is gone, but b is not this worker's
    assert checked(result) == {"a": (True, None)}
    assert len(result.actions("GetSecretValue")) == 1

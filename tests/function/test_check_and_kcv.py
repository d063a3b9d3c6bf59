"""``python -m renewer check`` (a preflight) and ``kcv --material NAME`` end to end against the
emulator, in a fresh process each, with a leak scan over everything they print (issue #13)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from renewer.materials.wrapping import key_check_value
from tests.function.conftest import Cloud, process_env, secret_forms
from tests.function.test_reliability import MATERIAL

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "function"
KCV = key_check_value(MATERIAL)


def cli(emulator: Any, config: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    env = process_env(emulator, RENEWER_CONFIG=json.dumps(config), FC_REGION="cn-hangzhou")
    done = subprocess.run(
        [sys.executable, "-m", "renewer", *args], cwd=FUNCTION_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    for form in secret_forms(MATERIAL):
        assert form not in done.stdout + done.stderr
    return done


def config(key_ids: list[str], secret: str = "byok/payments", kcv: str | None = KCV) -> dict[str, Any]:  # noqa: S107
    source = {"type": "alibaba-secret", "name": secret, "region": "cn-hangzhou"}
    material = {"name": "payments", "source": source, "keys": [{"region": "cn-hangzhou", "key_id": k} for k in key_ids]}
    return {"materials": [{**material, **({"kcv": kcv} if kcv else {})}]}


def test_check_passes_when_everything_would_work(cloud: Cloud, emulator: Any) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    keys = [cloud.key_with_material(MATERIAL, 80), cloud.key_with_material(MATERIAL, 5)]
    before = len(emulator.admin("GET", "calls"))
    done = cli(emulator, config(keys), "check", "--output", "json")
    assert done.returncode == 0, done.stderr
    assert "check: everything would work" in done.stderr
    report = json.loads(done.stdout)
    assert {k["decision"] for k in report["keys"]} == {"skip", "renew"}
    assert report["run"]["materials"][0]["kcv"] == KCV
    calls = emulator.admin("GET", "calls")[before:]
    assert not [c for c in calls if c.get("action") == "ImportKeyMaterial"]  # a preflight imports nothing


def test_check_names_a_kcv_mismatch_and_a_missing_secret(cloud: Cloud, emulator: Any) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    key = cloud.key_with_material(MATERIAL, 5)
    mismatch = cli(emulator, config([key], kcv="DC95C0"), "check")
    assert mismatch.returncode == 1
    assert f"key check value {KCV} does not match the configured kcv DC95C0" in mismatch.stderr
    assert "would fail: " in mismatch.stderr and "KcvMismatch" in mismatch.stderr
    missing = cli(emulator, config([key], secret="byok/gone"), "check")
    assert missing.returncode == 1
    assert "would fail: material payments" in missing.stderr and "Forbidden.ResourceNotFound" in missing.stderr


def test_kcv_prints_the_sources_kcv_and_nothing_else(cloud: Cloud, emulator: Any) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    done = cli(emulator, config(["key-unused"], kcv=None), "kcv", "--material", "payments")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{KCV}\n"


def test_kcv_shows_a_mismatch_and_a_missing_secret(cloud: Cloud, emulator: Any) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    mismatch = cli(emulator, config(["key-unused"], kcv="DC95C0"), "kcv", "--material", "payments")
    assert mismatch.returncode == 1 and mismatch.stdout == f"{KCV}\n"
    assert "the source holds" in mismatch.stderr and "DC95C0" in mismatch.stderr
    missing = cli(emulator, config(["key-unused"], secret="byok/gone", kcv=None), "kcv", "--material", "payments")
    assert missing.returncode == 1 and missing.stdout == ""
    assert "Forbidden.ResourceNotFound" in missing.stderr
    unknown = cli(emulator, config(["key-unused"], kcv=None), "kcv", "--material", "other")
    assert unknown.returncode == 2 and "no material named 'other'" in unknown.stderr

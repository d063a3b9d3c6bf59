"""End to end: ``index.handler`` against the live emulator, through the official SDKs over HTTP."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from datetime import datetime, timezone

import pytest

from emulator.cloud import DAY
from renewer.errors import EventError, RenewalFailedError
from renewer.materials.wrapping import ALIBABA_ALGORITHMS, key_check_value
from tests.function.conftest import EVENTS, Cloud, assert_no_secrets, outcomes, process_env, spy_on_imports

MATERIAL = bytes.fromhex("6b" * 16 + "a5" * 16)
OTHER = bytes(range(100, 132))


def secret_source(name: str = "byok/payments", region: str = "cn-hangzhou") -> dict[str, str]:
    return {"type": "alibaba-secret", "name": name, "region": region}


def config(*materials: dict, **top) -> dict:
    return {"materials": list(materials), **top}


def payments(*key_ids: str, region: str = "cn-hangzhou", **policy) -> dict:
    """A configuration with one material, ``payments``, from the ``byok/payments`` secret."""
    keys = [{"region": region, "key_id": k} for k in key_ids]
    return config({"name": "payments", "source": secret_source(), "keys": keys, **policy})


def utc_unix(text: str) -> float:
    """Seconds since the epoch of a time as KMS writes it (``2026-07-15T12:00:00Z``, always UTC),
    whatever the local time zone and its daylight saving."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


@pytest.fixture
def local_zone(monkeypatch):
    """Sets the process's local time zone (a POSIX ``TZ`` rule: no tz database needed) for one test."""

    def set_zone(rule: str) -> None:
        monkeypatch.setenv("TZ", rule)
        time.tzset()

    yield set_zone
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    "rule",
    ["UTC0", "EST5EDT,M3.2.0,M11.1.0", "CET-1CEST,M3.5.0,M10.5.0/3"],
    ids=["utc", "new-york", "berlin"],
)
@pytest.mark.parametrize(
    ("text", "unix"),
    [
        ("2026-01-15T12:00:00Z", 1768478400),  # winter: no daylight saving anywhere
        ("2026-07-15T12:00:00Z", 1784116800),  # summer: daylight saving in New York and Berlin
        ("2026-03-08T07:30:00Z", 1772955000),  # 30 minutes after New York's clocks went forward
        ("2026-03-29T01:30:00Z", 1774747800),  # 30 minutes after Berlin's clocks went forward
    ],
)
def test_utc_unix_is_the_same_in_every_local_time_zone(local_zone, rule: str, text: str, unix: int) -> None:
    local_zone(rule)
    assert utc_unix(text) == unix


def test_local_time_arithmetic_is_an_hour_off_in_summer_which_is_why_utc_unix_exists(local_zone) -> None:
    # What this file used before: mktime reads the time as local, and time.timezone is the zone's
    # offset without daylight saving. Also proves that the zone rule above takes effect.
    local_zone("EST5EDT,M3.2.0,M11.1.0")
    summer = "2026-07-15T12:00:00Z"
    assert time.mktime(time.strptime(summer, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone == utc_unix(summer) - 3600


def test_every_outcome_in_one_run(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/payments", base64.b64encode(MATERIAL).decode())
    healthy = cloud.key_with_material(MATERIAL, 80)
    due = cloud.key_with_material(MATERIAL, 10)
    expired = cloud.key_with_material(MATERIAL, 30 / DAY)  # 30 s: room for a slow machine
    never = cloud.create_key()
    not_external = cloud.create_key(origin="Aliyun_KMS")
    doomed = cloud.key_with_material(MATERIAL, 10)
    cloud.kms().schedule_key_deletion(
        __import__("alibabacloud_kms20160120.models", fromlist=["x"]).ScheduleKeyDeletionRequest(
            key_id=doomed, pending_window_in_days=7
        )
    )
    cloud.emulator.admin("POST", "clock", {"advance": 60})
    assert cloud.describe(expired).key_state == "PendingImport"
    keys = [{"region": "cn-hangzhou", "key_id": k} for k in (healthy, due, expired, never, not_external, doomed)]
    result = invoke(
        config({"name": "payments", "source": secret_source(), "keys": keys}, metrics={"cloudmonitor": {"group_id": 7}})
    )

    assert isinstance(result.error, RenewalFailedError)
    assert result.error.report == result.report
    assert outcomes(result.report) == {
        healthy: "skipped",
        due: "renewed",
        expired: "recovered",
        never: "recovered",
        not_external: "failed",
        doomed: "failed",
    }
    assert result.report["summary"] == {
        "renewed": 1,
        "recovered": 2,
        "skipped": 1,
        "failed": 2,
        "unverified": 0,
        "dry_run": 0,
        "not_attempted": 0,
        "delegated": 0,
    }
    errors = {k["key_id"]: k["error"]["code"] for k in result.report["keys"] if k["error"]}
    assert errors == {not_external: "NotExternal", doomed: "PendingDeletion"}
    for key_id in (due, expired, never):
        meta = cloud.describe(key_id)
        assert meta.key_state == "Enabled"
        assert abs(utc_unix(meta.material_expire_time) - (time.time() + 90 * DAY)) < 120
    # The skipped key cost exactly one call, and the material was read once.
    assert [c["action"] for c in result.calls if c["key_id"] == healthy] == ["DescribeKey"]
    assert len(result.actions("GetSecretValue")) == 1
    # Nothing was imported into the keys that failed.
    imported = {c["key_id"] for c in result.actions("ImportKeyMaterial")}
    assert imported == {due, expired, never}
    # Metrics reached CloudMonitor: one per key with a known expiry, plus the two run metrics.
    names = [m["MetricName"] for m in cloud.metrics()]
    assert names.count("KeyMaterialRenewals") == 1 and names.count("KeyMaterialRenewalFailures") == 1
    by_name = {m["MetricName"]: m for m in cloud.metrics() if m["MetricName"].startswith("KeyMaterialRenewal")}
    assert by_name["KeyMaterialRenewals"]["Values"] == {"value": 3}
    assert by_name["KeyMaterialRenewalFailures"]["Values"] == {"value": 2}
    seconds = [m for m in cloud.metrics() if m["MetricName"] == "SecondsUntilKeyMaterialExpiration"]
    assert {m["Dimensions"]["keyId"] for m in seconds} >= {healthy, due, expired, never}
    # One log line per key and one per run.
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    events = [line["event"] for line in lines]
    assert events.count("key") == 6 and events.count("run") == 1
    # Each line carries the invocation's request id (from the context), its level and its time.
    assert len({line["requestId"] for line in lines}) == 1 and lines[0]["requestId"]
    assert {line["level"] for line in lines} <= {"INFO", "WARNING"} and all(line["time"] for line in lines)


# RSA wrapping; SM2PKE (HSM keys only) is tests/function/test_sm4_keys.py's.
@pytest.mark.parametrize("algorithm", sorted(a.value for a in ALIBABA_ALGORITHMS if a.value != "SM2PKE"))
def test_every_wrapping_algorithm(cloud: Cloud, invoke, algorithm: str) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    due = cloud.key_with_material(MATERIAL, 5)
    result = invoke(payments(due, wrapping_algorithm=algorithm))
    assert result.error is None, result.report
    assert outcomes(result.report) == {due: "renewed"}


def test_one_material_in_two_regions_read_once_and_old_ciphertext_still_decrypts(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/payments", MATERIAL, region="cn-shanghai")  # binary secret
    hz = cloud.key_with_material(MATERIAL, 3)
    sh = cloud.key_with_material(MATERIAL, 3, region="cn-shanghai")
    sh_new = cloud.create_key("cn-shanghai")
    blob = cloud.encrypt(hz, "before renewal")
    keys = [
        {"region": "cn-hangzhou", "key_id": hz},
        {"region": "cn-shanghai", "key_id": sh},
        {"region": "cn-shanghai", "key_id": sh_new},
    ]
    result = invoke(config({"name": "payments", "source": secret_source(region="cn-shanghai"), "keys": keys}))
    assert result.error is None, result.report
    assert outcomes(result.report) == {hz: "renewed", sh: "renewed", sh_new: "recovered"}
    assert len(result.actions("GetSecretValue")) == 1
    assert cloud.decrypt(blob) == "before renewal"


def test_alias_keys_are_resolved_for_import(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/payments", base64.b64encode(MATERIAL).decode(), region="cn-shanghai")
    key_id = cloud.create_key("cn-shanghai", alias="alias/payments")
    result = invoke(
        config(
            {
                "name": "payments",
                "source": secret_source(region="cn-shanghai"),
                "keys": [{"region": "cn-shanghai", "key_id": "alias/payments"}],
            }
        )
    )
    assert result.error is None, result.report
    [entry] = result.report["keys"]
    assert entry["key_id"] == "alias/payments" and entry["resolved_key_id"] == key_id
    assert entry["outcome"] == "recovered"
    assert {c["key_id"] for c in result.actions("ImportKeyMaterial")} == {key_id}


@pytest.mark.parametrize(
    ("event_file", "trigger"),
    [("dry-run.json", "manual"), ("timer-dry-run.json", "timer:daily")],  # options, and options in a timer's payload
)
def test_dry_run_changes_nothing(cloud: Cloud, invoke, event_file: str, trigger: str) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    due = cloud.key_with_material(MATERIAL, 5)
    never = cloud.create_key()
    before = {k: cloud.describe(k).to_map() for k in (due, never)}
    keys = [{"region": "cn-hangzhou", "key_id": k} for k in (due, never)]
    result = invoke(
        config({"name": "payments", "source": secret_source(), "keys": keys}),
        event=(EVENTS / event_file).read_bytes(),
    )
    assert result.error is None
    assert result.report["run"]["trigger"] == trigger and result.report["run"]["dry_run"] is True
    assert outcomes(result.report) == {due: "dry_run", never: "dry_run"}
    assert result.report["summary"]["dry_run"] == 2
    assert {k: cloud.describe(k).to_map() for k in (due, never)} == before
    assert not result.actions("GetParametersForImport") and not result.actions("ImportKeyMaterial")
    assert not cloud.metrics()


def test_bad_materials_fail_cleanly_while_others_succeed(cloud: Cloud, invoke, monkeypatch) -> None:
    cloud.secret("byok/good", base64.b64encode(MATERIAL).decode())
    cloud.secret("byok/short", base64.b64encode(MATERIAL[:16]).decode())
    cloud.secret("byok/garbage", "this is not base64 at all!")
    cloud.secret("byok/other", OTHER.hex())
    monkeypatch.setenv("BYOK_ENV_MATERIAL", MATERIAL.hex())
    keys = {name: cloud.create_key() for name in ("good", "short", "garbage", "kcv", "env")}
    materials = [
        {"name": "good", "source": secret_source("byok/good"), "kcv": key_check_value(MATERIAL)},
        {"name": "short", "source": secret_source("byok/short")},
        {"name": "garbage", "source": secret_source("byok/garbage")},
        {"name": "kcv", "source": secret_source("byok/other"), "kcv": key_check_value(MATERIAL)},
        {"name": "env", "source": {"type": "env", "var": "BYOK_ENV_MATERIAL"}},
    ]
    for m in materials:
        m["keys"] = [{"region": "cn-hangzhou", "key_id": keys[m["name"]]}]
    result = invoke(config(*materials))
    assert isinstance(result.error, RenewalFailedError)
    by_material = {k["material"]: k for k in result.report["keys"]}
    assert by_material["good"]["outcome"] == "recovered"
    assert by_material["env"]["outcome"] == "recovered"
    assert by_material["short"]["error"]["code"] == "MaterialWrongSize"
    assert "16 bytes" in by_material["short"]["error"]["message"]
    assert by_material["garbage"]["error"]["code"] == "MaterialNotDecodable"
    assert by_material["kcv"]["error"]["code"] == "KcvMismatch"
    imported = {c["key_id"] for c in result.actions("ImportKeyMaterial")}
    assert imported == {keys["good"], keys["env"]}


def test_disabled_key_is_renewed_and_stays_disabled(cloud: Cloud, invoke) -> None:
    from alibabacloud_kms20160120.models import DisableKeyRequest

    cloud.secret("byok/payments", MATERIAL.hex())
    key = cloud.key_with_material(MATERIAL, 5)
    cloud.kms().disable_key(DisableKeyRequest(key_id=key))
    result = invoke(payments(key))
    assert result.error is None, result.report
    [entry] = result.report["keys"]
    assert entry["outcome"] == "renewed" and entry["state_after"] == "Disabled"
    assert any("disabled" in note for note in entry["notes"])


def test_canary_verification_round_trips(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    key = cloud.create_key()
    result = invoke(payments(key, verify="canary"))
    assert result.error is None, result.report
    assert len(result.actions("Encrypt")) == 1 and len(result.actions("Decrypt")) == 1


def test_validity_zero_never_expires_and_warns(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    key = cloud.create_key()
    result = invoke(payments(key, validity_days=0))
    assert result.error is None
    assert cloud.describe(key).material_expire_time == ""
    assert any("never expire" in w for w in result.report["run"]["warnings"])


def test_timer_event_and_force_one_material(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    cloud.secret("byok/other", OTHER.hex())
    healthy = cloud.key_with_material(MATERIAL, 80)
    other = cloud.key_with_material(OTHER, 80)
    cfg = config(
        {"name": "payments", "source": secret_source(), "keys": [{"region": "cn-hangzhou", "key_id": healthy}]},
        {"name": "other", "source": secret_source("byok/other"), "keys": [{"region": "cn-hangzhou", "key_id": other}]},
    )
    timer = invoke(cfg, event=(EVENTS / "timer.json").read_bytes())
    assert timer.error is None and outcomes(timer.report) == {healthy: "skipped", other: "skipped"}
    assert timer.report["run"]["trigger"].startswith("timer:")
    forced = invoke(cfg, event=(EVENTS / "force-one-material.json").read_bytes())
    assert forced.error is None
    assert outcomes(forced.report) == {healthy: "renewed"}
    manual = invoke(cfg, event=(EVENTS / "manual.json").read_bytes())
    assert manual.error is None and manual.report["summary"]["skipped"] == 2


def test_malformed_event_touches_nothing(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    key = cloud.create_key()
    cfg = payments(key)
    for event in ((EVENTS / "malformed.json").read_bytes(), b"{not json", b'{"payload": 3, "triggerTime": "x"}'):
        result = invoke(cfg, event=event)
        assert isinstance(result.error, EventError), event
        assert result.calls == []
    assert cloud.describe(key).key_state == "PendingImport"


def test_cli_invoke_uses_the_default_credential_chain(cloud: Cloud, tmp_path) -> None:
    """``python -m renewer invoke`` in a fresh process: no context credentials, so the default chain
    of alibabacloud-credentials reads them from the environment (it does so once, at import)."""
    import subprocess
    import sys

    from tests.function.conftest import ROOT

    cloud.secret("byok/payments", MATERIAL.hex())
    key = cloud.create_key()
    cfg = payments(key)
    env = process_env(cloud.emulator, RENEWER_CONFIG=json.dumps(cfg))
    done = subprocess.run(
        [sys.executable, "-m", "renewer", "invoke", "-e", str(EVENTS / "timer.json")],
        cwd=ROOT / "function",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert '"event": "run"' in done.stderr  # the log lines go to stderr on the command line
    assert outcomes(report) == {key: "recovered"}


def test_wrong_credentials_fail_every_key_as_rejected_with_the_service_code(cloud: Cloud, invoke) -> None:
    from renewer.credentials import Credentials
    from renewer.entry.context import LocalContext

    cloud.secret("byok/payments", MATERIAL.hex())
    key = cloud.create_key()
    cfg = payments(key)
    result = invoke(cfg, context=LocalContext(credentials=Credentials("nobody", "wrong")))
    assert isinstance(result.error, RenewalFailedError)
    error = result.report["keys"][0]["error"]
    assert error["code"] == "CredentialsRejected" and "InvalidAccessKeyId.NotFound" in error["message"]
    assert result.report["run"]["api"]["retries"] == 0


def test_no_secret_in_any_output(cloud: Cloud, invoke, monkeypatch) -> None:
    """Material, wrapped material and import tokens, raw/hex/base64, appear in no log line, report,
    exception or emulator call log."""
    from renewer.clouds import alibaba

    seen = spy_on_imports(monkeypatch, alibaba.AlibabaKms)
    cloud.secret("byok/payments", base64.b64encode(MATERIAL).decode())
    cloud.secret("byok/other", OTHER.hex())
    keys = [cloud.create_key(), cloud.key_with_material(MATERIAL, 3)]
    wrong = cloud.key_with_material(MATERIAL, 3)  # will be offered OTHER: rejected by KMS
    result = invoke(
        config(
            {
                "name": "payments",
                "source": secret_source(),
                "keys": [{"region": "cn-hangzhou", "key_id": k} for k in keys],
            },
            {
                "name": "other",
                "source": secret_source("byok/other"),
                "keys": [{"region": "cn-hangzhou", "key_id": wrong}],
            },
        )
    )
    assert isinstance(result.error, RenewalFailedError)
    assert result.report["keys"][-1]["error"]["code"] == "InvalidKeyMaterial"
    assert len(seen) >= 6
    assert_no_secrets(result, cloud, [MATERIAL, OTHER], seen)


@pytest.fixture(autouse=True)
def _no_real_credentials() -> None:
    assert "ALIBABA_CLOUD_ACCESS_KEY_SECRET" not in os.environ or os.environ[
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
    ].startswith("test")


def test_malformed_configuration_touches_nothing(cloud: Cloud, invoke) -> None:
    from renewer.errors import ConfigError

    key = cloud.create_key()
    bad = payments(key)
    bad["materials"][0]["renew_before_dayz"] = 3
    result = invoke(bad)
    assert isinstance(result.error, ConfigError)
    assert "renew_before_dayz" in str(result.error)
    assert result.calls == []


def test_cli_plan_prints_a_table_and_changes_nothing(cloud: Cloud, tmp_path) -> None:
    import subprocess
    import sys

    from tests.function.conftest import ROOT

    cloud.secret("byok/payments", MATERIAL.hex())
    due = cloud.key_with_material(MATERIAL, 5)
    before = cloud.describe(due).material_expire_time
    cfg_file = tmp_path / "renewer.json"
    cfg_file.write_text(json.dumps(payments(due)))
    env = process_env(cloud.emulator, RENEWER_CONFIG_FILE=str(cfg_file))
    done = subprocess.run(
        [sys.executable, "-m", "renewer", "plan"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    header, _, row = done.stdout.splitlines()[:3]
    assert header.split()[:5] == ["material", "region", "key", "via", "state"]
    assert due in row and "renew" in row and "dry_run" in row
    assert "dry_run 1" in done.stdout
    assert cloud.describe(due).material_expire_time == before
    assert len(cloud.calls("ImportKeyMaterial")) == 1  # only the setup import


def test_unknown_keys_and_aliases_fail_with_the_service_code(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    good = cloud.create_key()
    result = invoke(payments(good, "key-doesnotexist", "alias/nothere"))
    errors = {k["key_id"]: k["error"]["code"] for k in result.report["keys"] if k["error"]}
    assert errors == {"key-doesnotexist": "Forbidden.KeyNotFound", "alias/nothere": "Forbidden.AliasNotFound"}
    assert outcomes(result.report)[good] == "recovered"


def test_tag_discovery_finds_external_keys_in_several_regions(cloud: Cloud, invoke) -> None:
    from alibabacloud_kms20160120.models import TagResourceRequest

    cloud.secret("byok/payments", MATERIAL.hex())
    tag = json.dumps([{"TagKey": "byok", "TagValue": "payments"}])

    def tagged(region: str, origin: str = "EXTERNAL") -> str:
        key_id = cloud.create_key(region, origin=origin)
        cloud.kms(region).tag_resource(TagResourceRequest(key_id=key_id, tags=tag))
        return key_id

    hz, sh = tagged("cn-hangzhou"), tagged("cn-shanghai")
    generated = tagged("cn-hangzhou", origin="Aliyun_KMS")
    listed = cloud.create_key()
    untagged = cloud.create_key()
    cfg = payments(listed)
    cfg["materials"][0]["discover"] = {"tag": "byok=payments", "regions": ["cn-hangzhou", "cn-shanghai"]}
    result = invoke(cfg)
    assert result.error is None, result.report
    via = {k["key_id"]: (k["via"], k["outcome"]) for k in result.report["keys"]}
    assert via == {
        listed: ("config", "recovered"),
        hz: ("discovery", "recovered"),
        sh: ("discovery", "recovered"),
        generated: ("discovery", "skipped"),
    }
    assert untagged not in via


def test_a_key_claimed_by_two_materials_gets_neither(cloud: Cloud, invoke) -> None:
    from alibabacloud_kms20160120.models import TagResourceRequest

    cloud.secret("byok/payments", MATERIAL.hex())
    cloud.secret("byok/other", OTHER.hex())
    key = cloud.create_key()
    cloud.kms().tag_resource(TagResourceRequest(key_id=key, tags=json.dumps([{"TagKey": "byok", "TagValue": "x"}])))
    cfg = payments(key)
    cfg["materials"].append(
        {
            "name": "other",
            "source": secret_source("byok/other"),
            "discover": {"tag": "byok=x", "regions": ["cn-hangzhou"]},
        }
    )
    result = invoke(cfg)
    assert {k["error"]["code"] for k in result.report["keys"]} == {"AmbiguousMaterial"}
    assert not result.actions("ImportKeyMaterial")


def test_cli_run_on_a_terminal_shows_a_progress_bar(cloud: Cloud, tmp_path) -> None:
    """On a terminal, ``python -m renewer run`` draws a bar on stderr instead of per-key log lines."""
    import pty
    import subprocess
    import sys

    cloud.secret("byok/payments", MATERIAL.hex())
    keys = [cloud.key_with_material(MATERIAL, 5) for _ in range(3)]
    env = process_env(cloud.emulator, RENEWER_CONFIG=json.dumps(payments(*keys)))
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "renewer", "run"], env=env, stdout=subprocess.PIPE, stderr=follower, text=True
    )
    os.close(follower)
    chunks: list[bytes] = []

    def drain() -> None:  # read the terminal while the process writes, so it never blocks on a full pty
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the process closed its end
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    stdout, _ = process.communicate(timeout=60)
    reader.join(timeout=10)
    os.close(leader)
    screen = b"".join(chunks).decode(errors="replace")
    assert process.returncode == 0, (stdout, screen)
    assert "renew  [" in screen and "3/3 keys" in screen, screen
    assert '"event": "key"' not in screen
    done = subprocess.CompletedProcess(process.args, process.returncode, stdout)
    assert "renewed 3" in done.stdout

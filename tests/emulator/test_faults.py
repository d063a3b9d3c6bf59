"""Fault injection, unit level (seeded randomness, an injected monotonic clock and sleep), and the
new fields through the AWS wire with boto3 against the session emulator."""

from __future__ import annotations

import base64
import os
import random
import threading

import boto3
import pytest
from botocore.config import Config

from emulator.errors import ServiceError
from emulator.faults import Faults, FaultSettings, injected_error, status_for
from renewer.materials.wrapping import WrappingAlgorithm, load_public_key, wrap


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def _faults(fake_time: FakeTime, seed: int = 7, **settings) -> Faults:
    faults = Faults(rng=random.Random(seed), monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    faults.configure(FaultSettings.from_json(settings))
    return faults


def _outcome(faults: Faults, region: str = "cn-hangzhou") -> str:
    try:
        faults.apply(region)
    except ServiceError as error:
        return error.code
    return "Success"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("Throttling", 400),
        ("Rejected.Throttling", 400),
        ("ServiceUnavailableTemporary", 503),
        ("InternalFailure", 500),
        ("Forbidden.KeyNotFound", 404),
        ("Forbidden.NoPermission", 403),
        ("Rejected.Disabled", 400),
    ],
)
def test_status_for_documented_codes(code, status):
    assert status_for(code) == status
    assert injected_error(code).http_status == status


def test_no_faults_by_default(fake_time):
    faults = Faults(monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    assert all(_outcome(faults) == "Success" for _ in range(100))
    assert fake_time.slept == []


def test_error_rate_follows_the_seeded_rng(fake_time):
    faults = _faults(fake_time, seed=42, error_rate=0.3, error_code="InternalFailure")
    outcomes = [_outcome(faults) for _ in range(1000)]
    mirror = random.Random(42)
    expected = ["InternalFailure" if mirror.random() < 0.3 else "Success" for _ in range(1000)]
    assert outcomes == expected
    assert 200 < outcomes.count("InternalFailure") < 400


def test_error_rate_one_always_fails_with_default_code(fake_time):
    faults = _faults(fake_time, error_rate=1.0)
    assert {_outcome(faults) for _ in range(20)} == {"ServiceUnavailableTemporary"}


def test_latency_sleeps_before_each_call(fake_time):
    faults = _faults(fake_time, latency_ms=250)
    _outcome(faults)
    _outcome(faults)
    assert fake_time.slept == [0.25, 0.25]


def test_qps_limit_sliding_window(fake_time):
    faults = _faults(fake_time, qps_limit=2)
    steps = [(0.0, "Success"), (0.1, "Success"), (0.2, "Throttling"), (0.9, "Throttling")]
    steps += [(1.05, "Success"), (1.08, "Throttling"), (1.15, "Success"), (2.5, "Success")]
    for moment, expected in steps:
        fake_time.now = 100.0 + moment
        assert _outcome(faults) == expected, moment


def test_throttling_is_the_service_error(fake_time):
    faults = _faults(fake_time, qps_limit=1)
    faults.apply("cn-hangzhou")
    with pytest.raises(ServiceError) as raised:
        faults.apply("cn-hangzhou")
    error = raised.value
    assert (error.code, error.http_status) == ("Throttling", 400)
    assert error.message == "Request was denied due to request throttling."


def test_qps_windows_are_per_region(fake_time):
    faults = _faults(fake_time, qps_limit=1)
    assert [_outcome(faults, region) for region in ("cn-hangzhou", "cn-shanghai", "cn-hangzhou")] == [
        "Success",
        "Success",
        "Throttling",
    ]


def test_qps_limit_for_named_regions_only(fake_time):
    faults = _faults(fake_time, qps_limit={"cn-shanghai": 1})
    assert all(_outcome(faults, "cn-hangzhou") == "Success" for _ in range(10))
    assert [_outcome(faults, "cn-shanghai") for _ in range(2)] == ["Success", "Throttling"]


def test_configure_and_clear_reset_the_windows(fake_time):
    faults = _faults(fake_time, qps_limit=1)
    _outcome(faults)
    faults.configure(FaultSettings(qps_limit=1))
    assert _outcome(faults) == "Success"
    faults.clear()
    assert faults.settings == FaultSettings()


def test_qps_limit_is_exact_under_concurrency(fake_time):
    faults = _faults(fake_time, qps_limit=10)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            outcome = _outcome(faults)
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("Success") == 10  # the clock stands still: one window


@pytest.mark.parametrize(
    "document",
    [
        {"error_rate": 1.5},
        {"error_rate": -0.1},
        {"error_rate": "high"},
        {"latency_ms": -1},
        {"latency_ms": True},
        {"qps_limit": 0},
        {"qps_limit": 2.5},
        {"qps_limit": {"cn-hangzhou": 0}},
        {"error_code": 503},
        {"unknown": 1},
    ],
)
def test_invalid_settings_are_rejected(document):
    with pytest.raises(ValueError):
        FaultSettings.from_json(document)


def test_settings_round_trip():
    document = {
        "latency_ms": 10.0,
        "error_rate": 0.25,
        "error_code": "Throttling",
        "qps_limit": {"cn-hangzhou": 3},
        "actions": ["ImportKeyMaterial"],
    }
    assert FaultSettings.from_json(document).to_json() == document


def test_faults_can_target_some_actions_only() -> None:
    faults = Faults(rng=random.Random(1))
    faults.configure(
        FaultSettings.from_json({"error_rate": 1.0, "error_code": "Throttling", "actions": ["DescribeKey"]})
    )
    faults.apply("cn-hangzhou", "PutCustomMetric")  # not targeted: passes
    with pytest.raises(ServiceError) as exc:
        faults.apply("cn-hangzhou", "DescribeKey")
    assert exc.value.code == "Throttling"
    assert faults.settings.to_json()["actions"] == ["DescribeKey"]
    with pytest.raises(ValueError, match="actions"):
        FaultSettings.from_json({"actions": "DescribeKey"})


# ---- count, error_message, current_key_material_id (issue #11) -------------------------------------

MATERIAL_ID = "ab" * 32


def test_count_stops_the_injected_errors_after_that_many(fake_time):
    faults = _faults(fake_time, error_rate=1, error_code="ExpiredImportToken", count=2)
    assert faults.remaining == 2
    assert [_outcome(faults) for _ in range(4)] == ["ExpiredImportToken", "ExpiredImportToken", "Success", "Success"]
    assert faults.remaining == 0
    faults.configure(faults.settings)  # configured again: counts from the top
    assert faults.remaining == 2 and _outcome(faults) == "ExpiredImportToken"


def test_count_counts_injected_errors_only(fake_time):
    faults = _faults(fake_time, seed=3, error_rate=0.5, error_code="Throttling", count=3)
    mirror = random.Random(3)
    expected, left = [], 3
    for _ in range(40):
        failing = left > 0 and mirror.random() < 0.5
        left -= failing
        expected.append("Throttling" if failing else "Success")
    assert [_outcome(faults) for _ in range(40)] == expected
    assert expected.count("Throttling") == 3


def test_count_is_spent_by_targeted_actions_only(fake_time):
    faults = _faults(fake_time, error_rate=1, count=1, actions=["ImportKeyMaterial"])
    for _ in range(3):
        faults.apply("cn-hangzhou", "GetParametersForImport")
    with pytest.raises(ServiceError):
        faults.apply("cn-hangzhou", "ImportKeyMaterial")
    faults.apply("cn-hangzhou", "ImportKeyMaterial")
    assert faults.remaining == 0


def test_count_is_exact_under_concurrency(fake_time):
    faults = _faults(fake_time, error_rate=1, error_code="Throttling", count=10)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            outcome = _outcome(faults)
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("Throttling") == 10 and faults.remaining == 0


def test_latency_is_not_counted(fake_time):
    faults = _faults(fake_time, latency_ms=100, error_rate=1, count=1)
    outcomes = [_outcome(faults) for _ in range(3)]
    assert outcomes == ["ServiceUnavailableTemporary", "Success", "Success"]
    assert fake_time.slept == [0.1, 0.1, 0.1]


def test_error_message_replaces_the_documented_one(fake_time):
    message = "ValidTo must be in the future and at most 365 days from now."
    faults = _faults(fake_time, error_rate=1, error_code="ValidationException", error_message=message)
    with pytest.raises(ServiceError) as raised:
        faults.apply("us-east-1", "ImportKeyMaterial")
    assert (raised.value.code, raised.value.message, raised.value.http_status) == (
        "ValidationException",
        message,
        400,
    )


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("ExpiredImportToken", "expired"),
        ("InvalidImportToken", "invalid"),
        ("ExpiredImportTokenException", "import token is expired"),
        ("InvalidImportTokenException", "import token is invalid"),
        ("InvalidParameter", "parameter is not valid"),
    ],
)
def test_stale_token_and_parameter_codes_carry_their_documented_message(code, words):
    error = injected_error(code)
    assert words in error.message and "fault injected" not in error.message
    assert error.http_status == 400


def test_rewrite_names_another_current_key_material_id():
    faults = Faults()
    answer = {"KeyMetadata": {"KeyId": "k", "CurrentKeyMaterialId": "cd" * 32}}
    assert faults.rewrite("DescribeKey", answer) is answer  # no fault: the answer as it is
    faults.configure(FaultSettings.from_json({"current_key_material_id": MATERIAL_ID}))
    rewritten = faults.rewrite("DescribeKey", answer)
    assert rewritten == {"KeyMetadata": {"KeyId": "k", "CurrentKeyMaterialId": MATERIAL_ID}}
    assert answer["KeyMetadata"]["CurrentKeyMaterialId"] == "cd" * 32  # not changed in place
    never_imported = {"KeyMetadata": {"KeyId": "k"}}
    assert faults.rewrite("DescribeKey", never_imported) is never_imported
    imported = {"KeyId": "k", "KeyMaterialId": "cd" * 32}
    assert faults.rewrite("ImportKeyMaterial", imported) is imported


@pytest.mark.parametrize(
    "document",
    [
        {"error_rate": 1, "count": 0},
        {"error_rate": 1, "count": True},
        {"error_rate": 1, "count": 2.0},
        {"error_rate": 1, "count": "3"},
        {"error_rate": 1, "count": 10**7},
        {"count": 1},  # no error_rate: nothing to count
        {"error_message": "text"},
        {"error_rate": 1, "error_message": ""},
        {"error_rate": 1, "error_message": "two\nlines"},
        {"error_rate": 1, "error_message": "x" * 501},
        {"error_rate": 1, "error_message": 5},
        {"current_key_material_id": "AB" * 32},
        {"current_key_material_id": "ab" * 31},
        {"current_key_material_id": 7},
    ],
)
def test_invalid_new_fields_are_rejected_naming_them(document):
    field = next(name for name in document if name != "error_rate")
    with pytest.raises(ValueError, match=field):
        FaultSettings.from_json(document)


def test_new_fields_round_trip_and_are_shown_only_when_set():
    document = {
        "latency_ms": 0.0,
        "error_rate": 1.0,
        "error_code": "ExpiredImportTokenException",
        "qps_limit": None,
        "actions": ["ImportKeyMaterial"],
        "count": 1,
        "error_message": "The request was rejected because the specified import token is expired.",
        "current_key_material_id": MATERIAL_ID,
    }
    assert FaultSettings.from_json(document).to_json() == document
    assert set(FaultSettings().to_json()) == {"latency_ms", "error_rate", "error_code", "qps_limit", "actions"}


# ---- the same through the wire: boto3 against the session emulator --------------------------------


@pytest.fixture
def aws_kms(emulator, monkeypatch):
    """boto3's KMS client on the emulator's us-east-1 port: one attempt, no AWS file or metadata read."""
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    return boto3.session.Session().client(
        "kms",
        region_name="us-east-1",
        endpoint_url=emulator.url("us-east-1"),
        aws_access_key_id=emulator.access_key_id,
        aws_secret_access_key=emulator.access_key_secret,
        config=Config(retries={"total_max_attempts": 1}),
    )


def test_a_counted_fault_over_the_aws_wire(emulator, aws_kms):
    kms = aws_kms
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    fault = {"error_rate": 1, "error_code": "InvalidImportTokenException", "count": 1, "actions": ["DescribeKey"]}
    assert emulator.admin("POST", "faults", fault)["count"] == 1
    with pytest.raises(kms.exceptions.InvalidImportTokenException) as raised:
        kms.describe_key(KeyId=key_id)
    assert raised.value.response["Error"]["Message"] == injected_error("InvalidImportTokenException").message
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id  # spent: the next call passes


def test_current_key_material_id_over_the_aws_wire(emulator, aws_kms):
    kms = aws_kms
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    public_key = load_public_key(base64.b64encode(params["PublicKey"]).decode())
    blob = wrap(public_key, bytes(range(32)), WrappingAlgorithm.RSAES_OAEP_SHA_256)
    emulator.admin("POST", "faults", {"current_key_material_id": MATERIAL_ID})
    imported = kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=blob,
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )["KeyMaterialId"]
    assert imported != MATERIAL_ID  # the import answers with the material it took
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == MATERIAL_ID
    emulator.admin("DELETE", "faults")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == imported

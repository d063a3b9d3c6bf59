"""Admin inputs that once took the emulator down: NaN, infinities, huge numbers and wrong types for
the clock and the faults are 400 and change nothing, and signed SDK calls keep working afterwards.

The bodies are written by hand, because ``json.dumps`` would never produce some of them (``NaN``,
``Infinity``, ``1e400``).
"""

from __future__ import annotations

import json
import math

import pytest

from emulator.clock import EARLIEST, LATEST, Clock, FixedClock
from emulator.faults import FaultSettings
from tests.emulator.signed_requests import send, send_v1, v1_params

BAD_TIMES = ["NaN", "Infinity", "-Infinity", "1e300", "1e400", "-1", "4102444800", '"tomorrow"', "true", "null", "[1]"]
BAD_SECONDS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e300",
    "1e400",
    '"60"',
    "false",
    "{}",
    pytest.param("1" + "0" * 400, id="10**400"),
]


def admin_raw(emulator, method: str, path: str, body: str):
    """An admin request with ``body`` sent verbatim as JSON (and the admin token, when there is one)."""
    headers = {"Content-Type": "application/json", **emulator.admin_headers()}
    return send(emulator.endpoint(), method, f"/_emulator/{path}", headers=headers, body=body.encode())


def assert_serves_signed_calls(emulator) -> None:
    reply = send_v1(emulator.endpoint(), v1_params(emulator.access_key_id, emulator.access_key_secret))
    assert reply.status == 200, reply.body


@pytest.mark.parametrize("value", BAD_TIMES)
def test_clock_now_must_be_a_time_the_service_accepts(emulator, value):
    before = emulator.admin("GET", "clock")["now"]
    reply = admin_raw(emulator, "POST", "clock", f'{{"now": {value}}}')
    assert reply.status == 400 and "error" in reply.body, reply.body
    assert emulator.admin("GET", "clock")["now"] == pytest.approx(before, abs=5)
    assert_serves_signed_calls(emulator)


@pytest.mark.parametrize("value", BAD_SECONDS)
def test_clock_advance_must_be_a_finite_number(emulator, value):
    before = emulator.admin("GET", "clock")["now"]
    reply = admin_raw(emulator, "POST", "clock", f'{{"advance": {value}}}')
    assert reply.status == 400 and "error" in reply.body, reply.body
    assert emulator.admin("GET", "clock")["now"] == pytest.approx(before, abs=5)
    assert_serves_signed_calls(emulator)


@pytest.mark.parametrize(
    "body",
    [
        '{"advance": 4000000000}',  # past 2099
        '{"advance": -2000000000}',  # before 1970
        '{"now": 2000000000, "advance": "x"}',  # half good: nothing changes
        '{"now": 2000000000, "advance": 3000000000}',
        '{"now": 2000000000, "later": 1}',
    ],
)
def test_clock_request_out_of_range_changes_nothing(emulator, body):
    before = emulator.admin("GET", "clock")["now"]
    assert admin_raw(emulator, "POST", "clock", body).status == 400
    assert emulator.admin("GET", "clock")["now"] == pytest.approx(before, abs=5)


def test_clock_accepts_the_edges_of_its_range(emulator):
    assert emulator.admin("POST", "clock", {"now": EARLIEST})["now"] == pytest.approx(EARLIEST, abs=5)
    assert emulator.admin("POST", "clock", {"now": LATEST - 10})["now"] == pytest.approx(LATEST - 10, abs=5)
    assert emulator.admin("POST", "clock", {"now": 2_000_000_000, "advance": 60})["now"] == pytest.approx(
        2_000_000_060, abs=5
    )
    assert_serves_signed_calls(emulator)


@pytest.mark.parametrize(
    "body",
    [
        '{"latency_ms": NaN}',
        '{"latency_ms": Infinity}',
        '{"latency_ms": 1e300}',
        '{"latency_ms": -1}',
        '{"latency_ms": "5"}',
        '{"error_rate": NaN}',
        '{"error_rate": 1e400}',
        '{"error_rate": true}',
        '{"qps_limit": 1.5}',
        '{"qps_limit": 1e300}',
        pytest.param('{"qps_limit": ' + "9" * 30 + "}", id="qps_limit 10**30"),
        '{"qps_limit": {"cn-hangzhou": NaN}}',
        '{"qps_limit": "10"}',
        '{"error_code": 7}',
        '{"error_code": "<script>alert(1)</script>"}',
        '{"actions": "DescribeKey"}',
        '{"actions": [1]}',
        '{"actions": ["Describe Key"]}',
        "[]",
        "not json",
    ],
)
def test_faults_reject_bad_values_and_keep_the_old_ones(emulator, body):
    emulator.admin("POST", "faults", {"qps_limit": 1000})
    reply = admin_raw(emulator, "POST", "faults", body)
    assert reply.status == 400 and "error" in reply.body, reply.body
    assert emulator.admin("GET", "faults")["qps_limit"] == 1000
    assert_serves_signed_calls(emulator)


def test_faults_answer_is_strict_json(emulator):
    reply = admin_raw(emulator, "POST", "faults", '{"latency_ms": 1.5, "error_rate": 0}')
    assert reply.status == 200
    json.dumps(reply.body, allow_nan=False)


# --- the same rules without the wire (the clock and the settings enforce them themselves) ---


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, 1e300, -1, LATEST + 1, pytest.param(10**400, id="10**400"), "1", True, None],
)
def test_clock_set_refuses_what_the_admin_api_refuses(value):
    for clock in (Clock(), FixedClock(1_800_000_000)):
        before = clock.now()
        with pytest.raises(ValueError):
            clock.set(value)  # type: ignore[arg-type]
        assert clock.now() == pytest.approx(before, abs=5)


@pytest.mark.parametrize("value", [math.nan, math.inf, 1e300, -1e10, pytest.param(10**400, id="10**400"), "1"])
def test_clock_advance_refuses_what_the_admin_api_refuses(value):
    for clock in (Clock(), FixedClock(1_800_000_000)):
        before = clock.now()
        with pytest.raises(ValueError):
            clock.advance(value)  # type: ignore[arg-type]
        assert clock.now() == pytest.approx(before, abs=5)


@pytest.mark.parametrize(
    "document",
    [{"latency_ms": math.nan}, {"latency_ms": math.inf}, {"error_rate": math.nan}, {"latency_ms": 10**400}],
    ids=["latency NaN", "latency inf", "error_rate NaN", "latency 10**400"],
)
def test_fault_settings_refuse_non_finite_numbers(document):
    with pytest.raises(ValueError):
        FaultSettings.from_json(document)

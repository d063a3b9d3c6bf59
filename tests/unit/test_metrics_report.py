"""Unit tests for the plain-data outputs: metrics, the report, the CLI table, and context credentials."""

from __future__ import annotations

import json
import logging
import re
from types import SimpleNamespace
from typing import Any

import pytest

from renewer.codes import CODES
from renewer.credentials import Credentials
from renewer.entry.cli import COLUMNS, render_table
from renewer.entry.context import LocalContext
from renewer.entry.context import from_environ as context_from_environ
from renewer.entry.handler import credentials_from_context
from renewer.run import metrics, report
from renewer.run.metrics import Datum
from renewer.run.report import Decision, Described, Done, KeyResult, Outcome, iso

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
DAY = 86400
SECONDS = "SecondsUntilKeyMaterialExpiration"
RUN = {"renewer": "byok-renewer"}


BEFORE = ("resolved_key_id", "state_before", "expires_before", "decision", "material_id")


def result(key_id: str, outcome: str, **fields: Any) -> KeyResult:
    """A finished key, from the report's field names: ``*_before``, ``decision`` and
    ``resolved_key_id`` are what the plan step described; ``*_after`` what the last step left."""
    built = KeyResult.new("payments", "cn-hangzhou", key_id)
    if any(name in fields for name in BEFORE):
        resolved = fields.get("resolved_key_id", key_id)
        decision = Decision(fields["decision"]) if "decision" in fields else None
        seen = Described(resolved, fields.get("state_before"), fields.get("expires_before"), None, decision)
        built = built.planned(seen)
    after = "state_after" in fields or "expires_after" in fields
    done = Done(
        Outcome(outcome), fields.get("state_after"), fields.get("expires_after"), expires_set="expires_after" in fields
    )
    return built.finished(done if after else Done(Outcome(outcome)))


def dims(key_id: str) -> dict[str, str]:
    return {"cloud": "alibaba", "keyId": key_id, "region": "cn-hangzhou", "material": "payments"}


def test_build_metrics_for_every_kind_of_key() -> None:
    results = [
        result("alias/payments", "renewed", resolved_key_id="key-1", state_after="Enabled", expires_after=NOW + DAY),
        result("key-2", "recovered", state_before="PendingImport", state_after="Enabled", expires_after=NOW + 5),
        result("key-3", "failed", state_before="PendingImport", state_after="PendingImport", expires_after=NOW - 9),
        result("key-4", "skipped", state_before="Enabled", state_after="Enabled", expires_after=NOW - 100),
        result("key-5", "skipped", state_before="Enabled", state_after="Enabled", expires_after=None),
        result("key-6", "failed"),  # failed before DescribeKey: nothing known, so danger (0), not silence
        result("key-7", "dry_run", state_before="PendingImport"),
        result("key-8", "skipped", state_before="Enabled", expires_after=NOW + 10.9),
    ]

    assert metrics.build(results, NOW) == [
        Datum(SECONDS, DAY, dims("key-1")),
        Datum(SECONDS, 5, dims("key-2")),
        Datum(SECONDS, 0, dims("key-3")),
        Datum(SECONDS, 0, dims("key-4")),
        Datum(SECONDS, 0, dims("key-6")),
        Datum(SECONDS, 0, dims("key-7")),
        Datum(SECONDS, 10, dims("key-8")),
        Datum("KeyMaterialRenewals", 2, RUN),
        Datum("KeyMaterialRenewalFailures", 2, RUN),
        Datum("KeyMaterialRenewalsSkippedForTime", 0, RUN),
    ]


def test_build_metrics_counts_keys_the_deadline_left() -> None:
    data = metrics.build([result("k1", "not_attempted"), result("k2", "not_attempted"), result("k3", "renewed")], NOW)
    assert Datum("KeyMaterialRenewalsSkippedForTime", 2, RUN) in data


def test_build_metrics_of_no_keys_still_reports_the_run() -> None:
    assert metrics.build([], NOW) == [
        Datum("KeyMaterialRenewals", 0, RUN),
        Datum("KeyMaterialRenewalFailures", 0, RUN),
        Datum("KeyMaterialRenewalsSkippedForTime", 0, RUN),
    ]


def test_run_dimensions_are_a_fresh_copy_each_time() -> None:
    data = metrics.build([], NOW)
    data[0].dimensions["x"] = "y"

    assert metrics.RUN_DIMENSIONS == RUN
    assert data[1].dimensions == RUN


def test_metrics_as_log_lines() -> None:
    data = metrics.build([result("k", "renewed", state_after="Enabled", expires_after=NOW + 1)], NOW)

    assert metrics.as_log(data)[0] == {"name": SECONDS, "value": 1, "dimensions": dims("k")}
    json.dumps(metrics.as_log(data))  # plain data


@pytest.mark.parametrize(
    ("unix", "expected"),
    [(None, None), (0, "1970-01-01T00:00:00Z"), (NOW, "2027-01-15T08:00:00Z"), (NOW + 0.999, "2027-01-15T08:00:00Z")],
)
def test_iso(unix: float | None, expected: str | None) -> None:
    assert iso(unix) == expected


def test_key_result_to_dict() -> None:
    failed = result("alias/payments", "renewed", resolved_key_id="key-1", state_before="Enabled", expires_before=NOW)
    failed = failed.finished(Done.failed("KcvMismatch", "material payments: key check value does not match", "forced"))

    assert failed.to_dict() == {
        "material": "payments",
        "cloud": "alibaba",
        "region": "cn-hangzhou",
        "key_id": "alias/payments",
        "resolved_key_id": "key-1",
        "via": "config",
        "outcome": "failed",
        "decision": None,
        "state_before": "Enabled",
        "state_after": "Enabled",  # as described: the failure changed nothing
        "expires_before": "2027-01-15T08:00:00Z",
        "expires_after": "2027-01-15T08:00:00Z",
        "expires_after_verified": True,
        "error": {
            "code": "KcvMismatch",
            "message": "material payments: key check value does not match",
            "runbook": CODES["KcvMismatch"].runbook,
        },
        "notes": ["forced"],
        "retries": 0,
    }
    assert KeyResult.new("m", "cn-hangzhou", "k").outcome is None  # not done yet
    assert result("k", "skipped").to_dict()["error"] is None


def test_summarize_counts_every_outcome() -> None:
    outcomes = ["renewed", "renewed", "recovered", "skipped", "failed"]

    assert report.summarize([result(f"k{i}", o) for i, o in enumerate(outcomes)]) == {
        "renewed": 2,
        "recovered": 1,
        "skipped": 1,
        "failed": 1,
        "unverified": 0,
        "dry_run": 0,
        "not_attempted": 0,
        "delegated": 0,
    }
    assert report.summarize([]) == dict.fromkeys(report.OUTCOMES, 0)


def sample_report() -> dict[str, Any]:
    results = [
        result(
            "key-1",
            "renewed",
            decision="renew",
            state_before="Enabled",
            state_after="Enabled",
            expires_before=NOW + 10 * DAY,
            expires_after=NOW + 90 * DAY,
        ),
        result("key-2", "skipped", decision="skip", state_before="Enabled", state_after="Enabled"),
        result("key-3", "failed").fail("KcvMismatch", "no"),
    ]
    warnings = ["material payments: validity_days is 0"]
    return report.build(
        results,
        dry_run=False,
        trigger="timer:daily",
        started=NOW,
        finished=NOW + 2,
        warnings=warnings,
        metrics={"sent": "log"},
    )


def test_report_shape() -> None:
    built = sample_report()

    assert set(built) == {"summary", "keys", "run"}
    assert built["summary"] == {
        "renewed": 1,
        "recovered": 0,
        "skipped": 1,
        "failed": 1,
        "unverified": 0,
        "dry_run": 0,
        "not_attempted": 0,
        "delegated": 0,
    }
    assert [k["key_id"] for k in built["keys"]] == ["key-1", "key-2", "key-3"]
    assert built["keys"][0]["expires_after"] == "2027-04-15T08:00:00Z"
    assert built["run"] == {
        "trigger": "timer:daily",
        "dry_run": False,
        "started": "2027-01-15T08:00:00Z",
        "finished": "2027-01-15T08:00:02Z",
        "warnings": ["material payments: validity_days is 0"],
        "metrics": {"sent": "log"},
        "api": {},
    }
    assert json.loads(json.dumps(built)) == built


def test_render_table() -> None:
    lines = render_table(sample_report(), now=NOW).splitlines()

    header, rule, *rows, blank, summary = lines
    assert header.split() == [
        "material",
        "region",
        "key",
        "via",
        "state",
        "expiry",
        "before",
        "expiry",
        "after",
        "days",
        "left",
        "decision",
        "outcome",
    ]
    assert all(name in header for name in COLUMNS)
    assert set(rule.replace(" ", "")) == {"-"}
    assert len(rows) == 3
    assert rows[0].split() == [
        "payments",
        "cn-hangzhou",
        "key-3",
        "config",
        "?",
        "?",
        "?",
        "-",
        "-",
        "failed",
        "(KcvMismatch)",
    ]
    assert rows[1].split() == [
        "payments",
        "cn-hangzhou",
        "key-1",
        "config",
        "Enabled",
        "2027-01-25T08:00:00Z",
        "2027-04-15T08:00:00Z",
        "90.0",
        "renew",
        "renewed",
    ]
    assert rows[2].split() == [
        "payments",
        "cn-hangzhou",
        "key-2",
        "config",
        "Enabled",
        "never",
        "expires",
        "never",
        "expires",
        "-",
        "skip",
        "skipped",
    ]
    assert blank == ""
    assert (
        summary == "renewed 1, recovered 0, skipped 1, failed 1, unverified 0, dry_run 0, not_attempted 0, delegated 0"
    )


def test_render_table_columns_line_up() -> None:
    header, rule, *rows = render_table(sample_report(), now=NOW).splitlines()[:5]
    starts = [i for i, ch in enumerate(rule) if ch == "-" and (i == 0 or rule[i - 1] == " ")]

    assert [header.index(name) for name in COLUMNS] == starts
    assert rows[0].index("cn-hangzhou") == starts[1]


def fc(**credentials: str) -> SimpleNamespace:
    """A context shaped like Function Compute's, with ``credentials`` carrying these attributes."""
    return SimpleNamespace(credentials=SimpleNamespace(**credentials), region="cn-hangzhou")


WITH_TOKEN = Credentials("AK", "SK", "TOKEN")
NO_TOKEN = Credentials("AK", "SK", None)
CONTEXTS: list[tuple[str, Any, Credentials | None]] = [
    ("fc-names", fc(access_key_id="AK", access_key_secret="SK", security_token="TOKEN"), WITH_TOKEN),
    ("camel-case", fc(accessKeyId="AK", accessKeySecret="SK", securityToken="TOKEN"), WITH_TOKEN),
    ("no-token", fc(access_key_id="AK", access_key_secret="SK"), NO_TOKEN),
    ("empty-token", fc(accessKeyId="AK", accessKeySecret="SK", securityToken=""), NO_TOKEN),
    ("local-context", LocalContext(Credentials("AK", "SK", "TOKEN")), WITH_TOKEN),
    ("no-context", None, None),
    ("no-credentials-attribute", SimpleNamespace(region="cn-hangzhou"), None),
    ("credentials-none", LocalContext(None), None),
    ("secret-missing", fc(access_key_id="AK"), None),
    ("key-id-empty", fc(access_key_id="", access_key_secret="SK"), None),
]


@pytest.mark.parametrize(("context", "expected"), [c[1:] for c in CONTEXTS], ids=[c[0] for c in CONTEXTS])
def test_credentials_from_context(context: Any, expected: Credentials | None) -> None:
    assert credentials_from_context(context) == expected


def test_credentials_repr_hides_the_secret() -> None:
    assert "SK" not in repr(WITH_TOKEN) and "TOKEN" not in repr(WITH_TOKEN)
    assert "SECRET" not in repr(Credentials("AK", "SECRET", "TOKEN"))


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"ALIBABA_CLOUD_ACCESS_KEY_ID": "AK"}, None),
        ({"ALIBABA_CLOUD_ACCESS_KEY_ID": "AK", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "SK"}, NO_TOKEN),
        (
            {
                "ALIBABA_CLOUD_ACCESS_KEY_ID": "AK",
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "SK",
                "ALIBABA_CLOUD_SECURITY_TOKEN": "TOKEN",
            },
            WITH_TOKEN,
        ),
    ],
    ids=["nothing", "id-only", "id-and-secret", "with-token"],
)
def test_local_context_from_environ_feeds_credentials_from_context(
    environ: dict[str, str], expected: Credentials | None
) -> None:
    context = context_from_environ({**environ, "ALIBABA_CLOUD_REGION": "cn-shanghai"}, timeout=30)

    assert credentials_from_context(context) == expected
    assert (context.region, context.function.timeout) == ("cn-shanghai", 30)


def test_delegated_keys_are_left_to_their_worker() -> None:
    data = metrics.build([result("k1", "delegated", state_before="Enabled", expires_after=NOW + DAY)], NOW)
    assert [d.name for d in data] == [
        "KeyMaterialRenewals",
        "KeyMaterialRenewalFailures",
        "KeyMaterialRenewalsSkippedForTime",
    ]


def test_log_lines_carry_time_level_and_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    from renewer import logs

    with logs.invocation("1-6747a0b3-3c1f"):
        logs.log_event("key", key_id="k", outcome="renewed")
        logs.log_event("metrics_failed", level=logging.WARNING, code="Throttling")
    logs.log_event("after")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert list(lines[0]) == ["time", "level", "requestId", "event", "key_id", "outcome"]
    assert lines[0]["level"] == "INFO" and lines[0]["requestId"] == "1-6747a0b3-3c1f"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", lines[0]["time"])
    content = {k: lines[0][k] for k in ("event", "key_id", "outcome")}
    assert content == {"event": "key", "key_id": "k", "outcome": "renewed"}
    assert lines[1]["level"] == "WARNING"
    assert lines[2]["requestId"] is None  # outside an invocation

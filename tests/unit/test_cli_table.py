"""Unit tests for the command line: the table (order, width, the expiry's wordings), and what is
around it (options and help, the version, the region, event files, Ctrl-C's hook on the deadline)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from renewer.clock import ManualClock
from renewer.entry import cli
from renewer.entry.context import from_environ, lambda_from_environ
from renewer.entry.table import ORDER, render_table
from renewer.run import report
from renewer.run.deadline import CANCEL_GRACE_SECONDS, Deadline
from renewer.run.progress import TerminalProgress
from renewer.run.report import Decision, Described, Done, Failure, KeyResult, Outcome

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
DAY = 86400
LONG_ID = "key-hzz62f1cb66fa42qo7bxe3k9q"  # as long as Alibaba Cloud's


@pytest.fixture(autouse=True)
def _logs_stay_where_they_were(monkeypatch: pytest.MonkeyPatch) -> None:
    """``cli.main`` sends the log lines to stderr for the whole process: undone after each test."""
    from renewer import logs

    monkeypatch.setattr(logs._StdoutHandler, "use_stderr", logs._StdoutHandler.use_stderr)


def key(
    key_id: str,
    outcome: str,
    *,
    state: str | None = "Enabled",
    before: float | None = None,
    after: float | None = None,
    state_after: str | None = None,
    decision: str | None = None,
    error: str | None = None,
    material: str = "payments",
    region: str = "cn-hangzhou",
    cloud: str = "alibaba",
) -> KeyResult:
    """A finished key. ``state`` None: never described (failed before DescribeKey); ``after`` is
    what the run left (the same as ``before`` unless given)."""
    built = KeyResult.new(material, region, key_id, cloud=cloud)
    if state is not None:
        built = built.planned(Described(key_id, state, before, None, Decision(decision) if decision else None))
    changed = after is not None or state_after is not None
    done = Done(
        Outcome(outcome),
        state=state_after,
        expires=after,
        expires_set=after is not None,
        error=Failure(error, "no") if error else None,
    )
    return built.finished(done if changed or error else Done(Outcome(outcome)))


def build(*results: KeyResult) -> dict[str, Any]:
    return report.build(
        list(results), dry_run=False, trigger="cli:run", started=NOW, finished=NOW, warnings=[], metrics={}
    )


def rows(table: str) -> list[list[str]]:
    """The table's rows (header and rule left out) as cells: columns are two spaces apart."""
    lines = table.split("\n\n")[0].splitlines()[2:]
    return [re.split(r" {2,}", line.strip()) for line in lines]


def column(table: str, name: str) -> list[str]:
    header = table.splitlines()[0]
    names = re.split(r" {2,}", header.strip())
    return [row[names.index(name)] for row in rows(table)]


# ---- order ----------------------------------------------------------------------------------------


def test_problems_first_then_what_is_left_then_what_was_done_and_skipped_last() -> None:
    shuffled = [
        "skipped",
        "renewed",
        "dry_run",
        "not_attempted",
        "recovered",
        "unverified",
        "delegated",
        "failed",
    ]
    fleet = build(*(key(f"key-{outcome}", outcome, before=NOW + 5 * DAY) for outcome in shuffled))

    outcomes = [cells[-1] for cells in rows(render_table(fleet, now=NOW))]

    assert outcomes == [str(o) for o in ORDER]
    assert outcomes == [
        "failed",
        "unverified",
        "not_attempted",
        "renewed",
        "recovered",
        "delegated",
        "dry_run",
        "skipped",
    ]


def test_keys_with_the_same_outcome_keep_the_report_order() -> None:
    fleet = build(key("key-b", "renewed"), key("key-x", "failed", error="E"), key("key-a", "renewed"))
    assert column(render_table(fleet, now=NOW), "key") == ["key-x", "key-b", "key-a"]


# ---- the expiry: before and after, and its three wordings --------------------------------------


@pytest.mark.parametrize(
    ("one", "expected_before", "expected_after"),
    [
        (
            key("k", "recovered", state="PendingImport", after=NOW + 90 * DAY, state_after="Enabled"),
            "never imported",
            "2027-04-15T08:00:00Z",
        ),
        (key("k", "skipped", state="Enabled"), "never expires", "never expires"),
        (
            key("k", "recovered", state="PendingImport", before=NOW - 2 * DAY, after=NOW + 90 * DAY),
            "expired 2027-01-13T08:00:00Z",
            "2027-04-15T08:00:00Z",
        ),
        (
            key("k", "renewed", before=NOW + 10 * DAY, after=NOW + 90 * DAY),
            "2027-01-25T08:00:00Z",
            "2027-04-15T08:00:00Z",
        ),
        (key("k", "failed", state="PendingImport", error="InvalidKeyMaterial"), "never imported", "never imported"),
        (key("k", "failed", state=None, error="Forbidden.KeyNotFound"), "?", "?"),
    ],
    ids=["never-imported-then-recovered", "never-expires", "expired-then-recovered", "renewed", "failed", "unknown"],
)
def test_expiry_before_and_after(one: KeyResult, expected_before: str, expected_after: str) -> None:
    table = render_table(build(one), now=NOW)
    assert column(table, "expiry before") == [expected_before]
    assert column(table, "expiry after") == [expected_after]


def test_an_expired_key_says_expired_not_minus_zero_days() -> None:
    table = render_table(build(key("k", "failed", state="PendingImport", before=NOW - 60, error="E")), now=NOW)
    assert column(table, "days left") == ["expired"]
    assert "-0.0" not in table


def test_days_left_count_from_the_expiry_after_the_run() -> None:
    table = render_table(build(key("k", "renewed", before=NOW + DAY, after=NOW + 90 * DAY)), now=NOW)
    assert column(table, "days left") == ["90.0"]


def test_a_dry_run_says_what_a_run_would_do() -> None:
    table = render_table(build(key("k", "dry_run", decision="renew", before=NOW + DAY)), now=NOW)
    assert column(table, "outcome") == ["dry_run (renew)"]


# ---- width --------------------------------------------------------------------------------------


def fleet() -> dict[str, Any]:
    """Every outcome, long names, long error codes, an AWS key: wider than any terminal."""
    long_material = "card-payments-primary"
    return build(
        key(LONG_ID + "a", "skipped", before=NOW + 80 * DAY, decision="skip", material=long_material),
        key(LONG_ID + "b", "renewed", before=NOW + 5 * DAY, after=NOW + 90 * DAY, decision="renew"),
        key(
            LONG_ID + "c",
            "recovered",
            state="PendingImport",
            before=NOW - 3 * DAY,
            after=NOW + 90 * DAY,
            state_after="Enabled",
            decision="recover",
        ),
        key("key-doesnotexist-in-this-region", "failed", state=None, error="Forbidden.KeyNotFound"),
        key(
            "0b1c2d3e-4f56-7890-abcd-ef1234567890",
            "unverified",
            before=NOW + 2 * DAY,
            after=NOW + 90 * DAY,
            error="VerificationFailed",
            cloud="aws",
            region="ap-southeast-1",
            decision="renew",
        ),
        key(LONG_ID + "d", "not_attempted", state="PendingImport", material=long_material, decision="recover"),
    )


def typical() -> dict[str, Any]:
    """One material in one region, ids as Alibaba Cloud's, one failure."""
    return build(
        key(LONG_ID + "a", "renewed", before=NOW + 5 * DAY, after=NOW + 90 * DAY, decision="renew"),
        key(LONG_ID + "b", "recovered", state="PendingImport", after=NOW + 90 * DAY, state_after="Enabled"),
        key(LONG_ID + "c", "failed", state="Disabled", before=NOW + 5 * DAY, error="KeyNotRenewable"),
        key(LONG_ID + "d", "skipped", before=NOW + 80 * DAY, decision="skip"),
    )


@pytest.mark.parametrize("width", [40, 60, 80, 100, 120])
@pytest.mark.parametrize("which", [fleet, typical])
def test_no_line_is_wider_than_the_terminal(which: Any, width: int) -> None:
    table = render_table(which(), now=NOW, width=width)
    assert all(len(line) <= width for line in table.splitlines()), table


@pytest.mark.parametrize("width", [80, 100, 120])
def test_what_stays_on_a_terminal(width: int) -> None:
    table = render_table(fleet(), now=NOW, width=width)
    header = re.split(r" {2,}", table.splitlines()[0])
    assert {"key", "expiry before", "expiry after", "outcome"} <= set(header), table
    assert [cells[-1].split(" ")[0] for cells in rows(table)] == [
        "failed",
        "unverified",
        "not_attempted",
        "renewed",
        "recovered",
        "skipped",
    ]
    assert column(table, "expiry before")[-2:] == ["expired", "2027-04-05"]  # recovered, skipped
    assert "never imported" in column(table, "expiry before")
    summary = " ".join(table.split("\n\n")[1].splitlines())
    assert (
        summary == "renewed 1, recovered 1, skipped 1, failed 1, unverified 1, dry_run 0, not_attempted 1, delegated 0"
    )


def test_on_80_columns_key_ids_are_cut_in_the_middle_keeping_more_of_the_end() -> None:
    table = render_table(fleet(), now=NOW, width=80)
    ids = column(table, "key")
    assert all("…" in kid for kid in ids), ids
    assert any(kid.startswith("0b1") and kid.endswith("567890") for kid in ids), ids
    assert len(set(ids)) == len(ids)  # still tell the keys apart
    assert "failed (Forbidden.Key" in table  # most of the error code, before the key id


def test_on_100_columns_a_typical_fleet_keeps_material_region_and_error_whole() -> None:
    table = render_table(typical(), now=NOW, width=100)
    assert column(table, "material") == ["payments"] * 4
    assert column(table, "region") == ["cn-hangzhou"] * 4
    assert column(table, "outcome")[0] == "failed (KeyNotRenewable)"
    assert all(kid.endswith(LONG_ID[-8:] + kid[-1]) for kid in column(table, "key"))


def test_on_a_wide_terminal_a_typical_fleet_is_whole_but_for_the_time_of_day() -> None:
    table = render_table(typical(), now=NOW, width=155)
    assert column(table, "key") == [LONG_ID + end for end in "cabd"]
    assert "via" in table.splitlines()[0] and "…" not in table
    assert column(table, "expiry after")[1] == "2027-04-15 08:00"


def test_without_a_width_every_column_is_whole() -> None:
    table = render_table(fleet(), now=NOW)
    assert table == render_table(fleet(), now=NOW, width=1000)
    assert "…" not in table
    assert "expired 2027-01-12T08:00:00Z" in table
    assert set(cli.COLUMNS) == set(re.split(r" {2,}", table.splitlines()[0]))


def test_columns_give_way_in_order_as_the_terminal_narrows() -> None:
    natural = len(render_table(fleet(), now=NOW).splitlines()[0])
    gone: list[str] = []
    for width in range(natural, 70, -1):
        header = re.split(r" {2,}", render_table(fleet(), now=NOW, width=width).splitlines()[0])
        gone += [name for name in cli.COLUMNS if name not in header and name not in gone and name + "…" not in header]
    assert gone[:4] == ["via", "decision", "days left", "state"]


def test_the_table_width_is_the_terminals_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert cli.table_width() is None  # a file or a pipe gets every column whole
    monkeypatch.setenv("COLUMNS", "77")
    assert cli.table_width() == 77


# ---- options, help, version ------------------------------------------------------------------


def test_every_option_of_every_command_has_help() -> None:
    parser = cli.build_parser()
    [commands] = [a for a in parser._actions if a.dest == "command"]
    for name, sub in commands.choices.items():
        for action in sub._actions:
            assert action.help, (name, action.option_strings)
    assert "130" in parser.epilog and "FC_REGION" in parser.epilog and "ALIBABA_CLOUD_REGION_ID" in parser.epilog


@pytest.mark.parametrize("argv", [["run", "--json"], ["plan", "--output", "json"], ["run", "--output=json"]])
def test_json_is_an_alias_of_output_json(argv: list[str]) -> None:
    assert cli.build_parser().parse_args(argv).output == "json"


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    declared = re.search(r'^version = "([^"]+)"', pyproject, re.MULTILINE)
    assert declared is not None
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"python -m renewer {declared.group(1)}"


def test_version_falls_back_to_pyproject(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    declared = re.search(r'^version = "([^"]+)"', (cli.FUNCTION_DIR.parent / "pyproject.toml").read_text(), re.M)
    assert declared is not None and cli.version() == declared.group(1)


# ---- event files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("handler", ["fc", "lambda"])
@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("missing.json", None, "cannot read the event file"),
        ("folder", "dir", "cannot read the event file"),
        ("bad.json", b"{not json", "JSON"),
    ],
    ids=["missing", "directory", "not-json"],
)
def test_an_event_file_that_cannot_be_used_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], handler: str, name: str, content: Any, says: str
) -> None:
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)

    status = cli.main(["invoke", "--handler", handler, "-e", str(path)])

    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("error: InvalidEvent: ") and says in err, err
    assert "Traceback" not in err


# ---- the region ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "explicit", "expected"),
    [
        ({}, None, ""),
        ({"ALIBABA_CLOUD_REGION": "cn-beijing"}, None, "cn-beijing"),
        ({"ALIBABA_CLOUD_REGION_ID": "cn-shanghai", "ALIBABA_CLOUD_REGION": "cn-beijing"}, None, "cn-shanghai"),
        ({"FC_REGION": "cn-hangzhou", "ALIBABA_CLOUD_REGION_ID": "cn-shanghai"}, None, "cn-hangzhou"),
        ({"FC_REGION": " ", "ALIBABA_CLOUD_REGION_ID": "cn-shanghai"}, None, "cn-shanghai"),
        ({"FC_REGION": "cn-hangzhou"}, "eu-central-1", "eu-central-1"),
    ],
    ids=["none", "legacy-name", "aliyun-cli-first", "function-compute-first", "blank-skipped", "option-first"],
)
def test_the_home_region_precedence(environ: dict[str, str], explicit: str | None, expected: str) -> None:
    assert from_environ(environ, region=explicit).region == expected


def test_a_lambda_context_names_its_region_in_the_function_arn() -> None:
    context = lambda_from_environ({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-1"}, timeout=60)
    assert context.invoked_function_arn.split(":")[3] == "eu-west-1"  # what lambda_handler reads
    assert 59_000 <= context.get_remaining_time_in_millis() <= 60_000
    assert lambda_from_environ({}, timeout=60).invoked_function_arn == ""


# ---- Ctrl-C: the deadline's cancel, the handler, the run on a thread -------------------------------


def test_a_cancelled_deadline_starts_nothing_and_bounds_what_is_under_way() -> None:
    clock = ManualClock(NOW)
    deadline = Deadline(clock, None)  # the command line's: no timeout
    assert deadline.allows(10**6) and deadline.stop_note == "not reached before the function's deadline"

    deadline.cancel()

    assert not deadline.allows(0)
    assert deadline.remaining() == CANCEL_GRACE_SECONDS  # a call under way may still finish
    assert deadline.final().remaining() == 2 * CANCEL_GRACE_SECONDS  # the metrics, as long again
    assert deadline.stop_note == "interrupted before it started"
    clock.advance(CANCEL_GRACE_SECONDS)
    assert deadline.remaining() <= 0


def test_cancel_never_extends_a_nearer_deadline() -> None:
    clock = ManualClock(NOW)
    deadline = Deadline(clock, 20, margin=18)  # 2 s left for keys
    deadline.cancel()
    assert deadline.remaining() == 2


def parts() -> Any:
    clock = ManualClock(NOW)
    deadline = Deadline(clock, None)
    return SimpleNamespace(deadline=deadline, callers=SimpleNamespace(deadline=deadline))


def test_the_first_ctrl_c_cancels_the_second_quits(monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[str] = []
    quits: list[int] = []
    monkeypatch.setattr(cli.os, "_exit", quits.append)
    run = parts()
    stop = cli.Interrupt(said.append)
    stop.attach(run)

    stop(2, None)
    assert run.deadline.cancelled and stop.interrupted and quits == []
    stop(2, None)
    assert quits == [130]
    assert "Ctrl-C again" in said[0] and "quitting now" in said[1]


def test_a_ctrl_c_before_the_run_is_assembled_cancels_it_when_it_is() -> None:
    stop = cli.Interrupt(lambda _: None)
    stop(2, None)
    run = parts()
    stop.attach(run)
    assert run.deadline.cancelled


def test_a_ctrl_c_while_the_metrics_are_sent_bounds_them_too() -> None:
    run = parts()
    run.callers.deadline = run.deadline.final()
    stop = cli.Interrupt(lambda _: None)
    stop.attach(run)
    stop(2, None)
    assert run.callers.deadline.remaining() <= CANCEL_GRACE_SECONDS


def test_invoke_quits_at_the_first_ctrl_c(monkeypatch: pytest.MonkeyPatch) -> None:
    quits: list[int] = []
    monkeypatch.setattr(cli.os, "_exit", quits.append)
    cli.Interrupt(lambda _: None, at_once=True)(2, None)
    assert quits == [130]


def test_in_background_returns_or_raises_what_the_work_did() -> None:
    assert cli.in_background(lambda: 42) == 42
    with pytest.raises(ZeroDivisionError):
        cli.in_background(lambda: 1 / 0)


def test_the_progress_bar_narrows_and_a_message_goes_above_it() -> None:
    stream = io.StringIO()
    bar = TerminalProgress(stream, columns=40)
    bar.start("renew", 10)
    bar.advance()
    bar.say("interrupted")
    drawn = stream.getvalue().split("\r")
    assert all(len(line.replace("\033[K", "")) < 40 for line in drawn)
    assert "interrupted\n" in stream.getvalue()
    assert drawn[-1].startswith("renew  [") and drawn[-1].endswith("1/10 keys")

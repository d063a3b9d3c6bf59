"""``python -m renewer`` in a fresh process on a real terminal (a pty that is its controlling
terminal, so a Ctrl-C typed there is the kernel's SIGINT to it), against the live emulator: Ctrl-C
mid-run, the table's order and width; and ``invoke --handler lambda``."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from typing import Any

import pytest

from tests.function.conftest import EVENTS, ROOT, Cloud, process_env

MATERIAL = bytes.fromhex("6b" * 16 + "a5" * 16)
CTRL_C = b"\x03"
#: Makes the terminal on its stdin the controlling terminal of a new session (Popen's
#: start_new_session), then runs ``python -m renewer ...`` in its place: what a shell does.
LAUNCHER = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


class Terminal:
    """A process on a pty of ``columns`` x ``lines``; what it shows is read as it writes."""

    def __init__(self, args: list[str], env: dict[str, str], columns: int = 100, lines: int = 40) -> None:
        self.leader, follower = os.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, "-m", "renewer", *args],
            stdin=follower,
            stdout=follower,
            stderr=follower,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        os.close(follower)
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:  # read while the process writes, so it never blocks on a full pty
        while True:
            try:
                chunk = os.read(self.leader, 65536)
            except OSError:  # EIO: the process closed its end
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    @property
    def screen(self) -> str:
        return b"".join(self._chunks).decode(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = re.search(pattern, self.screen)
            if found:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"{pattern!r} never shown; the terminal shows:\n{self.screen}")

    def type(self, data: bytes) -> None:
        os.write(self.leader, data)

    def exit_status(self, timeout: float = 60) -> int:
        try:
            status = self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
        self._reader.join(timeout=10)
        os.close(self.leader)
        return status

    def lines(self) -> list[str]:
        """What each line shows at the end: a line redrawn after ``\\r`` shows its last drawing."""
        shown = []
        for line in self.screen.replace("\r\n", "\n").split("\n"):
            shown.append(line.split("\r")[-1].replace("\033[K", ""))
        return shown

    def table(self) -> list[str]:
        """The table's lines, header first, through the summary."""
        lines = self.lines()
        start = next(i for i, line in enumerate(lines) if line.startswith("mater"))
        end = next(i for i in range(start, len(lines)) if lines[i].startswith("renewed "))
        return lines[start : end + 1]


def renewer_env(cloud: Cloud, config: dict[str, Any]) -> dict[str, str]:
    return process_env(cloud.emulator, RENEWER_CONFIG=json.dumps(config))


def payments(*key_ids: str, **top: Any) -> dict[str, Any]:
    keys = [{"region": "cn-hangzhou", "key_id": k} for k in key_ids]
    source = {"type": "alibaba-secret", "name": "byok/payments", "region": "cn-hangzhou"}
    return {"materials": [{"name": "payments", "source": source, "keys": keys}], **top}


def test_ctrl_c_mid_run_finishes_the_keys_under_way_prints_the_report_and_exits_130(cloud: Cloud) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    keys = [cloud.key_with_material(MATERIAL, 5) for _ in range(16)]
    expiries = {k: cloud.describe(k).material_expire_time for k in keys}
    cloud.emulator.admin("POST", "faults", {"latency_ms": 400, "actions": ["ImportKeyMaterial"]})
    terminal = Terminal(["run"], renewer_env(cloud, payments(*keys, limits={"concurrency": 2})))

    terminal.wait_for(r"renew  \[[#.]+\] ([2-9]|1[0-5])/16 keys")  # a few keys renewed, most to go
    terminal.type(CTRL_C)
    pressed = time.monotonic()
    status = terminal.exit_status()
    took = time.monotonic() - pressed

    assert status == 130, terminal.screen
    assert took < 5, f"{took:.1f} s from Ctrl-C to exit"
    assert "interrupted: no more keys start" in terminal.screen
    table = terminal.table()
    outcomes = [re.split(r" {2,}", row.strip())[-1] for row in table[2:-2]]
    renewed, undone = outcomes.count("renewed"), outcomes.count("not_attempted")
    assert renewed >= 2 and undone >= 1 and renewed + undone == 16, table
    assert outcomes == ["not_attempted"] * undone + ["renewed"] * renewed  # what is left to do first
    assert f"renewed {renewed}" in table[-1] and f"not_attempted {undone}" in " ".join(table[-2:])
    assert re.search(rf"interrupted: {undone} key\(s\) not started", terminal.screen)
    imported = [c["key_id"] for c in cloud.calls("ImportKeyMaterial")][16:]  # after the setup's imports
    assert len(imported) == renewed  # nothing started after the Ctrl-C, nothing left half done
    unchanged = [k for k in keys if cloud.describe(k).material_expire_time == expiries[k]]
    assert len(unchanged) == undone


def test_a_second_ctrl_c_quits_at_once(cloud: Cloud) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    keys = [cloud.key_with_material(MATERIAL, 5) for _ in range(6)]
    cloud.emulator.admin("POST", "faults", {"latency_ms": 4000, "actions": ["ImportKeyMaterial"]})
    terminal = Terminal(["run"], renewer_env(cloud, payments(*keys, limits={"concurrency": 2})))
    wait_until(lambda: len(cloud.calls("GetParametersForImport")) >= 6 + 2)  # two keys about to import
    time.sleep(0.3)  # their imports sent, answered in 4 s

    terminal.type(CTRL_C)
    terminal.wait_for("Ctrl-C again")
    terminal.type(CTRL_C)
    pressed = time.monotonic()
    status = terminal.exit_status()
    took = time.monotonic() - pressed

    assert status == 130, terminal.screen
    assert took < 1.5, f"{took:.1f} s: waited for the imports"
    assert "quitting now" in terminal.screen
    assert not any(line.startswith("material") for line in terminal.lines())  # no report: the run never finished
    # the emulator answers the abandoned imports all the same: let them land here, not in the next test
    wait_until(lambda: len(cloud.calls("ImportKeyMaterial")) >= 6 + 2)


def wait_until(condition: Any, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("columns", [80, 100])
def test_the_table_on_a_terminal_puts_problems_first_and_fits_its_width(cloud: Cloud, columns: int) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    healthy = cloud.key_with_material(MATERIAL, 80)
    due = cloud.key_with_material(MATERIAL, 5)
    never = cloud.create_key()
    expired = cloud.create_key()
    cloud.import_material("cn-hangzhou", expired, MATERIAL, int(time.time()) + 2)
    generated = cloud.create_key(origin="Aliyun_KMS")  # not EXTERNAL: fails
    config = payments(healthy, due, never, "key-doesnotexist", expired, generated)
    while cloud.describe(expired).key_state != "PendingImport":  # its material expires (real time)
        time.sleep(0.2)

    terminal = Terminal(["run"], renewer_env(cloud, config), columns=columns)
    status = terminal.exit_status()

    assert status == 1, terminal.screen  # two keys failed
    table = terminal.table()
    assert all(len(line) <= columns for line in table), "\n".join(table)
    header = re.split(r" {2,}", table[0])
    assert {"key", "expiry before", "expiry after", "outcome"} <= set(header), table[0]
    cells = [re.split(r" {2,}", row.strip()) for row in table[2:-2] if row.strip()]
    outcomes = [row[-1].split(" ")[0] for row in cells]
    assert outcomes == ["failed", "failed", "renewed", "recovered", "recovered", "skipped"], table
    before = {row[-1].split(" ")[0] + str(i): row[header.index("expiry before")] for i, row in enumerate(cells)}
    assert sorted(v for k, v in before.items() if k.startswith("recovered")) == ["expired", "never imported"]
    [renewed] = [row for row in cells if row[-1] == "renewed"]
    old, new = renewed[header.index("expiry before")], renewed[header.index("expiry after")]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", old) and re.fullmatch(r"\d{4}-\d\d-\d\d", new) and new > old


def test_invoke_runs_the_lambda_handler_with_an_eventbridge_event(cloud: Cloud) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    key = cloud.create_key()
    env = {**renewer_env(cloud, payments(key)), "AWS_REGION": "eu-west-1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "renewer",
            "invoke",
            "--handler",
            "lambda",
            "-e",
            str(EVENTS / "eventbridge-scheduled.json"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["run"]["trigger"] == "eventbridge:arn:aws:events:us-east-1:123456789012:rule/byok-renewer-daily"
    assert [k["outcome"] for k in report["keys"]] == ["recovered"]


def test_invoke_of_a_missing_event_file_is_one_line_and_status_2(cloud: Cloud, tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "renewer", "invoke", "-e", str(tmp_path / "nothere.json")],
        cwd=ROOT,
        env=renewer_env(cloud, payments("key-x")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert (
        done.stderr
        == f"error: InvalidEvent: cannot read the event file {tmp_path / 'nothere.json'}: No such file or directory\n"
    )
    assert done.stdout == ""

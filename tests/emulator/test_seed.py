"""Seeding (issue #13): ``python -m emulator --seed ...`` and ``python -m emulator seed ...``.

End to end, as a user would: start a seeded emulator (or seed the session's), source the
environment file it wrote, and run the function's CLI (``python -m renewer``, in ``function/``):
each kind of key gets the decision it was made for. No output ever shows the material.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import secrets
import shlex
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_kms20160120 import models as kms_models

from emulator import __main__ as emulator_main
from emulator import seed
from emulator.cloud import EmulatedCloud
from emulator.seed import Kind, key_check_value, parse_counts
from tests.conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, REGIONS, ROOT

SEED_REGIONS = ("cn-hangzhou", "cn-shanghai")
START_SECRET = "seedTestAccessKeySecret"


def secret_forms(raw: bytes) -> set[str]:
    """The ways a secret could be printed: hex, base64 (padded, not, URL-safe) and raw."""
    b64 = base64.b64encode(raw).decode()
    forms = {raw.hex(), raw.hex().upper(), b64, b64.rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    return forms | {raw.decode("latin-1")}


def assert_material_absent(material: bytes, *texts: str) -> None:
    haystack = "\n".join(texts)
    for form in secret_forms(material):
        assert form not in haystack


def read_env_file(path: Path) -> tuple[dict[str, str], list[str]]:
    """The ``export``ed variables of an environment file, and the ones it ``unset``s."""
    exported: dict[str, str] = {}
    unset: list[str] = []
    for line in path.read_text().splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["export"]:
            name, _, value = words[1].partition("=")
            exported[name] = value
        elif words[:1] == ["unset"]:
            unset += words[1:]
    return exported, unset


def function_cli(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m renewer ARGS`` in ``function/`` with the environment file sourced."""
    exported, unset = read_env_file(env_file)
    env = {k: v for k, v in os.environ.items() if k not in unset and not k.startswith("RENEWER_")}
    env.update(exported)
    return subprocess.run(
        [sys.executable, "-m", "renewer", *args],
        cwd=ROOT / "function",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def by_key(report: dict[str, Any]) -> dict[str, tuple[str | None, str, str | None]]:
    """key (as configured) -> (decision, outcome, error code)."""
    return {k["key_id"]: (k["decision"], k["outcome"], (k["error"] or {}).get("code")) for k in report["keys"]}


def stored_material(cloud: EmulatedCloud, name: str, region: str) -> bytes:
    request = kms_models.GetSecretValueRequest(secret_name=name)
    return bytes.fromhex(cloud.kms(region).get_secret_value(request).body.secret_data)


class SeededEmulator:
    """``python -m emulator --seed ...`` as a subprocess; its stdout is drained by a thread."""

    def __init__(self, *args: str) -> None:
        command = [sys.executable, "-m", "emulator", "--host", "127.0.0.1"]
        for region in SEED_REGIONS:
            command += ["--region", f"{region}=0"]
        command += ["--access-key-id", ACCESS_KEY_ID, "--access-key-secret", START_SECRET, *args]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.out: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put("")

    def read_until_ready(self, timeout: float = 60) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if not line:
                raise AssertionError(f"the emulator exited: {self.stop()}")
            self.out.append(line)
            if line.startswith("ready: "):
                return self.out

    def stop(self) -> tuple[str, str]:
        """Stops the emulator; returns all it printed (stdout, stderr)."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        while (line := self._next()) is not None:
            self.out.append(line)
        return "".join(self.out), err

    def _next(self) -> str | None:
        try:
            return self.lines.get(timeout=1) or None
        except queue.Empty:
            return None


def endpoints_and_token(lines: list[str]) -> tuple[dict[str, str], str]:
    endpoints = {}
    token = ""
    for line in lines:
        if line.startswith("listening on http://"):
            address, region = line.removeprefix("listening on http://").split()
            endpoints[region.strip("()")] = address
        elif line.startswith("admin token: "):
            token = line.split()[-1]
    return endpoints, token


def test_two_commands_a_seeded_emulator_then_plan_and_run(tmp_path):
    """Terminal 1: ``python -m emulator ... --seed``; terminal 2: ``. byok.env; python -m renewer plan``."""
    emulator = SeededEmulator(
        "--seed", "healthy=2,due=1,expired=1,never-imported=1,not-external=1", "--seed-dir", str(tmp_path)
    )
    try:
        lines = emulator.read_until_ready()
        endpoints, token = endpoints_and_token(lines)
        cloud = EmulatedCloud(endpoints, ACCESS_KEY_ID, START_SECRET, token)
        material = stored_material(cloud, "byok/payments", "cn-hangzhou")
        env_file, config_file = tmp_path / "byok.env", tmp_path / "byok.json"

        plan = function_cli(env_file, "plan", "--json")
        planned = json.loads(plan.stdout)
        run = function_cli(env_file, "run", "--json")
        ran = json.loads(run.stdout)
    finally:
        out, err = emulator.stop()

    assert plan.returncode == 1, plan.stderr  # the key that is not EXTERNAL fails, as it should
    assert by_key(planned) == {
        "alias/byok-healthy-1": ("skip", "skipped", None),
        "alias/byok-healthy-2": ("skip", "skipped", None),
        "alias/byok-due-1": ("renew", "dry_run", None),
        "alias/byok-expired-1": ("recover", "dry_run", None),
        "alias/byok-never-imported-1": ("recover", "dry_run", None),
        "alias/byok-not-external-1": (None, "failed", "NotExternal"),
    }
    states = {k["key_id"]: (k["state_before"], k["expires_before"] is not None) for k in planned["keys"]}
    assert states["alias/byok-expired-1"] == ("PendingImport", True)  # had material, now expired
    assert states["alias/byok-never-imported-1"] == ("PendingImport", False)
    assert "ahead of" not in plan.stderr  # the emulator's clock was not moved: no skew to warn about
    assert run.returncode == 1, run.stderr
    summary = {name: count for name, count in ran["summary"].items() if count}
    assert summary == {"renewed": 1, "recovered": 2, "skipped": 2, "failed": 1}

    config = json.loads(config_file.read_text())
    assert config["materials"][0]["kcv"] == key_check_value(material)
    assert config["materials"][0]["source"] == {
        "type": "alibaba-secret",
        "name": "byok/payments",
        "region": "cn-hangzhou",
        "encoding": "hex",
    }
    regions = [key["region"] for key in config["materials"][0]["keys"]]
    assert regions == ["cn-hangzhou", "cn-shanghai"] * 3  # spread over the regions in turn
    exported, _ = read_env_file(env_file)
    assert exported["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] == START_SECRET
    assert exported["RENEWER_ALIBABA_ENDPOINTS"] == ",".join(f"{r}=http://{e}" for r, e in endpoints.items())
    for path in (env_file, config_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert START_SECRET not in out + err  # only in the environment file
    assert f"export ALIBABA_CLOUD_ACCESS_KEY_ID={ACCESS_KEY_ID}" in out
    assert_material_absent(
        material,
        out,
        err,
        env_file.read_text(),
        config_file.read_text(),
        plan.stdout,
        plan.stderr,
        run.stdout,
        run.stderr,
    )


def seed_command(emulator: Any, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "emulator", "seed"]
    for region in SEED_REGIONS:
        command += ["--endpoint", f"{region}={emulator.url(region)}"]
    command += ["--access-key-id", ACCESS_KEY_ID, "--access-key-secret", ACCESS_KEY_SECRET, *args]
    if "--admin-token" not in args:
        command += [f"--admin-token={emulator.admin_token}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)


def session_cloud(emulator: Any) -> EmulatedCloud:
    endpoints = {region: emulator.endpoint(region) for region in REGIONS}
    return EmulatedCloud(endpoints, ACCESS_KEY_ID, ACCESS_KEY_SECRET, emulator.admin_token)


def test_seed_command_output_never_contains_the_material(emulator, tmp_path):
    material = secrets.token_bytes(32)
    seeded = seed_command(
        emulator,
        *("--material-hex", material.hex(), "--expired", "0", "--due", "2", "--out-dir", str(tmp_path)),
        *("--secret", "byok/seeded", "--alias-prefix", "alias/s-"),
    )
    assert seeded.returncode == 0, seeded.stderr
    plan = function_cli(tmp_path / "byok.env", "plan", "--json")

    cloud = session_cloud(emulator)
    assert stored_material(cloud, "byok/seeded", "cn-hangzhou") == material
    assert set(cloud.aliases("cn-hangzhou")) == {"alias/s-healthy-1", "alias/s-due-2", "alias/s-not-external-1"}
    assert set(cloud.aliases("cn-shanghai")) == {"alias/s-due-1", "alias/s-never-imported-1"}
    assert f"KCV {key_check_value(material)}" in seeded.stdout
    assert by_key(json.loads(plan.stdout)) == {
        "alias/s-healthy-1": ("skip", "skipped", None),
        "alias/s-due-1": ("renew", "dry_run", None),
        "alias/s-due-2": ("renew", "dry_run", None),
        "alias/s-never-imported-1": ("recover", "dry_run", None),
        "alias/s-not-external-1": (None, "failed", "NotExternal"),
    }
    files = [p.read_text() for p in tmp_path.iterdir()]
    assert_material_absent(material, seeded.stdout, seeded.stderr, *files, plan.stdout, plan.stderr)
    assert ACCESS_KEY_SECRET not in seeded.stdout + seeded.stderr


def test_without_aliases_the_configuration_names_key_ids(emulator, tmp_path):
    seeded = seed_command(emulator, "--alias-prefix", "", "--expired", "0", "--out-dir", str(tmp_path))
    assert seeded.returncode == 0, seeded.stderr
    keys = json.loads((tmp_path / "byok.json").read_text())["materials"][0]["keys"]
    assert len(keys) == 4 and all(key["key_id"].startswith("key-") for key in keys)
    assert session_cloud(emulator).aliases("cn-hangzhou") == {}


def creations(emulator: Any) -> list[str]:
    made = ("CreateKey", "CreateSecret", "CreateAlias", "ImportKeyMaterial")
    calls = emulator.admin("GET", "calls")
    return [call["action"] for call in calls if call["action"] in made and call["outcome"] == "Success"]


def test_taken_aliases_are_refused_before_anything_is_created(emulator, tmp_path):
    assert seed_command(emulator, "--expired", "0", "--out-dir", str(tmp_path / "a")).returncode == 0
    before = creations(emulator)
    again = seed_command(emulator, "--expired", "0", "--secret", "other", "--out-dir", str(tmp_path / "b"))
    assert again.returncode == 1
    assert "aliases already taken: alias/byok-healthy-1 (cn-hangzhou)" in again.stderr
    assert creations(emulator) == before
    assert not (tmp_path / "b" / "byok.json").exists()


def test_an_existing_secret_is_refused_before_any_key_is_made(emulator, tmp_path):
    session_cloud(emulator).secret("byok/payments", "00" * 32)
    refused = seed_command(emulator, "--expired", "0", "--out-dir", str(tmp_path))
    assert refused.returncode == 1
    assert "Rejected.ResourceExist" in refused.stderr and "already exists" in refused.stderr
    assert creations(emulator) == ["CreateSecret"]  # this test's own


def test_a_wrong_admin_token_is_refused_before_anything_is_created(emulator, tmp_path):
    refused = seed_command(emulator, "--admin-token", "not-the-token-0123456789", "--out-dir", str(tmp_path))
    assert refused.returncode == 1
    assert "refused the request (403)" in refused.stderr
    assert "not-the-token" not in refused.stderr
    assert creations(emulator) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--material-hex", "ab" * 31), "--material-hex must be 64 hex digits"),
        (("--material-hex", "zz" * 32), "--material-hex must be 64 hex digits"),
        (tuple(arg for kind in Kind for arg in (f"--{kind.value}", "0")), "nothing to seed"),
        (("--healthy", "1001"), "from 0 to 1000"),
        (("--alias-prefix", "byok-"), "must start with alias/"),
        (("--endpoint", "cn-hangzhou"), "--endpoint expects REGION=HOST:PORT"),
    ],
)
def test_bad_arguments_exit_2_without_echoing_material(capsys, args, message):
    required = ("--admin-token", "t" * 16, "--access-key-id", "id", "--access-key-secret", "s")
    with pytest.raises(SystemExit) as exc:
        seed.parse_args(["--endpoint", "cn-hangzhou=127.0.0.1:1", *required, *args])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert message in err
    assert "ab" * 31 not in err and "zz" * 32 not in err


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("healthy=1,bogus=2", "KIND one of healthy, due, expired, never-imported, not-external"),
        ("healthy", "healthy needs a count"),
        ("due=1,due=2", "due given twice"),
        ("healthy=0", "nothing to seed"),
    ],
)
def test_a_bad_seed_spec_is_refused_before_the_emulator_listens(capsys, spec, message):
    with pytest.raises(SystemExit) as exc:
        emulator_main.parse_args(["--access-key-id", "id", "--access-key-secret", "s", "--seed", spec])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_a_seed_that_fails_stops_the_emulator_with_status_1(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    emulator = SeededEmulator("--seed", "--seed-dir", str(blocker / "sub"))
    assert emulator.process.wait(timeout=30) == 1
    out, err = emulator.stop()
    assert "seed failed: cannot use" in err and "ready:" not in out


def test_seed_counts_and_the_kcv():
    assert parse_counts("due=2, expired=1") == {
        Kind.HEALTHY: 0,
        Kind.DUE: 2,
        Kind.EXPIRED: 1,
        Kind.NEVER_IMPORTED: 0,
        Kind.NOT_EXTERNAL: 0,
    }
    # AES-256 of the zero block under the zero key is DC95C078A2408989AD48A21492842087.
    assert key_check_value(bytes(32)) == "DC95C0"

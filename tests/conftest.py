"""Shared fixtures: one emulator subprocess for the whole session, reset before each test.

``emulator_proc`` (session) runs ``python -m emulator`` serving two regions on free ports with
the test credentials below, and stops it at the end. ``emulator`` (per test) is the same object
after ``POST /_emulator/reset`` (no keys, secrets, metrics, faults or calls; real time).
Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import json as jsonlib
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# The credentials library reads this once, at import: never let a test reach for ECS instance
# metadata (a non-loopback address) when the default credential chain finds nothing.
os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"

ACCESS_KEY_ID = "testAccessKeyId"
ACCESS_KEY_SECRET = "testAccessKeySecret"
HOST = "127.0.0.1"
REGIONS = ("cn-hangzhou", "cn-shanghai")
STARTUP_TIMEOUT_SECONDS = 30
_LISTENING = re.compile(r"^listening on http://(?P<host>[^:]+):(?P<port>\d+) \((?P<region>[^)]+)\)$")


@dataclass
class EmulatorProcess:
    """A running emulator: where each region listens, the credentials, the admin API."""

    process: subprocess.Popen[str]
    ports: dict[str, int]
    access_key_id: str = ACCESS_KEY_ID
    access_key_secret: str = ACCESS_KEY_SECRET

    @property
    def regions(self) -> list[str]:
        return list(self.ports)

    def endpoint(self, region: str = REGIONS[0]) -> str:
        """``host:port``, as the SDKs' ``endpoint`` setting wants it."""
        return f"{HOST}:{self.ports[region]}"

    def url(self, region: str = REGIONS[0]) -> str:
        return f"http://{self.endpoint(region)}"

    def admin(self, method: str, path: str, json: Any = None, region: str = REGIONS[0]) -> Any:
        """Call the admin API (``/_emulator/...``; a bare name like ``"calls"`` is prefixed)."""
        if not path.startswith("/"):
            path = f"/_emulator/{path}"
        data = None if json is None else jsonlib.dumps(json).encode()
        request = urllib.request.Request(self.url(region) + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            return jsonlib.loads(response.read())


def _read_listening_lines(process: subprocess.Popen[str], count: int) -> dict[str, int]:
    """Wait for ``count`` ``listening on ...`` lines; fail if the process exits or is slow.

    A daemon thread keeps reading stdout afterwards, so the pipe never fills up.
    """
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put("")  # end of output

    threading.Thread(target=pump, name="emulator-stdout", daemon=True).start()
    ports: dict[str, int] = {}
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while len(ports) < count:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise RuntimeError("the emulator did not start in time") from None
        if not line:
            raise RuntimeError(f"the emulator exited with {process.wait()}")
        match = _LISTENING.match(line.strip())
        if match:
            ports[match["region"]] = int(match["port"])
    return ports


@pytest.fixture(scope="session")
def emulator_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """The emulator as a subprocess, serving :data:`REGIONS` on free ports."""
    stderr_path: Path = tmp_path_factory.mktemp("emulator") / "stderr.log"
    command = [sys.executable, "-m", "emulator", "--host", HOST, "--port", "0"]
    for region in REGIONS:
        command += ["--region", f"{region}=0"]
    command += ["--access-key-id", ACCESS_KEY_ID, "--access-key-secret", ACCESS_KEY_SECRET]
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        try:
            ports = _read_listening_lines(process, len(REGIONS))
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; stderr:\n{stderr_path.read_text()}") from exc
        yield EmulatorProcess(process, ports)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def emulator(emulator_proc: EmulatorProcess) -> EmulatorProcess:
    """The session's emulator, reset to empty before the test."""
    emulator_proc.admin("POST", "/_emulator/reset")
    return emulator_proc

"""Shared fixtures: one emulator subprocess for the whole session, reset before each test.

``emulator_proc`` (session) runs ``python -m emulator`` serving :data:`REGIONS` on free ports with
the test credentials below, and stops it at the end; its ``admin`` calls send the admin token the
emulator printed at start. It declares two functions with the code in ``function/``
(``index.handler``), the only code its Function Compute endpoint runs: ``byok-renewer/renewer``
(Function Compute 2.0) and ``renewer3`` (3.0). ``emulator`` (per test) is the same object after
``POST /_emulator/reset`` (no keys, secrets, metrics, faults, calls or invocations; real time; the
functions as declared). Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import json as jsonlib
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# The credentials library reads this once, at import: never let a test reach for ECS instance
# metadata (a non-loopback address) when the default credential chain finds nothing.
os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"

from emulator.admin_access import HEADER as ADMIN_TOKEN_HEADER
from emulator.cloud import spawn
from emulator.functions import FunctionSpec

ACCESS_KEY_ID = "testAccessKeyId"
ACCESS_KEY_SECRET = "testAccessKeySecret"
HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[1]
REGIONS = ("cn-hangzhou", "cn-shanghai", "us-east-1")  # us-east-1: for the AWS KMS protocol


@dataclass
class EmulatorProcess:
    """A running emulator: where each region listens, the credentials, the admin API."""

    process: subprocess.Popen[str]
    ports: dict[str, int]
    admin_token: str = field(repr=False)
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

    def admin_headers(self) -> dict[str, str]:
        """The header every admin request needs: the admin token."""
        return {ADMIN_TOKEN_HEADER: self.admin_token}

    def admin(self, method: str, path: str, json: Any = None, region: str = REGIONS[0]) -> Any:
        """Call the admin API (``/_emulator/...``; a bare name like ``"calls"`` is prefixed)."""
        if not path.startswith("/"):
            path = f"/_emulator/{path}"
        data = None if json is None else jsonlib.dumps(json).encode()
        request = urllib.request.Request(self.url(region) + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header(ADMIN_TOKEN_HEADER, self.admin_token)
        with urllib.request.urlopen(request, timeout=10) as response:
            return jsonlib.loads(response.read())


@pytest.fixture(scope="session")
def emulator_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """The emulator as a subprocess, serving :data:`REGIONS` on free ports."""
    stderr_path: Path = tmp_path_factory.mktemp("emulator") / "stderr.log"
    functions = [  # the fan-out tests invoke them: a Function Compute 2.0 function (a service's) and a 3.0 one
        FunctionSpec("byok-renewer", "renewer", str(ROOT / "function")),
        FunctionSpec(None, "renewer3", str(ROOT / "function")),
    ]
    # Pooled RSA wrapping keys (fresh tokens every call): generating a pair per GetParametersForImport
    # (~40 ms for 2048 bits, ~0.5 s for 4096) is not what these tests are about; key generation itself
    # is tested on the backend (test_backend.py::test_fresh_wrapping_key_per_call_by_default).
    reuse = ("--reuse-wrapping-keys",)
    with spawn(
        REGIONS, ACCESS_KEY_ID, ACCESS_KEY_SECRET, stderr_path=stderr_path, functions=functions, extra_args=reuse
    ) as spawned:
        ports = {region: int(e.rsplit(":", 1)[1]) for region, e in spawned.endpoints.items()}
        yield EmulatorProcess(spawned.process, ports, spawned.admin_token)


@pytest.fixture
def emulator(emulator_proc: EmulatorProcess) -> EmulatorProcess:
    """The session's emulator, reset to empty before the test."""
    emulator_proc.admin("POST", "/_emulator/reset")
    return emulator_proc

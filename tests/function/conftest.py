"""Fixtures for end-to-end tests of the function: a cloud to set up through the official SDK, and
a way to invoke ``index.handler`` exactly as Function Compute does (event as bytes, a context
carrying the service role's credentials), against the live emulator on 127.0.0.1."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from emulator.cloud import EmulatedCloud
from renewer.credentials import Credentials
from renewer.entry.context import LocalContext

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
sys.path.insert(0, str(ROOT / "function"))  # where Function Compute finds index.py


class Cloud(EmulatedCloud):
    """The test emulator, driven through the official SDK as an operator would."""

    def __init__(self, emulator: Any) -> None:
        endpoints = {region: emulator.endpoint(region) for region in emulator.regions}
        super().__init__(endpoints, emulator.access_key_id, emulator.access_key_secret)
        self.emulator = emulator


@dataclass
class Invocation:
    report: dict[str, Any]
    error: Exception | None
    output: str  # everything written to stdout and stderr during the invocation
    calls: list[dict[str, Any]]  # the API calls the emulator served during the invocation

    def actions(self, action: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["action"] == action]


@pytest.fixture
def cloud(emulator: Any) -> Cloud:
    return Cloud(emulator)


@pytest.fixture
def invoke(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., Invocation]]:
    """``invoke(config, event=b"{}")``: run ``index.handler`` against the emulator; never raises."""
    for name in list(os.environ):
        if name.startswith(("RENEWER_", "ALIBABA_CLOUD_")) and name != "ALIBABA_CLOUD_ECS_METADATA_DISABLED":
            monkeypatch.delenv(name)
    endpoints = ",".join(f"{region}={emulator.endpoint(region)}" for region in emulator.regions)
    monkeypatch.setenv("RENEWER_ALIBABA_ENDPOINTS", endpoints)
    import index

    def call(config: dict[str, Any], event: bytes | str = b"{}", context: Any = None) -> Invocation:
        monkeypatch.setenv("RENEWER_CONFIG", json.dumps(config))
        if context is None:
            context = LocalContext(
                credentials=Credentials(emulator.access_key_id, emulator.access_key_secret, "sts-token"),
                region="cn-hangzhou",
            )
        capsys.readouterr()
        before = len(emulator.admin("GET", "calls"))
        error: Exception | None = None
        try:
            report = json.loads(index.handler(event.encode() if isinstance(event, str) else event, context))
        except Exception as exc:  # the handler signals failure by raising
            error = exc
            report = getattr(exc, "report", {})
        captured = capsys.readouterr()
        return Invocation(report, error, captured.out + captured.err, emulator.admin("GET", "calls")[before:])

    yield call


def outcomes(report: dict[str, Any]) -> dict[str, str]:
    return {k["key_id"]: k["outcome"] for k in report["keys"]}


def material_config(name: str, source: dict[str, Any], keys: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    return {"name": name, "source": source, "keys": keys, **extra}


def process_env(emulator: Any, **settings: str) -> dict[str, str]:
    """A clean environment for running the function in a fresh process against the emulator:
    credentials for the default chain, the endpoint, and ``settings`` (``RENEWER_CONFIG=...``)."""
    return {
        "PATH": os.environ["PATH"],
        "RENEWER_ALIBABA_ENDPOINT": emulator.endpoint("cn-hangzhou"),
        "ALIBABA_CLOUD_ACCESS_KEY_ID": emulator.access_key_id,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": emulator.access_key_secret,
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
        **settings,
    }


def modules_a_run_loads(emulator: Any, config: dict[str, Any], roots: tuple[str, ...]) -> list[str]:
    """Cold start: run ``index.handler`` once in a fresh interpreter against the emulator with
    ``config``, and return the modules under ``roots`` (top-level package names) it had loaded."""
    import subprocess

    script = (
        "import sys, index; from renewer.entry.context import from_environ; "
        "index.handler(b'{}', from_environ()); "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {roots!r}))"
    )
    env = process_env(emulator, RENEWER_CONFIG=json.dumps(config))
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT / "function", env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"'))


def spy_on_imports(monkeypatch: pytest.MonkeyPatch, target: type) -> list[bytes]:
    """Record every import token and wrapped material a KMS target class handles (the real calls
    still go out), so a test can look for them in everything the run printed or returned."""
    seen: list[bytes] = []
    real_params, real_import = target.get_parameters_for_import, target.import_key_material

    def params(self: Any, key_id: str, algorithm: str) -> Any:
        result = real_params(self, key_id, algorithm)
        seen.append(result.token)
        return result

    def import_material(self: Any, key_id: str, wrapped: bytes, token: bytes, expire_unix: int, **kw: Any) -> Any:
        seen.append(wrapped)
        return real_import(self, key_id, wrapped, token, expire_unix, **kw)

    monkeypatch.setattr(target, "get_parameters_for_import", params)
    monkeypatch.setattr(target, "import_key_material", import_material)
    return seen


def secret_forms(raw: bytes) -> set[str]:
    """The ways a secret could be printed: hex, base64 (padded, not, URL-safe) and, if long, raw."""
    b64 = base64.b64encode(raw).decode()
    forms = {raw.hex(), raw.hex().upper(), b64, b64.rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    return forms | ({raw.decode("latin-1")} if len(raw) >= 8 else set())


def assert_no_secrets(result: Invocation, cloud: Cloud, materials: list[bytes], wire_values: list[bytes]) -> None:
    """None of ``materials`` nor the ``wire_values`` (tokens, wrapped material; where a value is
    itself base64 text, what it decodes to as well) appears in the invocation's output, report or
    exception, nor in the emulator's calls log and metrics."""
    haystack = "\n".join(
        [
            result.output,
            json.dumps(result.report),
            str(result.error),
            repr(result.error),
            json.dumps(cloud.calls()),
            json.dumps(cloud.metrics()),
        ]
    )
    for material in materials:
        for form in secret_forms(material):
            assert form not in haystack
    for value in wire_values:
        forms = secret_forms(value)
        with contextlib.suppress(ValueError):  # not base64 text: its own forms are all there is
            forms |= secret_forms(base64.b64decode(value, validate=True))
        for form in forms:
            assert form not in haystack


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(emulator: Any, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """boto3's environment pointed at the emulator (KMS) and moto (Secrets Manager, CloudWatch)."""
    env = {
        "AWS_ENDPOINT_URL_KMS": emulator.url("us-east-1"),
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_endpoint,
        "AWS_ENDPOINT_URL_CLOUDWATCH": moto_endpoint,
        "AWS_ACCESS_KEY_ID": emulator.access_key_id,
        "AWS_SECRET_ACCESS_KEY": emulator.access_key_secret,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    import boto3  # only the tests that use AWS load it

    session = boto3.session.Session(
        aws_access_key_id=emulator.access_key_id, aws_secret_access_key=emulator.access_key_secret
    )
    return {
        "kms": session.client("kms", region_name="us-east-1", endpoint_url=emulator.url("us-east-1")),
        "secrets": session.client("secretsmanager", region_name="us-east-1", endpoint_url=moto_endpoint),
        "cloudwatch": session.client("cloudwatch", region_name="us-east-1", endpoint_url=moto_endpoint),
        "env": env,
    }

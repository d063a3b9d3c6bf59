"""Function Compute runs only the code its operator declared at start (``--function``): the admin API
may set a declared function's environment and timeout, but a request naming code is refused and
nothing runs. The context a function gets is the emulator's own (no import of the function's code)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import fc2
import pytest

from emulator.admin_access import HEADER
from emulator.cloud import spawn
from emulator.functions import DEFAULT_TIMEOUT, FunctionSpec
from tests.emulator.signed_requests import Reply, send

PROBE = """
import json, os, pathlib
pathlib.Path(os.environ["PROBE_MARKER"]).write_text("imported") if "PROBE_MARKER" in os.environ else None

def handle(event, context):
    return json.dumps({
        "event": event.decode(),
        "probe": os.environ.get("PROBE_SETTING"),
        "timeout": context.function.timeout,
        "handler": context.function.handler,
        "function": context.function.name,
        "service": context.service.name,
        "access_key_id": context.credentials.access_key_id,
        "security_token": context.credentials.security_token,
        "region": context.region,
        "account_id": context.account_id,
        "request_id": context.request_id,
    })
"""
EVIL = """
import pathlib
pathlib.Path(__file__).with_name("ran").write_text("the emulator imported undeclared code")

def handler(event, context):
    pathlib.Path(__file__).with_name("ran").write_text("the emulator ran undeclared code")
    return "pwned"
"""
AK, SECRET = "fnAccessKeyId", "fnAccessKeySecret"


def admin(endpoint: str, token: str, body: object) -> Reply:
    headers = {"Content-Type": "application/json", HEADER: token}
    return send(endpoint, "POST", "/_emulator/functions", headers=headers, body=json.dumps(body).encode())


def fc(endpoint: str, secret: str = SECRET) -> fc2.Client:
    return fc2.Client(endpoint=f"http://{endpoint}", accessKeyID=AK, accessKeySecret=secret)


@pytest.fixture
def evil(tmp_path: Path) -> Path:
    directory = tmp_path / "evil"
    directory.mkdir()
    (directory / "index.py").write_text(EVIL)
    (directory / "other.py").write_text(EVIL)
    return directory


@pytest.mark.parametrize(
    "body",
    [
        {"service": "evil", "function": "fn", "code_dir": "EVIL"},
        {"service": "evil", "function": "fn", "code_dir": "EVIL", "handler": "index.handler"},
        {"service": "byok-renewer", "function": "renewer", "code_dir": "EVIL"},  # a declared function
        {"service": "byok-renewer", "function": "renewer", "handler": "other.handler"},
        {"service": "byok-renewer", "function": "renewer", "code_dir": None, "environment": {}},
    ],
)
def test_a_functions_request_naming_code_is_refused_and_nothing_runs(emulator, evil, body):
    body = {k: str(evil) if v == "EVIL" else v for k, v in body.items()}
    reply = admin(emulator.endpoint(), emulator.admin_token, body)
    assert reply.status == 403, reply.body
    assert "--function" in reply.body["error"]
    client = fc2.Client(
        endpoint=f"http://{emulator.endpoint()}",
        accessKeyID=emulator.access_key_id,
        accessKeySecret=emulator.access_key_secret,
    )
    with pytest.raises(fc2.fc_exceptions.FcError) as raised:
        client.invoke_function("evil", "fn", payload=b"{}")
    assert (raised.value.status_code, raised.value.err_code) == (404, "FunctionNotFound")
    assert not (evil / "ran").exists()
    assert all(i["service"] != "evil" for i in emulator.admin("GET", "invocations"))


def test_an_undeclared_function_cannot_be_configured(emulator):
    reply = admin(emulator.endpoint(), emulator.admin_token, {"service": "other", "function": "fn", "timeout": 5})
    assert reply.status == 404 and "not declared" in reply.body["error"]


@pytest.mark.parametrize(
    "change",
    [
        {"timeout": 0},
        {"timeout": -1},
        {"timeout": 86_401},
        {"timeout": 1e300},
        {"timeout": 1.5},
        {"timeout": "60"},
        {"timeout": True},
        {"environment": ["A=1"]},
        {"environment": {"A": 1}},
        {"environment": {"A": None}},
        {"environment": {"1A": "x"}},
        {"environment": {"A=B": "x"}},
        {"environment": {"": "x"}},
        {"environment": {"A": "nul\0byte"}},
        {"environment": {"A": "x" * 70_000}},
        {"surprise": 1},
    ],
)
def test_a_declared_functions_settings_are_checked(emulator, change):
    body = {"service": "byok-renewer", "function": "renewer", **change}
    reply = admin(emulator.endpoint(), emulator.admin_token, body)
    assert reply.status == 400 and reply.body["error"], reply.body


def test_a_declared_function_runs_with_the_environment_and_timeout_the_admin_api_set(tmp_path):
    code = tmp_path / "probe code"  # a space in the path, and a handler other than index.handler
    code.mkdir()
    (code / "main.py").write_text(PROBE)
    spec = FunctionSpec.parse(f"probe-svc/echo_fn={code}:main.handle")
    with spawn(("cn-shanghai",), AK, SECRET, functions=[spec]) as emulator:
        endpoint = emulator.endpoints["cn-shanghai"]
        configure = {"service": "probe-svc", "function": "echo_fn", "environment": {"PROBE_SETTING": "set"}}
        reply = admin(endpoint, emulator.admin_token, {**configure, "timeout": 42})
        assert reply.status == 200, reply.body
        assert reply.body == {"function": "probe-svc/echo_fn", "timeout": 42, "environment": ["PROBE_SETTING"]}
        result = json.loads(fc(endpoint).invoke_function("probe-svc", "echo_fn", payload=b'{"x": 1}').data)
        emulator.cloud().admin("POST", "reset")
        after_reset = json.loads(fc(endpoint).invoke_function("probe-svc", "echo_fn", payload=b"{}").data)
    assert result == {
        "event": '{"x": 1}',
        "probe": "set",
        "timeout": 42,
        "handler": "main.handle",
        "function": "echo_fn",
        "service": "probe-svc",
        "access_key_id": AK,
        "security_token": None,
        "region": "cn-shanghai",
        "account_id": "1234567890123456",
        "request_id": result["request_id"],
    }
    assert after_reset["probe"] is None and after_reset["timeout"] == DEFAULT_TIMEOUT


def test_function_spec_parsing(tmp_path):
    (tmp_path / "index.py").write_text("def handler(event, context): return ''\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "entry.py").write_text("def run(event, context): return ''\n")
    spec = FunctionSpec.parse(f"svc/fn={tmp_path}")
    assert (spec.service, spec.function, spec.code_dir, spec.handler) == ("svc", "fn", str(tmp_path), "index.handler")
    assert FunctionSpec.parse(f"svc/fn={tmp_path}:pkg.entry.run").handler == "pkg.entry.run"
    assert FunctionSpec.parse(spec.argument()) == spec
    fc3 = FunctionSpec.parse(f"fn3={tmp_path}:pkg.entry.run")  # no service: a Function Compute 3.0 function
    assert (fc3.service, fc3.function, fc3.handler, fc3.name) == (None, "fn3", "pkg.entry.run", "fn3")
    assert FunctionSpec.parse(fc3.argument()) == fc3
    for bad in [
        "svc/fn",
        "fn3",
        f"={tmp_path}",
        f"3fn={tmp_path}",
        f"f n={tmp_path}",
        f"fn3={tmp_path / 'missing'}",
        f"/fn={tmp_path}",
        f"svc/={tmp_path}",
        f"svc/f n={tmp_path}",
        f"-svc/fn={tmp_path}",
        f"svc/fn={tmp_path / 'missing'}",
        f"svc/fn={tmp_path}:missing.handler",
        f"svc/fn={tmp_path}:",
    ]:
        with pytest.raises(ValueError):
            FunctionSpec.parse(bad)


@pytest.mark.parametrize("value", ["nope", "svc/fn=/nonexistent/dir"])
def test_a_bad_function_flag_stops_the_emulator_before_it_listens(value):
    command = [sys.executable, "-m", "emulator", "--port", "0", "--access-key-id", "i", "--access-key-secret", "s"]
    completed = subprocess.run([*command, "--function", value], capture_output=True, text=True, timeout=30)
    assert completed.returncode == 2 and "listening" not in completed.stdout
    assert "--function" in completed.stderr or "does not exist" in completed.stderr


def test_declaring_a_function_twice_stops_the_emulator(tmp_path):
    (tmp_path / "index.py").write_text("def handler(event, context): return ''\n")
    command = [sys.executable, "-m", "emulator", "--port", "0", "--access-key-id", "i", "--access-key-secret", "s"]
    twice = ["--function", f"svc/fn={tmp_path}", "--function", f"svc/fn={tmp_path}:index.handler"]
    completed = subprocess.run([*command, *twice], capture_output=True, text=True, timeout=30)
    assert completed.returncode == 2 and "declared twice" in completed.stderr

"""Checks template.yml with the real Funcraft CLI, its least-privilege policy against the README's
RAM table, and events/; that its code is the package `make package` builds, with the configuration,
from the Alibaba-only runtime pyproject.toml declares; and that `fun invoke SERVICE/FUNCTION`
reaches a deployed function (the emulator's, on 127.0.0.1) with the profile the README documents.

`fun` comes from node_modules/, installed by scripts/install-fun.sh (pinned 3.6.24). `fun validate`
runs offline: it checks the template against a JSON schema bundled with fun.
"""

import http.client
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from emulator.cloud import EmulatedCloud

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest needs tomli on 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "template.yml"
EVENTS = REPO / "events"
FUNCTION_DIR = REPO / "function"
BUILD_PACKAGE = REPO / "scripts" / "build-package.sh"
EXAMPLE_CONFIG = FUNCTION_DIR / "renewer.example.yml"
EXTRAS = ("aws", "pkcs11", "sm2")
FUN = REPO / "node_modules" / ".bin" / "fun"
FUN_VERSION = "3.6.24"

SERVICE = "byok-renewer"
FUNCTION = "renewer"
TIMER_EVENT = "daily"

README = REPO / "README.md"
RAM_TABLE_HEADING = "### RAM policy (least privilege)"
FUN_SECTION_HEADING = "### 5. `fun` (discontinued): what it can and cannot do today"

EXPECTED_EVENT_FILES = {
    "timer.json",
    "timer-dry-run.json",
    "manual.json",
    "dry-run.json",
    "force-one-material.json",
    "malformed.json",
    "eventbridge-scheduled.json",
}


class RosLoader(yaml.SafeLoader):
    """A safe YAML loader that also reads ROS short-form tags (`!Ref X` -> `{"Ref": "X"}`).

    The template uses the long form, since fun's own loader refuses these tags; reading both
    keeps the checks below meaningful if someone writes a short tag (fun validate then fails too).
    """


def _construct_intrinsic(loader: RosLoader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


RosLoader.add_multi_constructor("!", _construct_intrinsic)


@pytest.fixture(scope="module")
def template() -> dict:
    return yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=RosLoader)  # noqa: S506 (a SafeLoader)


@pytest.fixture(scope="module")
def function_properties(template: dict) -> dict:
    return template["Resources"][SERVICE][FUNCTION]["Properties"]


def installed_fun() -> Path:
    """The pinned fun; a missing one fails the test (CI installs it), it is never skipped."""
    if not FUN.exists():
        pytest.fail(f"{FUN} is missing: run scripts/install-fun.sh first (CI runs it before the tests)")
    return FUN


def run_fun(
    fun: Path, args: list[str], workdir: Path, profile: str = "report: false\n", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run fun in `workdir` with a clean environment: nothing of the user's config, no network.

    HOME is a fresh folder whose fun profile (~/.fcli/config.yaml, what `fun config` writes) is
    `profile`; it must say `report: false`: with no profile at all, fun sends a usage ping to an
    analytics service whenever it detects CI (CI=true). Only PATH is inherited (fun is a node
    script), plus `env`. FUN_DISABLE_VERSION_CHECK stops the registry version check. NODE_DEBUG=net
    logs every connection attempt, so the caller can assert where fun connected. Stdin is empty:
    fun invoke reads an event from a pipe.
    """
    home = workdir / "home"
    (home / ".fcli").mkdir(parents=True, exist_ok=True)
    (home / ".fcli" / "config.yaml").write_text(profile, encoding="utf-8")
    full_env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "FUN_DISABLE_VERSION_CHECK": "1",
        "NODE_DEBUG": "net",
        **(env or {}),
    }
    return subprocess.run(
        [str(fun), *args],
        cwd=workdir,
        env=full_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def connections(result: subprocess.CompletedProcess[str]) -> list[str]:
    """Every `host:port` fun tried to connect to (from NODE_DEBUG=net)."""
    return re.findall(r"NET \d+: connect: attempting to connect to (\S+) ", result.stderr)


def assert_no_connection(result: subprocess.CompletedProcess[str]) -> None:
    assert not re.search(r"NET \d+: connect", result.stderr), f"fun tried to reach the network:\n{result.stderr}"


def test_fun_is_the_pinned_version(tmp_path: Path) -> None:
    result = run_fun(installed_fun(), ["--version"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == FUN_VERSION


def test_fun_validate_accepts_the_template(tmp_path: Path) -> None:
    # fun 3.6.24's schema lists runtimes up to python3 only, so it refuses python3.10 (see the
    # next test). Validate a copy whose Runtime alone is swapped for python3; everything else is
    # checked by fun as written. fun validate does not look at CodeUri, so no function/ is needed.
    # Its schema checks Policies only loosely (a misspelt statement key passes): see the policy test.
    text = TEMPLATE.read_text(encoding="utf-8")
    assert text.count("Runtime: python3.10\n") == 1
    copy = tmp_path / "template.yml"
    copy.write_text(text.replace("Runtime: python3.10\n", "Runtime: python3\n"), encoding="utf-8")

    result = run_fun(installed_fun(), ["validate", "-t", str(copy)], tmp_path)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # fun exits 0 when the template file is missing, and prints problems as "fun ERR!"/"fun WRAN".
    assert "Can't find template" not in output
    assert not re.search(r"\b(ERR!|WRAN)", output), output
    assert_no_connection(result)


def test_fun_validate_refuses_python310_which_is_why_the_copy_swaps_it(tmp_path: Path) -> None:
    copy = tmp_path / "template.yml"
    copy.write_text(TEMPLATE.read_text(encoding="utf-8"), encoding="utf-8")

    result = run_fun(installed_fun(), ["validate", "-t", str(copy)], tmp_path)

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"Resources/{SERVICE}/{FUNCTION}/Properties/Runtime" in output
    assert "template is not valid" in output
    assert_no_connection(result)


# ---- fun invoke SERVICE/FUNCTION, against the emulator's Function Compute ---------------------------

ACCOUNT_ID = "1234567890123456"
REGION = "cn-hangzhou"
MATERIAL = bytes(range(100, 132))
FC_PATH = f"/2016-08-15/services/{SERVICE}/functions/{FUNCTION}"


def fun_config_profile(access_key_id: str, access_key_secret: str) -> str:
    """~/.fcli/config.yaml as `fun config` writes it (lib/commands/config.js) for ACCOUNT_ID in REGION,
    with the answers README section 4 gives: timeout 610, no usage reports, no custom endpoint."""
    return (
        f"endpoint: 'https://{ACCOUNT_ID}.{REGION}.fc.aliyuncs.com'\n"
        "api_version: '2016-08-15'\n"
        f"access_key_id: {access_key_id}\n"
        f"access_key_secret: {access_key_secret}\n"
        "security_token: ''\n"
        "debug: false\n"
        "timeout: 610\n"
        "retries: 3\n"
        f"sls_endpoint: {REGION}.log.aliyuncs.com\n"
        "report: false\n"
        "enable_custom_endpoint: false\n"
    )


@pytest.fixture
def list_triggers_stub(emulator: Any) -> Iterator[tuple[str, list[str]]]:
    """`(url, requests seen)` of a loopback stand-in for Function Compute in front of the emulator.

    fun invoke first calls ListTriggers (GET .../triggers: lib/commands/invoke.js, getHttpTrigger, to
    refuse HTTP-triggered functions), which the emulator does not serve; the stand-in answers it with
    no triggers and passes every other request to the emulator unchanged, so the emulator checks
    fun's FC signature and runs the function.
    """
    upstream = emulator.endpoint(REGION)
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(f"GET {self.path}")
            if self.path == f"{FC_PATH}/triggers":
                self.reply(200, {"Content-Type": "application/json"}, b'{"triggers": []}')
            else:
                self.forward()

        def do_POST(self) -> None:
            seen.append(f"POST {self.path}")
            self.forward()

        def forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            connection = http.client.HTTPConnection(upstream, timeout=120)
            try:
                connection.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
                response = connection.getresponse()
                kept = {k: v for k, v in response.getheaders() if k.lower().startswith(("content-type", "x-fc-"))}
                self.reply(response.status, kept, response.read())
            finally:
                connection.close()

        def reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def fun_invoke(emulator: Any, stub_url: str, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`fun invoke ARGS` from `workdir` (which holds template.yml as it is: python3.10, refused by
    fun validate) with the `fun config` profile, Function Compute's endpoint moved to the stand-in
    by FC_ENDPOINT (lib/profile.js), the one setting that differs from a real account's."""
    (workdir / "template.yml").write_text(TEMPLATE.read_text(encoding="utf-8"), encoding="utf-8")
    profile = fun_config_profile(emulator.access_key_id, emulator.access_key_secret)
    return run_fun(installed_fun(), ["invoke", *args], workdir, profile=profile, env={"FC_ENDPOINT": stub_url})


def test_fun_invoke_service_function_runs_the_deployed_function(
    tmp_path: Path, emulator: Any, list_triggers_stub: tuple[str, list[str]]
) -> None:
    stub_url, seen = list_triggers_stub
    cloud = EmulatedCloud({REGION: emulator.endpoint(REGION)}, emulator.access_key_id, emulator.access_key_secret)
    cloud.secret("byok/payments", MATERIAL.hex())
    key = cloud.key_with_material(MATERIAL, 5)  # due: renew_before_days is 30
    source = {"type": "alibaba-secret", "name": "byok/payments", "region": REGION}
    config = {"materials": [{"name": "payments", "source": source, "keys": [{"region": REGION, "key_id": key}]}]}
    environment = {"RENEWER_CONFIG": json.dumps(config), "RENEWER_ALIBABA_ENDPOINT": emulator.endpoint(REGION)}
    emulator.admin("POST", "functions", {"service": SERVICE, "function": FUNCTION, "environment": environment})

    result = fun_invoke(emulator, stub_url, tmp_path, f"{SERVICE}/{FUNCTION}", "-f", str(EVENTS / "timer.json"))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "template is not valid" not in result.stdout + result.stderr  # SERVICE/FUNCTION: no validation
    assert set(connections(result)) == {stub_url.removeprefix("http://")}
    assert seen == [f"GET {FC_PATH}/triggers", f"POST {FC_PATH}/invocations"]
    [invocation] = emulator.admin("GET", "invocations")
    assert (invocation["type"], invocation["status"]) == ("Sync", "succeeded"), invocation
    report = json.loads(invocation["result"])
    assert report["run"]["trigger"] == "timer:daily"  # the event file's content reached the handler
    assert [(k["key_id"], k["outcome"]) for k in report["keys"]] == [(key, "renewed")]
    assert cloud.describe(key).material_expire_time > time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 80 * 86400)
    )


def test_fun_invoke_exits_0_when_the_function_fails(
    tmp_path: Path, emulator: Any, list_triggers_stub: tuple[str, list[str]]
) -> None:
    # The function fails (its configuration file is missing): Function Compute answers 200 with
    # X-Fc-Error-Type, and fun only prints the result, inside the log tail real Function Compute
    # returns (lib/fc.js, invokeFunction). The README says to read the result, not the exit status.
    stub_url, _ = list_triggers_stub
    environment = {"RENEWER_CONFIG_FILE": str(tmp_path / "missing.yml"), "RENEWER_ALIBABA_ENDPOINT": "127.0.0.1:9"}
    emulator.admin("POST", "functions", {"service": SERVICE, "function": FUNCTION, "environment": environment})
    result = fun_invoke(emulator, stub_url, tmp_path, f"{SERVICE}/{FUNCTION}", "-f", str(EVENTS / "dry-run.json"))

    assert result.returncode == 0, result.stdout + result.stderr
    [invocation] = emulator.admin("GET", "invocations")
    assert invocation["status"] == "failed" and invocation["error"]["errorType"] == "ConfigError", invocation


def test_fun_invoke_with_a_function_name_alone_validates_the_template_and_stops(tmp_path: Path, emulator: Any) -> None:
    # Without SERVICE/, fun looks the function up in template.yml after validating it (invoke.js,
    # getAndVerifyTpl): python3.10 is refused before any request.
    result = fun_invoke(emulator, "http://127.0.0.1:9", tmp_path, FUNCTION, "-f", str(EVENTS / "dry-run.json"))

    assert result.returncode != 0
    assert "template is not valid" in result.stdout + result.stderr
    assert_no_connection(result)
    assert emulator.admin("GET", "invocations") == []


def test_function_runs_index_handler_on_python310(function_properties: dict) -> None:
    assert function_properties["Runtime"] == "python3.10"
    assert function_properties["Handler"] == "index.handler"
    assert function_properties["CodeUri"] == "./build/python3.10"
    assert function_properties["Timeout"] == 600
    assert function_properties["MemorySize"] == 512


def test_the_code_is_what_make_package_builds_with_the_configuration_it_names(
    tmp_path: Path, template: dict, function_properties: dict
) -> None:
    # CodeUri is the folder `make package` builds for the runtime (scripts/build-package.sh): the
    # function, its dependencies, and always the validated configuration as renewer.yml, what
    # RENEWER_CONFIG_FILE names. (Once a ConfigFile parameter defaulted to a file nothing shipped.)
    runtime = function_properties["Runtime"]
    assert function_properties["CodeUri"] == f"./build/{runtime}"
    env = function_properties["EnvironmentVariables"]
    assert env == {"RENEWER_CONFIG_FILE": "renewer.yml", "RENEWER_ALIBABA_ENDPOINTS": ""}
    assert "ConfigFile" not in template["Parameters"]

    result = build_package(tmp_path / "build")  # without --deps: nothing is downloaded

    assert result.returncode == 0, result.stderr
    code = tmp_path / "build" / runtime
    assert (code / "index.py").is_file()
    assert (code / env["RENEWER_CONFIG_FILE"]).read_bytes() == EXAMPLE_CONFIG.read_bytes()


def test_asynchronous_invocations_are_not_retried(function_properties: dict) -> None:
    # Timer runs are asynchronous; Function Compute retries a failed one 3 times unless told otherwise.
    assert function_properties["AsyncConfiguration"] == {"MaxAsyncRetryAttempts": 0}


def test_a_daily_timer_sends_the_default_options(template: dict) -> None:
    events = template["Resources"][SERVICE][FUNCTION]["Events"]
    timers = {name: event for name, event in events.items() if event["Type"] == "Timer"}
    assert list(timers) == [TIMER_EVENT]
    assert timers[TIMER_EVENT]["Properties"] == {"CronExpression": "0 0 3 * * *", "Enable": True, "Payload": "{}"}


def readme_section(heading: str) -> str:
    """The README's text under `heading`, up to the next heading."""
    text = README.read_text(encoding="utf-8")
    assert f"\n{heading}\n" in text, f"README.md has no {heading!r}"
    section = text.split(f"\n{heading}\n", 1)[1]
    return re.split(r"\n#{1,3} ", section, maxsplit=1)[0]


def readme_ram_grants() -> set[tuple[str, str]]:
    """(action, resource) pairs of the README's RAM table: each action of a row on each resource of
    its resource column (backticked), or on the one it names in parentheses (`kms:ListKeys` (`*`))."""
    grants = set()
    for row in readme_section(RAM_TABLE_HEADING).splitlines():
        if not row.startswith("| `"):
            continue
        actions, resources = (cell.strip() for cell in row.strip("|").split("|")[:2])
        for match in re.finditer(r"`([a-z]+:[A-Za-z]+)`(?:\s*\(`([^`]+)`\))?", actions):
            for resource in [match[2]] if match[2] else re.findall(r"`([^`]+)`", resources):
                grants.add((match[1], resource))
    assert grants, "no grants in the README's RAM table"
    return grants


def as_fun_grants(resource: str, service: dict) -> Any:
    """A resource of the README's table (the account stack's role, for s.yaml's FC 3.0 function) as
    template.yml grants it: the same parameters, its own log names, Function Compute 2.0's form of
    its function (a service, no qualifier), any region and account (as fun itself writes it)."""
    log = service["LogConfig"]
    if re.fullmatch(r"[A-Z][A-Za-z]+", resource):  # a parameter of both templates
        return {"Ref": resource}
    if resource == "*":
        return "*"
    if resource == "acs:log:REGION:ACCOUNT:project/LogProjectName/logstore/LogStoreName":
        return f"acs:log:*:*:project/{log['Project']}/logstore/{log['Logstore']}"
    if resource in ("acs:fc:REGION:ACCOUNT:functions/FunctionName", "acs:fc:REGION:ACCOUNT:functions/FunctionName/*"):
        return f"acs:fc:*:*:services/{SERVICE}/functions/{FUNCTION}"
    pytest.fail(f"the README's RAM table names {resource!r}: say here how template.yml grants it")


def test_policy_grants_exactly_the_readme_ram_table(template: dict) -> None:
    service = template["Resources"][SERVICE]["Properties"]
    assert "Role" not in service, "a Role would make fun and ROS ignore Policies"
    statements = [statement for policy in service["Policies"] for statement in policy["Statement"]]

    grants: set[tuple[str, str]] = set()
    for statement in statements:
        assert set(statement) == {"Effect", "Action", "Resource"} and statement["Effect"] == "Allow", statement
        resource = json.dumps(statement["Resource"], sort_keys=True)
        for action in statement["Action"]:
            assert "*" not in action, f"wildcard action {action!r}"
            assert (action, resource) not in grants, f"{action} on {resource} is granted twice"
            grants.add((action, resource))
    expected = {(action, json.dumps(as_fun_grants(r, service), sort_keys=True)) for action, r in readme_ram_grants()}
    assert grants == expected
    # The fan-out grant is unconditional here (the account stack's is not): section 5 says why.
    assert "`fc:InvokeFunction`" in readme_section(FUN_SECTION_HEADING)


def test_resource_patterns_default_to_kms_keys_and_byok_secrets(template: dict) -> None:
    parameters = template["Parameters"]
    assert parameters["KmsKeyArnPattern"]["Default"] == "acs:kms:*:*:key/*"
    assert parameters["SecretArnPattern"]["Default"] == "acs:kms:*:*:secret/byok/*"
    assert parameters["SecretKeyArnPattern"]["Default"] == "acs:kms:*:*:key/*"
    for name in ("KmsKeyArnPattern", "SecretArnPattern", "SecretKeyArnPattern"):
        assert parameters[name]["Type"] == "CommaDelimitedList"


def test_logs_go_to_a_logstore_defined_in_the_template(template: dict) -> None:
    log_config = template["Resources"][SERVICE]["Properties"]["LogConfig"]
    project = template["Resources"][log_config["Project"]]
    assert project["Type"] == "Aliyun::Serverless::Log"
    assert project[log_config["Logstore"]]["Type"] == "Aliyun::Serverless::Log::Logstore"


def test_events_folder_has_the_documented_examples() -> None:
    assert {path.name for path in EVENTS.glob("*.json")} == EXPECTED_EVENT_FILES
    readme = (EVENTS / "README.md").read_text(encoding="utf-8")
    for name in EXPECTED_EVENT_FILES:
        assert f"`{name}`" in readme, f"events/README.md does not describe {name}"


@pytest.mark.parametrize("path", sorted(EVENTS.glob("*.json")), ids=lambda path: path.name)
def test_event_file_is_valid_json(path: Path) -> None:
    # malformed.json too: its options are invalid, its JSON is not.
    event = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(event, dict)


def test_timer_event_matches_the_trigger_in_the_template(template: dict) -> None:
    event = json.loads((EVENTS / "timer.json").read_text(encoding="utf-8"))
    timer = template["Resources"][SERVICE][FUNCTION]["Events"][TIMER_EVENT]
    assert event["triggerName"] == TIMER_EVENT
    assert event["payload"] == timer["Properties"]["Payload"]


def requirement_lines(path: Path) -> tuple[list[str], list[str]]:
    """A requirements file's `-r` includes and its requirements, in order (comments and blanks left out)."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    includes = [line.removeprefix("-r").strip() for line in lines if line.startswith("-r ")]
    return includes, [line for line in lines if not line.startswith("-")]


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_function_requirements_are_the_dependencies_pyproject_declares(project: dict) -> None:
    assert requirement_lines(FUNCTION_DIR / "requirements.txt") == ([], project["dependencies"])
    extras = project["optional-dependencies"]
    for extra in EXTRAS:
        assert requirement_lines(FUNCTION_DIR / f"requirements-{extra}.txt") == (["requirements.txt"], extras[extra])
    assert extras["all"] == [f"byok-renewer[{','.join(EXTRAS)}]"]


def test_the_default_package_is_alibaba_only() -> None:
    # make package installs function/requirements.txt plus each extra's; boto3, python-pkcs11 and gmalg
    # are imported only when configured (tests/function/test_aws.py checks boto3,
    # tests/unit/test_sm2_wrapping.py gmalg), so only extras bring them.
    _, requirements = requirement_lines(FUNCTION_DIR / "requirements.txt")
    names = {re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower() for requirement in requirements}
    assert names.isdisjoint({"boto3", "botocore", "python-pkcs11", "gmalg"})


def build_package(out: Path, *extras: str) -> subprocess.CompletedProcess[str]:
    """scripts/build-package.sh with the example configuration, into `out`, without --deps."""
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "BUILD_DIR": str(out),
        "CONFIG": str(EXAMPLE_CONFIG),
        "PYTHON": sys.executable,
    }
    return subprocess.run(
        ["bash", str(BUILD_PACKAGE), *extras], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    "extras", [(), ("aws",), ("pkcs11",), ("sm2",), EXTRAS], ids=lambda extras: "+".join(extras) or "none"
)
def test_build_package_lays_out_build_function_with_the_extras_requirements(
    tmp_path: Path, project: dict, extras: tuple[str, ...]
) -> None:
    out = tmp_path / "build"
    result = build_package(out, *extras)

    assert result.returncode == 0, result.stderr
    expected = list(project["dependencies"])
    for extra in extras:
        expected += project["optional-dependencies"][extra]
    assert requirement_lines(out / "function" / "requirements.txt") == ([], expected)
    assert (out / "template.yml").read_text(encoding="utf-8") == TEMPLATE.read_text(encoding="utf-8")
    copied = {path.relative_to(out / "function") for path in (out / "function").rglob("*.py")}
    assert Path("index.py") in copied and Path("renewer/entry/handler.py") in copied
    assert not list(out.rglob("__pycache__"))


def test_build_package_refuses_an_unknown_extra(tmp_path: Path) -> None:
    result = build_package(tmp_path / "build", "aws", "boto")
    assert result.returncode == 2
    assert "unknown extra 'boto'" in result.stderr
    assert not (tmp_path / "build").exists()

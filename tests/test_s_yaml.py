"""s.yaml, checked offline: rendered by the pinned `s preview` and held to the fc3 component's schema facts
and the project's rules (scripts/check_s_yaml.py); deliberately broken copies must fail; and what it
names (handler, code folder, timeout, environment, timer event) must agree with the function's code.

`s` comes from node_modules/ (pinned in package.json, installed by `npm ci`); a missing one fails
these tests, it never skips them. Every render runs in a temporary folder with its own HOME and the
CLI's background update checks and usage reports off: nothing but the local disk is touched.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from check_s_yaml import Problem, check  # noqa: E402
from s_preview import S_CLI, RenderError, render  # noqa: E402

from renewer import settings  # noqa: E402
from renewer.entry.events import Options, parse_event  # noqa: E402
from renewer.entry.handler import DEFAULT_TIMEOUT_SECONDS  # noqa: E402

S_YAML = REPO / "s.yaml"
CHECKER = REPO / "scripts" / "check_s_yaml.py"
S_VERSION = "3.1.10"
# What the account stack (infra/) hands over; nothing is contacted with these.
ENV = {"BYOK_ROLE_ARN": "acs:ram::123456789012:role/byok-renewer", "BYOK_LOG_PROJECT": "byok-renewer-logs"}
PROPS = "resources.renewer.props"


def s_cli() -> Path:
    if not os.access(S_CLI, os.X_OK):
        pytest.fail(f"{S_CLI} is missing: run `make test` (npm ci) first; CI installs it before the tests")
    return S_CLI


def rendered_copy(text: str, **env: str) -> dict[str, Any]:
    return render(text, {**ENV, **env}, s_cli=s_cli())


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return rendered_copy(S_YAML.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def props(document: dict[str, Any]) -> dict[str, Any]:
    return document["resources"]["renewer"]["props"]


def wheres(problems: list[Problem]) -> list[str]:
    return [problem.where for problem in problems]


def test_s_is_the_version_package_json_pins(tmp_path: Path) -> None:
    pinned = json.loads((REPO / "package.json").read_text(encoding="utf-8"))["devDependencies"]
    assert pinned["@serverless-devs/s"] == S_VERSION
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(tmp_path), "NODE_ENV": "test"}
    result = subprocess.run([str(s_cli()), "--version"], env=env, capture_output=True, text=True, timeout=60)
    assert f"@serverless-devs/s: {S_VERSION}," in result.stdout


def test_the_real_s_yaml_passes(document: dict[str, Any]) -> None:
    assert check(document) == []


def test_defaults_and_what_comes_from_the_account_stack(props: dict[str, Any]) -> None:
    assert props["region"] == "cn-hangzhou"
    assert (props["runtime"], props["code"]) == ("python3.10", "./build/python3.10")
    assert props["role"] == ENV["BYOK_ROLE_ARN"]
    assert props["logConfig"]["project"] == ENV["BYOK_LOG_PROJECT"]
    assert props["logConfig"]["logstore"] == "renewer"
    assert props["asyncInvokeConfig"] == {"maxAsyncRetryAttempts": 0, "destinationConfig": {}}


def test_python312_is_supported_with_its_own_code_folder() -> None:
    document = rendered_copy(S_YAML.read_text(encoding="utf-8"), BYOK_RUNTIME="python3.12")
    assert check(document) == []
    assert document["resources"]["renewer"]["props"]["code"] == "./build/python3.12"


def test_an_on_failure_destination_can_be_named() -> None:
    destination = "acs:mns:cn-hangzhou:123456789012:/topics/byok-renewer-failed/messages"
    text = S_YAML.read_text(encoding="utf-8").replace(
        "asyncDestinationConfig: {}", f"asyncDestinationConfig: {{onFailure: {{destination: '{destination}'}}}}"
    )
    document = rendered_copy(text)
    assert check(document) == []
    async_config = document["resources"]["renewer"]["props"]["asyncInvokeConfig"]
    assert async_config["destinationConfig"] == {"onFailure": {"destination": destination}}


@pytest.mark.parametrize("missing", ["BYOK_ROLE_ARN", "BYOK_LOG_PROJECT"])
def test_without_the_role_or_the_log_project_s_refuses_to_render(missing: str) -> None:
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(RenderError, match=missing):
        render(S_YAML.read_text(encoding="utf-8"), env, s_cli=s_cli())


# Broken copies of the real file, rendered by `s` like the real one: (what is replaced, by what, the
# environment, where the check must complain).
BROKEN = {
    "runtime fc3 does not know": ("", "", {"BYOK_RUNTIME": "python3.11"}, f"{PROPS}.runtime"),
    "runtime fc3 knows, the package does not": ("", "", {"BYOK_RUNTIME": "python3.9"}, f"{PROPS}.runtime"),
    "region fc3 does not deploy to": ("", "", {"BYOK_REGION": "cn-nowhere"}, f"{PROPS}.region"),
    "role name, not an ARN": ("", "", {"BYOK_ROLE_ARN": "byok-renewer"}, f"{PROPS}.role"),
    "timeout over fc3's maximum": ("timeout: 600", "timeout: 86401", {}, f"{PROPS}.timeout"),
    "timeout as a string": ("timeout: 600", "timeout: '600'", {}, f"{PROPS}.timeout"),
    "memory not a multiple of 64": ("memorySize: 512", "memorySize: 500", {}, f"{PROPS}.memorySize"),
    "memory over fc3's maximum": ("memorySize: 512", "memorySize: 65536", {}, f"{PROPS}.memorySize"),
    "required handler missing": ("      handler: index.handler\n", "", {}, f"{PROPS}.handler"),
    "misspelt field": ("      timeout: 600", "      timeOut: 600", {}, f"{PROPS}.timeOut"),
    "misspelt trigger field": ("cronExpression:", "cron:", {}, f"{PROPS}.triggers[0].triggerConfig.cron"),
    "trigger type fc3 does not know": (
        "triggerType: timer",
        "triggerType: cron",
        {},
        f"{PROPS}.triggers[0].triggerType",
    ),
    "log rule fc3 does not know": (
        "logBeginRule: 'None'",
        "logBeginRule: Date",
        {},
        f"{PROPS}.logConfig.logBeginRule",
    ),
    "log lines joined by date": (
        "logBeginRule: 'None'",
        "logBeginRule: DefaultRegex",
        {},
        f"{PROPS}.logConfig.logBeginRule",
    ),
    "cron with five fields": ("'0 0 3 * * *'", "'0 3 * * *'", {}, f"{PROPS}.triggers[0].triggerConfig.cronExpression"),
    "timer disabled": ("enable: true", "enable: false", {}, f"{PROPS}.triggers[0].triggerConfig.enable"),
    "payload not JSON": ("payload: '{}'", "payload: 'dry run'", {}, f"{PROPS}.triggers[0].triggerConfig.payload"),
    "payload JSON the function refuses": (
        "payload: '{}'",
        """payload: '{"dryrun": true}'""",
        {},
        f"{PROPS}.triggers[0].triggerConfig.payload",
    ),
    "daily run as a dry run": (
        "payload: '{}'",
        """payload: '{"dryRun": true}'""",
        {},
        f"{PROPS}.triggers[0].triggerConfig.payload",
    ),
    "timer runs retried": (
        "maxAsyncRetryAttempts: 0",
        "maxAsyncRetryAttempts: 3",
        {},
        f"{PROPS}.asyncInvokeConfig.maxAsyncRetryAttempts",
    ),
    "retries over fc3's maximum": (
        "maxAsyncRetryAttempts: 0",
        "maxAsyncRetryAttempts: 9",
        {},
        f"{PROPS}.asyncInvokeConfig.maxAsyncRetryAttempts",
    ),
    "retries left to fc3's default": (
        "        maxAsyncRetryAttempts: 0\n",
        "",
        {},
        f"{PROPS}.asyncInvokeConfig.maxAsyncRetryAttempts",
    ),
    "empty on-failure destination": (
        "asyncDestinationConfig: {}",
        "asyncDestinationConfig: {onFailure: {destination: ''}}",
        {},
        f"{PROPS}.asyncInvokeConfig.destinationConfig.onFailure.destination",
    ),
    "configuration text replacing the packaged file": (
        "        RENEWER_CONFIG_FILE: renewer.yml\n",
        "        RENEWER_CONFIG_FILE: renewer.yml\n        RENEWER_CONFIG: '{}'\n",
        {},
        f"{PROPS}.environmentVariables.RENEWER_CONFIG",
    ),
    "code folder of another runtime": (
        "code: ./build/${vars.runtime}",
        "code: ./build/python3.12",
        {},
        f"{PROPS}.code",
    ),
    "not the fc3 component": ("component: fc3", "component: fc", {}, "resources.renewer.component"),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_a_broken_copy_fails_the_check(case: str) -> None:
    old, new, env, where = BROKEN[case]
    text = S_YAML.read_text(encoding="utf-8")
    assert old in text, f"the case no longer matches s.yaml: {old!r}"
    problems = check(rendered_copy(text.replace(old, new, 1), **env))
    assert where in wheres(problems), problems


def test_another_edition_is_refused() -> None:
    text = S_YAML.read_text(encoding="utf-8").replace("edition: 3.0.0", "edition: 2.0.0")
    with pytest.raises(RenderError, match="Not support template"):  # s itself: no JSON, exit status 0
        rendered_copy(text)


def test_unknown_fields_are_refused_at_every_level(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    broken["extend"] = "base.yaml"
    broken["edition"] = "2.0.0"
    props = broken["resources"]["renewer"]["props"]
    props["cpu"] = 0.35  # valid for fc3, but no rule here says what it does to this function
    props["logConfig"]["enableInstanceMetric"] = True
    props["asyncInvokeConfig"]["destinationConfig"]["onError"] = {"destination": "acs:mns:x"}
    found = wheres(check(broken))
    assert "extend" in found
    assert "edition" in found
    assert f"{PROPS}.cpu" in found
    assert f"{PROPS}.logConfig.enableInstanceMetric" in found
    assert f"{PROPS}.asyncInvokeConfig.destinationConfig.onError" in found


def test_the_checker_command_passes_fails_and_refuses(tmp_path: Path) -> None:
    s_cli()
    broken = tmp_path / "s.yaml"
    broken.write_text(S_YAML.read_text(encoding="utf-8").replace("timeout: 600", "timeout: 0"), encoding="utf-8")
    base = {"PATH": os.environ.get("PATH", os.defpath)}

    def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(CHECKER), *args]
        return subprocess.run(command, env={**base, **env}, capture_output=True, text=True, timeout=120)

    assert run(env=ENV).returncode == 0
    failed = run(str(broken), env=ENV)
    assert failed.returncode == 1
    assert f"{PROPS}.timeout: 0 is below the minimum 1" in failed.stderr
    refused = run(env={})
    assert refused.returncode == 2
    assert "BYOK_ROLE_ARN" in refused.stderr


# What s.yaml names must be what the function is.


def test_the_handler_is_the_functions_entry_point(props: dict[str, Any]) -> None:
    module, _, attribute = props["handler"].partition(".")
    tree = ast.parse((REPO / "function" / f"{module}.py").read_text(encoding="utf-8"))
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert attribute in imported  # index.py: from renewer.entry.handler import handler


def test_the_timeout_is_the_functions_default_deadline(props: dict[str, Any]) -> None:
    assert props["timeout"] == DEFAULT_TIMEOUT_SECONDS


def settings_reads() -> set[str]:
    """The environment variables renewer/settings.py reads: env.get("X"...) and env["X"]."""
    tree = ast.parse((REPO / "function" / "renewer" / "settings.py").read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            target, args = node.func.value, node.args
        elif isinstance(node, ast.Subscript):
            target, args = node.value, [node.slice]
        else:
            continue
        if isinstance(target, ast.Name) and target.id == "env" and args and isinstance(args[0], ast.Constant):
            names.add(args[0].value)
    return names


def test_the_environment_names_only_variables_the_function_reads(props: dict[str, Any]) -> None:
    reads = settings_reads()
    assert {"RENEWER_CONFIG", "RENEWER_CONFIG_FILE", "RENEWER_ALIBABA_ENDPOINTS"} <= reads  # the parse works
    assert set(props["environmentVariables"]) <= reads
    assert props["environmentVariables"]["RENEWER_CONFIG_FILE"] == settings.DEFAULT_CONFIG_FILE.name


def test_the_environment_is_one_the_function_accepts(props: dict[str, Any]) -> None:
    environ = dict(props["environmentVariables"])
    environ["RENEWER_CONFIG_FILE"] = str(REPO / "function" / "renewer.example.yml")  # the packaged copy
    settings.from_environ(environ)


def test_a_timer_run_is_what_the_manual_run_sends(props: dict[str, Any]) -> None:
    # README: `s invoke -e "$(cat events/timer.json)"` starts the run the timer would.
    (trigger,) = props["triggers"]
    event = json.loads((REPO / "events" / "timer.json").read_text(encoding="utf-8"))
    assert event["triggerName"] == trigger["triggerName"]
    assert event["payload"] == trigger["triggerConfig"]["payload"]
    assert parse_event(json.dumps(event)) == Options(trigger=f"timer:{trigger['triggerName']}")

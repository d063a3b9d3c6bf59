"""Checks template.yml with the real Funcraft CLI, its least-privilege policy against the README's
RAM table, and events/; that its code is the package `make package` builds, with the configuration,
from the Alibaba-only runtime pyproject.toml declares.

`fun` comes from node_modules/, installed by scripts/install-fun.sh (pinned 3.6.24). `fun validate`
runs offline: it checks the template against a JSON schema bundled with fun.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

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
EXTRAS = ("aws", "pkcs11")
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
    # make package installs function/requirements.txt plus each extra's; boto3 and python-pkcs11 are
    # imported only when configured (tests/function/test_aws.py checks boto3), so only extras bring them.
    _, requirements = requirement_lines(FUNCTION_DIR / "requirements.txt")
    names = {re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower() for requirement in requirements}
    assert names.isdisjoint({"boto3", "botocore", "python-pkcs11"})


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


@pytest.mark.parametrize("extras", [(), ("aws",), ("pkcs11",), EXTRAS], ids=lambda extras: "+".join(extras) or "none")
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

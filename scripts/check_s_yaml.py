"""Check s.yaml before it is deployed: ``python scripts/check_s_yaml.py [FILE]`` (``make check-s-yaml``).

The file is rendered by the pinned Serverless Devs CLI (``s preview``, see :mod:`s_preview`) in the
caller's environment (the ``BYOK_*`` variables ``s deploy`` would read), then held to:

1. the Serverless Devs 3 document: ``edition: 3.0.0`` (anything else is read as the 1.x/2.x format,
   whose ``services`` 3.x replaced by ``resources``), ``name``, ``access``, ``vars``, and resources
   of ``component`` and ``props`` (github Serverless-Devs/toolkit, packages/parse-spec/src);
2. the fc3 component's schema, for every field the project uses (:mod:`fc3_facts`): names, types,
   enums, ranges, required fields; any other field is refused (fc3 itself would ignore it);
3. the project's own rules (:func:`project_problems`): what ``make package`` builds, what the function
   reads, a daily timer whose payload the function accepts and that is never retried.

Exit status 0 when it passes, 1 with one line per problem, 2 when the file cannot be rendered.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fc3_facts import PROPS, Kind, Rule
from s_preview import REPO, RenderError, render

sys.path.insert(0, str(REPO / "function"))

from renewer.entry.events import Options, parse_event
from renewer.errors import EventError

SERVERLESS_DEVS = "Serverless-Devs/toolkit packages/parse-spec"
FC_DOCS = "Alibaba Cloud docs, Function Compute 3.0"
PROJECT = "this project"

RUNTIMES = ("python3.10", "python3.12")  # what `make package` builds a code folder for
HANDLER = "index.handler"  # function/index.py
CONFIG_FILE = "renewer.yml"  # where scripts/build-package.sh puts the validated configuration
# fc3 src/resources/ram/index.ts (Role.isRoleArnFormat): anything else is taken for a role name and
# completed with the account id, which needs credentials at deploy time.
ROLE_ARN_RE = re.compile(r"^acs:ram::\d+:role/.+")
# FC 3.0 API, CreateFunctionInput.functionName: letters, digits, '_' and '-', not starting with a
# digit or '-', 1 to 64 characters.
FUNCTION_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
MAX_ENVIRONMENT_BYTES = 4 * 1024  # FC limits: environment variables, 4 KB in all
MAX_ASYNC_PAYLOAD_BYTES = 128 * 1024  # FC limits: an asynchronous invocation's payload
CRON_FIELDS = 6  # FC time triggers: seconds minutes hours day-of-month month day-of-week (UTC)


@dataclass(frozen=True)
class Problem:
    where: str
    message: str
    source: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message} [{self.source}]"


def check(document: Mapping[str, Any]) -> list[Problem]:
    """Every problem of a rendered s.yaml; empty when it passes."""
    problems = _document_problems(document)
    for name, resource in _resources(document):
        props = resource.get("props")
        where = f"resources.{name}.props"
        found = validate(props, PROPS, where)
        problems += found
        if isinstance(props, dict):
            problems += project_problems(props, where)
    return problems


def validate(value: Any, rule: Rule, where: str) -> list[Problem]:
    """``value`` held to ``rule`` (and, for a mapping, each field to its own)."""
    if not _is_kind(value, rule.kind):
        return [Problem(where, f"expected {rule.kind.value}, got {_show(value)}", rule.source)]
    problems = []
    if rule.enum and value not in rule.enum:
        problems.append(Problem(where, f"{_show(value)} is not one of {', '.join(map(str, rule.enum))}", rule.source))
    if rule.minimum is not None and value < rule.minimum:
        problems.append(Problem(where, f"{value} is below the minimum {rule.minimum:g}", rule.source))
    if rule.maximum is not None and value > rule.maximum:
        problems.append(Problem(where, f"{value} is above the maximum {rule.maximum:g}", rule.source))
    if rule.multiple_of is not None and value % rule.multiple_of:
        problems.append(Problem(where, f"{value} is not a multiple of {rule.multiple_of}", rule.source))
    if rule.kind is Kind.OBJECT:
        problems += _fields(value, rule, where)
    elif rule.kind in (Kind.ARRAY, Kind.MAP) and rule.items is not None:
        items = enumerate(value) if rule.kind is Kind.ARRAY else value.items()
        for key, item in items:
            problems += validate(item, rule.items, f"{where}[{key}]" if rule.kind is Kind.ARRAY else f"{where}.{key}")
    return problems


def _fields(value: dict[str, Any], rule: Rule, where: str) -> list[Problem]:
    problems = [
        Problem(f"{where}.{name}", "unknown field (misspelt, or a field this check has no rule for)", rule.source)
        for name in value
        if name not in rule.fields
    ]
    problems += [
        Problem(f"{where}.{name}", "required field is missing", rule.source)
        for name in rule.required
        if name not in value
    ]
    for name, sub in rule.fields.items():
        if name in value:
            problems += validate(value[name], sub, f"{where}.{name}")
    return problems


def _is_kind(value: Any, kind: Kind) -> bool:
    if kind is Kind.STRING:
        return isinstance(value, str)
    if kind is Kind.BOOLEAN:
        return isinstance(value, bool)
    if kind is Kind.INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is Kind.NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if kind is Kind.ARRAY:
        return isinstance(value, list)
    return isinstance(value, dict)  # OBJECT, MAP


def _document_problems(document: Mapping[str, Any]) -> list[Problem]:
    problems = [
        Problem(key, "unknown top-level field", SERVERLESS_DEVS)
        for key in document
        if key not in ("edition", "name", "access", "vars", "resources")
    ]
    if document.get("edition") != "3.0.0":
        problems.append(Problem("edition", f"must be '3.0.0', got {_show(document.get('edition'))}", SERVERLESS_DEVS))
    for key in ("name", "access"):
        if not isinstance(document.get(key), str) or not document[key]:
            problems.append(Problem(key, "expected a non-empty string", SERVERLESS_DEVS))
    if not isinstance(document.get("vars", {}), dict):
        problems.append(Problem("vars", "expected a mapping", SERVERLESS_DEVS))
    resources = document.get("resources")
    if not isinstance(resources, dict) or len(resources) != 1:
        problems.append(Problem("resources", "expected exactly one resource: the function", PROJECT))
        return problems
    for name, resource in resources.items():
        if not isinstance(resource, dict):
            problems.append(Problem(f"resources.{name}", "expected a mapping", SERVERLESS_DEVS))
            continue
        problems += [
            Problem(f"resources.{name}.{key}", "unknown field", SERVERLESS_DEVS)
            for key in resource
            if key not in ("component", "props")
        ]
        if resource.get("component") != "fc3":
            problems.append(Problem(f"resources.{name}.component", "must be fc3", PROJECT))
        if "props" not in resource:
            problems.append(Problem(f"resources.{name}.props", "required field is missing", SERVERLESS_DEVS))
    return problems


def _resources(document: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    resources = document.get("resources")
    if not isinstance(resources, dict):
        return []
    return [(name, res) for name, res in resources.items() if isinstance(res, dict) and "props" in res]


def project_problems(props: Mapping[str, Any], where: str) -> list[Problem]:
    """What fc3 would accept but this function cannot use (each rule says why)."""
    problems: list[Problem] = []

    def need(ok: bool, field: str, message: str, source: str = PROJECT) -> None:
        if not ok:
            problems.append(Problem(f"{where}.{field}", message, source))

    runtime = props.get("runtime")
    need(runtime in RUNTIMES, "runtime", f"must be {' or '.join(RUNTIMES)} (what `make package` builds for)")
    need(props.get("handler") == HANDLER, "handler", f"must be {HANDLER} (function/index.py)")
    need(
        props.get("code") == f"./build/{runtime}",
        "code",
        f"must be ./build/{runtime}, the folder `make package RUNTIME={runtime}` builds",
    )
    need(
        isinstance(props.get("role"), str) and bool(ROLE_ARN_RE.match(props["role"])),
        "role",
        f"expected a role ARN acs:ram::ACCOUNT:role/NAME, got {_show(props.get('role'))}",
        "devsapp/fc3 src/resources/ram/index.ts",
    )
    name = props.get("functionName")
    need(
        isinstance(name, str) and bool(FUNCTION_NAME_RE.match(name)),
        "functionName",
        "1 to 64 letters, digits, '_' or '-', not starting with a digit or '-'",
        f"{FC_DOCS}, CreateFunctionInput",
    )
    log_config = props.get("logConfig")
    need(
        isinstance(log_config, dict) and log_config.get("logBeginRule") == "None",
        "logConfig.logBeginRule",
        "must be 'None': each line the function prints is one JSON entry, as the logstore's index reads it",
    )
    problems += _environment_problems(props.get("environmentVariables"), f"{where}.environmentVariables")
    problems += _trigger_problems(props.get("triggers"), f"{where}.triggers")
    problems += _async_problems(props.get("asyncInvokeConfig"), f"{where}.asyncInvokeConfig")
    return problems


def _environment_problems(env: Any, where: str) -> list[Problem]:
    if not isinstance(env, dict):
        return [Problem(where, "required: RENEWER_CONFIG_FILE names the packaged configuration", PROJECT)]
    problems = []
    if env.get("RENEWER_CONFIG_FILE") != CONFIG_FILE:
        problems.append(Problem(f"{where}.RENEWER_CONFIG_FILE", f"must be {CONFIG_FILE}, the validated copy", PROJECT))
    if "RENEWER_CONFIG" in env:
        problems.append(Problem(f"{where}.RENEWER_CONFIG", "would replace the validated renewer.yml", PROJECT))
    size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in env.items())
    if size > MAX_ENVIRONMENT_BYTES:
        problems.append(Problem(where, f"{size} bytes, more than {MAX_ENVIRONMENT_BYTES}", f"{FC_DOCS} limits"))
    return problems


def _trigger_problems(triggers: Any, where: str) -> list[Problem]:
    if not isinstance(triggers, list) or len(triggers) != 1 or not isinstance(triggers[0], dict):
        return [Problem(where, "expected exactly one trigger: the daily timer", PROJECT)]
    trigger, where = triggers[0], f"{where}[0]"
    if trigger.get("triggerType") != "timer":
        return [Problem(f"{where}.triggerType", "must be timer", PROJECT)]
    config = trigger.get("triggerConfig")
    if not isinstance(config, dict):
        return []  # the schema rule reports it
    problems = []
    if config.get("enable") is not True:
        problems.append(Problem(f"{where}.triggerConfig.enable", "must be true: no timer, no renewals", PROJECT))
    cron = config.get("cronExpression")
    if isinstance(cron, str) and len(cron.split()) != CRON_FIELDS:
        problems.append(
            Problem(
                f"{where}.triggerConfig.cronExpression",
                f"expected {CRON_FIELDS} fields (seconds first), got {_show(cron)}",
                f"{FC_DOCS}, time triggers",
            )
        )
    payload = config.get("payload", "")
    if isinstance(payload, str):
        problems += _payload_problems(payload, trigger.get("triggerName"), f"{where}.triggerConfig.payload")
    return problems


def _payload_problems(payload: str, trigger_name: Any, where: str) -> list[Problem]:
    """The event a timer run gets must be one the function takes, with the defaults (a daily run)."""
    if len(payload.encode()) > MAX_ASYNC_PAYLOAD_BYTES:
        return [Problem(where, f"larger than {MAX_ASYNC_PAYLOAD_BYTES} bytes", f"{FC_DOCS} limits")]
    event = {"triggerTime": "2026-01-01T03:00:00Z", "triggerName": trigger_name, "payload": payload}
    try:
        options = parse_event(event)
    except EventError as exc:
        return [Problem(where, f"the function refuses it: {exc.message}", "renewer.entry.events")]
    daily = Options(trigger=options.trigger)
    if options != daily:
        return [Problem(where, f"must leave every option at its default for a daily run, got {payload!r}", PROJECT)]
    return []


def _async_problems(config: Any, where: str) -> list[Problem]:
    if not isinstance(config, dict) or "maxAsyncRetryAttempts" not in config:
        return [Problem(f"{where}.maxAsyncRetryAttempts", "required: fc3's default is 3 retries", PROJECT)]
    problems = []
    if config["maxAsyncRetryAttempts"] != 0:
        problems.append(Problem(f"{where}.maxAsyncRetryAttempts", "must be 0: a failed run is never retried", PROJECT))
    destinations = config.get("destinationConfig")
    if isinstance(destinations, dict):
        for kind, destination in destinations.items():
            target = destination.get("destination") if isinstance(destination, dict) else None
            if not isinstance(target, str) or not target.startswith("acs:"):
                problems.append(
                    Problem(f"{where}.destinationConfig.{kind}.destination", "expected an ARN (acs:...)", PROJECT)
                )
    return problems


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", type=Path, default=REPO / "s.yaml")
    args = parser.parse_args(argv)
    try:
        document = render(args.file.read_text(encoding="utf-8"), dict(os.environ))
    except (OSError, RenderError) as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return 2
    problems = check(document)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print(f"{args.file}: passes (fc3 schema facts and the project's rules)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The account stack (infra/, ROS CDK for Python), synthesised offline by ROS CDK itself, then held
against what the function really does:

- the RAM role grants exactly the README's "RAM policy (least privilege)" table, row by row, the
  fan-out row only with FanoutEnabled=true;
- every alarm rule names a metric the function emits (found by running renewer.run.metrics.build,
  never from a copy of the names), with the dimensions it emits, and every metric is alarmed;
- the log index covers keys that renewer.run.executor.log_key really writes, and the README's
  "failed keys" query asks for exactly the outcomes the report counts as problems.

Synthesis needs Node.js (jsii runs the CDK's JavaScript locally); without it these tests fail, they
are not skipped.
"""

from __future__ import annotations

import ast
import json
import logging
import operator
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from renewer import logs
from renewer.run import metrics
from renewer.run.executor import log_key
from renewer.run.report import PROBLEMS, Done, KeyResult, MaterialCheck, Outcome

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "infra" / "app.py"
README = ROOT / "README.md"
NOW = 1_800_000_000.0


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=180, cwd=ROOT)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("cdk.out")
    proc = _python(str(APP), "--outdir", str(out))
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(Path(proc.stdout.strip().splitlines()[-1]).read_text())


def resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == type_}


# ---- a small reader of the intrinsic functions the template uses --------------------------------


def holds(template: dict[str, Any], resource: dict[str, Any], params: dict[str, str]) -> bool:
    """Whether ``resource`` is created with these parameter values (its Condition, if any)."""
    name = resource.get("Condition")
    return True if name is None else bool(evaluate(template["Conditions"][name], params))


def evaluate(expr: Any, params: dict[str, Any]) -> Any:
    if isinstance(expr, list):
        return [evaluate(e, params) for e in expr]
    if not isinstance(expr, dict):
        return expr
    ((fn, arg),) = expr.items()
    if fn == "Ref":
        return params[arg]
    if fn == "Fn::Equals":
        left, right = evaluate(arg, params)
        return left == right
    if fn == "Fn::Str":
        return str(evaluate(arg, params))
    if fn == "Fn::Calculate":
        text, ndigits, values = arg
        return round(_arithmetic(text.format(*evaluate(values, params))), ndigits)
    raise AssertionError(f"the test's reader does not know {fn}")


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _arithmetic(text: str) -> float:
    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        raise AssertionError(f"not arithmetic: {text}")

    return walk(ast.parse(text, mode="eval").body)


def defaults(template: dict[str, Any]) -> dict[str, Any]:
    return {name: p.get("Default") for name, p in template["Parameters"].items()}


def readme_form(resource: Any) -> list[str]:
    """A statement's Resource in the README's notation: a parameter by its name, an ARN with REGION
    and ACCOUNT for the pseudo parameters and parameter names for ${Name}."""
    if isinstance(resource, list):
        return [form for item in resource for form in readme_form(item)]
    if isinstance(resource, str):
        return [resource]
    if set(resource) == {"Ref"}:
        return [resource["Ref"]]
    if set(resource) == {"Fn::Sub"}:
        text = resource["Fn::Sub"].replace("${ALIYUN::Region}", "REGION").replace("${ALIYUN::TenantId}", "ACCOUNT")
        return [re.sub(r"\$\{(\w+)\}", r"\1", text)]
    raise AssertionError(f"unexpected resource form {resource}")


# ---- the RAM role --------------------------------------------------------------------------------


def readme_rows() -> list[tuple[set[str], set[str], bool]]:
    """(actions, resources, only with FanoutEnabled=true) per row of the README's RAM table."""
    section = README.read_text(encoding="utf-8").split("### RAM policy (least privilege)", 1)[1]
    rows = []
    for line in section.strip().splitlines():
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        actions = set(re.findall(r"`([a-z]+:[A-Za-z]+)`", cells[0]))
        if not actions:
            continue  # the header and the separator
        assert len(cells) == 3, line
        rows.append((actions, set(re.findall(r"`([^`]+)`", cells[1])), "`FanoutEnabled=true`" in cells[2]))
    assert rows, "the README's RAM table is missing"
    return rows


def granted(template: dict[str, Any], fanout: str) -> set[tuple[str, str]]:
    """(action, resource) pairs the role holds with FanoutEnabled=fanout."""
    params = {**defaults(template), "FanoutEnabled": fanout}
    ((role_id, role),) = resources(template, "ALIYUN::RAM::Role").items()
    documents = [policy["PolicyDocument"] for policy in role["Properties"]["Policies"]]
    for policy in resources(template, "ALIYUN::RAM::ManagedPolicy").values():
        assert policy["Properties"]["Roles"] == [{"Fn::GetAtt": [role_id, "RoleName"]}]
        if holds(template, policy, params):
            documents.append(policy["Properties"]["PolicyDocument"])
    pairs = set()
    for document in documents:
        for statement in document["Statement"]:
            assert set(statement) == {"Effect", "Action", "Resource"}, statement  # no Condition, no NotAction
            assert statement["Effect"] == "Allow"
            pairs |= {(a, r) for a in statement["Action"] for r in readme_form(statement["Resource"])}
    return pairs


@pytest.mark.parametrize("fanout", ["false", "true"])
def test_the_role_grants_exactly_the_readme_table(template: dict[str, Any], fanout: str) -> None:
    expected = {
        (action, resource)
        for actions, resources_, only_fanout in readme_rows()
        if fanout == "true" or not only_fanout
        for action in actions
        for resource in resources_
    }
    assert granted(template, fanout) == expected


def test_the_readme_table_grants_decrypt_on_the_secret_key_and_invoke_only_with_fanout() -> None:
    rows = readme_rows()
    assert any(actions == {"kms:Decrypt"} and res == {"SecretKeyArnPattern"} for actions, res, _ in rows)
    invoke = [(res, only) for actions, res, only in rows if "fc:InvokeFunction" in actions]
    assert invoke == [
        ({"acs:fc:REGION:ACCOUNT:functions/FunctionName", "acs:fc:REGION:ACCOUNT:functions/FunctionName/*"}, True)
    ]


def test_the_role_is_for_function_compute_only_and_nothing_else_is_attached(template: dict[str, Any]) -> None:
    ((role,),) = [list(resources(template, "ALIYUN::RAM::Role").values())]
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": ["fc.aliyuncs.com"]}}]
    assert "PolicyAttachments" not in role["Properties"]  # no system policy
    ram_types = {r["Type"] for r in template["Resources"].values() if r["Type"].startswith("ALIYUN::RAM::")}
    assert ram_types == {"ALIYUN::RAM::Role", "ALIYUN::RAM::ManagedPolicy"}


# ---- the alarms ----------------------------------------------------------------------------------


def emitted() -> dict[str, list[metrics.Datum]]:
    """What the function sends for a run with 1 key renewed, 2 failed and 3 not reached, and two
    materials checked (one source failed): the counts differ, so each run metric is known by its
    value, the per-key and per-material ones by their dimensions."""
    done = Done(Outcome.RENEWED, state="Enabled", expires=NOW + 90 * 86400, expires_set=True)
    results = [KeyResult.new("m", "cn-hangzhou", "key-r").finished(done)]
    results += [KeyResult.new("m", "cn-hangzhou", f"key-f{i}").fail("NotExternal", "not external") for i in range(2)]
    results += [KeyResult.new("m", "cn-shanghai", f"key-n{i}").finished(Done(Outcome.NOT_ATTEMPTED)) for i in range(3)]
    by_name: dict[str, list[metrics.Datum]] = {}
    checks = [MaterialCheck("m", "env:var=M", True), MaterialCheck("n", "env:var=N", False)]
    for datum in metrics.build(results, NOW, checks):
        by_name.setdefault(datum.name, []).append(datum)
    return by_name


def dimension(dims: dict[str, Any]) -> str:
    """CloudMonitor's form of a custom metric's dimensions: k1=v1&k2=v2, keys in ascending order."""
    return "&".join(f"{k}={dims[k]}" for k in sorted(dims))


def rules(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {name: r["Properties"] for name, r in resources(template, "ALIYUN::CMS::ResourceMetricRule").items()}
    assert found
    return found


def test_every_alarm_names_a_metric_the_function_emits_with_its_dimensions(template: dict[str, Any]) -> None:
    sent = emitted()
    for name, rule in rules(template).items():
        assert rule["MetricName"] in sent, f"{name} alarms on {rule['MetricName']}, which the function never sends"
        assert rule["Namespace"] == {"Fn::Sub": "acs_customMetric_${ALIYUN::TenantId}"}
        assert rule["ContactGroups"] == [{"Ref": "ContactGroup"}]
        ((resource,),) = [rule["Resources"]]
        assert resource["groupId"] == {"Ref": "MetricGroupId"}
        series = {dimension(d.dimensions) for d in sent[rule["MetricName"]]}
        if len(series) == 1:  # a per-run metric: its one series, named exactly
            assert resource == {"groupId": {"Ref": "MetricGroupId"}, "dimension": series.pop()}, name
        else:  # a per-key metric: every series (every key, including those added later)
            assert resource == {"groupId": {"Ref": "MetricGroupId"}}, name


def test_every_metric_the_function_emits_is_alarmed(template: dict[str, Any]) -> None:
    assert {rule["MetricName"] for rule in rules(template).values()} == set(emitted())


def rule_on(template: dict[str, Any], metric: str, no_data: str = "KEEP_LAST_STATE") -> dict[str, Any]:
    (rule,) = [r for r in rules(template).values() if r["MetricName"] == metric and r["NoDataPolicy"] == no_data]
    return rule


def critical(rule: dict[str, Any], params: dict[str, Any]) -> tuple[str, str, float, int]:
    c = rule["Escalations"]["Critical"]
    return c["Statistics"], c["ComparisonOperator"], float(evaluate(c["Threshold"], params)), c["Times"]


def test_the_thresholds(template: dict[str, Any]) -> None:
    sent, params = emitted(), defaults(template)
    per_key = next(name for name, data in sent.items() if all("keyId" in d.dimensions for d in data))
    run_counts = {data[0].value: name for name, data in sent.items() if name != per_key}
    failures, not_reached = run_counts[2], run_counts[3]  # 2 keys failed, 3 not reached (emitted())

    assert params["ExpiryThresholdDays"] == 7
    assert critical(rule_on(template, per_key), params) == ("Minimum", "LessThanThreshold", 7 * 86400, 1)
    assert critical(rule_on(template, failures), params) == ("Maximum", "GreaterThanThreshold", 0, 1)
    assert critical(rule_on(template, not_reached), params) == ("Maximum", "GreaterThanThreshold", 0, 1)


def test_the_dead_mans_switch_alarms_when_no_run_metric_came_for_26_hours(template: dict[str, Any]) -> None:
    sent, params = emitted(), defaults(template)
    (rule,) = [r for r in rules(template).values() if r["NoDataPolicy"] == "INSUFFICIENT_DATA"]
    assert len(sent[rule["MetricName"]]) == 1, "the dead-man's switch must watch a metric every run sends once"
    assert params["NoRunAlarmHours"] == 26
    assert evaluate(rule["Period"], params) == 26 * 3600
    # Its threshold never holds for a count: only the missing data raises it.
    statistics, comparison, threshold, _ = critical(rule, params)
    assert (statistics, comparison, threshold) == ("Minimum", "LessThanThreshold", 0)


# ---- the logs ------------------------------------------------------------------------------------


class _Collect(logging.Handler):
    """The function's log lines, formatted by its own formatter."""

    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def key_line() -> dict[str, Any]:
    """The line log_key writes for a failed key, as Function Compute would receive it."""
    logger = logs.get_logger()
    handler, level = _Collect(logger.handlers[0].formatter), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with logs.invocation("req-1"):
            log_key(KeyResult.new("m", "cn-hangzhou", "key-f").fail("NotExternal", "not external"))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    (line,) = handler.lines
    return json.loads(line)


def test_the_index_covers_keys_the_key_lines_really_carry(template: dict[str, Any]) -> None:
    ((index,),) = [list(resources(template, "ALIYUN::SLS::Index").values())]
    ((field,),) = [index["Properties"]["KeyIndices"]]
    assert field["Name"] == "message" and field["Type"] == "json"  # Function Compute's field for the line
    indexed = {key["Name"] for key in field["JsonKeyIndices"]}
    line = key_line()
    assert indexed <= set(line), f"indexed keys the key lines lack: {indexed - set(line)}"
    assert {"event", "outcome", "error", "key_id", "material", "region"} <= indexed
    assert all(not isinstance(line[k], (dict, list)) for k in indexed)  # text keys, not objects


def test_the_readme_query_for_failed_keys_asks_for_the_problem_outcomes(template: dict[str, Any]) -> None:
    section = README.read_text(encoding="utf-8").split("### 2. The account", 1)[1].split("\n### ", 1)[0]
    (query,) = re.findall(r"```(?:sql)?\n(message\.event: key[^\n]*)\n", section)
    line = key_line()
    assert f"message.event: {line['event']}" in query
    assert set(re.findall(r"message\.outcome: (\w+)", query)) == {str(o) for o in PROBLEMS}
    ((index,),) = [list(resources(template, "ALIYUN::SLS::Index").values())]
    indexed = {key["Name"] for key in index["Properties"]["KeyIndices"][0]["JsonKeyIndices"]}
    assert set(re.findall(r"message\.(\w+)", query)) <= indexed


# ---- the tool's own validation, and what s.yaml takes --------------------------------------------


def test_the_outputs_s_yaml_takes(template: dict[str, Any]) -> None:
    assert set(template["Outputs"]) == {"RoleArn", "LogProject", "LogStore"}


def test_synthesis_checks_resource_properties(tmp_path: Path) -> None:
    """ROS CDK's property checks are on for this stack: a logstore name they refuse fails synthesis."""
    snippet = (
        "import sys; sys.path.insert(0, 'infra'); import app, ros_cdk_core as core, ros_cdk_sls as sls\n"
        f"a = core.App(outdir={str(tmp_path)!r}); stack = app.AccountStack(a, app.STACK)\n"
        "sls.Logstore(stack, 'Bad', sls.LogstoreProps(project_name='byok-logs', logstore_name='not a name'))\n"
        "a.synth()\n"
    )
    proc = _python("-c", snippet)
    assert proc.returncode != 0
    assert "Supplied properties not correct" in proc.stderr and "logstoreName" in proc.stderr

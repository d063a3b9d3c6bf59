"""Docs that cannot drift (issue #13): the README's example report has the shape of a real one."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.function.conftest import Cloud
from tests.function.test_reliability import MATERIAL, fleet_config

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_report() -> dict[str, Any]:
    section = README.read_text(encoding="utf-8").split("### The report", 1)[1]
    block = re.search(r"```json\n(.*?)```", section, re.S)
    assert block, "the README's report section has no ```json example"
    return json.loads(block.group(1))


def shape(value: Any) -> Any:
    """Keys all the way down (a list by its first element); values only by kind."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return "value"


def test_the_readme_example_report_has_the_shape_of_a_real_one(cloud: Cloud, invoke) -> None:
    cloud.key_with_material(MATERIAL, 5, alias="alias/payments")
    config = fleet_config(cloud, ["alias/payments"], metrics={"cloudmonitor": {"group_id": 0}})
    real = invoke(config).report
    assert real["keys"][0]["outcome"] == "renewed"
    example = readme_report()
    assert shape(example) == shape(real)
    assert set(example["summary"]) == set(real["summary"])


ENV_NAME = re.compile(r"^(?:(?:RENEWER|ALIBABA_CLOUD|FC|AWS)_[A-Z0-9_]+|COLUMNS)$")


def variables_the_code_reads() -> set[str]:
    """Every environment variable name the function's code spells out (settings, contexts, CLI)."""
    import ast

    names: set[str] = set()
    for path in (README.parent / "function").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and ENV_NAME.match(node.value):
                names.add(node.value)
    return names


def readme_variables() -> tuple[set[str], set[str]]:
    """(every variable the README's table names, those of its row on boto3's own conventions)."""
    section = README.read_text(encoding="utf-8").split("### Environment variables", 1)[1].split("\n\n", 2)[1]
    every: set[str] = set()
    sdk: set[str] = set()
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        first, meaning = line.split("|")[1:3]
        names = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", first))
        every |= names
        if "boto3's own conventions" in meaning:
            sdk |= names
    return every, sdk


def test_the_readme_lists_exactly_the_environment_variables_the_code_reads() -> None:
    documented, read_by_boto3 = readme_variables()
    code = variables_the_code_reads()
    assert sorted(code - documented) == [], "read by the code but not in the README's table"
    assert sorted(documented - code - read_by_boto3) == [], "in the README's table but read by nothing here"
    assert all(name.startswith("AWS_") for name in read_by_boto3)

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

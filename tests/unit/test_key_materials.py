"""AWS keys with several key materials (issue #14): the configuration's ``keys[].key_material_id``,
which rows of one key clash, which key materials are left unconfigured, and the metric dimension."""

from __future__ import annotations

from typing import Any

import pytest

from renewer.config import load
from renewer.errors import ConfigError
from renewer.run.identity import resolve
from renewer.run.metrics import build
from renewer.run.report import Described, KeyResult

FIRST, SECOND = "a1" * 32, "b2" * 32
KEY = "1234abcd-12ab-34cd-56ef-1234567890ab"


def aws_key(**extra: Any) -> dict[str, Any]:
    return {"cloud": "aws", "region": "us-east-1", "key_id": KEY, **extra}


def document(*keys_per_material: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "materials": [
            {"name": f"m{i}", "source": {"type": "env", "var": f"M{i}"}, "keys": keys}
            for i, keys in enumerate(keys_per_material)
        ]
    }


def test_one_key_under_two_materials_each_with_its_key_material_id() -> None:
    config = load(document([aws_key(key_material_id=FIRST.upper())], [aws_key(key_material_id=SECOND)]))
    assert [m.keys[0].key_material_id for m in config.materials] == [FIRST, SECOND]  # normalised to lower case


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        (document([aws_key()], [aws_key(key_material_id=SECOND)]), ("key_material_id", "exactly one material")),
        (document([aws_key(key_material_id=FIRST)], [aws_key(key_material_id=FIRST)]), (FIRST, "one material")),
        (document([aws_key(key_material_id="xyz")]), ("64 hex digits",)),
        (
            document([{"region": "cn-hangzhou", "key_id": "k", "key_material_id": FIRST}]),
            ("only AWS keys", "alibaba"),
        ),
    ],
)
def test_key_material_ids_that_cannot_be_right_are_refused(doc: dict[str, Any], words: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError) as caught:
        load(doc)
    for word in words:
        assert word in caught.value.message


def row(material: str, configured: str | None, *, listed: tuple[str, ...], target: str | None = None) -> Any:
    spec = load(document([aws_key()])).materials[0]
    spec = type(spec)(material, spec.source, spec.keys, spec.policy)
    result = KeyResult.new(material, "us-east-1", KEY, cloud="aws", key_material_id=configured)
    described = Described(KEY, "Enabled", 1e10, target or configured, key_materials=listed, material_imported=True)
    return spec, result.planned(described)


def test_rows_naming_their_own_key_materials_do_not_clash() -> None:
    items = [row("m0", FIRST, listed=(FIRST, SECOND)), row("m1", SECOND, listed=(FIRST, SECOND))]
    assert [r.outcome for _, r in resolve(items)] == [None, None]


def test_two_materials_for_one_key_material_clash() -> None:
    items = [row("m0", FIRST, listed=(FIRST,)), row("m1", FIRST, listed=(FIRST,))]
    assert {r.error_code for _, r in resolve(items)} == {"AmbiguousMaterial"}


def test_a_listed_key_material_no_row_names_fails_every_row_of_the_key() -> None:
    items = [row("m0", FIRST, listed=(FIRST, SECOND))]
    [(_, result)] = resolve(items)
    assert result.error_code == "KeyMaterialUnconfigured" and SECOND in (result.error_message or "")


def test_a_row_without_an_id_covers_the_single_key_material_it_resolved_to() -> None:
    items = [row("m0", None, listed=(FIRST,), target=FIRST)]
    assert [r.outcome for _, r in resolve(items)] == [None]


def test_metrics_carry_the_key_material_id_for_a_named_key_material() -> None:
    (_, named), (_, plain) = row("m0", FIRST, listed=(FIRST, SECOND)), row("m1", None, listed=(SECOND,), target=SECOND)
    data = {d.dimensions["material"]: d.dimensions for d in build([named, plain], 0.0) if "material" in d.dimensions}
    assert data["m0"]["keyMaterialId"] == FIRST
    assert "keyMaterialId" not in data["m1"]  # a key with one material keeps its series as before


def test_sm2pke_is_refused_for_aws_keys() -> None:
    doc = document([aws_key()])
    doc["materials"][0]["wrapping_algorithm"] = "SM2PKE"
    with pytest.raises(ConfigError) as caught:
        load(doc)
    assert "SM2PKE is offered by Alibaba Cloud KMS only" in caught.value.message

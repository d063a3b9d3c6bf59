"""Unit tests for :mod:`renewer.inputs`: bounded reads, strict JSON and YAML, excerpts."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from renewer.inputs import (
    EXCERPT_CHARS,
    MAX_DEPTH,
    InputError,
    TooLarge,
    clip,
    describe_error,
    excerpt,
    load_json,
    load_yaml,
    read_file,
)

# A few hundred bytes of YAML that PyYAML's safe_load expands to 9**9 strings.
ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{n}: &{n} [{','.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


# --- read_file ---


def test_read_file_returns_a_small_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 10)

    assert read_file(path, 10) == b"x" * 10


def test_read_file_refuses_more_than_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 11)

    with pytest.raises(TooLarge, match="is larger than 10 bytes"):
        read_file(path, 10)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_read_file_refuses_a_device_without_reading_it(device: str) -> None:
    with pytest.raises(InputError, match="is not a regular file"):
        read_file(Path(device), 1024)


def test_read_file_refuses_a_fifo_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []
    reader = threading.Thread(target=lambda: _capture(outcome, read_file, fifo, 1024), daemon=True)

    reader.start()
    reader.join(timeout=10)

    assert not reader.is_alive(), "read_file blocked on a FIFO"
    assert isinstance(outcome[0], InputError) and outcome[0].message == "is not a regular file"


def _capture(outcome: list[BaseException], call: Any, *args: Any) -> None:
    try:
        call(*args)
    except BaseException as exc:  # handed to the test thread
        outcome.append(exc)


def test_read_file_follows_a_symlink_to_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "target").write_bytes(b"abc")
    (tmp_path / "link").symlink_to(tmp_path / "target")

    assert read_file(tmp_path / "link", 3) == b"abc"


def test_read_file_missing_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_file(tmp_path / "missing", 10)


# --- JSON ---


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"dryRun": true, "dryRun": false}', "duplicate key 'dryRun' in the object at line 1 column 1"),
        ('{"a": 1,\n "b": {"c": 1, "c": 2}}', "duplicate key 'c' in the object at line 2 column 7"),
        ('[{"x": 1}, {"y": 1, "y": 1}]', "duplicate key 'y' in the object at line 1 column 12"),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH} levels at line 1 column 65"),
        ('{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH} levels"),
        ("[" * 100_000, f"nested deeper than {MAX_DEPTH} levels"),
        ("1" * 10_000, "a number of 10000 digits (at most 30)"),
        ('{"n": -' + "9" * 31 + "}", "a number of 31 digits (at most 30)"),
        ('{"n": NaN}', "NaN is not a JSON value"),
        ('{"n": -Infinity}', "-Infinity is not a JSON value"),
        ('{"n": 1e999}', "number 1e999 is out of range"),
    ],
    ids=[
        "duplicate",
        "duplicate-nested",
        "duplicate-in-array",
        "arrays-too-deep",
        "objects-too-deep",
        "unclosed-100k",
        "10000-digits",
        "31-digits",
        "nan",
        "infinity",
        "overflow",
    ],
)
def test_load_json_refuses(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        load_json(text)

    assert message in info.value.message


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, None, True, "x"], "b": {"c": {}}, "d": []},
        [[[[[[[[[[1]]]]]]]]]],
        {"n": -(10**29), "m": 10**29},
        {"same": {"k": 1}, "other": {"k": 2}},
    ],
    ids=["mixed", "ten-deep", "29-digits", "same-key-in-two-objects"],
)
def test_load_json_reads_what_json_loads_reads(value: Any) -> None:
    text = json.dumps(value, indent=1)

    assert load_json(text) == json.loads(text)


def test_load_json_syntax_errors_are_json_decode_errors() -> None:
    with pytest.raises(json.JSONDecodeError) as info:
        load_json('{"a": 1,}')

    assert describe_error(info.value) == "Expecting property name enclosed in double quotes at line 1 column 9"


# --- YAML ---


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (ALIAS_BOMB, "anchors and aliases (&name, *name) are not allowed at line 1 column 4"),
        ("a: &x 1\n", "anchors and aliases (&name, *name) are not allowed at line 1 column 4"),
        ("a: *x\n", "anchors and aliases (&name, *name) are not allowed at line 1 column 4"),
        ("a: {<<: {b: 1}}\n", "merge keys (<<) are not allowed at line 1 column 5"),
        ("a: 1\nb: 2\na: 3\n", "duplicate key 'a' (first at line 1 column 1) at line 3 column 1"),
        ("m:\n  - {k: 1, k: 2}\n", "duplicate key 'k' (first at line 2 column 6) at line 2 column 12"),
        ("1: a\ntrue: b\n", "duplicate key True (first at line 1 column 1)"),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH} levels"),
        ("a: " + "1" * 10_000, "a number of 10000 digits (at most 30)"),
    ],
    ids=[
        "alias-bomb",
        "anchor",
        "alias",
        "merge-key",
        "duplicate",
        "duplicate-nested",
        "duplicate-true-and-1",
        "too-deep",
        "10000-digits",
    ],
)
def test_load_yaml_refuses(text: str, message: str) -> None:
    with pytest.raises(yaml.YAMLError) as info:
        load_yaml(text)

    assert describe_error(info.value) == message or message in describe_error(info.value)
    assert len(describe_error(info.value)) < 200


def test_load_yaml_reads_plain_documents_as_safe_load_does() -> None:
    text = "a: [1, 2.5, null, true, x]\nb:\n  c: {d: 'e'}\nk: '<<'\n"

    assert load_yaml(text) == yaml.safe_load(text)


@pytest.mark.parametrize(
    "text",
    ["a: !!python/object/apply:os.system ['true']", "a: [unclosed", "a:\n\t- tab", "a: !!map x"],
    ids=["python-tag", "unclosed", "tab", "map-tag-on-scalar"],
)
def test_load_yaml_errors_are_yaml_errors_on_one_bounded_line(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as info:
        load_yaml(text)

    line = describe_error(info.value)
    assert "\n" not in line and " at line " in line and len(line) < 200


# --- excerpts ---


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("short", "'short'"),
        ("x" * EXCERPT_CHARS, repr("x" * EXCERPT_CHARS)),
        ("x" * 10_000, repr("x" * EXCERPT_CHARS + "…")),
        (42, "42"),
        (None, "None"),
        (10**5000, "<a number of about 5001 digits>"),
        (["a"] * 1000, "['a', 'a', 'a', 'a', 'a', 'a', ...]"),
    ],
    ids=["short", "at-limit", "long", "int", "none", "huge-int", "long-list"],
)
def test_excerpt(value: object, expected: str) -> None:
    assert excerpt(value) == expected


def test_excerpt_of_a_deeply_nested_value_is_short() -> None:
    value: list[Any] = []
    for _ in range(10_000):
        value = [value]

    assert excerpt(value) == "[[[[...]]]]"


def test_clip_keeps_one_line() -> None:
    assert clip("a\nb") == "a b"
    assert clip("y" * 100, 10) == "y" * 10 + "…"

"""Untrusted input, read within bounds: files, JSON and YAML documents, and excerpts for messages.

- :func:`read_file` reads a regular file only (a FIFO, a device or ``/dev/zero`` is refused without
  reading) and at most ``limit + 1`` bytes of it.
- :func:`load_json` refuses duplicate keys (naming the key and where its object starts), nesting
  deeper than :data:`MAX_DEPTH`, integers longer than :data:`MAX_NUMBER_DIGITS` digits, and
  ``NaN``/``Infinity`` (not JSON).
- :func:`load_yaml` is YAML's safe loader without anchors, aliases (a 525-byte alias bomb expands to
  hundreds of megabytes) or merge keys (``<<``), with the same checks on duplicate keys, nesting and
  integers; ``yaml`` is imported only when a YAML document is read.
- :func:`excerpt` and :func:`clip` are how a message shows a value: at most :data:`EXCERPT_CHARS`
  characters of it, then an ellipsis; :func:`describe_error` turns a parser's error into one such line.

Every refusal is an :class:`InputError` (a ``ValueError``) whose message is a fragment the caller
prefixes with what was being read.
"""

from __future__ import annotations

import functools
import json
import math
import os
import reprlib
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from json.decoder import JSONArray, JSONObject
from json.scanner import py_make_scanner
from pathlib import Path
from typing import Any

EXCERPT_CHARS = 80  # of a value quoted in a message
PATH_CHARS = 240  # of a path named in a message
MAX_DEPTH = 64  # nested arrays/objects (sequences/mappings); our documents need fewer than 10
MAX_NUMBER_DIGITS = 30  # of an integer; 2**64 has 20

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, EXCERPT_CHARS, EXCERPT_CHARS


class InputError(ValueError):
    """Input refused by a bound or a rule of this module; ``message`` never holds more than an excerpt."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TooLarge(InputError):
    """More than the limit: the size is the problem, not the form."""


def clip(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    line = " ".join(text.split("\n"))
    return line if len(line) <= limit else line[:limit] + "…"


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """``repr(value)`` of at most ``limit`` characters of ``value``: ``'abc…'`` when cut."""
    if isinstance(value, str):
        return repr(value if len(value) <= limit else value[:limit] + "…")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 3 * limit:
        return f"<a number of about {int(value.bit_length() * math.log10(2)) + 1} digits>"  # repr() may refuse
    return clip(_REPR.repr(value), limit)


def read_file(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them.

    Raises ``OSError`` when it cannot be opened or read, :class:`InputError` when it is not a regular
    file, :class:`TooLarge` when it holds more than ``limit`` bytes. Opened non-blocking, so a FIFO cannot make it wait.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    with open(os.open(path, flags), "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise InputError("is not a regular file")
        data = file.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"is larger than {limit} bytes")
    return data


def describe_error(exc: BaseException) -> str:
    """One line for a parser's error: what, and where (line and column), the input clipped."""
    if isinstance(exc, InputError):
        return exc.message
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    problem, mark = getattr(exc, "problem", None), getattr(exc, "problem_mark", None)  # yaml.MarkedYAMLError
    if problem is None:
        problem, mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if problem is not None and mark is not None:
        return f"{clip(problem, 3 * EXCERPT_CHARS // 2)} at line {mark.line + 1} column {mark.column + 1}"
    text = str(exc).strip()
    return clip(text.splitlines()[0] if text else type(exc).__name__, 3 * EXCERPT_CHARS // 2)


def _position(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    return f"line {line} column {index - text.rfind(chr(10), 0, index)}"


def _integer(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_NUMBER_DIGITS:
        raise InputError(f"a number of {digits} digits (at most {MAX_NUMBER_DIGITS})")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InputError(f"number {clip(text)} is out of range")
    return value


def _constant(name: str) -> Any:
    raise InputError(f"{name} is not a JSON value")


class _StrictDecoder(json.JSONDecoder):
    """The standard decoder's Python scanner, with objects and arrays counted and keys checked."""

    def __init__(self) -> None:
        super().__init__(parse_int=_integer, parse_float=_float, parse_constant=_constant)
        self.depth = 0
        self.parse_object = self._object  # type: ignore[assignment]
        self.parse_array = self._array  # type: ignore[assignment]
        self.scan_once = py_make_scanner(self)

    @contextmanager
    def _nested(self, text: str, index: int) -> Iterator[None]:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise InputError(f"nested deeper than {MAX_DEPTH} levels at {_position(text, index)}")
            yield
        finally:
            self.depth -= 1

    def _object(
        self, s_and_end: tuple[str, int], strict: bool, scan_once: Any, hook: Any, pairs_hook: Any, memo: Any
    ) -> tuple[dict[str, Any], int]:
        text, end = s_and_end

        def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            keys: set[str] = set()
            for key, _ in pairs:
                if key in keys:
                    where = _position(text, end - 1)
                    raise InputError(f"duplicate key {excerpt(key)} in the object at {where}")
                keys.add(key)
            return dict(pairs)

        with self._nested(text, end - 1):
            return JSONObject(s_and_end, strict, scan_once, None, unique, memo)

    def _array(self, s_and_end: tuple[str, int], scan_once: Any) -> tuple[list[Any], int]:
        with self._nested(s_and_end[0], s_and_end[1] - 1):
            return JSONArray(s_and_end, scan_once)


def load_json(text: str) -> Any:
    """Raises ``json.JSONDecodeError`` (syntax) or :class:`InputError` (the rules above)."""
    try:
        return _StrictDecoder().decode(text)
    except RecursionError:  # MAX_DEPTH should come first; this is the backstop
        raise InputError("nested too deeply") from None


def load_yaml(text: str) -> Any:
    """Raises ``yaml.YAMLError`` (syntax, and the rules above) or :class:`InputError`."""
    loader = _yaml_loader()(text)
    try:
        return loader.get_single_data()
    except RecursionError:
        raise InputError("nested too deeply") from None
    finally:
        loader.dispose()


@functools.cache
def _yaml_loader() -> type:
    import yaml
    from yaml.composer import ComposerError
    from yaml.constructor import ConstructorError
    from yaml.events import AliasEvent
    from yaml.nodes import MappingNode

    class StrictLoader(yaml.SafeLoader):
        """``yaml.SafeLoader`` refusing anchors, aliases, merge keys, duplicate keys, deep nesting and
        long integers."""

        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None:
                raise ComposerError(None, None, "anchors and aliases (&name, *name) are not allowed", event.start_mark)
            self.depth += 1
            try:
                if self.depth > MAX_DEPTH:
                    raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def flatten_mapping(self, node: Any) -> None:
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise ConstructorError(None, None, "merge keys (<<) are not allowed", key_node.start_mark)
            super().flatten_mapping(node)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if not isinstance(node, MappingNode):
                return super().construct_mapping(node, deep)  # the base class's error
            self.flatten_mapping(node)
            first: dict[Any, Any] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    seen = first.get(key)
                except TypeError:  # unhashable: the base class says so
                    break
                if seen is not None:
                    raise ConstructorError(
                        None,
                        None,
                        f"duplicate key {excerpt(key)} (first at line {seen.line + 1} column {seen.column + 1})",
                        key_node.start_mark,
                    )
                first[key] = key_node.start_mark
            return super().construct_mapping(node, deep)

        def construct_yaml_int(self, node: Any) -> int:
            digits = len(str(node.value).lstrip("+-"))
            if digits > MAX_NUMBER_DIGITS:
                raise ConstructorError(
                    None, None, f"a number of {digits} digits (at most {MAX_NUMBER_DIGITS})", node.start_mark
                )
            return super().construct_yaml_int(node)

    StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)
    return StrictLoader

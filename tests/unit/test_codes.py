"""The registry of the codes the function emits (renewer.codes) is the one list: the README's table
equals it, and every code the package raises or reports by name is in it."""

from __future__ import annotations

import re
from pathlib import Path

from renewer.codes import CODES, runbook
from renewer.errors import RenewerBug, RenewerError

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "function" / "renewer"


def readme_table() -> dict[str, tuple[str, bool, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Error codes", 1)[1]
    rows: dict[str, tuple[str, bool, str]] = {}
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            assert cells[0].strip("`") not in rows, f"{cells[0]} twice in the README's table"
            rows[cells[0].strip("`")] = (cells[1], cells[2] == "yes", cells[3])
    return rows


def test_the_readme_table_equals_the_registry() -> None:
    expected = {code: (c.meaning, c.retryable, c.runbook) for code, c in CODES.items()}
    assert readme_table() == expected


def test_every_code_the_package_names_is_registered() -> None:
    named: set[str] = set()
    pattern = re.compile(r"""(?:code\s*=\s*|\.fail\(\s*|failed\(\s*)"([A-Z][A-Za-z.]+)\"""")
    for path in PACKAGE.rglob("*.py"):
        named |= set(pattern.findall(path.read_text(encoding="utf-8")))
    assert named, "the pattern found no code at all: it is out of date"
    assert sorted(named - set(CODES)) == []


def test_every_error_class_code_is_registered() -> None:
    def subclasses(cls: type) -> list[type]:
        return [cls, *[s for sub in cls.__subclasses__() for s in subclasses(sub)]]

    for cls in subclasses(RenewerError):
        if cls.__module__.startswith("renewer"):
            assert cls.code in CODES, cls


def test_a_bug_has_its_own_code_and_service_codes_have_no_runbook() -> None:
    assert RenewerBug.code == "RenewerBug" and "InternalError" not in CODES  # InternalError is a service's code
    assert runbook("Forbidden.KeyNotFound") is None
    assert runbook("KcvMismatch") == CODES["KcvMismatch"].runbook

"""Rewrite the README's "Error codes" table from the registry (renewer.codes):
``python scripts/render_codes.py``. tests/unit/test_codes.py fails while the two differ."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "function"))

from renewer.codes import CODES  # noqa: E402

HEADER = "| code | meaning | a re-run alone may clear it | what to do |"


def table() -> str:
    rows = [HEADER, "|---|---|---|---|"]
    for code, entry in CODES.items():
        rows.append(f"| `{code}` | {entry.meaning} | {'yes' if entry.retryable else 'no'} | {entry.runbook} |")
    return "\n".join(rows) + "\n"


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    start = text.index(HEADER)
    end = text.index("\n\n", start) + 1
    readme.write_text(text[:start] + table() + text[end:], encoding="utf-8")


if __name__ == "__main__":
    main()

"""The report as a table for a terminal (:func:`render_table`): problems first, fitted to a width.

Each key's expiry before and after the run reads as a time, ``expired``, ``never imported``
(PendingImport with no expiry) or ``never expires`` (another state with no expiry). When the table
is wider than the terminal, the expiry's time of day gives way first, then whole columns (via,
decision, days left, state: the JSON report keeps them), then the widest cells are cut with an
ellipsis (a key id in its middle); no line is ever longer than the width.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from renewer.run.report import Outcome

#: Problems first, then what is left to do, what was done, and what needed nothing.
ORDER = (
    Outcome.FAILED,
    Outcome.UNVERIFIED,
    Outcome.NOT_ATTEMPTED,
    Outcome.RENEWED,
    Outcome.RECOVERED,
    Outcome.DELEGATED,
    Outcome.DRY_RUN,
    Outcome.SKIPPED,
)
_RANK = {str(outcome): i for i, outcome in enumerate(ORDER)}
ELLIPSIS = "…"


@dataclass(frozen=True)
class Column:
    name: str
    cell: Callable[[dict[str, Any], int, float], str]  # (key, level of detail, now) -> text
    middle: bool = False  # cut in the middle, keeping more of the end (a key id's tells keys apart)


def _place(key: dict[str, Any], level: int, now: float) -> str:
    return key["region"] if key.get("cloud", "alibaba") == "alibaba" else f"{key['cloud']}:{key['region']}"


def _moment(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def _expiry(when: str) -> Callable[[dict[str, Any], int, float], str]:
    """The expiry ``before`` or ``after`` the run: a time (level 0 as reported, 1 to the minute,
    2 the day), or ``expired`` (with its time above level 2), ``never imported`` (PendingImport and
    no expiry), ``never expires`` (another state and no expiry), ``?`` (the key was never described)."""

    def cell(key: dict[str, Any], level: int, now: float) -> str:
        expires, state = key[f"expires_{when}"], key[f"state_{when}"]
        if expires is None:
            if state is None:
                return "?"
            return "never imported" if state == "PendingImport" else "never expires"
        text = (expires, expires[:16].replace("T", " "), expires[:10])[level]
        if _moment(expires) > now:
            return text
        return "expired" if level == 2 else f"expired {text}"

    return cell


def _days_left(key: dict[str, Any], level: int, now: float) -> str:
    expires = key["expires_after"] or key["expires_before"]
    if not expires:
        return "-"
    left = _moment(expires) - now
    return f"{left / 86400:.1f}" if left > 0 else "expired"


def _outcome(key: dict[str, Any], level: int, now: float) -> str:
    outcome = key["outcome"] or str(Outcome.NOT_ATTEMPTED)
    if key["error"]:
        return f"{outcome} ({key['error']['code']})"
    if outcome == Outcome.DRY_RUN and key["decision"]:
        return f"{outcome} ({key['decision']})"  # what a run would do
    return outcome


TABLE = (
    Column("material", lambda k, _, __: k["material"]),
    Column("region", _place),
    Column("key", lambda k, _, __: k["key_id"], middle=True),
    Column("via", lambda k, _, __: k.get("via", "config")),
    Column("state", lambda k, _, __: k["state_after"] or k["state_before"] or "?"),
    Column("expiry before", _expiry("before")),
    Column("expiry after", _expiry("after")),
    Column("days left", _days_left),
    Column("decision", lambda k, _, __: k["decision"] or "-"),
    Column("outcome", _outcome),
)
COLUMNS = tuple(column.name for column in TABLE)


@dataclass(frozen=True)
class Layout:
    """How much of the table is shown: the expiry's level of detail, the columns left out, and the
    widths some columns are cut to."""

    detail: int = 0
    left_out: frozenset[str] = frozenset()
    caps: tuple[tuple[str, int], ...] = ()

    def then(self, detail: int | None = None, drop: str | None = None, cut: tuple[str, int] | None = None) -> Layout:
        return Layout(
            self.detail if detail is None else detail,
            self.left_out | {drop} if drop else self.left_out,
            (*self.caps, cut) if cut else self.caps,
        )


def _layouts() -> list[Layout]:
    """What gives way, in turn, while the table is wider than the terminal: the expiry's time of day,
    columns the rest tells (via; decision: a dry run's outcome names it; days left: the expiry after),
    then cuts, the key id's first, then columns that matter more. The JSON report keeps everything."""
    steps: list[dict[str, Any]] = [
        {"detail": 1},
        {"drop": "via"},
        {"detail": 2},
        {"drop": "decision"},
        {"cut": ("key", 20)},
        {"drop": "days left"},
        {"cut": ("material", 12)},
        {"cut": ("region", 14)},
        {"drop": "state"},
        {"cut": ("key", 14)},
        {"cut": ("outcome", 24)},
        {"cut": ("material", 8)},
        {"cut": ("region", 11)},
        {"cut": ("outcome", 16)},
        {"drop": "region"},  # a key id names its region too (key-hzz...: Hangzhou)
        {"cut": ("key", 12)},
        {"cut": ("outcome", 14)},
        {"cut": ("material", 6)},
    ]
    layouts = [Layout()]
    for step in steps:
        layouts.append(layouts[-1].then(**step))
    return layouts


NARROWER = tuple(_layouts())
#: Cut columns get back the room a layout leaves, in this order.
REGAIN = ("outcome", "key", "material", "region")
GAP = "  "


def render_table(report: dict[str, Any], now: float | None = None, width: int | None = None) -> str:
    """The report's keys, problems first (:data:`ORDER`), then the summary. With ``width``, no line
    is longer: the first of :data:`NARROWER` that fits (else the last, its lines cut); without it
    every column is whole."""
    now = time.time() if now is None else now
    keys = sorted(report["keys"], key=lambda k: _RANK.get(k["outcome"] or str(Outcome.NOT_ATTEMPTED), len(ORDER)))
    for layout in NARROWER:
        columns = [column for column in TABLE if column.name not in layout.left_out]
        rows = [[c.name for c in columns], *([c.cell(key, layout.detail, now) for c in columns] for key in keys)]
        natural = [max(len(row[i]) for row in rows) for i in range(len(columns))]
        caps = dict(layout.caps)
        widths = [min(w, caps.get(c.name, w)) for c, w in zip(columns, natural, strict=True)]
        if width is None or _total(widths) <= width:
            break
    if width is not None:
        _regain(columns, widths, natural, width)
    lines = [_row(columns, row, widths) for row in rows]
    lines.insert(1, GAP.join("-" * w for w in widths))
    summary = ", ".join(f"{k} {v}" for k, v in report["summary"].items())
    out = [*lines, "", *(textwrap.wrap(summary, width) if width else [summary])]
    return "\n".join(_fit(line, width, False) if width else line for line in out)


def _regain(columns: list[Column], widths: list[int], natural: list[int], width: int) -> None:
    """Give the room left back to the columns cut, in :data:`REGAIN`'s order."""
    names = [c.name for c in columns]
    for name in REGAIN:
        room = width - _total(widths)
        if room <= 0:
            return
        if name in names:
            i = names.index(name)
            widths[i] += min(natural[i] - widths[i], room)


def _row(columns: list[Column], cells: list[str], widths: list[int]) -> str:
    fitted = (_fit(cell, w, c.middle).ljust(w) for c, cell, w in zip(columns, cells, widths, strict=True))
    return GAP.join(fitted).rstrip()


def _total(widths: list[int]) -> int:
    return sum(widths) + len(GAP) * (len(widths) - 1)


def _fit(text: str, width: int, middle: bool) -> str:
    if len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    if middle:  # more of the end: ids of one region share their start (key-hzz...)
        head = max(1, (width - 1) // 3)
        tail = width - 1 - head
        return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")
    return text[: width - 1] + ELLIPSIS

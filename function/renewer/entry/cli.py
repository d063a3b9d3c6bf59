"""``python -m renewer``: ``run``, ``plan`` (a dry run as a table) and ``invoke -e EVENT.json``.

Settings come from the same environment variables as on Function Compute (see
:mod:`renewer.settings`); credentials from ``ALIBABA_CLOUD_ACCESS_KEY_ID``/``_SECRET`` or the default
chain of ``alibabacloud-credentials``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from renewer import logs, settings
from renewer.entry.context import from_environ as context_from_environ
from renewer.entry.events import Options
from renewer.entry.handler import credentials_from_context, handler
from renewer.errors import RenewalFailedError, RenewerError
from renewer.run import app
from renewer.run.progress import TerminalProgress

COLUMNS = ("material", "region", "key", "via", "state", "expires", "days left", "decision", "outcome")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m renewer", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="renew every due key now")
    run_p.add_argument("--dry-run", action="store_true", help="decide and read materials only; import nothing")
    run_p.add_argument("--force", action="store_true", help="renew keys that are not yet due")
    run_p.add_argument("--material", action="append", dest="materials", help="only this material (repeatable)")
    run_p.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    run_p.add_argument(
        "--verbose", action="store_true", help="log every key (the default on a terminal is a progress bar)"
    )
    plan_p = sub.add_parser("plan", help="a dry run: every key's state, expiry, days left and decision")
    plan_p.add_argument("--material", action="append", dest="materials")
    plan_p.add_argument("--json", action="store_true")
    invoke_p = sub.add_parser("invoke", help="call index.handler exactly as Function Compute would")
    invoke_p.add_argument("-e", "--event", required=True, type=Path, help="event file, e.g. events/timer.json")
    invoke_p.add_argument("--timeout", type=int, default=600, help="context.function.timeout in seconds")
    args = parser.parse_args(argv)
    logs.to_stderr()  # stdout carries the report alone
    try:
        if args.command == "invoke":
            return _invoke(args.event, args.timeout)
        options = Options(
            dry_run=args.command == "plan" or args.dry_run,
            force=getattr(args, "force", False),
            materials=tuple(args.materials) if args.materials else None,
            trigger=f"cli:{args.command}",
        )
        context = context_from_environ()
        progress = None
        if sys.stderr.isatty() and not getattr(args, "verbose", False):
            progress = TerminalProgress()
            logs.get_logger().setLevel(logging.WARNING)  # the bar replaces the per-key lines
        with logs.invocation(context.request_id):
            report = app.run(
                settings.from_environ(),
                options,
                credentials=credentials_from_context(context),
                home_region=context.region,
                progress=progress,
            )
    except RenewerError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if args.json else render_table(report))
    summary = report["summary"]
    return 1 if summary["failed"] or summary["unverified"] or summary["not_attempted"] else 0


def _invoke(event_path: Path, timeout: int) -> int:
    event = event_path.read_bytes()
    try:
        result = handler(event, context_from_environ(timeout=timeout))
    except RenewalFailedError as exc:
        print(json.dumps(exc.report, indent=2))
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except RenewerError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(json.loads(result), indent=2))
    return 0


def render_table(report: dict[str, Any], now: float | None = None) -> str:
    now = time.time() if now is None else now
    rows = [COLUMNS]
    for key in report["keys"]:
        expires = key["expires_after"] or key["expires_before"]
        rows.append(
            (
                key["material"],
                key["region"] if key.get("cloud", "alibaba") == "alibaba" else f"{key['cloud']}:{key['region']}",
                key["key_id"],
                key.get("via", "config"),
                key["state_after"] or key["state_before"] or "?",
                expires or ("never" if key["state_before"] else "?"),
                _days_left(expires, now),
                key["decision"] or "-",
                key["outcome"] + (f" ({key['error']['code']})" if key["error"] else ""),
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    summary = ", ".join(f"{k} {v}" for k, v in report["summary"].items())
    return "\n".join([*lines, "", summary])


def _days_left(expires: str | None, now: float) -> str:
    if not expires:
        return "-"
    from datetime import datetime, timezone

    moment = datetime.strptime(expires, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    return f"{(moment - now) / 86400:.1f}"

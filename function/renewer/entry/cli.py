"""``python -m renewer``: ``run``, ``plan`` (a dry run as a table) and ``invoke -e EVENT.json``.

Settings come from the same environment variables as on Function Compute (see
:mod:`renewer.settings`); credentials from ``ALIBABA_CLOUD_ACCESS_KEY_ID``/``_SECRET`` or the default
chain of ``alibabacloud-credentials``; the home region as :mod:`renewer.entry.context` finds it.

``run`` and ``plan`` print the report as a table fitted to the terminal (:func:`render_table`) or
as JSON. A first Ctrl-C cancels the run's deadline: no key starts any more, the calls under way get
a few seconds (:data:`renewer.run.deadline.CANCEL_GRACE_SECONDS`), the report of what was done is
printed and the exit status is 130; a second Ctrl-C quits at once. ``invoke`` runs a handler whole,
as the platform would: a Ctrl-C there quits at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from renewer import logs, settings
from renewer.entry.context import from_environ as context_from_environ
from renewer.entry.context import lambda_from_environ
from renewer.entry.events import MAX_EVENT_BYTES, Options
from renewer.entry.handler import credentials_from_context, handler, raise_if_incomplete
from renewer.entry.table import COLUMNS, render_table
from renewer.errors import ConfigError, EventError, RenewalFailedError, RenewerError
from renewer.inputs import InputError, describe_error, load_json, read_file
from renewer.run import app, wiring
from renewer.run.progress import TerminalProgress

__all__ = ["COLUMNS", "main", "render_table"]

T = TypeVar("T")
EXIT_OK, EXIT_INCOMPLETE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
FUNCTION_DIR = Path(__file__).resolve().parents[2]  # index.py and lambda_handler.py

DESCRIPTION = "Renew imported (BYOK) KMS key material by hand: run, plan (a dry run), invoke (a handler)."
EPILOG = """\
environment:
  RENEWER_CONFIG             the configuration itself, JSON or YAML
  RENEWER_CONFIG_FILE        a path to it when RENEWER_CONFIG is unset
                             (default: renewer.yml beside index.py)
  RENEWER_ALIBABA_ENDPOINTS  REGION=ENDPOINT,...: every Alibaba Cloud API's
                             endpoint in that region
  RENEWER_ALIBABA_ENDPOINT   one endpoint for the regions not listed there
  RENEWER_FC_ENDPOINT        Function Compute's endpoint for fan-out
  ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET,
  ALIBABA_CLOUD_SECURITY_TOKEN
                             credentials (else the default chain of
                             alibabacloud-credentials)
  FC_REGION, ALIBABA_CLOUD_REGION_ID, ALIBABA_CLOUD_REGION
                             the home region: the first set wins, and
                             --region comes before them all
  AWS_REGION, AWS_DEFAULT_REGION
                             the region of invoke --handler lambda
  AWS_*                      boto3's own settings, for AWS keys
  COLUMNS                    the table's width (default: the terminal's;
                             every column whole when not a terminal)

exit status:
  0    every key renewed, recovered or skipped (a dry run: would be)
  1    the run is incomplete, as an invocation would fail: a key failed,
       is unverified or was not attempted
  2    bad usage, configuration, event or event file: nothing was touched
  130  interrupted by Ctrl-C: no key started after it, and the report of
       what was done is printed; a second Ctrl-C quits at once
"""


def version() -> str:
    """The installed package's version; in a checkout without it, pyproject.toml's; else the module's."""
    from importlib import metadata

    try:
        return metadata.version("byok-renewer")
    except metadata.PackageNotFoundError:
        pass
    try:
        text = (FUNCTION_DIR.parent / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        text = ""
    found = re.search(r'^\[project\]$[^\[]*?^version\s*=\s*"([^"]+)"', text, re.MULTILINE | re.DOTALL)
    if found:
        return found.group(1)
    from renewer import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    style: dict[str, Any] = {"epilog": EPILOG, "formatter_class": argparse.RawDescriptionHelpFormatter}
    parser = argparse.ArgumentParser(prog="python -m renewer", description=DESCRIPTION, **style)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--output",
        choices=("table", "json"),
        help="the report as a table fitted to the terminal, or as JSON (default: table; invoke: json)",
    )
    common.add_argument("--json", dest="output", action="store_const", const="json", help="the same as --output json")
    common.add_argument("--region", help="the home region (before FC_REGION, ALIBABA_CLOUD_REGION_ID, ...)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_p = sub.add_parser("run", help="renew every due key now", parents=[common], **style)
    run_p.add_argument("--dry-run", action="store_true", help="decide and read materials only; import nothing")
    run_p.add_argument("--force", action="store_true", help="renew keys that are not yet due")
    run_p.add_argument(
        "--material", action="append", dest="materials", metavar="NAME", help="only this material (repeatable)"
    )
    run_p.add_argument(
        "--verbose", action="store_true", help="log every key (the default on a terminal is a progress bar)"
    )
    plan_p = sub.add_parser(
        "plan", help="a dry run: every key's state, expiry, days left and decision", parents=[common], **style
    )
    plan_p.add_argument(
        "--material", action="append", dest="materials", metavar="NAME", help="only this material (repeatable)"
    )
    check_p = sub.add_parser(
        "check",
        help="a preflight: configuration, credentials, every material read with its KCV, every key described; "
        "what would fail and why (exit 0 only when everything would work)",
        parents=[common],
        **style,
    )
    check_p.add_argument(
        "--material", action="append", dest="materials", metavar="NAME", help="only this material (repeatable)"
    )
    kcv_p = sub.add_parser(
        "kcv",
        help="print the key check value of a material's source, and nothing else of it",
        parents=[common],
        **style,
    )
    kcv_p.add_argument("--material", required=True, metavar="NAME", help="the material (as the configuration names it)")
    invoke_p = sub.add_parser(
        "invoke", help="call a handler with an event file, as the platform would", parents=[common], **style
    )
    invoke_p.add_argument("-e", "--event", required=True, type=Path, help="event file, e.g. events/timer.json")
    invoke_p.add_argument(
        "--handler",
        choices=("fc", "lambda"),
        default="fc",
        help="fc: index.handler (Function Compute, the default); lambda: lambda_handler.handler (AWS Lambda)",
    )
    invoke_p.add_argument(
        "--timeout", type=int, default=600, help="the function's timeout in seconds (default 600): the run's deadline"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.to_stderr()  # stdout carries the report alone
    try:
        if args.command == "invoke":
            return _invoke(args)
        if args.command == "kcv":
            return _kcv(args)
        return _run(args)
    except RenewerError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    options = Options(
        dry_run=args.command in ("plan", "check") or getattr(args, "dry_run", False),
        force=getattr(args, "force", False),
        materials=tuple(args.materials) if args.materials else None,
        trigger=f"cli:{args.command}",
    )
    context = context_from_environ(region=args.region)
    progress = None
    if sys.stderr.isatty() and not getattr(args, "verbose", False):
        progress = TerminalProgress()
        logs.get_logger().setLevel(logging.WARNING)  # the bar replaces the per-key lines
    stop = Interrupt(progress.say if progress is not None else _say)
    with stop.installed(), logs.invocation(context.request_id):
        parts = wiring.assemble(
            settings.from_environ(),
            options,
            credentials=credentials_from_context(context),
            home_region=context.region or None,
        )
        stop.attach(parts)
        report = in_background(lambda: app.run_assembled(parts, progress))
    _print_report(report, args.output or "table")
    if args.command == "check":
        return _verdict(report)
    if stop.interrupted:
        undone = report["summary"]["not_attempted"]
        _say(f"interrupted: {undone} key(s) not started (not_attempted); run again to finish")
        return EXIT_INTERRUPTED
    try:
        raise_if_incomplete(report)  # what fails an invocation on the platform fails the command
    except RenewalFailedError as exc:
        _say(f"error: {exc.code}: {exc.message}")
        return EXIT_INCOMPLETE
    return EXIT_OK


def _verdict(report: dict[str, Any]) -> int:
    """``check``: what would fail and why, one line each, on stderr; 0 only when nothing would."""
    problems = [
        f"key {k['cloud']}:{k['region']}:{k['key_id']} ({k['material']}): {k['error']['code']}: {k['error']['message']}"
        for k in report["keys"]
        if k["error"]
    ]
    problems += [
        f"material {m['name']} ({m['source']}): {m['error']['code']}: {m['error']['message']}"
        for m in report["run"].get("materials", [])
        if m["ok"] is False and m["error"]
    ]
    problems += [f"key {k['key_id']} ({k['material']}): not reached" for k in report["keys"] if not k["outcome"]]
    for line in problems:
        _say(f"would fail: {line}")
    if problems:
        _say(f"check: {len(problems)} problem(s); a run now would fail")
        return EXIT_INCOMPLETE
    _say("check: everything would work")
    return EXIT_OK


def _kcv(args: argparse.Namespace) -> int:
    """The KCV of what a material's source holds (not secret: 3 bytes of an AES encryption of zeros),
    and whether it matches the configured ``kcv``. Nothing else of the material is ever printed."""
    current = settings.from_environ()
    spec = next((m for m in current.config.materials if m.name == args.material), None)
    if spec is None:
        known = ", ".join(m.name for m in current.config.materials)
        raise EventError(f"no material named {args.material!r}; configured: {known}")
    context = context_from_environ(region=args.region)
    parts = wiring.assemble(
        current,
        Options(dry_run=True, materials=(spec.name,), trigger="cli:kcv"),
        credentials=credentials_from_context(context),
        home_region=context.region or None,
    )
    with logs.sdk_logs_guarded(parts.redactor), closing(parts.materials):
        check = parts.materials.check(spec)  # the run's own read: secrets registered, an HSM session closed
    if check.kcv is not None:
        print(check.kcv)
    if check.error is not None and check.error.code == "KcvMismatch":
        holds = f"the source holds {check.kcv}; the configuration says {spec.kcv}"
        _say(f"error: KcvMismatch: material {spec.name}: {holds}")
        return EXIT_INCOMPLETE
    if check.error is not None:  # the source, not the usage, is wrong
        _say(f"error: {check.error.code}: {check.error.message}")
        return EXIT_INCOMPLETE
    if check.kcv is None:
        _say(f"error: material {spec.name}: its source cannot compute a key check value")
        return EXIT_INCOMPLETE
    return EXIT_OK


def _invoke(args: argparse.Namespace) -> int:
    data = _read_event(args.event)
    if args.handler == "lambda":
        event, entry = _json_event(data, args.event), _lambda_handler()
        lambda_context = lambda_from_environ(timeout=args.timeout, region=args.region)

        def call() -> dict[str, Any]:
            return entry(event, lambda_context)

    else:
        context = context_from_environ(timeout=args.timeout, region=args.region)

        def call() -> dict[str, Any]:
            return json.loads(handler(data, context))  # type: ignore[no-any-return]

    with Interrupt(_say, at_once=True).installed():
        try:
            report = in_background(call)
        except RenewalFailedError as exc:
            _print_report(exc.report, args.output or "json")
            print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
            return EXIT_INCOMPLETE
    _print_report(report, args.output or "json")
    return EXIT_OK


def _read_event(path: Path) -> bytes:
    """The event file's bytes; one line (``InvalidEvent``) when it cannot be read."""
    try:
        return read_file(path, MAX_EVENT_BYTES)
    except (OSError, InputError) as exc:
        reason = describe_error(exc) if isinstance(exc, InputError) else (exc.strerror or type(exc).__name__)
        raise EventError(f"cannot read the event file {path}: {reason}") from None


def _json_event(data: bytes, path: Path) -> Any:
    """What the Lambda runtime hands the handler: the event decoded from JSON (nothing when empty)."""
    try:
        text = data.decode("utf-8")
        return load_json(text) if text.strip() else None
    except (ValueError, InputError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise EventError(f"the event file {path} is not JSON: {describe_error(exc)}") from None


def _lambda_handler() -> Callable[[Any, Any], dict[str, Any]]:
    """``lambda_handler.handler``, loaded from beside the renewer package, as Lambda loads it."""
    import importlib.util

    path = FUNCTION_DIR / "lambda_handler.py"
    spec = importlib.util.spec_from_file_location("lambda_handler", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise ConfigError(f"--handler lambda: {path} is not there (a code package without the Lambda entry point)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler  # type: ignore[no-any-return]


def _print_report(report: dict[str, Any], output: str) -> None:
    if output == "json":
        print(json.dumps(report, indent=2))
    else:
        print(render_table(report, width=table_width()))


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- Ctrl-C -------------------------------------------------------------------------------------


class Interrupt:
    """The SIGINT handler of one run (main thread only). The first Ctrl-C cancels the run's deadline
    (:meth:`renewer.run.deadline.Deadline.cancel`), at once or as soon as the run is assembled; the
    second, or the first when ``at_once``, quits with status 130 without waiting for anything."""

    def __init__(self, say: Callable[[str], None], *, at_once: bool = False) -> None:
        self.say = say
        self.at_once = at_once
        self.count = 0
        self._parts: wiring.Run | None = None

    @property
    def interrupted(self) -> bool:
        return self.count > 0

    def attach(self, parts: wiring.Run) -> None:
        self._parts = parts
        if self.count:
            self._cancel()

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count > 1 or self.at_once:
            self.say("interrupted: quitting now")
            os._exit(EXIT_INTERRUPTED)  # not SystemExit: that would wait for the threads under way
        self.say("interrupted: no more keys start; the calls under way get a few seconds (Ctrl-C again: quit now)")
        if self._parts is not None:
            self._cancel()

    def _cancel(self) -> None:
        assert self._parts is not None
        self._parts.deadline.cancel()
        if self._parts.callers.deadline is not self._parts.deadline:  # the metrics are being sent
            self._parts.callers.deadline.cancel()

    @contextmanager
    def installed(self) -> Iterator[Interrupt]:
        if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
            yield self
            return
        previous = signal.signal(signal.SIGINT, self)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


def in_background(work: Callable[[], T]) -> T:
    """``work()`` on a thread of its own while the main thread waits in short steps: Python runs a
    signal's handler on the main thread only, and not while it blocks on a lock with no timeout (the
    executor's wait for its keys), so this keeps Ctrl-C answered within a tenth of a second."""
    outcome: list[tuple[bool, Any]] = []

    def target() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as exc:  # handed to the main thread
            outcome.append((False, exc))

    thread = threading.Thread(target=target, name="run", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.1)
    ok, value = outcome[0]
    if ok:
        return value  # type: ignore[no-any-return]
    raise value


def table_width() -> int | None:
    """The terminal's columns when stdout is one (or ``COLUMNS`` is set); else None: whole columns."""
    if os.environ.get("COLUMNS", "").strip() or sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None

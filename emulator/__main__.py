"""Run the emulator: ``python -m emulator --port 8080 --access-key-id ID --access-key-secret SECRET``.

Serves ``cn-hangzhou`` on ``--port`` unless ``--region REGION=PORT`` (repeatable) names the
regions; port 0 picks a free port. Prints one ``listening on http://HOST:PORT (REGION)`` line
per region, then one ``admin token: TOKEN`` line, then runs until SIGTERM or SIGINT and exits 0.

Function Compute (``InvokeFunction``) runs only the functions declared here, with
``--function [SERVICE/]FUNCTION=CODE_DIR[:HANDLER]`` (repeatable; ``HANDLER`` defaults to
``index.handler``; with ``SERVICE/`` a 2.0 function, without it a 3.0 one); a missing directory or
module stops the emulator before it listens.

The admin API (``/_emulator/...``) obeys only requests that carry that token in the
``X-Emulator-Admin-Token`` header (:mod:`emulator.admin_access`). The token is new and random on
every start unless ``--admin-token TOKEN`` sets it (16 to 256 visible ASCII characters).

``--seed [KIND=N,...]`` seeds the emulator once it listens (one key of each kind by default) and
writes the function's configuration and environment for it, to ``--seed-dir`` or a new temporary
directory (:mod:`emulator.seed`); a seeding that fails stops the emulator with status 1.
``python -m emulator seed ...`` seeds one that is already running.

``--quotas published`` enforces the services' published request quotas from the start;
``--quotas FILE.json`` the settings in that file (a ``POST /_emulator/quotas`` body, such as
``{"preset": "published", "reserved": {"alibaba:query": 0.4}}``); see :mod:`emulator.quotas`.
Off by default; the admin API can turn them on, change or off at run time.

Access-key secrets never appear in the output, and the admin token only on its one line. (Both are
visible to other local users in the process list when given as command-line arguments, like any
argument: use throwaway test credentials, and let the emulator make its own admin token.)
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from emulator import admin_access
from emulator.core import DEFAULT_ACCOUNT_ID, Emulator
from emulator.functions import FunctionSpec
from emulator.quota_table import PRESETS
from emulator.quotas import QuotaSettings
from emulator.server import serve

DEFAULT_REGION = "cn-hangzhou"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help=f"port for {DEFAULT_REGION} when no --region is given")
    parser.add_argument("--access-key-id", action="append", default=[], dest="access_key_ids", required=True)
    parser.add_argument("--access-key-secret", action="append", default=[], dest="access_key_secrets", required=True)
    parser.add_argument("--region", action="append", default=[], dest="regions", metavar="REGION=PORT")
    parser.add_argument("--state", default=None, help="file to persist state in (default: memory only)")
    parser.add_argument("--account-id", default=DEFAULT_ACCOUNT_ID)
    parser.add_argument(
        "--admin-token",
        default=None,
        metavar="TOKEN",
        help="the token the admin API requires in the X-Emulator-Admin-Token header (default: a new random one)",
    )
    parser.add_argument(
        "--function",
        action="append",
        default=[],
        dest="functions",
        metavar="[SERVICE/]FUNCTION=CODE_DIR[:HANDLER]",
        help="a function InvokeFunction may run: FC 2.0 with SERVICE/, 3.0 without (repeatable; HANDLER default "
        "index.handler); no other code runs",
    )
    parser.add_argument(
        "--reuse-wrapping-keys",
        action="store_true",
        help="reuse a small pool of RSA key pairs for import tokens (benchmarks; NOTE: the service makes a new one)",
    )
    parser.add_argument(
        "--seed",
        nargs="?",
        const="all",
        default=None,
        metavar="KIND=N,...",
        help="once listening, create keys: healthy, due, expired, never-imported, not-external (default one each)",
    )
    parser.add_argument(
        "--quotas",
        default=None,
        metavar="published|FILE.json",
        help="enforce request quotas: the published ones, or the settings in a JSON file (default: off)",
    )
    parser.add_argument(
        "--seed-dir", type=Path, default=None, help="where --seed writes byok.json and byok.env (default: a temp dir)"
    )
    args = parser.parse_args(argv)
    if len(args.access_key_ids) != len(args.access_key_secrets):
        parser.error("give one --access-key-secret per --access-key-id")
    try:
        args.region_ports = region_ports(args.regions, args.port)
        args.functions = function_specs(args.functions)
        args.quotas = quota_settings(args.quotas)
        args.admin_token = (
            admin_access.check_token(args.admin_token) if args.admin_token is not None else admin_access.new_token()
        )
        if args.seed is not None:
            from emulator import seed  # the KMS SDK, only to seed

            args.seed = seed.parse_counts(seed.DEFAULT_SPEC if args.seed == "all" else args.seed)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def region_ports(specs: Sequence[str], default_port: int) -> dict[str, int]:
    """``["cn-shanghai=8081", ...]`` as ``{"cn-shanghai": 8081}``; none given: the default region."""
    if not specs:
        return {DEFAULT_REGION: default_port}
    ports: dict[str, int] = {}
    for spec in specs:
        region, sep, port = spec.partition("=")
        if not sep or not region or not port.isdigit():
            raise ValueError(f"--region expects REGION=PORT, got {spec!r}")
        if region in ports:
            raise ValueError(f"region {region} given twice")
        ports[region] = int(port)
    return ports


def quota_settings(spec: str | None) -> QuotaSettings | None:
    """``--quotas``: a preset's name, or a JSON file holding a ``POST /_emulator/quotas`` body."""
    if spec is None:
        return None
    if spec in PRESETS:
        return QuotaSettings.from_json({"preset": spec})
    try:
        document = json.loads(Path(spec).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"--quotas: cannot read {spec}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"--quotas: {spec} is not JSON: {exc.msg} (line {exc.lineno})") from exc
    if not isinstance(document, dict):
        raise ValueError(f"--quotas: {spec} must hold a JSON object")
    try:
        return QuotaSettings.from_json(document)
    except ValueError as exc:
        raise ValueError(f"--quotas: {spec}: {exc}") from exc


def function_specs(specs: Sequence[str]) -> list[FunctionSpec]:
    """Each ``--function`` value, checked; a function declared twice is an error."""
    declared = [FunctionSpec.parse(spec) for spec in specs]
    names = [spec.name for spec in declared]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"function {', '.join(twice)} declared twice")
    return declared


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["seed"]:
        from emulator import seed

        return seed.main(argv[1:])
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    credentials = dict(zip(args.access_key_ids, args.access_key_secrets, strict=True))
    regions = list(args.region_ports)
    emulator = Emulator(
        credentials,
        regions,
        account_id=args.account_id,
        state_path=args.state,
        reuse_wrapping_keys=args.reuse_wrapping_keys,
    )
    stop = threading.Event()  # handlers first: whoever read our output may signal us at once
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    running = serve(
        emulator,
        args.host,
        args.region_ports,
        admin_token=args.admin_token,
        functions=args.functions,
        quotas=args.quotas,
    )
    for region, port in running.ports.items():
        print(f"listening on http://{args.host}:{port} ({region})", flush=True)
    print(f"admin token: {running.admin_token}", flush=True)
    if args.seed is not None and not seed_at_start(args, running.ports, running.admin_token):
        running.shutdown()
        return 1

    while not stop.wait(1.0):
        pass
    running.shutdown()
    return 0


def seed_at_start(args: argparse.Namespace, ports: dict[str, int], admin_token: str) -> bool:
    """``--seed``: seed this emulator through its own ports, as a client would; False if that failed."""
    from emulator import seed
    from emulator.cloud import EmulatedCloud

    host = "127.0.0.1" if args.host in ("", "0.0.0.0") else args.host  # noqa: S104 - where to connect, not bind
    endpoints = {region: f"{host}:{port}" for region, port in ports.items()}
    cloud = EmulatedCloud(endpoints, args.access_key_ids[0], args.access_key_secrets[0], admin_token)
    try:
        text = seed.seed_and_describe(cloud, args.seed, seed.parse_material(None), args.seed_dir)
    except seed.SeedError as exc:
        print(f"seed failed: {exc}", file=sys.stderr, flush=True)
        return False
    print(text, flush=True)
    return True


if __name__ == "__main__":
    sys.exit(main())

"""Seed a running emulator with a fleet to try the function on, and write its configuration.

``python -m emulator seed --endpoint REGION=HOST:PORT ... --admin-token TOKEN --access-key-id ID
--access-key-secret SECRET [--healthy N] [--due N] ...`` seeds an emulator that is already running;
``python -m emulator ... --seed [KIND=N,...]`` seeds the emulator it starts, once it listens.

Everything goes through the KMS API (:mod:`emulator.cloud`), as any client would do it: one 256-bit
material (random, or ``--material-hex``) is stored as a text secret (64 hex digits), and then
keys of five kinds are created, spread over the regions in turn:

* ``healthy``: EXTERNAL, material imported, expiring in 80 days;
* ``due``: EXTERNAL, material imported, expiring in 10 days;
* ``expired``: EXTERNAL, material imported with an expiry a few seconds ahead of the emulator's
  clock, then waited out (about 3 s). The clock is not moved: a client comparing the service's
  ``Date`` with its own clock would see the skew, and a second seeding would add to it;
* ``never-imported``: EXTERNAL, no material;
* ``not-external``: a key whose material KMS made (``Aliyun_KMS``).

Each key gets the alias ``PREFIX + KIND-N`` (``alias/byok-due-1``) unless the prefix is empty.
Aliases already taken are refused before anything is created; an existing secret is refused by
``CreateSecret`` before any key is made.

Two files are written to a directory (a new temporary one unless given), both mode 0600:
``byok.json``, the function's configuration (``renew_before_days`` 30, ``validity_days`` 90, one
material read from the secret with its KCV, every key by alias, or by id without aliases), and
``byok.env``, the environment to run the function's CLI against this emulator (``export`` lines, to
be sourced). The directory is made before anything is created. The output names the keys, the KCV
and both files, and repeats the environment; it never shows the material, nor the access key
secret (the emulator prints none): that is in ``byok.env`` only.
"""

from __future__ import annotations

import argparse
import enum
import json
import math
import os
import secrets
import shlex
import sys
import tempfile
import time
import urllib.error
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from darabonba.exceptions import ResponseException
from Tea.exceptions import TeaException

from emulator.clock import Clock
from emulator.cloud import DAY, EmulatedCloud


class Kind(enum.Enum):
    HEALTHY = "healthy"
    DUE = "due"
    EXPIRED = "expired"
    NEVER_IMPORTED = "never-imported"
    NOT_EXTERNAL = "not-external"


#: Days of material a seeded key has left; the configuration renews within RENEW_BEFORE_DAYS.
EXPIRES_IN_DAYS = {Kind.HEALTHY: 80, Kind.DUE: 10}
RENEW_BEFORE_DAYS = 30
VALIDITY_DAYS = 90
#: An expired key's material is imported to expire this far ahead of the emulator's clock (more
#: than an import takes), and then waited out.
EXPIRED_AFTER_SECONDS = 3
EXPIRY_WAIT_LIMIT_SECONDS = 15
MAX_PER_KIND = 1000
DEFAULT_SPEC = ",".join(f"{kind.value}=1" for kind in Kind)
DEFAULT_SECRET = "byok/payments"  # noqa: S105 - the secret's name
DEFAULT_ALIAS_PREFIX = "alias/byok-"
MATERIAL_BYTES = 32
MATERIAL_NAME = "seeded"
CONFIG_FILE = "byok.json"
ENV_FILE = "byok.env"
SECRET_VARIABLE = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"  # noqa: S105 - a variable's name
#: Variables the environment file unsets: each would change what the sourced variables mean.
OVERRIDING_VARIABLES = ("RENEWER_CONFIG", "RENEWER_ALIBABA_ENDPOINT", "ALIBABA_CLOUD_SECURITY_TOKEN")


class SeedError(Exception):
    """Seeding was refused or failed; the message says why and never holds a secret."""


@dataclass(frozen=True)
class PlannedKey:
    kind: Kind
    number: int
    region: str
    alias: str | None


@dataclass(frozen=True)
class SeededKey:
    kind: Kind
    number: int
    region: str
    key_id: str
    alias: str | None
    expires: int | None  # Unix time of the material's expiry, None without material


@dataclass(frozen=True)
class Seeded:
    keys: tuple[SeededKey, ...]
    secret: str
    secret_region: str
    kcv: str


def parse_counts(spec: str) -> dict[Kind, int]:
    """``"healthy=2,due=1"`` as ``{Kind.HEALTHY: 2, Kind.DUE: 1}`` (kinds not named: 0), checked."""
    counts: dict[Kind, int] = {}
    for item in spec.split(","):
        name, sep, number = item.strip().partition("=")
        try:
            kind = Kind(name.strip())
        except ValueError:
            kinds = ", ".join(k.value for k in Kind)
            raise ValueError(f"--seed expects KIND=N,... with KIND one of {kinds}; got {item.strip()[:40]!r}") from None
        if not sep or not number.strip().isdigit():
            raise ValueError(f"--seed: {kind.value} needs a count, as in {kind.value}=1")
        if kind in counts:
            raise ValueError(f"--seed: {kind.value} given twice")
        counts[kind] = int(number)
    return check_counts(counts)


def check_counts(counts: Mapping[Kind, int]) -> dict[Kind, int]:
    """Each count 0 to :data:`MAX_PER_KIND`, at least one key in all."""
    for kind, count in counts.items():
        if not 0 <= count <= MAX_PER_KIND:
            raise ValueError(f"{kind.value}: from 0 to {MAX_PER_KIND} keys, not {count}")
    if not any(counts.values()):
        raise ValueError("nothing to seed: ask for at least one key")
    return {kind: counts.get(kind, 0) for kind in Kind}


def key_check_value(material: bytes) -> str:
    """First 3 bytes of AES-256-ECB(material, 16 zero bytes), upper-case hex."""
    # ECB over a single zero block is the definition of a key check value, not a data mode.
    encryptor = Cipher(algorithms.AES(material), modes.ECB()).encryptor()  # noqa: S305
    return (encryptor.update(bytes(16)) + encryptor.finalize())[:3].hex().upper()


def seed(
    cloud: EmulatedCloud,
    counts: Mapping[Kind, int],
    material: bytes,
    *,
    secret: str = DEFAULT_SECRET,
    secret_region: str | None = None,
    alias_prefix: str = DEFAULT_ALIAS_PREFIX,
    clock: Clock | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Seeded:
    """Create the secret and the keys through the API; returns them in kind order. ``clock``: the
    emulator's (default: read from its admin API); ``sleep`` waits the expired keys out."""
    if len(material) != MATERIAL_BYTES:
        raise SeedError(f"the material must be {MATERIAL_BYTES} bytes")
    regions = list(cloud.endpoints)
    secret_region = secret_region or regions[0]
    if secret_region not in regions:
        raise SeedError(f"the secret's region {secret_region} is not among the endpoints ({', '.join(regions)})")
    planned = plan_keys(check_counts(counts), regions, alias_prefix)
    try:
        _refuse_taken_aliases(cloud, planned)
        clock = clock or Clock(cloud.emulator_now() - time.time())
        cloud.secret(secret, material.hex(), secret_region)
        expired_first = sorted(planned, key=lambda plan: plan.kind is not Kind.EXPIRED)  # the wait overlaps the rest
        made = {plan: _create(cloud, clock, material, plan) for plan in expired_first}
        keys = tuple(made[plan] for plan in planned)
        _wait_out(cloud, clock, [key for key in keys if key.kind is Kind.EXPIRED], sleep)
    except ResponseException as exc:  # not chained: the SDK's exception holds the request
        message = exc.data.get("Message") if isinstance(exc.data, dict) else None
        raise SeedError(f"the emulator refused a call: {exc.code}: {message or exc.message}") from None
    except (TeaException, OSError) as exc:  # the SDK's transport errors, urllib's for the admin API
        raise SeedError(_unreachable(exc, cloud)) from None
    return Seeded(keys, secret, secret_region, key_check_value(material))


def plan_keys(counts: Mapping[Kind, int], regions: Sequence[str], alias_prefix: str) -> list[PlannedKey]:
    """The keys to make, in kind order, numbered from 1 per kind, over the regions in turn."""
    numbered = [(kind, number) for kind in Kind for number in range(1, counts.get(kind, 0) + 1)]
    return [
        PlannedKey(kind, number, regions[index % len(regions)], _alias(alias_prefix, kind, number))
        for index, (kind, number) in enumerate(numbered)
    ]


def _alias(prefix: str, kind: Kind, number: int) -> str | None:
    return f"{prefix}{kind.value}-{number}" if prefix else None


def _refuse_taken_aliases(cloud: EmulatedCloud, planned: Sequence[PlannedKey]) -> None:
    existing = {region: cloud.aliases(region) for region in {plan.region for plan in planned if plan.alias}}
    taken = [f"{p.alias} ({p.region})" for p in planned if p.alias and p.alias in existing[p.region]]
    if taken:
        raise SeedError(
            f"aliases already taken: {', '.join(taken[:5])}{' ...' if len(taken) > 5 else ''}; "
            "reset the emulator or choose another alias prefix"
        )


def _create(cloud: EmulatedCloud, clock: Clock, material: bytes, plan: PlannedKey) -> SeededKey:
    kind, number, region, alias = plan.kind, plan.number, plan.region, plan.alias
    origin = "Aliyun_KMS" if kind is Kind.NOT_EXTERNAL else "EXTERNAL"
    key_id = cloud.create_key(region, origin=origin, alias=alias, description=f"seeded: {kind.value} {number}")
    expires = None
    if kind is Kind.EXPIRED:
        expires = math.ceil(clock.now()) + EXPIRED_AFTER_SECONDS
    elif kind in EXPIRES_IN_DAYS:
        expires = int(clock.now() + EXPIRES_IN_DAYS[kind] * DAY)
    if expires is not None:
        cloud.import_material(region, key_id, material, expires)
    return SeededKey(kind, number, region, key_id, alias, expires)


def _wait_out(cloud: EmulatedCloud, clock: Clock, expired: Sequence[SeededKey], sleep: Callable[[float], None]) -> None:
    """Wait until each key's material has expired on the emulator's clock (its state says so)."""
    if not expired:
        return
    latest = max(key.expires or 0 for key in expired)
    sleep(max(0.0, latest - clock.now()) + 0.1)
    for key in expired:
        while cloud.describe(key.key_id, key.region).key_state != "PendingImport":
            if clock.now() > latest + EXPIRY_WAIT_LIMIT_SECONDS:
                raise SeedError(f"key {key.key_id} in {key.region} did not expire on the emulator's clock")
            sleep(0.2)


def _unreachable(exc: Exception, cloud: EmulatedCloud) -> str:
    endpoints = ", ".join(cloud.endpoints.values())
    if isinstance(exc, urllib.error.HTTPError) and exc.code == 403:
        return f"the admin API at {endpoints} refused the request (403): give the admin token the emulator printed"
    return f"no answer from the emulator at {endpoints} ({type(exc).__name__}): is it running there?"


def function_config(seeded: Seeded) -> dict[str, object]:
    """The function's configuration for the seeded keys: one material, read from the secret."""
    source = {"type": "alibaba-secret", "name": seeded.secret, "region": seeded.secret_region, "encoding": "hex"}
    return {
        "defaults": {"renew_before_days": RENEW_BEFORE_DAYS, "validity_days": VALIDITY_DAYS},
        "materials": [
            {
                "name": MATERIAL_NAME,
                "source": source,
                "kcv": seeded.kcv,
                "keys": [{"region": key.region, "key_id": key.alias or key.key_id} for key in seeded.keys],
            }
        ],
    }


def function_environment(
    endpoints: Mapping[str, str], access_key_id: str, access_key_secret: str, config_path: Path
) -> dict[str, str]:
    """The variables that point the function's CLI at this emulator, with these credentials."""
    return {
        "RENEWER_CONFIG_FILE": str(config_path),
        "RENEWER_ALIBABA_ENDPOINTS": ",".join(f"{region}=http://{host}" for region, host in endpoints.items()),
        "ALIBABA_CLOUD_ACCESS_KEY_ID": access_key_id,
        SECRET_VARIABLE: access_key_secret,
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",  # the credential chain never reaches off the host
    }


def environment_lines(environment: Mapping[str, str], redact: bool) -> list[str]:
    """``export`` lines (values shell-quoted), after one ``unset`` of the variables that would override them."""
    lines = [f"unset {' '.join(OVERRIDING_VARIABLES)}"]
    for name, value in environment.items():
        if redact and name == SECRET_VARIABLE:
            lines.append(f"export {name}=...  # the emulator's --access-key-secret: in the file only")
        else:
            lines.append(f"export {name}={shlex.quote(value)}")
    return lines


def write_outputs(
    directory: Path, seeded: Seeded, endpoints: Mapping[str, str], access_key_id: str, access_key_secret: str
) -> tuple[Path, Path, dict[str, str]]:
    """Write the configuration and the environment file; returns their paths and the environment."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    config_path, env_path = (directory / CONFIG_FILE).resolve(), (directory / ENV_FILE).resolve()
    environment = function_environment(endpoints, access_key_id, access_key_secret, config_path)
    _write_private(config_path, json.dumps(function_config(seeded), indent=2) + "\n")
    header = f"# The function's environment for the seeded emulator: `. {shlex.quote(str(env_path))}`"
    _write_private(env_path, "\n".join([header, *environment_lines(environment, redact=False)]) + "\n")
    return config_path, env_path, environment


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, mode 0600, never through a symlink."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        os.fchmod(file.fileno(), 0o600)
        file.write(text)


def describe(seeded: Seeded, config_path: Path, env_path: Path, environment: Mapping[str, str]) -> str:
    """What was seeded and how to use it; the last line starts with ``ready:``."""
    lines = [f"seeded: secret {seeded.secret} in {seeded.secret_region} holds the material, KCV {seeded.kcv}"]
    width = max(len(key.alias or "") for key in seeded.keys)
    for key in seeded.keys:
        lines.append(
            f"  {key.kind.value:14}  {key.region:14}  {(key.alias or '-'):{width}}  {key.key_id}  {_expiry(key)}"
        )
    lines.append(f"configuration: {config_path}")
    lines.append(f"environment:   {env_path}")
    lines.extend(f"  {line}" for line in environment_lines(environment, redact=True))
    lines.append(f"ready: . {shlex.quote(str(env_path))}, then run the function's CLI (plan, run)")
    return "\n".join(lines)


def _expiry(key: SeededKey) -> str:
    if key.kind is Kind.NOT_EXTERNAL:
        return "origin Aliyun_KMS"
    if key.expires is None:
        return "never imported"
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(key.expires))
    return f"expired {when}" if key.kind is Kind.EXPIRED else f"expires {when}"


def seed_and_describe(
    cloud: EmulatedCloud,
    counts: Mapping[Kind, int],
    material: bytes,
    directory: Path | None,
    *,
    secret: str = DEFAULT_SECRET,
    secret_region: str | None = None,
    alias_prefix: str = DEFAULT_ALIAS_PREFIX,
) -> str:
    """Seed, write both files (to a new temporary directory if ``directory`` is None), describe.
    The directory is made first: one that cannot be is refused before anything is created."""
    try:
        directory = directory or Path(tempfile.mkdtemp(prefix="byok-seed-"))
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise SeedError(f"cannot use {directory} for the output: {exc.strerror}") from exc
    seeded = seed(cloud, counts, material, secret=secret, secret_region=secret_region, alias_prefix=alias_prefix)
    try:
        config_path, env_path, environment = write_outputs(
            directory, seeded, cloud.endpoints, cloud.access_key_id, cloud.access_key_secret
        )
    except OSError as exc:
        raise SeedError(f"seeded, but cannot write to {directory}: {exc.strerror}") from exc
    return describe(seeded, config_path, env_path, environment)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m emulator seed", description="Seed a running emulator with keys of every kind."
    )
    parser.add_argument("--endpoint", action="append", required=True, dest="endpoints", metavar="REGION=HOST:PORT")
    parser.add_argument("--admin-token", required=True, metavar="TOKEN", help="the one the emulator printed")
    parser.add_argument("--access-key-id", required=True, help="one the emulator was started with")
    parser.add_argument("--access-key-secret", required=True)
    for kind in Kind:
        parser.add_argument(f"--{kind.value}", type=int, default=1, metavar="N", dest=kind.name, help="default 1")
    parser.add_argument("--material-hex", metavar="HEX", help="64 hex digits (default: random)")
    parser.add_argument("--secret", default=DEFAULT_SECRET, help=f"the secret to create (default {DEFAULT_SECRET})")
    parser.add_argument("--secret-region", help="default: the first endpoint's region")
    parser.add_argument(
        "--alias-prefix", default=DEFAULT_ALIAS_PREFIX, help=f"default {DEFAULT_ALIAS_PREFIX}; empty: no aliases"
    )
    parser.add_argument("--out-dir", type=Path, help="where to write byok.json and byok.env (default: a new temp dir)")
    args = parser.parse_args(argv)
    try:
        args.endpoints = parse_endpoints(args.endpoints)
        args.counts = check_counts({kind: getattr(args, kind.name) for kind in Kind})
        args.material = parse_material(args.material_hex)
        if args.alias_prefix and not args.alias_prefix.startswith("alias/"):
            raise ValueError("--alias-prefix must start with alias/ (or be empty)")
    except ValueError as exc:
        parser.error(str(exc))
    return args


def parse_endpoints(specs: Sequence[str]) -> dict[str, str]:
    """``["cn-hangzhou=127.0.0.1:8080", "cn-shanghai=http://127.0.0.1:8081"]`` as ``{region: "host:port"}``."""
    endpoints: dict[str, str] = {}
    for spec in specs:
        region, sep, endpoint = spec.partition("=")
        host = endpoint.removeprefix("http://").rstrip("/")
        if not sep or not region or not host or "/" in host or ":" not in host:
            raise ValueError(f"--endpoint expects REGION=HOST:PORT (or http://HOST:PORT), got {spec[:80]!r}")
        if region in endpoints:
            raise ValueError(f"--endpoint: region {region} given twice")
        endpoints[region] = host
    return endpoints


def parse_material(material_hex: str | None) -> bytes:
    """The given material (never echoed in an error), or a random one."""
    if material_hex is None:
        return secrets.token_bytes(MATERIAL_BYTES)
    try:
        material = bytes.fromhex(material_hex)
    except ValueError:
        raise ValueError(f"--material-hex must be {2 * MATERIAL_BYTES} hex digits") from None
    if len(material) != MATERIAL_BYTES:
        raise ValueError(f"--material-hex must be {2 * MATERIAL_BYTES} hex digits")
    return material


def main(argv: Sequence[str]) -> int:
    """``python -m emulator seed ...``: 0 when seeded, 1 when refused or failed, 2 for bad arguments."""
    args = parse_args(argv)
    cloud = EmulatedCloud(args.endpoints, args.access_key_id, args.access_key_secret, args.admin_token)
    try:
        text = seed_and_describe(
            cloud,
            args.counts,
            args.material,
            args.out_dir,
            secret=args.secret,
            secret_region=args.secret_region,
            alias_prefix=args.alias_prefix,
        )
    except SeedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(text, flush=True)
    return 0

"""Validate a configuration as the function will read it: ``python scripts/check_config.py FILE [EXTRA...]``.

The package step (scripts/build-package.sh, ``make package``) runs this before it builds anything, so a
configuration the daily run would refuse never reaches Function Compute. It is the function's own
code, not a copy: :func:`renewer.settings.from_environ` with ``RENEWER_CONFIG_FILE=FILE`` reads the
file under the same rules (a regular file of at most 1 MiB of UTF-8) and validates it
(:func:`renewer.config.load`: every field, with its place). Then the rule the function applies at run
time with what is installed (:func:`renewer.run.wiring.check_extras`) is applied to what the package
will hold: a configuration with AWS keys, secrets or metrics needs the ``aws`` extra, one with a
``pkcs11`` source the ``pkcs11`` extra, one that wraps with ``SM2PKE`` the ``sm2`` extra.

Exit status 0 (the configuration's warnings on stderr), 2 with the function's message.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "function"))

from renewer import settings  # noqa: E402
from renewer.config import Config  # noqa: E402
from renewer.errors import RenewerError  # noqa: E402

EXTRAS = ("aws", "pkcs11", "sm2")


def missing_extras(config: Config, extras: set[str]) -> list[str]:
    """What the configuration uses that the package, built with ``extras``, would lack."""
    needs = (
        (config.uses_aws, "aws", "AWS keys, secrets or CloudWatch"),
        (config.uses_pkcs11, "pkcs11", "a pkcs11 source"),
        (config.uses_sm2, "sm2", "the SM2PKE wrapping algorithm"),
    )
    return [
        f"the configuration uses {what}: build the package with the '{extra}' extra (make package EXTRAS={extra})"
        for uses, extra, what in needs
        if uses and extra not in extras
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("extras", nargs="*", help=f"the extras the package is built with: {', '.join(EXTRAS)}")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.extras) - set(EXTRAS))
    if unknown:
        parser.error(f"unknown extra(s) {', '.join(unknown)} (the extras are: {', '.join(EXTRAS)})")
    try:
        config = settings.from_environ({"RENEWER_CONFIG_FILE": str(args.file.resolve())}).config
    except RenewerError as exc:
        print(f"error: {args.file}: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    problems = missing_extras(config, set(args.extras))
    for problem in problems:
        print(f"error: {args.file}: InvalidConfiguration: {problem}", file=sys.stderr)
    if problems:
        return 2
    for warning in config.warnings:
        print(f"warning: {args.file}: {warning}", file=sys.stderr)
    keys = sum(len(spec.keys) for spec in config.materials)
    print(f"{args.file}: valid ({len(config.materials)} material(s), {keys} key(s) listed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

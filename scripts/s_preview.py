"""Render s.yaml as Serverless Devs itself does: ``s preview -o json`` of the pinned CLI, offline.

``@serverless-devs/s`` (pinned in package.json, installed into node_modules/ by ``npm ci`` in
scripts/install-fun.sh) resolves ``${vars.x}``, ``${env('X')}``/``${env('X', 'default')}`` and the rest
of its magic with its own template engine (packages/parse-spec in github Serverless-Devs/toolkit).
``preview`` only parses: it does not load the fc3 component (which comes from Serverless Devs' own
registry, not npm) and needs no credentials, so CI renders with the real thing, not a look-alike.

NOTE: left alone, ``s`` starts detached background processes (its ``lib/daemon/``) that check for
a newer CLI and report usage and errors over the network: once per 12 hours, and after every error.
``NODE_ENV=test`` makes its daemon launcher return at once (``lib/index.js``); ``analysis: disable``
in ``~/.s/set-config.yml`` stops the reports too. With both, a render opens no connection at all
(checked with ``strace -f -e trace=connect``, for a render that passes and one that fails).

Each render runs in a fresh temporary folder holding a copy of the file and its own ``HOME``: no
``~/.s`` is read or written, and no ``.env`` file beside the real s.yaml or in the code folder is
loaded (``s`` reads both). The environment is what the caller passes, plus ``PATH`` (for ``node``),
``HOME`` and ``NODE_ENV``.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
S_CLI = REPO / "node_modules" / ".bin" / "s"
TIMEOUT_SECONDS = 120
EXCERPT_CHARS = 2000


class RenderError(Exception):
    """``s preview`` refused the file (an unset ``${env('X')}``, bad YAML...) or is not installed."""


def render(text: str, environ: Mapping[str, str], *, s_cli: Path = S_CLI) -> dict[str, Any]:
    """The document ``s`` would hand to the fc3 component, for the s.yaml ``text`` in ``environ``."""
    if not os.access(s_cli, os.X_OK):
        raise RenderError(f"{s_cli} is missing: run `make test` or scripts/install-fun.sh (npm ci) first")
    with tempfile.TemporaryDirectory(prefix="s-preview-") as tmp:
        folder = Path(tmp)
        (folder / "s.yaml").write_text(text, encoding="utf-8")
        home = folder / "home"
        (home / ".s").mkdir(parents=True)
        (home / ".s" / "set-config.yml").write_text("analysis: disable\n", encoding="utf-8")
        env = {**environ, "PATH": os.environ.get("PATH", os.defpath), "HOME": str(home), "NODE_ENV": "test"}
        try:
            done = subprocess.run(
                [str(s_cli), "preview", "-o", "json"],
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise RenderError(f"s preview did not finish within {TIMEOUT_SECONDS} s") from exc
    if done.returncode != 0:
        raise RenderError(f"s preview failed (exit {done.returncode}):\n{_excerpt(done.stdout + done.stderr)}")
    return _json_document(done.stdout)


def _json_document(stdout: str) -> dict[str, Any]:
    # s prints warnings (e.g. about running as root) on stdout ahead of the document.
    lines = stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("{")), None)
    if start is None:
        raise RenderError(f"s preview printed no JSON document:\n{_excerpt(stdout)}")
    try:
        document = json.loads("\n".join(lines[start:]))
    except json.JSONDecodeError as exc:
        raise RenderError(f"s preview printed something other than JSON ({exc}):\n{_excerpt(stdout)}") from exc
    if not isinstance(document, dict):
        raise RenderError("s preview printed JSON that is not a mapping")
    return document


def _excerpt(text: str) -> str:
    text = text.strip()
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + " ..."

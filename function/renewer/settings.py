"""Every environment variable the function reads, in one place (and in the README).

- ``RENEWER_CONFIG``: the configuration document itself, JSON or YAML text (at most 1 MiB).
- ``RENEWER_CONFIG_FILE``: a path to it, when ``RENEWER_CONFIG`` is unset; a relative path is
  looked up in the working directory, then beside ``index.py``; default ``renewer.yml`` beside ``index.py``.
  It must be a regular file (not a FIFO or device) of at most 1 MiB of UTF-8 text; no more than
  that is ever read.
- ``RENEWER_ALIBABA_ENDPOINTS``: per region, the endpoint of every Alibaba Cloud API called in
  that region, as ``REGION=ENDPOINT,REGION=ENDPOINT``.
- ``RENEWER_ALIBABA_ENDPOINT``: one endpoint for the regions not listed there.
- ``RENEWER_FC_ENDPOINT``: Function Compute's endpoint for fan-out invocations (a URL); default
  ``https://ACCOUNT.REGION.fc.aliyuncs.com`` from the invocation context.
- ``ALIBABA_CLOUD_ACCESS_KEY_ID``/``_SECRET``/``_SECURITY_TOKEN`` (and the rest of the default chain
  of ``alibabacloud-credentials``): credentials, when the invocation context carries none.

An endpoint is ``host:port`` or a URL with an ``http://``/``https://`` scheme. Without a scheme,
``https`` is used, except for loopback hosts (``127.0.0.0/8``, ``localhost``, ``[::1]``): ``http``.
Without either endpoint variable the SDKs' own regional endpoints are used.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from renewer.config import MAX_CONFIG_BYTES, REGION_RE, Config, load, parse_text
from renewer.errors import ConfigError
from renewer.inputs import PATH_CHARS, InputError, clip, excerpt, read_file

CODE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_FILE = CODE_DIR / "renewer.yml"


@dataclass(frozen=True)
class Endpoint:
    host: str  # host[:port]
    protocol: str  # "http" | "https"


@dataclass(frozen=True)
class Settings:
    config: Config
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    default_endpoint: Endpoint | None = None
    fc_endpoint: str | None = None

    def endpoint(self, region: str) -> Endpoint | None:
        """The override for ``region``, or None for the SDK's regional endpoint."""
        return self.endpoints.get(region, self.default_endpoint)


def from_environ(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    return Settings(
        config=load(parse_text(_config_text(env))),
        endpoints=parse_endpoints(env.get("RENEWER_ALIBABA_ENDPOINTS", "")),
        default_endpoint=parse_endpoint(env["RENEWER_ALIBABA_ENDPOINT"], "RENEWER_ALIBABA_ENDPOINT")
        if env.get("RENEWER_ALIBABA_ENDPOINT", "").strip()
        else None,
        fc_endpoint=_fc_endpoint(env.get("RENEWER_FC_ENDPOINT", "")),
    )


def _fc_endpoint(value: str) -> str | None:
    if not value.strip():
        return None
    endpoint = parse_endpoint(value, "RENEWER_FC_ENDPOINT")
    return f"{endpoint.protocol}://{endpoint.host}"


#: RENEWER_CONFIG holding what looks like a file name rather than a document.
_LOOKS_LIKE_PATH = re.compile(r"\s*(?:[./~]|[A-Za-z]:\\)?[^\s:{}\[\]]*\.(?:ya?ml|json)\s*")


def _config_text(env: Mapping[str, str]) -> str:
    text = env.get("RENEWER_CONFIG", "")
    if text.strip():
        if _LOOKS_LIKE_PATH.fullmatch(text):
            raise ConfigError(
                f"RENEWER_CONFIG holds {clip(text.strip(), PATH_CHARS)!r}, which looks like a file name: "
                "RENEWER_CONFIG is the configuration itself; name a file with RENEWER_CONFIG_FILE"
            )
        return text
    named = Path(env.get("RENEWER_CONFIG_FILE") or DEFAULT_CONFIG_FILE)
    # A relative path: the working directory, then the code package (on Function Compute, beside index.py).
    tried = [named] if named.is_absolute() else [Path.cwd() / named, CODE_DIR / named]
    path = next((p for p in tried if p.exists()), tried[-1])
    shown = clip(str(path), PATH_CHARS)
    try:
        data = read_file(path, MAX_CONFIG_BYTES)
    except OSError as exc:
        every = " nor ".join(clip(str(p), PATH_CHARS) for p in tried)
        raise ConfigError(
            f"no configuration: RENEWER_CONFIG is unset and {every} cannot be read ({exc.strerror})"
        ) from exc
    except InputError as exc:  # not a regular file, or larger than the limit
        raise ConfigError(f"configuration file {shown} {exc.message}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"configuration file {shown} is not UTF-8 text (byte {exc.start})") from None


def parse_endpoints(text: str) -> dict[str, Endpoint]:
    endpoints: dict[str, Endpoint] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        region, sep, value = item.partition("=")
        region = region.strip()
        if not sep or not REGION_RE.fullmatch(region):
            raise ConfigError(f"RENEWER_ALIBABA_ENDPOINTS: expected REGION=ENDPOINT, got {excerpt(item)}")
        endpoints[region] = parse_endpoint(value.strip(), f"RENEWER_ALIBABA_ENDPOINTS[{clip(region)}]")
    return endpoints


def parse_endpoint(value: str, where: str) -> Endpoint:
    value = value.strip()
    if "://" in value:
        try:
            parts = urlsplit(value)
        except ValueError:  # "Invalid IPv6 URL"
            raise ConfigError(f"{where}: expected http(s)://HOST[:PORT], got {excerpt(value)}") from None
        scheme = parts.scheme.lower()
        if (
            scheme not in ("http", "https")
            or not parts.netloc
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise ConfigError(f"{where}: expected http(s)://HOST[:PORT], got {excerpt(value)}")
        return Endpoint(parts.netloc, scheme)
    if not value or "/" in value:
        raise ConfigError(f"{where}: expected HOST[:PORT] or a URL, got {excerpt(value)}")
    return Endpoint(value, "http" if _is_loopback(value) else "https")


def _is_loopback(hostport: str) -> bool:
    try:
        host = urlsplit(f"//{hostport}").hostname or ""
    except ValueError:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

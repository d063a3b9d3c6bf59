"""An operator's view of a running emulator, for tests and the demo: create keys, import material
and store secrets through the official SDK (``alibabacloud-kms20160120``), and read the admin API.

:func:`spawn` starts ``python -m emulator`` and reads its endpoints and admin token from its
output; :class:`EmulatedCloud` sends that token (``X-Emulator-Admin-Token``) with every admin call.

Nothing here is used by the emulator itself.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alibabacloud_kms20160120 import models as kms_models
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.models import Config
from cryptography.hazmat.primitives import keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.admin_access import HEADER as ADMIN_TOKEN_HEADER
from emulator.backend import sm2
from emulator.backend.unwrap import SM2_KEY_SPEC, SM2PKE, TRANSPORT_KEY_BYTES, scheme
from emulator.functions import FunctionSpec

DAY = 86400


class EmulatedCloud:
    """``admin_token``: the emulator's admin token; if None, the token of the emulator that
    :func:`spawn` started at these endpoints in this process (callers that predate the token)."""

    def __init__(
        self,
        endpoints: dict[str, str],
        access_key_id: str,
        access_key_secret: str,
        admin_token: str | None = None,
    ) -> None:
        self.endpoints = endpoints  # region -> "127.0.0.1:PORT"
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self._admin_token = admin_token
        self._clients: dict[str, KmsClient] = {}

    # ---- admin API -----------------------------------------------------------------------------
    def admin(self, method: str, path: str, body: Any = None, region: str | None = None) -> Any:
        """Call ``/_emulator/...`` (a bare name like ``"calls"`` is prefixed) with the admin token."""
        if not path.startswith("/"):
            path = f"/_emulator/{path}"
        host = self.endpoints[region or next(iter(self.endpoints))]
        token = self._admin_token or _SPAWNED.get(host)
        if token is None:
            raise ValueError(f"no admin token for the emulator at {host}: pass admin_token=")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://{host}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header(ADMIN_TOKEN_HEADER, token)
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
            return json.loads(response.read())

    def calls(self, action: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.admin("GET", "calls") if action is None or c["action"] == action]

    def metrics(self) -> list[dict[str, Any]]:
        return self.admin("GET", "metrics")

    def advance_clock(self, seconds: float) -> None:
        self.admin("POST", "clock", {"advance": seconds})

    # ---- KMS through the SDK -------------------------------------------------------------------
    def kms(self, region: str = "cn-hangzhou") -> KmsClient:
        if region not in self._clients:
            config = Config(
                access_key_id=self.access_key_id,
                access_key_secret=self.access_key_secret,
                endpoint=self.endpoints[region],
                protocol="http",
                region_id=region,
            )
            self._clients[region] = KmsClient(config)
        return self._clients[region]

    def create_key(
        self,
        region: str = "cn-hangzhou",
        origin: str = "EXTERNAL",
        alias: str | None = None,
        description: str = "",
        key_spec: str | None = None,
        protection_level: str | None = None,
    ) -> str:
        request = kms_models.CreateKeyRequest(
            origin=origin, description=description, key_spec=key_spec, protection_level=protection_level
        )
        key_id = self.kms(region).create_key(request).body.key_metadata.key_id
        if alias:
            self.kms(region).create_alias(kms_models.CreateAliasRequest(alias_name=alias, key_id=key_id))
        return key_id

    def import_material(
        self, region: str, key_id: str, material: bytes, expire_unix: int, algorithm: str = "RSAES_OAEP_SHA_256"
    ) -> None:
        client = self.kms(region)
        params = client.get_parameters_for_import(
            kms_models.GetParametersForImportRequest(
                key_id=key_id,
                wrapping_algorithm=algorithm,
                wrapping_key_spec=SM2_KEY_SPEC if algorithm == SM2PKE else "RSA_2048",
            )
        ).body
        blob = wrap_for_import(params.public_key, material, algorithm)
        client.import_key_material(
            kms_models.ImportKeyMaterialRequest(
                key_id=key_id,
                encrypted_key_material=base64.b64encode(blob).decode(),
                import_token=params.import_token,
                key_material_expire_unix=expire_unix,
            )
        )

    def key_with_material(
        self, material: bytes, expires_in_days: float, region: str = "cn-hangzhou", **kwargs: Any
    ) -> str:
        """A new EXTERNAL key holding ``material`` until ``expires_in_days`` from now (real time)."""
        key_id = self.create_key(region, **kwargs)
        self.import_material(region, key_id, material, int(time.time() + expires_in_days * DAY))
        return key_id

    def describe(self, key_id: str, region: str = "cn-hangzhou") -> kms_models.DescribeKeyResponseBodyKeyMetadata:
        return self.kms(region).describe_key(kms_models.DescribeKeyRequest(key_id=key_id)).body.key_metadata

    def secret(self, name: str, data: str | bytes, region: str = "cn-hangzhou") -> None:
        """A text secret for ``str`` data, a binary one for ``bytes``."""
        binary = isinstance(data, bytes)
        self.kms(region).create_secret(
            kms_models.CreateSecretRequest(
                secret_name=name,
                version_id="v1",
                secret_data=base64.b64encode(data).decode() if binary else data,
                secret_data_type="binary" if binary else "text",
            )
        )

    def encrypt(self, key_id: str, plaintext: str, region: str = "cn-hangzhou") -> str:
        request = kms_models.EncryptRequest(key_id=key_id, plaintext=plaintext)
        return self.kms(region).encrypt(request).body.ciphertext_blob

    def decrypt(self, blob: str, region: str = "cn-hangzhou") -> str:
        return self.kms(region).decrypt(kms_models.DecryptRequest(ciphertext_blob=blob)).body.plaintext

    def aliases(self, region: str = "cn-hangzhou") -> dict[str, str]:
        """Every alias in ``region`` and the key id it names (``ListAliases``, page after page)."""
        found: dict[str, str] = {}
        page = 1
        while True:
            request = kms_models.ListAliasesRequest(page_number=page, page_size=100)
            body = self.kms(region).list_aliases(request).body
            rows = body.aliases.alias if body.aliases and body.aliases.alias else []
            found.update({row.alias_name: row.key_id for row in rows})
            if not rows or page * 100 >= (body.total_count or 0):
                return found
            page += 1

    def emulator_now(self) -> float:
        """The emulator clock's time (``GET /_emulator/clock``), which material expiry follows."""
        return float(self.admin("GET", "clock")["now"])


def wrap_for_import(public_key_b64: str, material: bytes, algorithm: str) -> bytes:
    """``EncryptedKeyMaterial`` for ``ImportKeyMaterial``, as a client makes it: ``material`` wrapped
    under the ``PublicKey`` (base64 DER SubjectPublicKeyInfo) of ``GetParametersForImport`` with the
    emulator's own table (:mod:`emulator.backend.unwrap`); the two-step algorithms get a fresh AES key.
    ``SM2PKE`` (an ``EC_SM2`` public key) is SM2 encryption, GM/T 0009 DER, by :mod:`emulator.backend.sm2`.
    """
    if algorithm == SM2PKE:
        return sm2.encrypt(sm2.load_public_key_der(base64.b64decode(public_key_b64, validate=True)), material)
    public_key = serialization.load_der_public_key(base64.b64decode(public_key_b64, validate=True))
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ValueError("the import public key is not an RSA key")
    chosen = scheme(algorithm)
    if not chosen.two_step:
        return public_key.encrypt(material, chosen.rsa_padding())
    transport_key = os.urandom(TRANSPORT_KEY_BYTES)
    wrapped_key = public_key.encrypt(transport_key, chosen.rsa_padding())
    return wrapped_key + keywrap.aes_key_wrap_with_padding(transport_key, material)


_LISTENING = re.compile(r"^listening on http://(?P<host>[^ ]+):(?P<port>\d+) \((?P<region>[^)]+)\)$")
_ADMIN_TOKEN_LINE = re.compile(r"^admin token: (?P<token>\S+)$")
_SPAWNED: dict[str, str] = {}  # "host:port" -> admin token, of each emulator spawn() runs right now


@dataclass(frozen=True)
class Spawned:
    """An emulator started by :func:`spawn`: its process, ``{region: "host:port"}``, its admin token.

    Unpacks as ``(process, endpoints)``, as spawn's callers did before the admin token.
    """

    process: subprocess.Popen[str]
    endpoints: dict[str, str]
    admin_token: str = field(repr=False)
    access_key_id: str = ""
    access_key_secret: str = field(default="", repr=False)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.process, self.endpoints))

    def cloud(self) -> EmulatedCloud:
        """An :class:`EmulatedCloud` with the credentials and the admin token this emulator was started with."""
        return EmulatedCloud(self.endpoints, self.access_key_id, self.access_key_secret, self.admin_token)


@contextmanager
def spawn(
    regions: tuple[str, ...],
    access_key_id: str,
    access_key_secret: str,
    *,
    stderr_path: Path | None = None,
    extra_args: tuple[str, ...] = (),
    admin_token: str | None = None,
    functions: Sequence[FunctionSpec] = (),
    startup_timeout: float = 30,
) -> Iterator[Spawned]:
    """Run ``python -m emulator`` on free loopback ports, one per region; yields a :class:`Spawned`.

    ``functions`` are declared with ``--function`` (the only code Function Compute will run).
    ``admin_token`` is passed as ``--admin-token``; without it the emulator makes one, read from its
    ``admin token:`` line. Its stderr goes to ``stderr_path`` (a temporary file if none), and a daemon
    thread keeps draining its stdout, so neither pipe can fill up; the process is stopped on exit.
    """
    command = [sys.executable, "-m", "emulator", "--host", "127.0.0.1", "--port", "0"]
    for region in regions:
        command += ["--region", f"{region}=0"]
    command += ["--access-key-id", access_key_id, "--access-key-secret", access_key_secret, *extra_args]
    for function in functions:
        command += ["--function", function.argument()]
    if admin_token is not None:
        command += [f"--admin-token={admin_token}"]
    with contextlib.ExitStack() as stack:
        stderr = (
            stack.enter_context(stderr_path.open("w+"))
            if stderr_path
            else stack.enter_context(tempfile.TemporaryFile("w+"))
        )
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
        stack.callback(_stop, process)
        try:
            endpoints, token = _wait_ready(process, len(regions), startup_timeout)
        except RuntimeError as exc:
            stderr.seek(0)
            raise RuntimeError(f"{exc}; stderr:\n{stderr.read()}") from exc
        for endpoint in endpoints.values():
            _SPAWNED[endpoint] = token
            stack.callback(_SPAWNED.pop, endpoint, None)
        yield Spawned(process, endpoints, token, access_key_id, access_key_secret)


def _wait_ready(process: subprocess.Popen[str], count: int, timeout: float) -> tuple[dict[str, str], str]:
    """The endpoints from the ``listening on`` lines and the token from the ``admin token:`` line."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put("")  # end of output

    threading.Thread(target=pump, name="emulator-stdout", daemon=True).start()
    endpoints: dict[str, str] = {}
    token: str | None = None
    deadline = time.monotonic() + timeout
    while len(endpoints) < count or token is None:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise RuntimeError("the emulator did not start in time") from None
        if not line:
            raise RuntimeError(f"the emulator exited with {process.wait()}")
        if match := _LISTENING.match(line.strip()):
            endpoints[match["region"]] = f"{match['host']}:{match['port']}"
        elif match := _ADMIN_TOKEN_LINE.match(line.strip()):
            token = match["token"]
    return endpoints, token


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

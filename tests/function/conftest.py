"""Fixtures for end-to-end tests of the function: a cloud to set up through the official SDK, and
a way to invoke ``index.handler`` exactly as Function Compute does (event as bytes, a context
carrying the service role's credentials), against the live emulator on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_kms20160120 import models as kms_models
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.models import Config

from renewer.context import ContextCredentials, LocalContext
from renewer.wrapping import WrappingAlgorithm, load_public_key, wrap

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
sys.path.insert(0, str(ROOT / "function"))  # where Function Compute finds index.py

DAY = 86400


class Cloud:
    """Sets up keys and secrets in the emulator through the official SDK, as an operator would."""

    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator
        self._clients: dict[str, KmsClient] = {}

    def kms(self, region: str = "cn-hangzhou") -> KmsClient:
        if region not in self._clients:
            self._clients[region] = KmsClient(
                Config(
                    access_key_id=self.emulator.access_key_id,
                    access_key_secret=self.emulator.access_key_secret,
                    endpoint=self.emulator.endpoint(region),
                    protocol="http",
                    region_id=region,
                )
            )
        return self._clients[region]

    def create_key(self, region: str = "cn-hangzhou", origin: str = "EXTERNAL", alias: str | None = None) -> str:
        key_id = self.kms(region).create_key(kms_models.CreateKeyRequest(origin=origin)).body.key_metadata.key_id
        if alias:
            self.kms(region).create_alias(kms_models.CreateAliasRequest(alias_name=alias, key_id=key_id))
        return key_id

    def import_material(self, region: str, key_id: str, material: bytes, expire_unix: int) -> None:
        client = self.kms(region)
        params = client.get_parameters_for_import(
            kms_models.GetParametersForImportRequest(
                key_id=key_id, wrapping_algorithm="RSAES_OAEP_SHA_256", wrapping_key_spec="RSA_2048"
            )
        ).body
        blob = wrap(load_public_key(params.public_key), material, WrappingAlgorithm.RSAES_OAEP_SHA_256)
        client.import_key_material(
            kms_models.ImportKeyMaterialRequest(
                key_id=key_id,
                encrypted_key_material=base64.b64encode(blob).decode(),
                import_token=params.import_token,
                key_material_expire_unix=expire_unix,
            )
        )

    def key_with_material(self, material: bytes, expires_in_days: float, region: str = "cn-hangzhou", **kw) -> str:
        key_id = self.create_key(region, **kw)
        self.import_material(region, key_id, material, int(time.time() + expires_in_days * DAY))
        return key_id

    def describe(self, key_id: str, region: str = "cn-hangzhou") -> kms_models.DescribeKeyResponseBodyKeyMetadata:
        return self.kms(region).describe_key(kms_models.DescribeKeyRequest(key_id=key_id)).body.key_metadata

    def secret(self, name: str, data: str | bytes, region: str = "cn-hangzhou") -> None:
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

    def calls(self, action: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.emulator.admin("GET", "calls") if action is None or c["action"] == action]

    def metrics(self) -> list[dict[str, Any]]:
        return self.emulator.admin("GET", "metrics")


@dataclass
class Invocation:
    report: dict[str, Any]
    error: Exception | None
    output: str  # everything written to stdout and stderr during the invocation
    calls: list[dict[str, Any]]  # the API calls the emulator served during the invocation

    def actions(self, action: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["action"] == action]


@pytest.fixture
def cloud(emulator: Any) -> Cloud:
    return Cloud(emulator)


@pytest.fixture
def invoke(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., Invocation]]:
    """``invoke(config, event=b"{}")``: run ``index.handler`` against the emulator; never raises."""
    for name in list(os.environ):
        if name.startswith(("RENEWER_", "ALIBABA_CLOUD_")) and name != "ALIBABA_CLOUD_ECS_METADATA_DISABLED":
            monkeypatch.delenv(name)
    endpoints = ",".join(f"{region}={emulator.endpoint(region)}" for region in emulator.regions)
    monkeypatch.setenv("RENEWER_ALIBABA_ENDPOINTS", endpoints)
    import index

    def call(config: dict[str, Any], event: bytes | str = b"{}", context: Any = None) -> Invocation:
        monkeypatch.setenv("RENEWER_CONFIG", json.dumps(config))
        if context is None:
            context = LocalContext(
                credentials=ContextCredentials(emulator.access_key_id, emulator.access_key_secret, "sts-token"),
                region="cn-hangzhou",
            )
        capsys.readouterr()
        before = len(emulator.admin("GET", "calls"))
        error: Exception | None = None
        try:
            report = json.loads(index.handler(event.encode() if isinstance(event, str) else event, context))
        except Exception as exc:  # the handler signals failure by raising
            error = exc
            report = getattr(exc, "report", {})
        captured = capsys.readouterr()
        return Invocation(report, error, captured.out + captured.err, emulator.admin("GET", "calls")[before:])

    yield call


def outcomes(report: dict[str, Any]) -> dict[str, str]:
    return {k["key_id"]: k["outcome"] for k in report["keys"]}


def material_config(name: str, source: dict[str, Any], keys: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    return {"name": name, "source": source, "keys": keys, **extra}

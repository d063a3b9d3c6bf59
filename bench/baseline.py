"""The naive baseline: a plain loop over the keys with the official KMS SDK, one key after another.

Per key: ``DescribeKey``; if the material expires within RENEW_BEFORE_DAYS, ``GetParametersForImport``,
wrap with ``renewer.materials.wrapping.wrap``, ``ImportKeyMaterial`` and a verifying ``DescribeKey``. The
secret is read once, when the first due key needs it, so it makes exactly the calls our run makes.
"""

from __future__ import annotations

import base64
import time

from alibabacloud_kms20160120 import models
from alibabacloud_kms20160120.client import Client
from alibabacloud_tea_openapi.models import Config
from harness import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    REGION,
    RENEW_BEFORE_DAYS,
    SECRET_NAME,
    VALIDITY_DAYS,
    Fleet,
    Measured,
    Scenario,
    measure,
)

from emulator.cloud import DAY
from renewer.clouds.targets import parse_time
from renewer.materials.wrapping import WrappingAlgorithm, load_public_key, wrap


def renew_sequentially(endpoint: str, keys: list[str]) -> tuple[int, list[str]]:
    """The loop itself; returns (API calls made, keys renewed)."""
    config = Config(
        access_key_id=ACCESS_KEY_ID,
        access_key_secret=ACCESS_KEY_SECRET,
        endpoint=endpoint,
        protocol="http",
        region_id=REGION,
    )
    client = Client(config)
    material: bytes | None = None
    calls, renewed = 0, []
    for key_id in keys:
        meta = client.describe_key(models.DescribeKeyRequest(key_id=key_id)).body.key_metadata
        calls += 1
        expires = parse_time(meta.material_expire_time)
        now = time.time()
        if expires is not None and expires - now > RENEW_BEFORE_DAYS * DAY:
            continue
        if material is None:
            secret = client.get_secret_value(models.GetSecretValueRequest(secret_name=SECRET_NAME)).body
            material = bytes.fromhex(secret.secret_data)
            calls += 1
        request = models.GetParametersForImportRequest(
            key_id=key_id, wrapping_algorithm="RSAES_OAEP_SHA_256", wrapping_key_spec="RSA_2048"
        )
        params = client.get_parameters_for_import(request).body
        blob = wrap(load_public_key(params.public_key), material, WrappingAlgorithm.RSAES_OAEP_SHA_256)
        expire = int(now) + VALIDITY_DAYS * DAY
        importing = models.ImportKeyMaterialRequest(
            key_id=key_id,
            encrypted_key_material=base64.b64encode(blob).decode(),
            import_token=params.import_token,
            key_material_expire_unix=expire,
        )
        client.import_key_material(importing)
        after = client.describe_key(models.DescribeKeyRequest(key_id=key_id)).body.key_metadata
        calls += 3
        if (parse_time(after.material_expire_time) or 0) < expire - 60:
            raise RuntimeError(f"baseline: {key_id} does not show the new expiry")
        renewed.append(key_id)
    return calls, renewed


def run_baseline(fleet: Fleet, scenario: Scenario) -> tuple[Measured, int]:
    """Prepare the fleet, set the scenario's faults, time the loop; returns (measured, calls)."""
    keys = fleet.prepare(scenario.keys, scenario.due)
    fleet.set_faults(**scenario.faults())
    try:
        measured = measure(fleet, lambda: renew_sequentially(fleet.endpoint, keys))
    finally:
        fleet.set_faults()
    calls, renewed = measured.result
    fleet.renewed(renewed)
    return measured, calls

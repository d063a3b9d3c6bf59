"""KMS Secrets Manager of one region: ``CreateSecret``, ``PutSecretValue``, ``GetSecretValue``.

Text and binary secrets, explicit ``VersionId``\\s, and the ``ACSCurrent``/``ACSPrevious`` stages.
Callers get snapshots taken under the lock, never the stored records.
"""

from __future__ import annotations

import threading

from emulator import errors
from emulator.backend.model import Secret, SecretVersion
from emulator.backend.store import Store
from emulator.clock import Clock

CURRENT = "ACSCurrent"
PREVIOUS = "ACSPrevious"
DATA_TYPES = ("text", "binary")


class SecretsBackend:
    def __init__(self, region: str, account_id: str, clock: Clock, store: Store) -> None:
        self.region = region
        self.account_id = account_id
        self.clock = clock
        self.store = store
        self.lock = threading.Lock()
        self.secrets: dict[str, Secret] = {}
        for record in store.load(region, "secret"):
            secret = Secret.from_record(record)
            self.secrets[secret.name] = secret

    def reset(self) -> None:
        with self.lock:
            self.secrets.clear()

    def _save(self, secret: Secret) -> None:
        if self.store.enabled:
            self.store.save(self.region, "secret", secret.name, secret.to_record())

    def create_secret(
        self,
        name: str,
        version_id: str,
        data: bytes,
        data_type: str = "text",
        *,
        description: str = "",
        encryption_key_id: str = "",
        tags: dict[str, str] | None = None,
    ) -> Secret:
        _check_data_type(data_type)
        with self.lock:
            if name in self.secrets:
                raise errors.resource_exists("secret", name)
            secret = Secret(
                name=name,
                arn=f"acs:kms:{self.region}:{self.account_id}:secret/{name}",
                created=self.clock.now(),
                description=description,
                encryption_key_id=encryption_key_id,
                tags=dict(tags or {}),
            )
            secret.versions[version_id] = SecretVersion(version_id, data, data_type, self.clock.now(), [CURRENT])
            self.secrets[name] = secret
            self._save(secret)
            return secret.snapshot()

    def put_secret_value(
        self, name: str, version_id: str, data: bytes, data_type: str = "text", stages: list[str] | None = None
    ) -> SecretVersion:
        _check_data_type(data_type)
        stages = stages or [CURRENT]
        with self.lock:
            secret = self._get(name)
            if version_id in secret.versions:
                raise errors.resource_exists("secret version", version_id)
            for version in secret.versions.values():
                _move_stages(version, stages)
            new = SecretVersion(version_id, data, data_type, self.clock.now(), list(stages))
            secret.versions[version_id] = new
            self._save(secret)
            return new.snapshot()

    def get_secret_value(
        self, name: str, version_id: str | None = None, version_stage: str | None = None
    ) -> tuple[Secret, SecretVersion]:
        with self.lock:
            secret = self._get(name)
            if version_id:
                version = secret.versions.get(version_id)
                if version is None or (version_stage and version_stage not in version.stages):
                    raise errors.resource_not_found("secret version", version_id)
                return secret.snapshot(), version.snapshot()
            stage = version_stage or CURRENT
            for version in secret.versions.values():
                if stage in version.stages:
                    return secret.snapshot(), version.snapshot()
            raise errors.resource_not_found("secret version stage", stage)

    def _get(self, name: str) -> Secret:
        if not name:
            raise errors.missing_parameter("SecretName")
        secret = self.secrets.get(name)
        if secret is None:
            raise errors.resource_not_found("secret", name)
        return secret


def _check_data_type(data_type: str) -> None:
    if data_type not in DATA_TYPES:
        raise errors.invalid_parameter("SecretDataType", "Expected text or binary.")


def _move_stages(version: SecretVersion, new_stages: list[str]) -> None:
    """Take ``new_stages`` off an older version; when ACSCurrent moves, the old one becomes ACSPrevious."""
    kept = [s for s in version.stages if s not in new_stages and s != PREVIOUS]
    current_moves_here = CURRENT in new_stages and CURRENT in version.stages
    stays_previous = PREVIOUS in version.stages and CURRENT not in new_stages
    if current_moves_here or stays_previous:
        kept.append(PREVIOUS)
    version.stages = kept

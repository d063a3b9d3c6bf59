"""Everything one region's endpoint serves: KMS keys, secrets, and CloudMonitor metrics."""

from __future__ import annotations

from emulator.backend.cms import MetricsBackend
from emulator.backend.imports import WrappingKeySource
from emulator.backend.kms import KmsBackend
from emulator.backend.secrets import SecretsBackend
from emulator.backend.store import Store
from emulator.clock import Clock


class RegionBackend:
    def __init__(
        self,
        region: str,
        account_id: str,
        clock: Clock,
        store: Store,
        wrapping_keys: WrappingKeySource | None = None,
    ) -> None:
        self.region = region
        self.kms = KmsBackend(region, account_id, clock, store, wrapping_keys)
        self.secrets = SecretsBackend(region, account_id, clock, store)
        self.cms = MetricsBackend(region)

    def reset(self) -> None:
        self.kms.reset()
        self.secrets.reset()
        self.cms.reset()

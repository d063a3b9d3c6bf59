"""The emulator as one object: credentials, the clock, one backend per region, and dispatch.

``server`` (the HTTP layer) owns one :class:`Emulator` and calls :meth:`Emulator.dispatch`
after it has verified the request's signature; everything below raises
:class:`~emulator.errors.ServiceError` for the protocol layer to render.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulator import responses
from emulator.backend.imports import WrappingKeySource
from emulator.backend.region import RegionBackend
from emulator.backend.store import Store
from emulator.clock import Clock
from emulator.errors import ServiceError

DEFAULT_ACCOUNT_ID = "1234567890123456"


class Emulator:
    def __init__(
        self,
        credentials: Mapping[str, str],
        regions: list[str],
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        clock: Clock | None = None,
        state_path: str | None = None,
        reuse_wrapping_keys: bool = False,
    ) -> None:
        self.credentials = dict(credentials)  # AccessKeyId -> AccessKeySecret
        self.regions = list(regions)
        self.account_id = account_id
        self.clock = clock or Clock()
        self.store = Store(state_path)
        wrapping_keys = WrappingKeySource(reuse=reuse_wrapping_keys)
        self.backends = {
            region: RegionBackend(region, account_id, self.clock, self.store, wrapping_keys) for region in regions
        }

    def backend(self, region: str) -> RegionBackend:
        return self.backends[region]

    def dispatch(self, region: str, action: str, version: str, params: Mapping[str, str]) -> dict[str, Any]:
        """Run one API action; returns the response fields (the protocol layer adds ``RequestId``)."""
        handler = responses.lookup(action, version)
        return handler(self.backends[region], params)

    def metrics(self) -> list[dict[str, Any]]:
        """Every ``PutCustomMetric`` entry received, oldest first, with its region."""
        return [entry for backend in self.backends.values() for entry in backend.cms.entries()]

    def reset(self) -> None:
        """Forget every key, secret and metric, and put the clock back to real time."""
        self.clock.reset()
        self.store.clear()
        for backend in self.backends.values():
            backend.reset()


__all__ = ["DEFAULT_ACCOUNT_ID", "Emulator", "ServiceError"]

"""``--state FILE``: keys, aliases, secrets and import tokens survive a restart of the process."""

from __future__ import annotations

import os

from emulator.cloud import EmulatedCloud, spawn

AK, SECRET = "stateAccessKeyId", "stateAccessKeySecret"
MATERIAL = os.urandom(32)


def test_state_survives_restart(tmp_path) -> None:
    state = ("--state", str(tmp_path / "emulator.sqlite"))
    with spawn(("cn-hangzhou",), AK, SECRET, extra_args=state) as (_, endpoints):
        cloud = EmulatedCloud(endpoints, AK, SECRET)
        key_id = cloud.key_with_material(MATERIAL, 10, alias="alias/kept")
        blob = cloud.encrypt(key_id, "kept across restarts")
        cloud.secret("byok/kept", MATERIAL.hex())
    with spawn(("cn-hangzhou",), AK, SECRET, extra_args=state) as (_, endpoints):
        cloud = EmulatedCloud(endpoints, AK, SECRET)
        assert cloud.describe("alias/kept").key_id == key_id
        assert cloud.describe(key_id).key_state == "Enabled"
        assert cloud.decrypt(blob) == "kept across restarts"
        cloud.import_material("cn-hangzhou", key_id, MATERIAL, 0)  # same material still accepted
    with spawn(("cn-hangzhou",), AK, SECRET) as (_, endpoints):  # without --state: empty
        assert EmulatedCloud(endpoints, AK, SECRET).calls() == []

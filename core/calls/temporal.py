"""Connecting to Temporal the one way every process does: pydantic payloads, sealed by the
payload encryption codec (`core.codec`), in one namespace."""

from __future__ import annotations

from pydantic import SecretStr
from temporalio.client import Client

from core.codec import PayloadKeys, encrypted_data_converter


async def connect_temporal(address: str, namespace: str, payload_keys: SecretStr | str) -> Client:
    """A client whose payloads are dataclasses and pydantic models (`AgentSnapshot`), encrypted
    with `payload_keys` (`PAYLOAD_ENCRYPTION_KEYS`: the first key seals, every key opens)."""
    text = payload_keys.get_secret_value() if isinstance(payload_keys, SecretStr) else payload_keys
    return await Client.connect(
        address,
        namespace=namespace,
        data_converter=encrypted_data_converter(PayloadKeys.parse(text)),
    )

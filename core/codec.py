"""Encryption of every Temporal payload (AES-256-GCM), so Temporal's database and UI hold no
caller words or phone numbers in the clear: workflow inputs and results, signals, queries,
activity arguments, memos and failure messages all pass through `EncryptionCodec`.

Keys come from `PAYLOAD_ENCRYPTION_KEYS`: `id:base64key` pairs separated by commas, each key 32
random bytes. The first key encrypts; every listed key decrypts, so rotation is: put a new key
first, keep the old ones listed until every history they encrypted has been purged (retention)
or is no longer needed. Each payload carries the id of the key that sealed it.

The whole original payload (its metadata too, which names the encoding) is sealed, as Temporal's
encryption sample does. A payload without our encoding is passed through on decode: histories
written before encryption was turned on stay readable.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # GCM's standard nonce; random per payload (2^32 payloads per key is safe)
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
GENERATE_ADVICE = (
    'generate one with `python -c "import base64, secrets; '
    "print('k1:' + base64.b64encode(secrets.token_bytes(32)).decode())\"`"
)


class PayloadKeyError(ValueError):
    """`PAYLOAD_ENCRYPTION_KEYS` is malformed."""


class PayloadDecryptionError(ValueError):
    """A payload names a key that is not configured, or fails authentication."""


@dataclass(frozen=True)
class PayloadKeys:
    """The configured keys: `primary` seals new payloads, all of `keys` open old ones."""

    primary: str
    keys: Mapping[str, bytes]

    @classmethod
    def parse(cls, text: str) -> PayloadKeys:
        """Read `id:base64key[,id:base64key…]`; raise `PayloadKeyError` with advice."""
        keys: dict[str, bytes] = {}
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            key_id, sep, encoded = item.partition(":")
            key_id = key_id.strip()
            if not sep or not _KEY_ID.fullmatch(key_id):
                raise PayloadKeyError(
                    "PAYLOAD_ENCRYPTION_KEYS must be `id:base64key` pairs separated by commas "
                    f"(ids of letters, digits, `_.-`); {GENERATE_ADVICE}"
                )
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise PayloadKeyError(
                    f"PAYLOAD_ENCRYPTION_KEYS: key {key_id!r} is not valid base64"
                ) from None
            if len(key) != KEY_BYTES:
                raise PayloadKeyError(
                    f"PAYLOAD_ENCRYPTION_KEYS: key {key_id!r} is {len(key)} bytes, AES-256 needs "
                    f"{KEY_BYTES}; {GENERATE_ADVICE}"
                )
            if key_id in keys:
                raise PayloadKeyError(f"PAYLOAD_ENCRYPTION_KEYS: key id {key_id!r} is repeated")
            keys[key_id] = key
        if not keys:
            raise PayloadKeyError(f"PAYLOAD_ENCRYPTION_KEYS holds no key; {GENERATE_ADVICE}")
        return cls(primary=next(iter(keys)), keys=keys)


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over each whole payload; the key id is bound in as associated data."""

    def __init__(self, keys: PayloadKeys) -> None:
        self._primary = keys.primary
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Seal each payload with the primary key."""
        return [self.seal(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Open each sealed payload; pass through any that were never sealed."""
        return [self.open(p) for p in payloads]

    def seal(self, payload: Payload) -> Payload:
        """The payload encrypted with the primary key."""
        nonce = os.urandom(NONCE_BYTES)
        key_id = self._primary.encode()
        sealed = self._ciphers[self._primary].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id}, data=nonce + sealed
        )

    def open(self, payload: Payload) -> Payload:
        """The original payload; one not sealed by us comes back unchanged."""
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID_METADATA, b"")
        cipher = self._ciphers.get(key_id.decode(errors="replace"))
        if cipher is None:
            raise PayloadDecryptionError(
                f"payload sealed with key id {key_id.decode(errors='replace')!r}, which "
                "PAYLOAD_ENCRYPTION_KEYS does not list"
            )
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            return Payload.FromString(cipher.decrypt(nonce, sealed, key_id))
        except InvalidTag:
            raise PayloadDecryptionError("payload failed authentication (tampered?)") from None


def encrypted_data_converter(keys: PayloadKeys) -> DataConverter:
    """Pydantic payloads (dataclasses and `AgentSnapshot`) sealed by `EncryptionCodec`; failure
    messages and stack traces are moved into an encoded payload too, since an exception's text
    can quote what a caller said."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )

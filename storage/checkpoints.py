"""Signed checkpoints: the log's size, Merkle root and chain head, signed.

A checkpoint commits to the first `size` events of the log (their leaves'
Merkle root, `storage.merkle`, and the chain hash after them, `storage.ledger`)
at a time, signed with Ed25519 by a key kept outside the database. The signed
bytes are the RFC 8785 JSON of every field but `signature`. Later, a longer log
still extends it: the root of its first `size` leaves is the same. An auditor
pins the public key (`phaselog audit keygen` prints it) and checks the rest.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

if TYPE_CHECKING:
    from pathlib import Path

LOG_NAME = "phaselog"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or trusted; the message says why."""


@dataclass(frozen=True)
class Checkpoint:
    size: int  # events (leaves) committed to
    root: bytes  # their Merkle root
    chain_head: bytes  # the chain hash after them
    position: int  # the log position of the last of them (0: none)
    time: str  # when it was made, ISO 8601 UTC
    public_key: bytes  # the Ed25519 key that signed it, raw
    signature: bytes = b""

    def body(self) -> dict[str, Any]:
        return {
            "log": LOG_NAME,
            "size": self.size,
            "root": self.root.hex(),
            "chain_head": self.chain_head.hex(),
            "position": self.position,
            "time": self.time,
            "public_key": base64.b64encode(self.public_key).decode(),
        }

    def signed_bytes(self) -> bytes:
        return bytes(rfc8785.dumps(self.body()))

    def to_json(self) -> dict[str, Any]:
        return {**self.body(), "signature": base64.b64encode(self.signature).decode()}

    @classmethod
    def from_json(cls, data: Any) -> Checkpoint:
        """A checkpoint as `to_json` wrote it; CheckpointError names what is wrong."""
        if not isinstance(data, dict) or data.get("log") != LOG_NAME:
            raise CheckpointError("not a phaselog checkpoint")
        try:
            return cls(
                size=_int(data, "size"),
                root=bytes.fromhex(data["root"]),
                chain_head=bytes.fromhex(data["chain_head"]),
                position=_int(data, "position"),
                time=str(data["time"]),
                public_key=base64.b64decode(data["public_key"], validate=True),
                signature=base64.b64decode(data["signature"], validate=True),
            )
        except KeyError as missing:
            raise CheckpointError(f"checkpoint: {missing.args[0]} is missing") from None
        except (ValueError, TypeError, binascii.Error) as error:
            raise CheckpointError(f"checkpoint: {error}") from None

    def problem(self, trusted_key: bytes | None = None) -> str | None:
        """Why its signature cannot be trusted, or None: made by the key it
        names, and by `trusted_key` where the auditor pins one."""
        if trusted_key is not None and trusted_key != self.public_key:
            return "signed by another key than the one trusted"
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                self.signature, self.signed_bytes()
            )
        except (InvalidSignature, ValueError):
            return "its signature does not match its content"
        return None


def _int(data: dict[str, Any], name: str) -> int:
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CheckpointError(f"checkpoint: {name} must be a whole number")
    return value


def make_key(path: Path) -> bytes:
    """A new signing key in `path` (PEM, readable by its owner only); its public
    key, raw. An existing file is never overwritten."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return public_bytes(key)


def load_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise CheckpointError(f"{path}: not an Ed25519 key file ({error})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"{path}: not an Ed25519 key")
    return key


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def sign(
    key: Ed25519PrivateKey,
    *,
    size: int,
    root: bytes,
    chain_head: bytes,
    position: int,
    now: dt.datetime,
) -> Checkpoint:
    unsigned = Checkpoint(
        size=size,
        root=root,
        chain_head=chain_head,
        position=position,
        time=now.astimezone(dt.UTC).isoformat(timespec="seconds"),
        public_key=public_bytes(key),
    )
    signature = key.sign(unsigned.signed_bytes())
    return Checkpoint(**{**unsigned.__dict__, "signature": signature})

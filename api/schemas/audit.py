"""The auditor's answers: a signed checkpoint, and a deal's proof against it."""

from __future__ import annotations

from pydantic import Field

from api.schemas.base import Schema


class CheckpointOut(Schema):
    """The log's first `size` events committed to: their RFC 6962 Merkle root
    and chain head, signed with Ed25519 over the RFC 8785 JSON of every field
    but `signature` (see the README's "The auditor's proof")."""

    log: str
    size: int
    root: str = Field(description="Merkle root, hex")
    chain_head: str = Field(description="chain hash after the last event, hex")
    position: int = Field(description="log position of the last event signed")
    time: str
    public_key: str = Field(description="Ed25519 public key, base64")
    signature: str = Field(description="Ed25519 signature, base64")


class ProvedEventOut(Schema):
    position: int
    index: int = Field(description="its leaf's index in the checkpoint's tree")
    deal_id: str
    version: int
    topic: str
    state: str = Field(description="the event's stored bytes, base64")
    leaf: str = Field(description="its leaf hash, hex")
    path: list[str] = Field(description="its inclusion path, hex, leaf side first")


class ProofOut(Schema):
    deal_id: str
    checkpoint: CheckpointOut
    events: list[ProvedEventOut]
    pending: list[int] = Field(
        description="positions of this deal's events after the checkpoint"
    )

"""The log itself proved: every event against what was recorded with it, and
against the signed checkpoints that commit to it.

`verify`/`rebuild` compare the read models with the log; this compares the log
with what was written: each event's leaf recomputed from its stored bytes and
checked against the leaf and chain hash stored in its transaction
(`storage.ledger`), then the Merkle root of the first `size` events against a
checkpoint (`storage.checkpoints`). `phaselog audit ...` runs it.
"""

from __future__ import annotations

import base64
import bisect
import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from storage.checkpoints import Checkpoint, CheckpointError, sign
from storage.ledger import GENESIS, ChainCheck, Mismatch, leaf_hash
from storage.merkle import inclusion, levels, root, verify_inclusion

if TYPE_CHECKING:
    import datetime as dt

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from storage.ledger import Event, Leaf

WINDOW = 10_000  # positions read at a time


class Ledger(Protocol):
    def ledger_bounds(self) -> int: ...

    def ledger_window(self, low: int, high: int) -> tuple[list[Event], list[Leaf]]: ...

    def add_checkpoint(self, text: str) -> None: ...

    def latest_checkpoint(self) -> str | None: ...


@dataclass(frozen=True)
class LogCheck:
    events: int  # events found intact, in log order
    head: bytes  # the chain hash after them
    mismatch: Mismatch | None  # the first place the log is not as written
    positions: list[int] = field(repr=False, default_factory=list)
    leaves: list[bytes] = field(repr=False, default_factory=list)  # recomputed

    @property
    def intact(self) -> bool:
        return self.mismatch is None

    def extends(self, checkpoint: Checkpoint, trusted_key: bytes | None) -> str | None:
        """Why this log does not extend `checkpoint`, or None if it does."""
        signed = checkpoint.problem(trusted_key)
        if signed is not None:
            return f"the checkpoint of {checkpoint.time} cannot be trusted: {signed}"
        size = checkpoint.size
        if size > self.events:
            return (
                f"the checkpoint of {checkpoint.time} signed {size} events; the "
                f"log holds {self.events}"
            )
        if root(self.leaves[:size]) != checkpoint.root:
            last = self.positions[size - 1] if size else 0
            return (
                f"the log's first {size} events (to position {last}) are not those "
                f"the checkpoint of {checkpoint.time} signed"
            )
        return None


def check_log(ledger: Ledger) -> LogCheck:
    """Every event of the log, in order, against what was recorded with it."""
    check = ChainCheck()
    positions: list[int] = []
    leaves: list[bytes] = []
    high = ledger.ledger_bounds()
    for low in range(0, high, WINDOW):
        events, recorded = ledger.ledger_window(low, low + WINDOW)
        mismatch = check.window(events, recorded)
        if mismatch is not None:
            return LogCheck(check.events, check.head, mismatch)
        positions += [leaf.position for leaf in recorded]
        leaves += [leaf.leaf for leaf in recorded]  # equal to the recomputed
    return LogCheck(check.events, check.head, None, positions, leaves)


class NotIntact(Exception):
    """The log is not as it was written: no checkpoint signs it."""


def checkpoint(ledger: Ledger, key: Ed25519PrivateKey, now: dt.datetime) -> Checkpoint:
    """Sign the log as it stands, once proved intact, and keep the checkpoint."""
    checked = check_log(ledger)
    if checked.mismatch is not None:
        raise NotIntact(f"log altered at {checked.mismatch}: no checkpoint signed")
    made = sign(
        key,
        size=checked.events,
        root=root(checked.leaves),
        chain_head=checked.head if checked.events else GENESIS,
        position=checked.positions[-1] if checked.positions else 0,
        now=now,
    )
    ledger.add_checkpoint(_text(made))
    return made


def latest(ledger: Ledger) -> Checkpoint | None:
    text = ledger.latest_checkpoint()
    return None if text is None else Checkpoint.from_json(json.loads(text))


def _text(made: Checkpoint) -> str:
    return json.dumps(made.to_json(), sort_keys=True)


def deal_proof(
    ledger: Ledger, deal_id: uuid.UUID, events: list[Event], made: Checkpoint
) -> dict[str, Any]:
    """A deal's events with what proves each against `made` without the rest of
    the log: its index among the log's leaves and its inclusion path."""
    checked = check_log(ledger)
    if checked.mismatch is not None:
        raise NotIntact(f"log altered at {checked.mismatch}: nothing to prove")
    tree = levels(checked.leaves[: made.size])
    proved, pending = [], []
    for event in sorted(events, key=lambda e: e.position):
        index = bisect.bisect_left(checked.positions, event.position)
        if index >= made.size:
            pending.append(event.position)
            continue
        proved.append(
            {
                "position": event.position,
                "index": index,
                "deal_id": str(event.deal_id),
                "version": event.version,
                "topic": event.topic,
                "state": base64.b64encode(event.state).decode(),
                "leaf": checked.leaves[index].hex(),
                "path": [h.hex() for h in inclusion(tree, index)],
            }
        )
    return {
        "deal_id": str(deal_id),
        "checkpoint": made.to_json(),
        "events": proved,
        "pending": pending,
    }


def check_proof(data: Any, trusted_key: bytes | None) -> tuple[int, str | None]:
    """A deal's proof checked with nothing but itself (and the key the auditor
    trusts): the events proved, and the first problem, if any."""
    try:
        made = Checkpoint.from_json(data.get("checkpoint"))
        signed = made.problem(trusted_key)
        if signed is not None:
            return 0, f"the checkpoint cannot be trusted: {signed}"
        proved = 0
        for event in data["events"]:
            position = event["position"]
            if event["deal_id"] != data["deal_id"]:
                return proved, f"position {position}: an event of another deal"
            leaf = leaf_hash(
                position,
                uuid.UUID(event["deal_id"]),
                event["version"],
                event["topic"],
                base64.b64decode(event["state"], validate=True),
            )
            path = [bytes.fromhex(h) for h in event["path"]]
            if not verify_inclusion(leaf, event["index"], made.size, path, made.root):
                return proved, (
                    f"position {position}: not in the log the checkpoint of "
                    f"{made.time} signed (its content, index or path differ)"
                )
            proved += 1
    except CheckpointError as error:
        return 0, str(error)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        return 0, f"not a proof phaselog made ({type(error).__name__}: {error})"
    return proved, None

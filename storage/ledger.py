"""What makes the log tamper-evident: a hash for each event, chained in log order.

Each stored event gets a *leaf*: the SHA-256 of a zero byte and the RFC 8785
(JCS) JSON of its immutable content (RFC 6962's leaf hash), so an auditor can
recompute it from the event alone:

    {"deal":"<uuid>","position":<n>,"state":"<base64 of the stored bytes>",
     "topic":"<event class>","version":<n>}

and a *chain* hash, SHA-256(previous chain || leaf), starting from 32 zero
bytes, so a row deleted, inserted or moved breaks the chain at the next one.
Both are stored in `log_leaves` in the transaction that stores the event: by
the SQLite recorder in Python, by PostgreSQL in SQL (`LEAVES_FUNCTION`),
computing the same bytes. The leaves are also the leaves of the Merkle tree a
signed checkpoint will commit to.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterable

LEAVES = "log_leaves"
LEAVES_FUNCTION = "phaselog_add_leaves"
CHECKPOINTS = "log_checkpoints"  # signed checkpoints, as JSON text (append-only)
GENESIS = bytes(32)  # the chain hash before the first event


def leaf_input(
    position: int, deal_id: uuid.UUID, version: int, topic: str, state: bytes
) -> bytes:
    """The event's immutable content as RFC 8785 JSON (keys in order, no
    spaces; a topic is a Python path, which JSON need not escape)."""
    encoded = base64.b64encode(state).decode()
    return (
        f'{{"deal":"{deal_id}","position":{position},"state":"{encoded}",'
        f'"topic":"{topic}","version":{version}}}'
    ).encode()


def leaf_hash(
    position: int, deal_id: uuid.UUID, version: int, topic: str, state: bytes
) -> bytes:
    data = leaf_input(position, deal_id, version, topic, state)
    return hashlib.sha256(b"\x00" + data).digest()


def chained(previous: bytes, leaf: bytes) -> bytes:
    return hashlib.sha256(previous + leaf).digest()


class Event(NamedTuple):
    """A stored event as the ledger sees it."""

    position: int
    deal_id: uuid.UUID
    version: int
    topic: str
    state: bytes


class Leaf(NamedTuple):
    position: int
    leaf: bytes
    chain: bytes


def leaves_of(events: Iterable[Event], previous: bytes) -> list[Leaf]:
    """The leaves of `events` (in log order) after the chain hash `previous`."""
    made = []
    for event in events:
        leaf = leaf_hash(*event)
        previous = chained(previous, leaf)
        made.append(Leaf(event.position, leaf, previous))
    return made


@dataclass(frozen=True)
class Mismatch:
    """The first place where the log is not what was written."""

    position: int
    deal_id: uuid.UUID | None
    reason: str

    def __str__(self) -> str:
        deal = f", deal {self.deal_id}" if self.deal_id else ""
        return f"position {self.position}{deal}: {self.reason}"


class ChainCheck:
    """Walks the events and their recorded leaves in log order, a window of
    positions at a time: the first event whose content, place or
    predecessors are not those recorded."""

    def __init__(self) -> None:
        self.head = GENESIS  # the chain hash after the events checked
        self.events = 0

    def window(
        self, events: Iterable[Event], leaves: Iterable[Leaf]
    ) -> Mismatch | None:
        """Check the events and leaves of one window of positions, after the
        windows before it."""
        recorded = {leaf.position: leaf for leaf in leaves}
        stored = {event.position: event for event in events}
        for position in sorted(recorded.keys() | stored.keys()):
            event, leaf = stored.get(position), recorded.get(position)
            if event is None:
                return Mismatch(position, None, MISSING)
            if leaf is None:
                return Mismatch(position, event.deal_id, NEVER_RECORDED)
            computed = leaf_hash(*event)
            if computed != leaf.leaf:
                return Mismatch(position, event.deal_id, EDITED)
            self.head = chained(self.head, computed)
            if self.head != leaf.chain:
                return Mismatch(position, event.deal_id, BEFORE_IT)
            self.events += 1
        return None


MISSING = "an event recorded here is missing from the log (deleted)"
NEVER_RECORDED = "an event that was never recorded here (inserted)"
EDITED = "its content differs from what was recorded (edited, or moved here)"
BEFORE_IT = (
    "the log before it differs from what was recorded (an event deleted or "
    "inserted before it, with its record)"
)

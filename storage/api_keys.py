"""API keys, stored hashed (sha256) in a table of the event store's own database.

Only the hash is kept: a leaked table does not leak keys. Each key has a role, a
short id (a prefix of its hash) and a name; a key is revoked, never deleted, so
that a table whose keys are all revoked still keeps the server closed. The API's
auth and the CLI's `keys` commands share this store; it works on SQLite and
PostgreSQL through the tracker's recorder datastore (projections/key_table.py).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import TYPE_CHECKING

from eventsourcing.persistence import IntegrityError

from domain.errors import PhaselogError
from storage.api_key_table import ROLES, Role, StoredKey, key_table
from storage.eventstore import event_store

if TYPE_CHECKING:
    from collections.abc import Callable

    from domain.service import PhaseTracker

__all__ = ["ROLES", "KeyProblem", "KeyStore", "Role", "StoredKey", "hash_key"]

KEY_PREFIX = "plk_"
MIN_KEY_LENGTH = 16
# The env-seeded admin key's name; `keys create` may not take it.
ADMIN_KEY_NAME = "PHASELOG_ADMIN_KEY"
# How long a worker trusts what it read of a key: a revocation reaches every
# worker within this, at the price of one indexed read per key per worker.
KEY_CACHE_SECONDS = 2.0
# How often one process writes a key's `last_used_at`: a write per request would
# queue every request on SQLite's write lock.
TOUCH_SECONDS = 60.0
NAME = re.compile(r"[\w.@+-]{1,64}")
LOOKS_LIKE_ID = re.compile(r"[0-9a-f]{12}")


class KeyProblem(PhaselogError):
    """A key or name that cannot be stored, or a key that cannot be found."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class KeyStore:
    """Create, find, revoke and list API keys; one role per key."""

    def __init__(
        self, tracker: PhaseTracker, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._table = key_table(event_store(tracker).recorder)
        self._table.migrate()
        self._clock = clock
        # hash -> (when to read it again, the key as read)
        self._known: dict[str, tuple[float, StoredKey]] = {}
        self._touched: dict[str, float] = {}
        self._has_keys = False

    def add(self, key: str, role: Role, name: str | None = None) -> StoredKey:
        """Store `key` (hashed) with `role` and `name`, by default `<role>-<id>`;
        storing the same key again changes nothing."""
        digest = hash_key(key)
        name = self._check(key, role, name, digest)
        try:
            with self._table.transaction(write=True) as run:
                self._table.insert(run, digest, name, role)
                stored = self._table.find(run, digest)
        except IntegrityError:
            raise KeyProblem(f"an active key is named {name!r} already") from None
        assert stored is not None  # inserted or there before, in this transaction
        return stored

    def create(self, role: Role, name: str | None = None) -> str:
        """A fresh random key with `role`; the caller sees it once, we keep its hash."""
        key = new_key()
        self.add(key, role, name)
        return key

    def seed_admin(self, key: str) -> StoredKey:
        """Store PHASELOG_ADMIN_KEY's key as the admin key of that name, revoking
        the key it replaced: rotating the setting retires the old key."""
        digest = hash_key(key)
        self._check(key, "admin", None, digest)
        with self._table.locked() as run:
            self._table.retire(run, ADMIN_KEY_NAME, keep=digest)
            stored = self._table.find(run, digest)
            if stored is None:
                self._table.insert(run, digest, ADMIN_KEY_NAME, "admin")
            elif not stored.active:
                raise KeyProblem(f"{ADMIN_KEY_NAME} is a revoked key: set a new one")
            elif (stored.name, stored.role) != (ADMIN_KEY_NAME, "admin"):
                self._table.assign(run, digest, ADMIN_KEY_NAME, "admin")
            stored = self._table.find(run, digest)
        assert stored is not None
        return stored

    def revoke(self, name_or_id: str) -> list[StoredKey]:
        """Revoke the active key with this name or id; it is refused within
        KEY_CACHE_SECONDS everywhere."""
        revoked = self._table.revoke(name_or_id)
        if not revoked:
            raise KeyProblem(f"no active key has the name or id {name_or_id!r}")
        ids = {stored.key_id for stored in revoked}
        for digest in [digest for digest in self._known if digest[:12] in ids]:
            self._known.pop(digest, None)  # this process refuses it at once
        return revoked

    def rows(self) -> list[StoredKey]:
        """Every key, revoked ones too, oldest first; never the key itself."""
        return self._table.rows()

    def remembered(self, key: str) -> StoredKey | None:
        """The key as read less than KEY_CACHE_SECONDS ago, else None: no query,
        safe on an event loop."""
        entry = self._known.get(hash_key(key))
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def identify(self, key: str) -> StoredKey | None:
        """The key as stored now, or None if it never was; noted as used (at most
        once a TOUCH_SECONDS per process)."""
        digest = hash_key(key)
        # Trusted from before the read: nothing read before a revocation
        # outlives it by more than KEY_CACHE_SECONDS.
        asked = self._clock()
        with self._table.transaction(write=False) as run:
            found = self._table.find(run, digest)
        if found is None:
            self._known.pop(digest, None)
            return None
        self._known[digest] = (asked + KEY_CACHE_SECONDS, found)
        last = self._touched.get(digest)
        if found.active and (last is None or asked - last >= TOUCH_SECONDS):
            self._touched[digest] = asked
            self._table.touch(digest)
        return found

    def role_of(self, key: str) -> Role | None:
        """The role of an active key, or None."""
        found = self.identify(key)
        return found.role if found is not None and found.active else None

    @property
    def known_not_empty(self) -> bool:
        """True once a key is known to exist (keys are revoked, never removed)."""
        return bool(self._known) or self._has_keys

    def empty(self) -> bool:
        """True while no key exists at all, revoked or not (the server then runs
        open, on loopback). Keys are never removed: once found, remembered."""
        if self.known_not_empty:
            return False
        self._has_keys = self._table.any()
        return not self._has_keys

    def _check(self, key: str, role: Role, name: str | None, digest: str) -> str:
        """The name to store the key under, once key, role and name are fit."""
        if len(key) < MIN_KEY_LENGTH:
            raise KeyProblem(f"a key needs {MIN_KEY_LENGTH} characters or more")
        if role not in ROLES:
            raise KeyProblem(f"role must be one of {', '.join(ROLES)}")
        if name is None:
            return f"{role}-{digest[:6]}"
        if name == ADMIN_KEY_NAME:
            raise KeyProblem(f"the name {ADMIN_KEY_NAME} is the setting's own key's")
        if not NAME.fullmatch(name) or LOOKS_LIKE_ID.fullmatch(name):
            raise KeyProblem(
                f"name {name!r}: 1 to 64 letters, digits or . _ @ + -, not a key's id"
            )
        return name

"""The log's tables besides the library's events: the action keys.

An action key is (action_id, deal_id, digest of the command's content), stored in
the same transaction as the command's events, so a key is stored exactly when
its event is: a second writer racing with the same key fails on the primary key
and then answers from the log (the command's replay).
"""

from __future__ import annotations

import uuid

ActionKey = tuple[str, uuid.UUID, str]  # action_id, deal_id, digest
ACTION_KEYS = "action_keys"

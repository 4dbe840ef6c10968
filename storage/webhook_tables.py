"""The webhooks' tables, on each database: migration 3 makes them.

- `webhook_subscriptions`: where to post, what to post, the secrets (the one
  rotated out keeps signing until `old_secret_until`), and whether it is
  active, paused or disabled (a 410, with the reason);
- `webhook_tracking`: the log position the webhook worker has read up to;
- `webhook_deliveries`: the outbox, one row per (subscription, phase change),
  written with the worker's new position in one transaction; its status,
  attempts so far and when to try next;
- `webhook_attempts`: each attempt of a delivery, for the delivery log.

Times are `timestamptz` on PostgreSQL and fixed-width UTC text on SQLite, as
the read models keep them (`projections.sqlite_text`).
"""

from __future__ import annotations

SUBSCRIPTIONS = "webhook_subscriptions"
TRACKING = "webhook_tracking"
DELIVERIES = "webhook_deliveries"
ATTEMPTS = "webhook_attempts"
WORKER = "webhooks"  # the worker's row in `webhook_tracking`

_TABLES = (
    "CREATE TABLE IF NOT EXISTS {p}webhook_subscriptions ("
    "id TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL, "
    "old_secret TEXT, old_secret_until {ts}, pipelines TEXT NOT NULL, "
    "phases TEXT NOT NULL, kinds TEXT NOT NULL, status TEXT NOT NULL, "
    "reason TEXT, after_position BIGINT NOT NULL, created_at {ts} NOT NULL, "
    "updated_at {ts} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {p}webhook_tracking ("
    "name TEXT PRIMARY KEY, position BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {p}webhook_deliveries ("
    "id {serial} PRIMARY KEY, subscription_id TEXT NOT NULL, "
    "message_id TEXT NOT NULL UNIQUE, deal_id TEXT NOT NULL, seq INTEGER NOT NULL, "
    "position BIGINT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL, "
    "attempts INTEGER NOT NULL, next_attempt_at {ts} NOT NULL, "
    "last_attempt_at {ts}, response_code INTEGER, error TEXT, "
    "created_at {ts} NOT NULL, finished_at {ts})",
    # The sender's scan: due rows, and whether a deal has an earlier one pending.
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON {p}webhook_deliveries "
    "(status, next_attempt_at)",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_order ON {p}webhook_deliveries "
    "(subscription_id, deal_id, id)",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_log ON {p}webhook_deliveries "
    "(subscription_id, position, id)",
    "CREATE TABLE IF NOT EXISTS {p}webhook_attempts ("
    "delivery_id BIGINT NOT NULL, n INTEGER NOT NULL, at {ts} NOT NULL, "
    "seconds DOUBLE PRECISION NOT NULL, response_code INTEGER, error TEXT, "
    "PRIMARY KEY (delivery_id, n))",
)


def create_statements(schema: str | None) -> list[str]:
    """The statements that make the tables: in `schema` on PostgreSQL, or for
    SQLite when `schema` is None."""
    if schema is None:
        words = {"p": "", "ts": "TEXT", "serial": "INTEGER"}
    else:
        quoted = '"' + schema.replace('"', '""') + '"'
        words = {"p": f"{quoted}.", "ts": "timestamptz", "serial": "bigserial"}
    return [statement.format(**words) for statement in _TABLES]

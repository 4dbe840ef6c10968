"""Where phaselog bends psycopg_pool: the check a pool runs before it lends a
connection has no public setter (tests/storage/test_library_seams.py fails if
an upgrade takes the attribute away)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from psycopg import Connection
    from psycopg_pool import ConnectionPool


def replace_check(
    pool: ConnectionPool[Any], check: Callable[[Connection[Any]], None]
) -> None:
    """`check` instead of the pool's own, where the pool checks at all."""
    if pool._check is not None:
        pool._check = check

"""PostgreSQL ends the app's connections (a restart, an administrator, a timeout):
the next requests are served on new ones, with no error and nothing lost.

The pool checks a connection before lending it, pinging only one whose socket
has something to read (`storage.postgres.ping_if_stirred`): a connection
the server ended has its goodbye or end of file waiting there.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.api.conftest import ADMIN_KEY, action, bearer
from tests.conftest import _libpq

if TYPE_CHECKING:
    from api.settings import Settings


def end_connections_named(dsn: str, name: str) -> int:
    """End the connections whose application_name is `name`: this test's app's
    only, not those of other tests sharing the server."""
    with psycopg.connect(_libpq(dsn), autocommit=True) as conn:
        ended = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND application_name = %s",
            [name],
        ).fetchone()
    assert ended is not None
    return int(ended[0])


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # a server
def test_requests_after_postgresql_ended_the_connections_are_served(
    api_settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # libpq names the app's connections from its environment (PGAPPNAME).
    name = f"phaselog-lost-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("PGAPPNAME", name)
    with TestClient(create_app(api_settings), headers=bearer(ADMIN_KEY)) as client:
        served_after_the_end(client, database_url, name)


def served_after_the_end(client: TestClient, database_url: str, name: str) -> None:
    first = client.post("/v1/actions", json=action(action_id="a1"))
    assert first.status_code == 201, first.text
    deal = first.json()["deal_id"]
    assert client.get(f"/v1/deals/{deal}/timeline").status_code == 200

    assert end_connections_named(database_url, name) > 0

    second = client.post(
        "/v1/actions",
        json=action(
            action_id="a2", type="budget_confirmed", occurred_at="2024-03-06T09:00:00Z"
        ),
    )
    assert second.status_code == 201, second.text
    timeline = client.get(f"/v1/deals/{deal}/timeline")
    assert timeline.status_code == 200, timeline.text
    assert [e["action_id"] for e in timeline.json()["entries"]] == ["a1", "a2"]
    again = client.post("/v1/actions", json=action(action_id="a1"))  # replayed
    assert again.status_code == 200 and again.json()["deal_id"] == deal, again.text
    funnel = client.get(
        "/v1/reports/funnel",
        params={"pipeline": "nl-tesoro", "after": second.json()["position"]},
    )
    assert funnel.status_code == 200, funnel.text
    assert funnel.json()["open"] == 1


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_connections_past_file_descriptor_1024_are_lent(
    api_settings: Settings,
) -> None:
    """A server with a thousand clients open gives its database connections
    file descriptors past 1024, which `select()` cannot watch."""
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        with TestClient(create_app(api_settings), headers=bearer(ADMIN_KEY)) as client:
            for n in range(3):
                response = client.post("/v1/actions", json=action(action_id=f"a{n}"))
                assert response.status_code == 201, response.text
    finally:
        for fd in held:
            os.close(fd)

"""The real app, lifespan and all, on each test database, with a key per role."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app

if TYPE_CHECKING:
    from collections.abc import Iterator

    from api.settings import Settings

ADMIN_KEY = "test-admin-key-0123"
START = "2024-03-04T09:00:00+00:00"
# nl-tesoro asks an action that skips stages why ("documenteer altijd de reason").
SKIP = {"skip_reason": "returning client"}


def action(**overrides: Any) -> dict[str, Any]:
    """A valid first action on a nl-tesoro deal, changed by `overrides`."""
    body: dict[str, Any] = {
        "pipeline": "nl-tesoro",
        "contact_id": "contact-1",
        "type": "contact_captured",
        "occurred_at": START,
    }
    return {**body, **overrides}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "admin_key": SecretStr(ADMIN_KEY),
            "report_wait_seconds": 10.0,
            "sweep_interval_seconds": 0,  # tests/api/test_expiry.py turns it on
        }
    )


@pytest.fixture
def client(api_settings: Settings) -> Iterator[TestClient]:
    """A client acting as admin; pass other headers per request for other roles."""
    with TestClient(create_app(api_settings), headers=bearer(ADMIN_KEY)) as client:
        yield client


@pytest.fixture
def keys(client: TestClient) -> dict[str, str]:
    """One fresh key per role, stored in the app's database."""
    store = client.app.state.keys  # type: ignore[attr-defined]
    return {role: store.create(role) for role in ("agent", "manager", "auditor")} | {
        "admin": ADMIN_KEY
    }


def head(client: TestClient) -> int:
    """The position of the last stored event: unchanged means nothing was stored."""
    tracker = client.app.state.tracker  # type: ignore[attr-defined]
    return int(tracker.store.recorder.max_notification_id() or 0)


@pytest.fixture
def cli_database(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """`phaselog` commands run in this test use the test database."""
    monkeypatch.setenv("PHASELOG_DATABASE_URL", settings.database_url)
    monkeypatch.delenv("PHASELOG_PIPELINES_DIR", raising=False)

"""Who may do what: the role matrix, missing, unknown and revoked keys, open mode,
and who the caller is."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Principal, authenticate, check_bind
from storage.api_keys import ROLES, hash_key
from tests.api.conftest import ADMIN_KEY, action, bearer

if TYPE_CHECKING:
    from api.settings import Settings

DEAL = str(uuid.uuid4())
AGENT, MANAGER, AUDITOR, ADMIN = "agent", "manager", "auditor", "admin"
EVERYONE = {AGENT, MANAGER, AUDITOR, ADMIN}
WRITERS = {AGENT, MANAGER, ADMIN}
READERS = {MANAGER, AUDITOR, ADMIN}

MATRIX: list[tuple[str, str, dict[str, Any] | None, set[str]]] = [
    ("POST", "/v1/actions", action(), WRITERS),
    ("POST", "/v1/actions:batch", {"actions": [action()]}, WRITERS),
    ("POST", "/v1/actions/a-1/void", {"reason": "typo"}, WRITERS),
    ("POST", f"/v1/deals/{DEAL}/moves", {"phase": "lead"}, WRITERS),
    ("GET", f"/v1/deals/{DEAL}", None, EVERYONE),
    ("GET", "/v1/deals", None, EVERYONE),
    ("GET", f"/v1/deals/{DEAL}/timeline", None, READERS),
    ("GET", "/v1/reports/funnel?pipeline=nl-tesoro", None, READERS),
    ("GET", "/v1/reports/time-in-stage?pipeline=nl-tesoro", None, READERS),
    ("GET", "/v1/reports/stale?pipeline=nl-tesoro", None, READERS),
    ("GET", "/v1/reports/lost-reasons?pipeline=nl-tesoro", None, READERS),
    ("GET", "/v1/pipelines", None, EVERYONE),
    ("GET", "/v1/pipelines/nl-tesoro", None, EVERYONE),
    ("GET", "/v1/projections", None, READERS),
    ("POST", "/v1/projections/rebuild", None, {ADMIN}),
    ("GET", "/v1/audit/checkpoint", None, {AUDITOR, ADMIN}),
    ("GET", f"/v1/deals/{DEAL}/proof", None, {AUDITOR, ADMIN}),
]


def test_each_role_may_do_what_the_matrix_allows_and_nothing_else(
    client: TestClient, keys: dict[str, str]
) -> None:
    assert set(keys) == set(ROLES)
    for method, path, body, allowed in MATRIX:
        for role, key in keys.items():
            response = client.request(method, path, json=body, headers=bearer(key))
            if role in allowed:
                assert response.status_code not in (401, 403), (role, method, path)
            else:
                assert response.status_code == 403, (role, method, path)
                assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": ""}, bearer("wrong"), {"Authorization": "Basic abc"}],
)
def test_a_missing_or_unknown_key_is_401(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = client.get("/v1/pipelines", headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_no_key_header_is_401_once_keys_exist(api_settings: Settings) -> None:
    with TestClient(create_app(api_settings)) as anonymous:
        assert anonymous.get("/v1/pipelines").status_code == 401
        assert anonymous.get("/healthz").status_code == 200


def test_without_any_key_the_server_runs_open_on_loopback_only(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(create_app(settings)) as open_client:
        assert open_client.post("/v1/actions", json=action()).status_code == 201
        keys = open_client.app.state.keys  # type: ignore[attr-defined]
        check_bind("127.0.0.1", keys)
        with pytest.raises(RuntimeError, match="refusing to listen on 0.0.0.0"):
            check_bind("0.0.0.0", keys)
        keys.create("agent")
        check_bind("0.0.0.0", keys)
        assert open_client.get("/v1/pipelines").status_code == 401
    assert "runs OPEN" in caplog.text


def test_a_table_whose_keys_are_all_revoked_keeps_the_server_closed(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(create_app(settings)) as first:
        store = first.app.state.keys  # type: ignore[attr-defined]
        key = store.create("agent", "only-key")
        store.revoke("only-key")
        assert first.get("/v1/pipelines").status_code == 401
        refused = first.get("/v1/pipelines", headers=bearer(key))
        assert (refused.status_code, refused.json()["detail"]) == (
            401,
            "revoked API key",
        )
    caplog.clear()

    with TestClient(create_app(settings)) as restarted:
        assert restarted.get("/v1/pipelines").status_code == 401
        check_bind("0.0.0.0", restarted.app.state.keys)  # type: ignore[attr-defined]
    assert "runs OPEN" not in caplog.text


def test_the_caller_is_known_by_their_key_s_id_and_name(
    api_settings: Settings,
) -> None:
    with TestClient(whoami_app(api_settings)) as client:
        key = client.app.state.keys.create("agent", "alice")  # type: ignore[attr-defined]
        alice = client.get("/whoami", headers=bearer(key)).json()
        admin = client.get("/whoami", headers=bearer(ADMIN_KEY)).json()

    assert alice == {
        "role": "agent",
        "key_id": hash_key(key)[:12],
        "name": "alice",
        "open_mode": False,
    }
    assert admin["name"] == "PHASELOG_ADMIN_KEY"


def test_in_open_mode_the_caller_has_no_key(settings: Settings) -> None:
    with TestClient(whoami_app(settings)) as client:
        caller = client.get("/whoami").json()

    assert caller == {"role": "admin", "key_id": None, "name": None, "open_mode": True}


def test_keys_are_stored_hashed(client: TestClient, keys: dict[str, str]) -> None:
    store = client.app.state.keys  # type: ignore[attr-defined]

    assert store.role_of(keys[AGENT]) == AGENT
    assert store.role_of(keys[AGENT].upper()) is None
    assert keys[AGENT] not in _dump(client)


def whoami_app(settings: Settings) -> FastAPI:
    """The app, with a route answering who the caller is (as later routes will
    record it)."""
    app = create_app(settings)

    @app.get("/whoami")
    async def whoami(
        caller: Annotated[Principal, Depends(authenticate)],
    ) -> dict[str, Any]:
        return asdict(caller)

    return app


def _dump(client: TestClient) -> str:
    """Every key-table row as text, straight from the database."""
    store = client.app.state.keys  # type: ignore[attr-defined]
    return repr(store.rows())

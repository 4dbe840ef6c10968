"""Logging actions: status codes, idempotency and every input error."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.api.conftest import action, head

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


def test_first_action_opens_the_deal_in_its_first_phase(client: TestClient) -> None:
    response = client.post("/v1/actions", json=action(action_id="a-1"))

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "deal_id",
        "action_id",
        "phase",
        "previous_phase",
        "position",
        "effect",
    }
    assert (body["action_id"], body["phase"], body["previous_phase"]) == (
        "a-1",
        "lead",
        None,
    )
    assert body["effect"] == "moved"
    assert body["position"] > 0


def test_same_action_again_answers_200_and_a_changed_one_409(
    client: TestClient,
) -> None:
    first = client.post("/v1/actions", json=action(action_id="a-1"))
    again = client.post("/v1/actions", json=action(action_id="a-1"))
    changed = client.post("/v1/actions", json=action(action_id="a-1", note="other"))

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert changed.status_code == 409
    assert changed.headers["content-type"] == "application/problem+json"
    assert changed.json()["field"] == "action_id"
    timeline = client.get(f"/v1/deals/{first.json()['deal_id']}/timeline").json()
    assert len(timeline["entries"]) == 1


def test_actions_move_the_deal_and_report_the_phase_before(client: TestClient) -> None:
    client.post("/v1/actions", json=action())
    response = client.post(
        "/v1/actions",
        json=action(type="budget_confirmed", occurred_at="2024-03-05T09:00:00Z"),
    )

    assert response.status_code == 201
    assert (response.json()["previous_phase"], response.json()["phase"]) == (
        "lead",
        "qualification",
    )


BAD_INPUT: list[tuple[dict[str, Any], str, str]] = [
    ({"pipeline": "nope"}, "pipeline", "unknown pipeline"),
    ({"type": "teleported"}, "type", "unknown action"),
    ({"type": "viewing", "outcome": "great"}, "outcome", "unknown outcome"),
    ({"type": "deal_lost"}, "fields.lost_reason", "required"),
    (
        {"type": "deal_lost", "fields": {"lost_reason": "weather"}},
        "fields.lost_reason",
        "one of",
    ),
    (
        {"type": "deal_lost", "fields": {"lost_reason": "other"}},
        "fields.lost_reason_detail",
        "required",
    ),
    ({"occurred_at": "2024-03-04T09:00:00"}, "occurred_at", "timezone"),
    ({"occurred_at": "last tuesday"}, "occurred_at", "ISO 8601"),
    ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at", "future"),
    ({"contact_id": ""}, "contact_id", "at least 1"),
    ({"contact_id": "   "}, "contact_id", "empty"),
    ({"object_id": ""}, "object_id", "at least 1"),
    ({"action_id": ""}, "action_id", "at least 1"),
    ({"pipeline": None}, "pipeline", "string"),
    ({"surprise": 1}, "surprise", "not permitted"),
]


@pytest.mark.parametrize(("change", "field", "says"), BAD_INPUT)
def test_bad_input_is_a_422_problem_naming_the_field_and_stores_nothing(
    client: TestClient, change: dict[str, Any], field: str, says: str
) -> None:
    before = head(client)

    response = client.post("/v1/actions", json=action(**change))

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert problem["field"] == field
    assert says in problem["detail"]
    assert field in problem["detail"]
    assert head(client) == before


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    limit = client.app.state.settings.max_body_bytes  # type: ignore[attr-defined]
    response = client.post(
        "/v1/actions", json=action(note="x" * limit), headers={"X-Test": "big"}
    )

    assert response.status_code == 413
    assert response.json()["field"] == "body"


def test_a_body_that_is_not_json_is_a_422_problem(client: TestClient) -> None:
    response = client.post(
        "/v1/actions", content=b"{nope", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_a_body_sent_as_another_media_type_is_a_422_naming_the_body(
    client: TestClient,
) -> None:
    before = head(client)
    response = client.post(
        "/v1/actions",
        content=json.dumps(action()).encode(),
        headers={"Content-Type": "text/plain"},
    )

    assert response.status_code == 422
    assert response.json()["field"] == "body"
    assert "application/json" in response.json()["detail"]
    assert head(client) == before


def test_void_removes_the_effect_and_is_idempotent(client: TestClient) -> None:
    client.post("/v1/actions", json=action(action_id="a-1"))
    second = client.post(
        "/v1/actions",
        json=action(
            action_id="a-2", type="budget_confirmed", occurred_at="2024-03-05T09:00:00Z"
        ),
    ).json()

    voided = client.post("/v1/actions/a-2/void", json={"reason": "wrong deal"})
    again = client.post("/v1/actions/a-2/void", json={"reason": "wrong deal"})

    assert (voided.status_code, again.status_code) == (201, 200)
    assert voided.json()["phase"] == "lead"
    deal = client.get(f"/v1/deals/{second['deal_id']}").json()
    assert deal["phase"] == "lead"


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/v1/actions/unknown/void", {"reason": "typo"}, 404, "action_id"),
        ("/v1/actions/a-1/void", {"reason": ""}, 422, "reason"),
        ("/v1/actions/a-1/void", {}, 422, "reason"),
    ],
)
def test_void_errors_name_their_field(
    client: TestClient, path: str, body: dict[str, Any], status: int, field: str
) -> None:
    client.post("/v1/actions", json=action(action_id="a-1"))

    response = client.post(path, json=body)

    assert response.status_code == status
    assert response.json()["field"] == field


def test_other_methods_on_the_actions_path_still_reach_the_router(
    client: TestClient,
) -> None:
    response = client.get("/v1/actions")

    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"


def test_an_unexpected_failure_while_logging_is_raised_and_the_next_request_works(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = client.app.state.tracker  # type: ignore[attr-defined]
    with monkeypatch.context() as patched:
        patched.setattr(tracker, "group_commit", None)
        patched.setattr(tracker, "log_one", _broken)
        with pytest.raises(RuntimeError, match="disk on fire"):
            client.post("/v1/actions", json=action(action_id="a-broken"))

    response = client.post("/v1/actions", json=action(action_id="a-broken"))

    assert response.status_code == 201


def _broken(*_: Any) -> None:
    raise RuntimeError("disk on fire")

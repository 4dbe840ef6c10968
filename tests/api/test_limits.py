"""What a careless or hostile client sends is a 422 naming the field; never a 500.

Every text phaselog stores or filters by is checked at the door by one set of
rules (`domain.limits`): no control characters where a database or a terminal
cannot take them, documented lengths, times from 1900 on. Nothing is stored.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest

from domain.limits import FIELD_DEPTH_MAX, FIELD_ENTRIES_MAX, NOTE_MAX
from tests.api.conftest import action, head

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"inner": value}
    return value


BAD_ACTIONS: list[tuple[dict[str, Any], str, str]] = [
    ({"contact_id": "a\u0000b"}, "contact_id", "U+0000"),
    ({"object_id": "flat\u00073"}, "object_id", "U+0007"),
    ({"action_id": "crm-1\u001b[2J"}, "action_id", "U+001B"),
    ({"actor": "agent\u0000"}, "actor", "U+0000"),
    ({"actor": "a" * 201}, "actor", "200 characters"),
    ({"note": "ok\u0000"}, "note", "U+0000"),
    ({"note": "x" * (NOTE_MAX + 1)}, "note", f"{NOTE_MAX} characters"),
    ({"outcome": "x\u0000"}, "outcome", "U+0000"),
    ({"fields": {"owner": "a\u0000b"}}, "fields", "fields.owner"),
    ({"fields": {"a\u0000": 1}}, "fields", "key must not contain"),
    ({"fields": {"k" * 101: 1}}, "fields", "100 characters"),
    ({"fields": {"deep": _nested(FIELD_DEPTH_MAX)}}, "fields", "deeper than"),
    (
        {"fields": {f"k{n}": n for n in range(FIELD_ENTRIES_MAX + 1)}},
        "fields",
        "more than",
    ),
    ({"fields": {"big": 10**100}}, "fields", "100 digits"),
    ({"occurred_at": "0001-01-01T00:00:00+14:00"}, "occurred_at", "before 1900"),
    ({"occurred_at": "9999-12-31T23:59:59-14:00"}, "occurred_at", "after 2999"),
    ({"occurred_at": 0}, "occurred_at", "not a number"),
    ({"occurred_at": 1_700_000_000.5}, "occurred_at", "not a number"),
    ({"occurred_at": "1700000000"}, "occurred_at", "not a number"),
]


@pytest.mark.parametrize(("change", "field", "says"), BAD_ACTIONS)
def test_an_unstorable_action_is_a_422_naming_the_field(
    client: TestClient, change: dict[str, Any], field: str, says: str
) -> None:
    before = head(client)

    response = client.post("/v1/actions", json=action(**change))

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field
    assert says in response.json()["detail"]
    assert head(client) == before


def test_notes_and_field_texts_keep_their_line_breaks_and_tabs(
    client: TestClient,
) -> None:
    text = "first line\n\tsecond, indented\r\nthird"
    answer = client.post(
        "/v1/actions", json=action(note=text, fields={"remark": text})
    ).json()

    [entry] = client.get(f"/v1/deals/{answer['deal_id']}/timeline").json()["entries"]
    assert (entry["note"], entry["fields"]["remark"]) == (text, text)


def test_moves_and_voids_check_their_texts(client: TestClient) -> None:
    first = client.post("/v1/actions", json=action(action_id="a-1")).json()
    before = head(client)

    move = client.post(
        f"/v1/deals/{first['deal_id']}/moves",
        json={"phase": "viewing", "reason": "skip\u0000"},
    )
    void = client.post("/v1/actions/a-1/void", json={"reason": "r" * 2001})
    void_actor = client.post(
        "/v1/actions/a-1/void", json={"reason": "typo", "actor": "\u0085"}
    )
    void_path = client.post("/v1/actions/a%00b/void", json={"reason": "typo"})

    assert (move.status_code, move.json()["field"]) == (422, "reason")
    assert (void.status_code, void.json()["field"]) == (422, "reason")
    assert (void_actor.status_code, void_actor.json()["field"]) == (422, "actor")
    assert (void_path.status_code, void_path.json()["field"]) == (422, "action_id")
    assert head(client) == before


FILTERS = [
    ("/v1/deals", {"owner": "a\u0000"}, "owner"),
    ("/v1/deals", {"phase": "\u0000"}, "phase"),
    ("/v1/deals", {"contact_id": "x\u0000"}, "contact_id"),
    ("/v1/deals", {"object_id": "x\u0000"}, "object_id"),
    ("/v1/deals", {"pipeline": "nl-tesoro\u0000"}, "pipeline"),
    ("/v1/deals", {"owner": "o" * 201}, "owner"),
    ("/v1/reports/funnel", {"owner": "\u0000"}, "owner"),
    ("/v1/reports/funnel", {"since": "0001-01-01T00:00:00+14:00"}, "since"),
    ("/v1/reports/time-in-stage", {"until": "9999-12-31T23:59:59-14:00"}, "until"),
    ("/v1/reports/time-in-stage", {"since": "0"}, "since"),
    ("/v1/reports/lost-reasons", {"since": "1899-12-31T23:59:59Z"}, "since"),
    # The last day a date can be: its end (or the next day) is no datetime at
    # all, which was a 500 (found by tests/pages/test_page_fuzz.py).
    ("/v1/reports/funnel", {"until": "9999-12-31"}, "until"),
    ("/v1/reports/lost-reasons", {"since": "9999-12-31"}, "since"),
    ("/v1/reports/stale", {"owner": "\u0000"}, "owner"),
    ("/v1/reports/stale", {"cursor": f"99999999999999999999_{'0' * 32}"}, "cursor"),
    ("/v1/reports/stale", {"cursor": f"-99999999999999999_{'0' * 32}"}, "cursor"),
]


@pytest.mark.parametrize(("path", "query", "field"), FILTERS)
def test_an_unusable_filter_is_a_422_naming_the_parameter(
    client: TestClient, path: str, query: dict[str, str], field: str
) -> None:
    params = {"pipeline": "nl-tesoro", **query} if "reports" in path else query

    response = client.get(path, params=params)

    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


def test_a_timeline_replayed_at_an_impossible_time_is_a_422(
    client: TestClient,
) -> None:
    deal_id = client.post("/v1/actions", json=action()).json()["deal_id"]

    for name in ("as_of", "known_at"):
        for value in ("0001-01-01T00:00:00+14:00", "9999-12-31"):
            response = client.get(
                f"/v1/deals/{deal_id}/timeline", params={name: value}
            )
            assert (response.status_code, response.json()["field"]) == (422, name)
    unknown = client.get(f"/v1/deals/{uuid.uuid4()}/timeline")
    assert unknown.status_code == 404


BODY_ROUTES = ["/v1/actions", "/v1/actions:batch", "/v1/actions/a-1/void", "moves"]
UNREADABLE = [
    (b"{nope", "application/json", "not valid JSON"),
    (b'{"reason": "\xff"}', "application/json", "not valid JSON"),
    (b'{"reason": "typo"}', "text/plain", "expected application/json"),
    (b'{"reason": "typo"}', None, "no Content-Type"),
]


@pytest.mark.parametrize("route", BODY_ROUTES)
@pytest.mark.parametrize(("body", "media", "says"), UNREADABLE)
def test_an_unreadable_body_is_a_422_naming_the_body_on_every_route(
    client: TestClient, route: str, body: bytes, media: str | None, says: str
) -> None:
    deal_id = client.post("/v1/actions", json=action(action_id="a-1")).json()["deal_id"]
    path = f"/v1/deals/{deal_id}/moves" if route == "moves" else route
    before = head(client)

    response = client.post(
        path, content=body, headers={"Content-Type": media} if media else {}
    )

    assert response.status_code == 422, response.text
    assert response.json()["field"] == "body"
    assert says in response.json()["detail"]
    assert head(client) == before

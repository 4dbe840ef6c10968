"""`after=`: read-your-writes that never holds a worker thread while it waits."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from fastapi.testclient import TestClient

from api.app import create_app
from tests.api.conftest import ADMIN_KEY, action, bearer, head

if TYPE_CHECKING:
    from collections.abc import Callable

    from api.settings import Settings

WAITERS = 120  # more than FastAPI's thread pool (40): each would have held one


def _waiting(client: TestClient) -> int:
    return len(client.app.state.waits._waiting)  # type: ignore[attr-defined]


def _until(check: Callable[[], bool], polls: int = 3000) -> None:
    """Poll `check()` until it holds: a condition is awaited, not a duration."""
    pause = threading.Event()
    for _ in range(polls):
        if check():
            return
        pause.wait(0.01)
    raise AssertionError("the condition never held")


def test_a_position_beyond_the_head_is_a_422_at_once(client: TestClient) -> None:
    position = client.post("/v1/actions", json=action()).json()["position"]

    answers = [
        client.get(path, params={"after": position + 1})
        for path in ("/v1/deals", "/v1/reports/funnel?pipeline=nl-tesoro")
    ]

    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "after"
        assert "beyond the log's head" in answer.json()["detail"]


def test_a_position_not_reached_in_time_is_503(api_settings: Settings) -> None:
    impatient = api_settings.model_copy(update={"report_wait_seconds": 0.2})
    with TestClient(create_app(impatient), headers=bearer(ADMIN_KEY)) as client:
        client.app.state.projector.stop()  # type: ignore[attr-defined]
        position = client.post("/v1/actions", json=action()).json()["position"]

        response = client.get(
            "/v1/reports/funnel", params={"pipeline": "nl-tesoro", "after": position}
        )

    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == "application/problem+json"


def test_waiting_readers_hold_no_thread_and_slow_no_other_route(
    api_settings: Settings,
) -> None:
    patient = api_settings.model_copy(update={"report_wait_seconds": 60.0})
    with TestClient(create_app(patient), headers=bearer(ADMIN_KEY)) as client:
        projector = client.app.state.projector  # type: ignore[attr-defined]
        projector.stop()
        answer = client.post("/v1/actions", json=action()).json()
        assert head(client) == answer["position"]

        with ThreadPoolExecutor(WAITERS) as pool:
            waiting = [
                pool.submit(
                    client.get, "/v1/deals", params={"after": answer["position"]}
                )
                for _ in range(WAITERS)
            ]
            _until(lambda: _waiting(client) == WAITERS)

            # Every waiter is parked; another route answers meanwhile.
            deal = client.get(f"/v1/deals/{answer['deal_id']}")
            assert deal.status_code == 200
            assert _waiting(client) == WAITERS
            assert not any(w.done() for w in waiting)

            projector.start()  # the projection reaches the position: all answer
            pages = [w.result(timeout=60) for w in waiting]

    assert {page.status_code for page in pages} == {200}
    assert all(p.json()["data"][0]["deal_id"] == answer["deal_id"] for p in pages)

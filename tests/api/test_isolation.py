"""One bad command never fails its neighbours: coalesced requests and batches.

A command the storage refuses in a way nobody foresaw (tests/helpers/refusing.py)
gets its own 500 problem; every other command coalesced with it into one
transaction, or sent in the same batch, is stored and answered as if alone.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.api.conftest import ADMIN_KEY, action, bearer
from tests.helpers import refusing

if TYPE_CHECKING:
    from collections.abc import Iterator

    from api.settings import Settings

GOOD = 31


@pytest.fixture
def refusing_client(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    refusing.install(monkeypatch)
    with TestClient(create_app(api_settings), headers=bearer(ADMIN_KEY)) as client:
        yield client
    refusing.gate.set()


def _stored(client: TestClient, action_id: str) -> bool:
    tracker = client.app.state.tracker  # type: ignore[attr-defined]
    return tracker.store.find_action(action_id) is not None


def test_31_good_requests_coalesced_with_1_bad_one_are_all_stored(
    refusing_client: TestClient,
) -> None:
    client = refusing_client
    tracker = client.app.state.tracker  # type: ignore[attr-defined]
    bodies: list[dict[str, Any]] = [
        action(contact_id=f"c-{n % 8}", action_id=f"good-{n}") for n in range(GOOD)
    ]
    bodies.insert(GOOD // 2, action(contact_id="c-3", action_id="poison-1"))
    # The first save waits: meanwhile every other request queues for the next
    # group, so the bad one shares a transaction with the good ones.
    refusing.gate.clear()
    with ThreadPoolExecutor(len(bodies)) as pool:
        sent = [pool.submit(client.post, "/v1/actions", json=b) for b in bodies]
        queue = tracker.group_commit._queue
        seen, unchanged = -1, 0
        for _ in range(3000):  # poll the queue, a condition, not a duration
            size = queue.qsize()
            if size >= len(bodies) - 1:
                break
            # Settled: what will queue has (a request or two may still be on
            # its way through the test client's threads when the rest wait).
            unchanged = unchanged + 1 if size == seen else 0
            seen = size
            if unchanged >= 50 and size >= GOOD // 2:
                break
            refusing.gate.wait(0.01)
        refusing.gate.set()
        answers = [s.result(timeout=60) for s in sent]

    by_id = {b["action_id"]: a for b, a in zip(bodies, answers, strict=True)}
    bad = by_id.pop("poison-1")
    assert bad.status_code == 500
    assert bad.headers["content-type"] == "application/problem+json"
    assert "not stored" in bad.json()["detail"]
    assert {a.status_code for a in by_id.values()} == {201}
    assert all(_stored(client, action_id) for action_id in by_id)
    assert not _stored(client, "poison-1")


def test_a_batch_stores_every_deal_but_the_one_the_database_refuses(
    refusing_client: TestClient,
) -> None:
    batch = [action(contact_id=f"c-{n}", action_id=f"b-{n}") for n in range(10)]
    batch[4] = action(contact_id="c-4", action_id="poison-2")
    batch.append(
        action(
            contact_id="c-4",
            action_id="b-4-after",
            type="budget_confirmed",
            occurred_at="2024-03-05T09:00:00Z",
        )
    )

    response = refusing_client.post("/v1/actions:batch", json={"actions": batch})

    results = response.json()["results"]
    assert response.status_code == 200
    assert [r["status"] for r in results] == [201] * 4 + [500] + [201] * 5 + [500]
    assert "not stored" in results[4]["problem"]["detail"]
    assert response.json()["accepted"] == 9
    stored = [b["action_id"] for b, r in zip(batch, results, strict=True)]
    assert [_stored(refusing_client, a) for a in stored] == [
        r["status"] == 201 for r in results
    ]

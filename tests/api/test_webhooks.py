"""Webhooks on each test database, posted to a real receiver on 127.0.0.1:
signed (checked with the `standardwebhooks` library), sent once per change of
a deal's derived phase, retried until the receiver recovers."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from api.app import create_app
from bench.server import free_port
from tests.api.conftest import ADMIN_KEY, START, action, bearer
from tests.helpers.receiver import Answer, Received, Receiver, receiving

if TYPE_CHECKING:
    from collections.abc import Iterator

    from api.settings import Settings

RETRIES = "0.05,0.1,0.2,0.2,0.2,0.2,0.2,0.2"


@pytest.fixture
def hook_settings(api_settings: Settings) -> Settings:
    return api_settings.model_copy(
        update={
            "webhooks_allow_private": True,  # the receiver is on loopback
            "webhook_retry_seconds": tuple(float(s) for s in RETRIES.split(",")),
            "webhook_timeout_seconds": 0.5,
        }
    )


@pytest.fixture
def hooks(hook_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(hook_settings), headers=bearer(ADMIN_KEY)) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as listening:
        yield listening


def subscribe(client: TestClient, url: str, **wanted: Any) -> dict[str, Any]:
    made = client.post("/v1/webhooks", json={"url": url, **wanted})
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


def log(client: TestClient, **overrides: Any) -> dict[str, Any]:
    answer = client.post("/v1/actions", json=action(**overrides))
    assert answer.status_code in (200, 201), answer.text
    body: dict[str, Any] = answer.json()
    return body


def changes(received: list[Received]) -> list[tuple[str | None, str | None]]:
    """(before, after) of each distinct event received, in order of arrival."""
    seen: dict[str, tuple[str | None, str | None]] = {}
    for r in received:
        data = r.event["data"]
        before, after = data["phase_before"], data["phase_after"]
        seen.setdefault(r.id, (before and before["key"], after and after["key"]))
    return list(seen.values())


def deliveries(client: TestClient, hook_id: str) -> list[dict[str, Any]]:
    page = client.get(f"/v1/webhooks/{hook_id}/deliveries")
    assert page.status_code == 200, page.text
    data: list[dict[str, Any]] = page.json()["data"]
    return data


def settled(client: TestClient, hook_id: str, count: int) -> list[dict[str, Any]]:
    """The delivery log once `count` deliveries are no longer pending."""
    deadline = time.monotonic() + 30
    while True:
        found = deliveries(client, hook_id)
        done = [d for d in found if d["status"] != "pending"]
        if len(done) >= count:
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.05)  # polling the log the sender writes, not timing anything


def recorded_through(client: TestClient, position: int) -> None:
    """Until the webhook worker has read the log through `position`: every
    delivery of those events is recorded by then (with its position)."""
    worker = client.app.state.webhooks.worker  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while worker.position() < position:
        assert time.monotonic() < deadline, worker.position()
        worker.hurry()
        time.sleep(0.02)  # polling the worker's position, not timing anything


def test_each_phase_change_is_posted_signed_with_what_changed(
    hooks: TestClient, receiver: Receiver
) -> None:
    hook = subscribe(hooks, receiver.url)
    assert hook["secret"].startswith("whsec_")

    # Step: a lead is captured, then qualified; a second capture changes nothing.
    first = log(hooks, type="contact_captured")
    log(hooks, type="contact_captured", occurred_at="2024-03-04T10:00:00+00:00")
    last = log(hooks, type="budget_confirmed", occurred_at="2024-03-05T09:00:00+00:00")

    got = receiver.wait_for(lambda r: len(r) >= 2)
    for request in got:
        Webhook(hook["secret"]).verify(request.body, request.headers)
    assert changes(got) == [(None, "lead"), ("lead", "qualification")]
    data = got[0].event["data"]
    assert got[0].event["type"] == "deal.phase_entered"
    assert data["deal_id"] == first["deal_id"]
    assert data["pipeline"] == "nl-tesoro"
    assert data["contact_id"] == "contact-1"
    assert data["phase_after"] == {"key": "lead", "label": "Lead", "kind": "open"}
    assert data["cause"]["action_id"] == first["action_id"]
    assert data["cause"]["type"] == "contact_captured"
    assert data["occurred_at"] == START
    assert data["position"] == first["position"]
    assert got[1].event["data"]["phase_after"]["label"] == "Kwalificatie"  # nl

    # Step: the delivery log shows both delivered, with their answers.
    log_ = settled(hooks, hook["id"], 2)
    assert [d["status"] for d in log_] == ["delivered", "delivered"]
    assert [d["webhook_id"] for d in log_] == [r.id for r in got]
    assert log_[0]["tries"][0]["response_code"] == 200
    # Nothing else comes: the second capture changed nothing.
    recorded_through(hooks, last["position"])
    assert len(deliveries(hooks, hook["id"])) == 2
    assert len(receiver.requests) == 2


def test_a_void_that_moves_a_deal_back_sends_exactly_that_change(
    hooks: TestClient, receiver: Receiver
) -> None:
    log(hooks, type="contact_captured")
    qualified = log(
        hooks, type="budget_confirmed", occurred_at="2024-03-05T09:00:00+00:00"
    )
    hook = subscribe(hooks, receiver.url)  # after both: only what follows

    voided = hooks.post(
        f"/v1/actions/{qualified['action_id']}/void", json={"reason": "typo"}
    )
    assert voided.status_code in (200, 201), voided.text

    got = receiver.wait_for(lambda r: len(r) >= 1)
    recorded_through(hooks, voided.json()["position"])
    assert len(deliveries(hooks, hook["id"])) == 1
    assert changes(receiver.requests) == [("qualification", "lead")]
    cause = got[0].event["data"]["cause"]
    assert cause["kind"] == "void"
    assert cause["voids"] == qualified["action_id"]
    Webhook(hook["secret"]).verify(got[0].body, got[0].headers)


def test_filters_by_pipeline_phase_and_kind(
    hooks: TestClient, receiver: Receiver
) -> None:
    hook = subscribe(hooks, receiver.url, kinds=["lost"], pipelines=["nl-tesoro"])
    log(hooks, type="contact_captured")
    log(
        hooks,
        type="deal_lost",
        occurred_at="2024-03-05T09:00:00+00:00",
        fields={"lost_reason": "price"},
    )
    last = log(hooks, pipeline="fr-sale", type="inquiry_received", contact_id="other")

    receiver.wait_for(lambda r: len(r) >= 1)
    recorded_through(hooks, last["position"])
    assert len(deliveries(hooks, hook["id"])) == 1
    assert changes(receiver.requests) == [("lead", "lost")]


def test_an_expiry_sends_its_change(
    hook_settings: Settings, receiver: Receiver
) -> None:
    settings = hook_settings.model_copy(update={"sweep_interval_seconds": 0.05})
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=120)
    with TestClient(create_app(settings), headers=bearer(ADMIN_KEY)) as client:
        subscribe(client, receiver.url, phases=["closed_lost"])
        booked = log(
            client,
            pipeline="hubspot-default",
            contact_id="quiet-buyer",
            type="meeting_booked",
            occurred_at=long_ago.isoformat(),
        )
        got = receiver.wait_for(lambda r: len(r) >= 1)
    data = got[0].event["data"]
    assert changes(got) == [("appointment_scheduled", "closed_lost")]
    assert data["deal_id"] == booked["deal_id"]
    assert data["cause"]["kind"] == "expiry"
    assert data["occurred_at"].startswith(
        (long_ago + dt.timedelta(days=90)).date().isoformat()
    )


def test_a_receiver_down_failing_or_slow_gets_every_event_once_it_recovers(
    hooks: TestClient,
) -> None:
    port = free_port()  # nothing listens there yet: the receiver is down
    hook = subscribe(hooks, f"http://127.0.0.1:{port}/hook")
    for n in range(3):
        log(hooks, contact_id=f"c-{n}")
        log(
            hooks,
            contact_id=f"c-{n}",
            type="budget_confirmed",
            occurred_at="2024-03-05T09:00:00+00:00",
        )
    # Step: the first attempts find no one listening.
    deadline = time.monotonic() + 30
    while not any(d["attempts"] for d in deliveries(hooks, hook["id"])):
        assert time.monotonic() < deadline
        time.sleep(0.05)

    # Step: it comes up, answers 500 twice, then too slowly twice, then well.
    with receiving(port) as receiver:
        calls = {"n": 0}

        def answer(_: Received) -> Answer:
            calls["n"] += 1
            if calls["n"] <= 2:
                return Answer(500)
            if calls["n"] <= 4:
                return Answer(200, delay=0.8)  # beyond the 0.5 s timeout
            return Answer(200)

        receiver.answer = answer
        done = settled(hooks, hook["id"], 6)

    assert [d["status"] for d in done] == ["delivered"] * 6
    answered = list(receiver.requests)
    ids = {d["webhook_id"] for d in done}
    assert {r.id for r in answered} == ids  # every event; repeats share an id
    # Each deal's changes arrived in order, whatever failed before.
    for n in range(3):
        deal = [r for r in answered if r.event["data"]["contact_id"] == f"c-{n}"]
        assert changes(deal) == [(None, "lead"), ("lead", "qualification")]
    errors = [t["error"] for d in done for t in d["tries"] if t["error"]]
    assert any("ConnectError" in e for e in errors)
    assert "answered 500" in errors
    assert any("no answer within" in e for e in errors)


def test_retry_after_is_honoured(hooks: TestClient, receiver: Receiver) -> None:
    receiver.answer = lambda r: (
        Answer(429, {"Retry-After": "1"}) if len(receiver.requests) < 1 else Answer()
    )
    hook = subscribe(hooks, receiver.url)
    log(hooks)
    done = settled(hooks, hook["id"], 1)
    tries = done[0]["tries"]
    assert [t["response_code"] for t in tries] == [429, 200]
    first, second = (dt.datetime.fromisoformat(t["at"]) for t in tries)
    assert (second - first).total_seconds() >= 0.9  # not the 0.05 s schedule


def test_a_410_disables_the_subscription(hooks: TestClient, receiver: Receiver) -> None:
    receiver.answer = lambda r: Answer(410)
    hook = subscribe(hooks, receiver.url)
    log(hooks)
    done = settled(hooks, hook["id"], 1)
    assert done[0]["status"] == "failed"
    assert done[0]["response_code"] == 410
    shown = hooks.get(f"/v1/webhooks/{hook['id']}").json()
    assert shown["status"] == "disabled"
    assert "410" in shown["reason"]

    # Step: later changes are not sent to it.
    last = log(hooks, type="budget_confirmed", occurred_at="2024-03-05T09:00:00+00:00")
    recorded_through(hooks, last["position"])
    assert len(deliveries(hooks, hook["id"])) == 1
    assert len(receiver.requests) == 1


def test_a_rotated_secret_signs_beside_the_old_one(
    hooks: TestClient, receiver: Receiver
) -> None:
    hook = subscribe(hooks, receiver.url)
    rotated = hooks.post(f"/v1/webhooks/{hook['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"] != hook["secret"]
    assert rotated.json()["old_secret_until"] is not None
    log(hooks)
    got = receiver.wait_for(lambda r: len(r) >= 1)
    assert len(got[0].headers["webhook-signature"].split(" ")) == 2
    for secret in (hook["secret"], rotated.json()["secret"]):
        Webhook(secret).verify(got[0].body, got[0].headers)


def test_paused_holds_deliveries_and_resume_sends_them(
    hooks: TestClient, receiver: Receiver
) -> None:
    hook = subscribe(hooks, receiver.url)
    assert hooks.post(f"/v1/webhooks/{hook['id']}/pause").json()["status"] == ("paused")
    log(hooks)
    time.sleep(0.5)
    assert receiver.requests == []
    assert hooks.post(f"/v1/webhooks/{hook['id']}/resume").status_code == 200
    assert changes(receiver.wait_for(lambda r: len(r) >= 1)) == [(None, "lead")]


def test_redelivery_of_one_and_of_everything_after_a_position(
    hooks: TestClient, receiver: Receiver
) -> None:
    hook = subscribe(hooks, receiver.url)
    first = log(hooks)
    log(hooks, type="budget_confirmed", occurred_at="2024-03-05T09:00:00+00:00")
    done = settled(hooks, hook["id"], 2)

    again = hooks.post(
        f"/v1/webhooks/{hook['id']}/deliveries/{done[0]['id']}/redeliver"
    )
    assert again.status_code == 200, again.text
    got = receiver.wait_for(lambda r: len(r) >= 3)
    assert got[2].id == got[0].id  # the same webhook-id: a receiver drops it

    after = hooks.post(
        f"/v1/webhooks/{hook['id']}/redeliver", json={"after": first["position"]}
    )
    assert after.json() == {"redelivered": 1}
    got = receiver.wait_for(lambda r: len(r) >= 4)
    assert got[3].id == got[1].id


def test_subscriptions_are_listed_shown_and_deleted(
    hooks: TestClient, receiver: Receiver, keys: dict[str, str]
) -> None:
    hook = subscribe(hooks, receiver.url, phases=["lead"])
    listed = hooks.get("/v1/webhooks").json()["data"]
    assert [h["id"] for h in listed] == [hook["id"]]
    assert "secret" not in listed[0]
    assert hooks.get(f"/v1/webhooks/{hook['id']}").json()["phases"] == ["lead"]
    # Only an admin manages them.
    refused = hooks.get("/v1/webhooks", headers=bearer(keys["manager"]))
    assert refused.status_code == 403
    assert hooks.delete(f"/v1/webhooks/{hook['id']}").status_code == 204
    assert hooks.get(f"/v1/webhooks/{hook['id']}").status_code == 404
    assert hooks.get("/v1/webhooks").json()["data"] == []


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://169.254.169.254/latest", "link-local"),
        ("http://[::1]/hook", "loopback"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("ftp://example.com/hook", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("not a url", "http or https"),
    ],
)
def test_creation_refuses_what_it_may_not_post_to(
    client: TestClient, url: str, said: str
) -> None:
    refused = client.post("/v1/webhooks", json={"url": url})
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["field"] == "url"
    assert said in problem["detail"]
    assert client.get("/v1/webhooks").json()["data"] == []  # nothing stored

"""Telling a deal's story to the running API: one request a command, a day apart."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

START = dt.datetime(2024, 3, 4, 9, 0, tzinfo=dt.UTC)


class ApiDeal:
    """One deal of `pipeline` for `contact_id`, told through `/v1`.

    Each command happens `days` after the previous one unless `at` is given;
    `log`/`move` expect it stored (201), `refused` expects a 422 and that nothing
    was stored, and gives the problem's body.
    """

    def __init__(
        self,
        client: TestClient,
        pipeline: str,
        contact_id: str,
        start: dt.datetime = START,
    ) -> None:
        self.client = client
        self.pipeline = pipeline
        self.contact_id = contact_id
        self.now = start
        self.deal_id: str | None = None
        self.position = 0

    def body(
        self,
        action: str,
        outcome: str | None = None,
        *,
        days: float = 1,
        at: dt.datetime | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        if at is None:
            self.now += dt.timedelta(days=days)
        body: dict[str, Any] = {
            "pipeline": self.pipeline,
            "contact_id": self.contact_id,
            "type": action,
            "occurred_at": (at or self.now).isoformat(),
            "fields": fields,
        }
        if outcome is not None:
            body["outcome"] = outcome
        return body

    def log(
        self, action: str, outcome: str | None = None, **options: Any
    ) -> dict[str, Any]:
        response = self.client.post(
            "/v1/actions", json=self.body(action, outcome, **options)
        )
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        self.deal_id = answer["deal_id"]
        self.position = answer["position"]
        return answer

    def refused(
        self, action: str, outcome: str | None = None, **options: Any
    ) -> dict[str, Any]:
        now = self.now
        response = self.client.post(
            "/v1/actions", json=self.body(action, outcome, **options)
        )
        self.now = now
        assert response.status_code == 422, response.text
        problem: dict[str, Any] = response.json()
        return problem

    def move(
        self, phase: str, *, reason: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        response = self._move(phase, reason, fields)
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        self.position = answer["position"]
        return answer

    def move_refused(
        self, phase: str, *, reason: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        response = self._move(phase, reason, fields)
        assert response.status_code == 422, response.text
        problem: dict[str, Any] = response.json()
        return problem

    def _move(self, phase: str, reason: str | None, fields: dict[str, Any]) -> Any:
        assert self.deal_id is not None, "log an action first"
        body: dict[str, Any] = {"phase": phase, "fields": fields}
        if reason is not None:
            body["reason"] = reason
        body["occurred_at"] = (self.now + dt.timedelta(hours=1)).isoformat()
        return self.client.post(f"/v1/deals/{self.deal_id}/moves", json=body)

    def deal(self) -> dict[str, Any]:
        assert self.deal_id is not None
        answer: dict[str, Any] = self.client.get(f"/v1/deals/{self.deal_id}").json()
        return answer

    @property
    def phase(self) -> str | None:
        phase: str | None = self.deal()["phase"]
        return phase

    def timeline(self) -> list[tuple[str | None, str | None, str | None]]:
        """(type, phase_before, phase_after) of every entry, in business order."""
        assert self.deal_id is not None
        entries = self.client.get(f"/v1/deals/{self.deal_id}/timeline").json()
        return [
            (e["type"] or e["kind"], e["phase_before"], e["phase_after"])
            for e in entries["entries"]
        ]

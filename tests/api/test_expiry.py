"""The running server closes idle deals under their pipeline's expiry policy."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

from fastapi.testclient import TestClient

from api.app import create_app
from tests.api.conftest import ADMIN_KEY, bearer

if TYPE_CHECKING:
    from api.settings import Settings


def test_server_sweeper_expires_a_hubspot_deal_idle_for_90_days(
    api_settings: Settings,
) -> None:
    settings = api_settings.model_copy(update={"sweep_interval_seconds": 0.05})
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=120)
    with TestClient(create_app(settings), headers=bearer(ADMIN_KEY)) as client:
        created = client.post(
            "/v1/actions",
            json={
                "pipeline": "hubspot-default",
                "contact_id": "quiet-buyer",
                "type": "meeting_booked",
                "occurred_at": long_ago.isoformat(),
            },
        )
        assert created.status_code == 201, created.text
        deal_id = created.json()["deal_id"]
        projector = client.app.state.projector  # type: ignore[attr-defined]

        # Step: wait (bounded) on the projector's page notifications for the sweep.
        deadline = time.monotonic() + 30
        deal = client.get(f"/v1/deals/{deal_id}").json()
        while deal["phase"] != "closed_lost" and time.monotonic() < deadline:
            with projector.progressed:
                projector.progressed.wait(timeout=1)
            deal = client.get(f"/v1/deals/{deal_id}").json()

        assert deal["phase"] == "closed_lost"
        assert deal["phase_since"].startswith(
            (long_ago + dt.timedelta(days=90)).date().isoformat()
        )
        timeline = client.get(f"/v1/deals/{deal_id}/timeline").json()
        assert timeline["entries"][-1]["kind"] == "expiry"
        assert timeline["entries"][-1]["fields"] == {
            "closed_lost_reason": "no_response"
        }

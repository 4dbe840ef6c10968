"""Whole-pipeline reports over HTTP come from kept counts, equal to counting rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.api.conftest import SKIP, action

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

EARLY = "2000-01-01T00:00:00Z"  # keeps every row, so the report counts the rows


def test_whole_pipeline_reports_equal_the_reports_counted_from_rows(
    client: TestClient,
) -> None:
    # Step: stays replaced by a back-dated action and a void.
    for contact, day in (("ann", 4), ("bob", 5), ("cid", 6)):
        client.post("/v1/actions", json=action(contact_id=contact))
        client.post(
            "/v1/actions",
            json=action(
                contact_id=contact,
                type="budget_confirmed",
                occurred_at=f"2024-03-{day:02}T10:30:00.000001Z",
            ),
        )
    viewing = client.post(
        "/v1/actions",
        json=action(
            contact_id="ann",
            type="viewing",
            occurred_at="2024-03-07T09:00:00Z",
            fields=SKIP,
        ),
    ).json()
    client.post(
        "/v1/actions",
        json=action(
            contact_id="bob",
            type="viewing",
            occurred_at="2024-03-02T09:00:00Z",
            fields=SKIP,
        ),
    )
    last = client.post(
        f"/v1/actions/{viewing['action_id']}/void", json={"reason": "wrong deal"}
    ).json()
    query = {"pipeline": "nl-tesoro", "after": last["position"]}

    for report in ("funnel", "time-in-stage"):
        whole = client.get(f"/v1/reports/{report}", params=query)
        rows = client.get(f"/v1/reports/{report}", params={**query, "since": EARLY})
        assert whole.status_code == 200, whole.text
        assert _timeless(whole.json()) == _timeless(rows.json())
    stages = {p["phase"]: p for p in whole.json()["phases"]}
    assert (stages["lead"]["count"], stages["qualification"]["current"]) == (2, 2)


def _timeless(report: dict[str, Any]) -> dict[str, Any]:
    """A report less the ages of current stays, which move with the clock."""
    for phase in report["phases"]:
        phase.pop("current_median_age_seconds", None)
    return report

"""Reports and deal lists from the projections, read-your-writes with `after=`."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from tests.api.conftest import action

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fastapi.testclient import TestClient


def log_story(client: TestClient, actors: Mapping[str, str] | None = None) -> int:
    """Three nl-tesoro deals: one qualified after two days, one lost, one new.

    `actors` names who logs each contact's actions (so who owns the deal).
    """

    def post(contact_id: str, **more: Any) -> int:
        if actors:
            more["actor"] = actors[contact_id]
        answer = client.post("/v1/actions", json=action(contact_id=contact_id, **more))
        return int(answer.json()["position"])

    post("ann")
    post("ann", type="budget_confirmed", occurred_at="2024-03-06T09:00:00Z")
    post("bob")
    post(
        "bob",
        type="deal_lost",
        fields={"lost_reason": "price"},
        occurred_at="2024-03-05T09:00:00Z",
    )
    return post("cid")


def test_funnel_after_a_write_includes_that_write(client: TestClient) -> None:
    position = log_story(client)

    response = client.get(
        "/v1/reports/funnel", params={"pipeline": "nl-tesoro", "after": position}
    )

    assert response.status_code == 200
    funnel = response.json()
    phases = {p["phase"]: p for p in funnel["phases"]}
    assert set(phases["lead"]) == {
        "phase",
        "current",
        "reached",
        "passed",
        "conversion_to_next",
        "amounts",
    }
    assert (phases["lead"]["reached"], phases["lead"]["current"]) == (3, 1)
    assert phases["qualification"]["current"] == 1
    assert (funnel["open"], funnel["lost"], funnel["won"]) == (2, 1, 0)
    assert funnel["pipeline"] == "nl-tesoro"
    assert "reached" in funnel["rule"]


def test_time_in_stage_counts_completed_stays(client: TestClient) -> None:
    position = log_story(client)

    report = client.get(
        "/v1/reports/time-in-stage", params={"pipeline": "nl-tesoro", "after": position}
    ).json()

    lead = next(p for p in report["phases"] if p["phase"] == "lead")
    assert lead["count"] == 2
    assert lead["mean_seconds"] == 1.5 * 86400
    assert lead["current"] == 1
    assert set(lead) >= {"median_seconds", "p90_seconds", "current_median_age_seconds"}


def test_reports_for_one_owner_count_only_that_owners_deals(
    client: TestClient,
) -> None:
    log_story(client, actors={"ann": "agent-a", "bob": "agent-a", "cid": "agent-b"})
    # Ann's deal goes to agent B: its stays count for B from now on.
    last = client.post(
        "/v1/actions",
        json=action(
            contact_id="ann",
            type="budget_confirmed",
            occurred_at="2024-03-07T09:00:00Z",
            actor="agent-a",
            fields={"owner": "agent-b"},
        ),
    )
    query = {"pipeline": "nl-tesoro", "after": last.json()["position"]}

    def stages(owner: str) -> dict[str, tuple[int, int]]:
        report = client.get(
            "/v1/reports/time-in-stage", params={**query, "owner": owner}
        ).json()
        return {p["phase"]: (p["count"], p["current"]) for p in report["phases"]}

    def lost(owner: str) -> int:
        return int(
            client.get(
                "/v1/reports/lost-reasons", params={**query, "owner": owner}
            ).json()["total"]
        )

    a, b = stages("agent-a"), stages("agent-b")

    assert (a["lead"], a["qualification"], a["lost"]) == ((1, 0), (0, 0), (0, 1))
    assert (b["lead"], b["qualification"], b["lost"]) == ((1, 1), (0, 1), (0, 0))
    assert stages("nobody")["lead"] == (0, 0)
    assert (lost("agent-a"), lost("agent-b")) == (1, 0)


def test_stale_and_lost_reasons(client: TestClient) -> None:
    position = log_story(client)
    query = {"pipeline": "nl-tesoro", "after": position}

    stale = client.get("/v1/reports/stale", params=query).json()
    lost = client.get("/v1/reports/lost-reasons", params=query).json()

    assert {d["contact_id"] for d in stale["data"]} == {"ann", "cid"}
    assert all(d["stale"] for d in stale["data"])
    assert lost["total"] == 1
    assert lost["reasons"] == [{"reason": "price", "count": 1, "details": []}]


def test_stale_deals_come_in_pages_longest_stale_first(client: TestClient) -> None:
    for n, contact in enumerate(("dan", "eve", "fay")):
        client.post(
            "/v1/actions",
            json=action(contact_id=contact, occurred_at=f"2024-03-0{n + 1}T09:00:00Z"),
        )
    last = client.post("/v1/actions", json=action(contact_id="gus")).json()
    query = {"pipeline": "nl-tesoro", "after": last["position"], "limit": 3}

    first = client.get("/v1/reports/stale", params=query).json()
    second = client.get(
        "/v1/reports/stale", params={**query, "cursor": first["next_cursor"]}
    ).json()
    bad = client.get("/v1/reports/stale", params={**query, "cursor": "yesterday"})

    assert [d["contact_id"] for d in first["data"]] == ["dan", "eve", "fay"]
    assert [d["contact_id"] for d in second["data"]] == ["gus"]
    assert second["next_cursor"] is None
    assert (bad.status_code, bad.json()["field"]) == (422, "cursor")


def test_reports_name_an_unknown_or_missing_pipeline(client: TestClient) -> None:
    unknown = client.get("/v1/reports/funnel", params={"pipeline": "nope"})
    missing = client.get("/v1/reports/stale")

    assert (unknown.status_code, unknown.json()["field"]) == (422, "pipeline")
    assert (missing.status_code, missing.json()["field"]) == (422, "pipeline")


def test_deals_filter_by_phase_pages_and_gives_csv(client: TestClient) -> None:
    position = log_story(client)
    query = {"pipeline": "nl-tesoro", "after": position}

    first = client.get("/v1/deals", params={**query, "limit": 2}).json()
    second = client.get(
        "/v1/deals", params={**query, "limit": 2, "cursor": first["next_cursor"]}
    ).json()
    bad_cursor = client.get("/v1/deals", params={"cursor": "nope"})
    query["phase"] = "lead"
    as_csv = client.get("/v1/deals", params=query, headers={"Accept": "text/csv"})

    contacts = [d["contact_id"] for d in first["data"] + second["data"]]
    assert sorted(contacts) == ["ann", "bob", "cid"]
    assert second["next_cursor"] is None
    assert (bad_cursor.status_code, bad_cursor.json()["field"]) == (422, "cursor")
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["contact_id"], r["phase"]) for r in rows] == [("cid", "lead")]
    assert rows[0]["stale"] in ("true", "false")


def test_deal_list_rows_have_the_deal_fields(client: TestClient) -> None:
    position = log_story(client)

    page = client.get("/v1/deals", params={"after": position, "contact_id": "bob"})

    [bob] = page.json()["data"]
    assert (bob["phase"], bob["phase_kind"]) == ("lost", "lost")
    assert bob == client.get(f"/v1/deals/{bob['deal_id']}").json()

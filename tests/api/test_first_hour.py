"""The rough edges a new user met in the first hour, each through the API."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import TYPE_CHECKING, Any

import pytest

from tests.api.conftest import action, head
from tests.helpers.clock import FakeClock

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

NOW = dt.datetime(2024, 4, 4, 12, tzinfo=dt.UTC)


def _at(client: TestClient, now: dt.datetime = NOW) -> None:
    client.app.state.tracker.clock = FakeClock(now)  # type: ignore[attr-defined]


def sale(**more: Any) -> dict[str, Any]:
    return action(pipeline="fr-sale", contact_id="ann", **more)


def test_an_action_id_with_a_slash_is_voided_encoded_or_not(
    client: TestClient,
) -> None:
    deal = client.post("/v1/actions", json=action(action_id="crm/1")).json()
    client.post(
        "/v1/actions",
        json=action(action_id="crm/2", type="budget_confirmed"),
    )

    encoded = client.post("/v1/actions/crm%2F2/void", json={"reason": "typo"})
    plain = client.post("/v1/actions/crm/1/void", json={"reason": "typo"})

    assert (encoded.status_code, plain.status_code) == (201, 201)
    entries = client.get(f"/v1/deals/{deal['deal_id']}/timeline").json()["entries"]
    voided = {e["action_id"] for e in entries if e["voided"]}
    assert voided == {"crm/1", "crm/2"}


def test_a_filter_that_can_match_nothing_is_a_422(client: TestClient) -> None:
    answers = {
        "phase of the pipeline": client.get(
            "/v1/deals", params={"pipeline": "fr-sale", "phase": "nope"}
        ),
        "phase of any pipeline": client.get("/v1/deals", params={"phase": "nope"}),
        "empty period": client.get(
            "/v1/reports/funnel",
            params={
                "pipeline": "fr-sale",
                "since": "2024-03-02",
                "until": "2024-03-01",
            },
        ),
        "no period": client.get(
            "/v1/reports/time-in-stage",
            params={
                "pipeline": "fr-sale",
                "since": "2024-03-02T00:00:00Z",
                "until": "2024-03-02T00:00:00Z",
            },
        ),
    }

    fields = {name: (a.status_code, a.json()["field"]) for name, a in answers.items()}
    assert fields == {
        "phase of the pipeline": (422, "phase"),
        "phase of any pipeline": (422, "phase"),
        "empty period": (422, "until"),
        "no period": (422, "until"),
    }
    known = client.get(
        "/v1/deals", params={"pipeline": "fr-sale", "phase": "cancelled"}
    )
    assert known.status_code == 200


def test_each_answer_says_what_the_action_did(client: TestClient) -> None:
    client.post("/v1/actions", json=sale(type="inquiry_received"))
    client.post("/v1/actions", json=sale(type="viewing"))
    back = client.post("/v1/actions", json=sale(type="documentation_sent"))
    client.post("/v1/actions", json=sale(type="notarial_certification"))
    refusal = sale(type="refusal", fields={"reason": "price"}, action_id="r-1")
    refused = client.post("/v1/actions", json=refusal)
    again = client.post("/v1/actions", json=refusal)
    batch = client.post(
        "/v1/actions:batch",
        json={"actions": [action(contact_id="bob"), action(contact_id="bob")]},
    ).json()

    assert (back.status_code, back.json()["effect"]) == (201, "forward_only")
    assert back.json()["phase"] == "first_viewing"
    assert refused.status_code == 201
    assert refused.json()["effect"] == "terminal_phase"
    assert refused.json()["phase"] == "contract_signed"
    assert (again.status_code, again.json()) == (200, refused.json())
    effects = [item["result"]["effect"] for item in batch["results"]]
    assert effects == ["moved", "already_in_phase"]


def test_reports_speak_in_days_and_name_owner_probability_and_label(
    client: TestClient,
) -> None:
    _at(client)
    client.post(
        "/v1/actions",
        json=sale(type="inquiry_received", fields={"owner": "agent-7"}),
    )
    last = client.post(
        "/v1/actions",
        json=sale(type="inquiry_answered", occurred_at="2024-03-06T09:00:00Z"),
    ).json()
    query = {"pipeline": "fr-sale", "after": last["position"]}

    [row] = client.get("/v1/deals", params=query).json()["data"]
    [stale] = client.get("/v1/reports/stale", params=query).json()["data"]
    stages = client.get("/v1/reports/time-in-stage", params=query).json()["phases"]

    assert (row["owner"], row["probability"]) == ("agent-7", 15)
    assert row["phase_label"] == "Demande répondue"  # fr-sale speaks French
    assert row["days_in_phase"] == 29  # 2024-03-06 09:00 to 2024-04-04 12:00
    assert row == client.get(f"/v1/deals/{last['deal_id']}").json()
    assert stale["days_overdue"] == 22  # inquiry_answered is stale after 7 days
    assert stale["stale_at"].startswith("2024-03-13T09:00:00")
    received = next(s for s in stages if s["phase"] == "inquiry_received")
    assert received["mean_seconds"] == 2 * 86_400
    assert received["mean_days"] == 2.0


def test_csv_brings_every_matching_deal_as_a_download(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.routes.deals.CSV_PAGE", 2)  # pages of two: five deals
    for n in range(5):
        last = client.post("/v1/actions", json=action(contact_id=f"Ærø-{n}")).json()
    query = {"pipeline": "nl-tesoro", "after": last["position"]}

    plain = client.get("/v1/deals", params=query, headers={"Accept": "text/csv"})
    excel = client.get(
        "/v1/deals", params={**query, "format": "csv", "separator": ";", "bom": True}
    )

    assert plain.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = plain.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="deals-nl-tesoro-')
    rows = list(csv.DictReader(io.StringIO(plain.text)))
    assert sorted(r["contact_id"] for r in rows) == [f"Ærø-{n}" for n in range(5)]
    assert excel.content.startswith("\ufeff".encode())
    semicolons = list(csv.DictReader(io.StringIO(excel.text[1:]), delimiter=";"))
    assert [r["contact_id"] for r in semicolons] == [r["contact_id"] for r in rows]
    assert {r["phase_label"] for r in rows} == {"Lead"}


def test_a_cell_a_spreadsheet_would_run_as_a_formula_stays_text(
    client: TestClient,
) -> None:
    """OWASP's CSV injection: a leading apostrophe keeps `=...` a text."""
    formula = '=HYPERLINK("http://evil.example","x")'
    deal = client.post(
        "/v1/actions",
        json=action(contact_id="@sum", note=formula, fields={"owner": "-1+1"}),
    ).json()

    deals = client.get(
        "/v1/deals", params={"format": "csv", "after": deal["position"]}
    ).text
    timeline = client.get(
        f"/v1/deals/{deal['deal_id']}/timeline", params={"format": "csv"}
    ).text

    [row] = list(csv.DictReader(io.StringIO(deals)))
    assert (row["contact_id"], row["owner"]) == ("'@sum", "'-1+1")
    [entry] = list(csv.DictReader(io.StringIO(timeline)))
    assert entry["note"] == "'" + formula
    assert entry["recorded_by_via"] == "api_key"  # plain text stays as it is


@pytest.mark.parametrize(
    ("moment", "shown"),
    [("2024-03-05", ["lead", "qualification"]), ("2024-03-04", ["lead"])],
)
def test_a_date_alone_replays_through_the_end_of_that_day(
    client: TestClient, moment: str, shown: list[str]
) -> None:
    client.post("/v1/actions", json=action())
    deal = client.post(
        "/v1/actions",
        json=action(type="budget_confirmed", occurred_at="2024-03-05T23:00:00Z"),
    ).json()

    timeline = client.get(
        f"/v1/deals/{deal['deal_id']}/timeline", params={"as_of": moment}
    ).json()

    assert [e["phase_after"] for e in timeline["entries"]] == shown


def test_a_time_without_a_zone_is_refused_in_the_same_words_everywhere(
    client: TestClient,
) -> None:
    deal = client.post("/v1/actions", json=action()).json()["deal_id"]
    naive = "2024-03-05T10:00:00"

    answers = [
        client.get(f"/v1/deals/{deal}/timeline", params={"as_of": naive}),
        client.get(
            "/v1/reports/funnel", params={"pipeline": "fr-sale", "since": naive}
        ),
        client.post("/v1/actions", json=action(occurred_at=naive)),
    ]

    details = {a.json()["detail"].split(": ", 1)[1] for a in answers}
    assert details == {"needs a timezone (e.g. 2026-01-31T10:00:00Z)"}


def test_voids_of_voids_and_second_voids_say_what_is_wrong(
    client: TestClient,
) -> None:
    client.post("/v1/actions", json=action(action_id="a-1"))
    void = client.post("/v1/actions/a-1/void", json={"reason": "typo"}).json()
    before = head(client)

    of_a_void = client.post(
        f"/v1/actions/{void['action_id']}/void", json={"reason": "undo"}
    )
    other_reason = client.post("/v1/actions/a-1/void", json={"reason": "duplicate"})

    assert (of_a_void.status_code, of_a_void.json()["field"]) == (422, "action_id")
    assert "is a void, which cannot itself be voided" in of_a_void.json()["detail"]
    assert (other_reason.status_code, other_reason.json()["field"]) == (
        409,
        "action_id",
    )
    assert "action 'a-1' is already void" in other_reason.json()["detail"]
    assert head(client) == before

"""What deals are worth: `fields.amount` and `fields.currency` through the API.

The latest entry in business time that sets each wins; the deal, the deal list
(JSON and CSV), the funnel's amounts and forecast and the board's totals show
them, weighted by the phase's probability; a bad value is refused at the door.
hubspot-default's probabilities: appointment 20, presentation 60, lost 0 %.
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from api.cli import app
from projections.models import PhaseTotal
from tests.api.conftest import head

if TYPE_CHECKING:
    from pathlib import Path

    from fastapi.testclient import TestClient

PIPELINE = "hubspot-default"
LOST = {"closed_lost_reason": "budget"}


def log(
    client: TestClient,
    contact: str,
    kind: str,
    day: int,
    actor: str = "ann",
    **fields: Any,
) -> dict[str, Any]:
    response = client.post(
        "/v1/actions",
        json={
            "pipeline": PIPELINE,
            "contact_id": contact,
            "type": kind,
            "occurred_at": f"2024-03-{day + 1:02d}T09:00:00Z",
            "actor": actor,
            "fields": fields,
        },
    )
    assert response.status_code in (200, 201), response.text
    answer: dict[str, Any] = response.json()
    return answer


def listed(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    """The deal list's rows, once the projection has folded every entry."""
    params = {"pipeline": PIPELINE, "after": head(client), **params}
    page = client.get("/v1/deals", params=params)
    assert page.status_code == 200, page.text
    data: list[dict[str, Any]] = page.json()["data"]
    return data


def money(deal: dict[str, Any]) -> tuple[Any, Any, Any]:
    return deal["amount"], deal["currency"], deal["weighted_amount"]


def test_the_latest_amount_in_business_time_wins_even_when_logged_later(
    client: TestClient,
) -> None:
    log(client, "c1", "meeting_booked", 0, amount="100000.00", currency="EUR")
    deal_id = log(client, "c1", "presentation_booked", 5, amount=250000)["deal_id"]
    # Step: an earlier-dated entry logged last sets the currency, not the amount.
    log(client, "c1", "meeting_booked", 2, amount=999, currency="USD")

    deal = client.get(f"/v1/deals/{deal_id}").json()
    [row] = listed(client)

    assert money(deal) == (250000.0, "USD", 150000.0)  # 60 % of it
    assert money(row) == money(deal)


def test_a_later_entry_overwrites_one_and_keeps_the_other(client: TestClient) -> None:
    log(client, "c1", "meeting_booked", 0, amount="1200.50", currency="EUR")
    deal_id = log(client, "c1", "presentation_booked", 1, amount="1300.25")["deal_id"]

    assert money(client.get(f"/v1/deals/{deal_id}").json()) == (
        1300.25,
        "EUR",
        780.15,
    )


def test_voiding_the_latest_amount_brings_back_the_one_before(
    client: TestClient,
) -> None:
    log(client, "c1", "meeting_booked", 0, amount=1000, currency="EUR")
    later = log(client, "c1", "meeting_booked", 1, amount=2000, currency="USD")

    voided = client.post(
        f"/v1/actions/{later['action_id']}/void", json={"reason": "wrong deal"}
    )

    assert voided.status_code in (200, 201), voided.text
    assert money(client.get(f"/v1/deals/{later['deal_id']}").json()) == (
        1000.0,
        "EUR",
        200.0,
    )
    assert money(listed(client)[0]) == (1000.0, "EUR", 200.0)


@pytest.mark.parametrize(
    ("fields", "named", "says"),
    [
        ({"amount": -1}, "fields.amount", "must not be negative"),
        ({"amount": "12.345"}, "fields.amount", "more than 2 decimal places"),
        ({"amount": 10**12}, "fields.amount", "less than 1000000000000"),
        ({"amount": "12,50"}, "fields.amount", "decimal text"),
        ({"amount": True}, "fields.amount", "decimal text"),
        ({"amount": 10, "currency": "eur"}, "fields.currency", "ISO 4217"),
        ({"currency": "EURO"}, "fields.currency", "ISO 4217"),
    ],
)
def test_a_bad_amount_or_currency_is_a_422_naming_it_and_nothing_is_stored(
    client: TestClient, fields: dict[str, Any], named: str, says: str
) -> None:
    log(client, "c1", "meeting_booked", 0, amount=5, currency="EUR")
    before = head(client)

    response = client.post(
        "/v1/actions",
        json={
            "pipeline": PIPELINE,
            "contact_id": "c1",
            "type": "presentation_booked",
            "fields": fields,
        },
    )

    assert response.status_code == 422, response.text
    assert response.json()["field"] == "fields"
    assert f"{named}: " in response.json()["detail"]
    assert says in response.json()["detail"]
    assert head(client) == before


def _pipeline_of_six(client: TestClient) -> None:
    """Deals in three currencies (one without), open and lost, of two owners."""
    log(client, "c1", "meeting_booked", 0, "ann", amount=1000, currency="EUR")
    log(client, "c2", "meeting_booked", 0, "bob", amount="2000.50", currency="EUR")
    log(client, "c2", "presentation_booked", 1, "bob")
    log(client, "c3", "meeting_booked", 0, "ann", amount=3000, currency="USD")
    log(client, "c4", "meeting_booked", 0, "ann")  # no amount
    log(client, "c5", "meeting_booked", 0, "bob", amount=500, currency="EUR")
    log(client, "c5", "deal_lost", 1, "bob", **LOST)
    log(client, "c6", "meeting_booked", 0, "bob", amount=700)  # no currency


def _funnel(client: TestClient, **params: Any) -> dict[str, Any]:
    params = {"pipeline": PIPELINE, "after": head(client), **params}
    response = client.get("/v1/reports/funnel", params=params)
    assert response.status_code == 200, response.text
    funnel: dict[str, Any] = response.json()
    return funnel


def total(
    currency: str | None, count: int, amount: float, weighted: float
) -> dict[str, Any]:
    return {
        "currency": currency,
        "count": count,
        "amount": amount,
        "weighted": weighted,
    }


def _amounts(funnel: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {p["phase"]: p["amounts"] for p in funnel["phases"] if p["amounts"]}


def test_the_funnel_sums_amounts_per_phase_and_currency_and_forecasts_open_deals(
    client: TestClient,
) -> None:
    _pipeline_of_six(client)

    funnel = _funnel(client)

    assert _amounts(funnel) == {
        "appointment_scheduled": [
            total("EUR", 1, 1000.0, 200.0),
            total("USD", 1, 3000.0, 600.0),
            total(None, 1, 700.0, 140.0),
        ],
        "presentation_scheduled": [total("EUR", 1, 2000.5, 1200.3)],
        "closed_lost": [total("EUR", 1, 500.0, 0.0)],
    }
    assert funnel["forecast"] == [  # the lost deal is no longer expected
        total("EUR", 2, 3000.5, 1400.3),
        total("USD", 1, 3000.0, 600.0),
        total(None, 1, 700.0, 140.0),
    ]


def test_the_funnels_amounts_honour_the_owner_filter(client: TestClient) -> None:
    _pipeline_of_six(client)

    funnel = _funnel(client, owner="ann")

    assert funnel["forecast"] == [
        total("EUR", 1, 1000.0, 200.0),
        total("USD", 1, 3000.0, 600.0),
    ]
    assert list(_amounts(funnel)) == ["appointment_scheduled"]


def test_the_board_counts_every_deal_and_totals_each_currency_apart(
    client: TestClient,
) -> None:
    _pipeline_of_six(client)
    tracker = client.app.state.tracker  # type: ignore[attr-defined]
    reports = client.app.state.reports  # type: ignore[attr-defined]
    pipeline = tracker.pipeline(PIPELINE)
    _funnel(client)  # waits for the projection

    board = reports.board_totals(pipeline)
    anns = reports.board_totals(pipeline, owner="ann")

    assert board == [
        PhaseTotal("appointment_scheduled", "EUR", 1, 1000.0, 200.0),
        PhaseTotal("appointment_scheduled", "USD", 1, 3000.0, 600.0),
        PhaseTotal("appointment_scheduled", None, 1, 700.0, 140.0),
        PhaseTotal("appointment_scheduled", None, 1),  # c4, without an amount
        PhaseTotal("presentation_scheduled", "EUR", 1, 2000.5, 1200.3),
        PhaseTotal("closed_lost", "EUR", 1, 500.0, 0.0),
    ]
    assert anns == [
        PhaseTotal("appointment_scheduled", "EUR", 1, 1000.0, 200.0),
        PhaseTotal("appointment_scheduled", "USD", 1, 3000.0, 600.0),
        PhaseTotal("appointment_scheduled", None, 1),
    ]


def test_the_deal_list_shows_amounts_in_json_and_csv(client: TestClient) -> None:
    _pipeline_of_six(client)
    rows = {d["contact_id"]: money(d) for d in listed(client)}

    response = client.get("/v1/deals", params={"pipeline": PIPELINE, "format": "csv"})
    exported = {
        r["contact_id"]: (r["amount"], r["currency"], r["weighted_amount"])
        for r in csv.DictReader(io.StringIO(response.text))
    }

    assert rows["c2"] == (2000.5, "EUR", 1200.3)
    assert rows["c4"] == (None, None, None)
    assert rows["c5"] == (500.0, "EUR", 0.0)
    assert rows["c6"] == (700.0, None, 140.0)
    assert exported["c2"] == ("2000.5", "EUR", "1200.3")
    assert exported["c4"] == ("", "", "")


def test_an_import_line_with_a_bad_amount_is_rejected_naming_its_line(
    client: TestClient, cli_database: None, tmp_path: Path
) -> None:
    def line(contact: str, **fields: Any) -> str:
        return json.dumps(
            {
                "pipeline": PIPELINE,
                "contact_id": contact,
                "type": "meeting_booked",
                "occurred_at": "2024-03-01T09:00:00Z",
                "action_id": f"import-{contact}",
                "fields": fields,
            }
        )

    path = tmp_path / "export.ndjson"
    path.write_text(
        "\n".join(
            [
                line("i1", amount="10.00", currency="EUR"),
                line("i2", amount="10.001", currency="EUR"),
                line("i3", amount=7, currency="eu"),
            ]
        )
        + "\n",
        encoding="utf-8",
    )

    result = CliRunner().invoke(app, ["import", str(path)])

    assert result.exit_code == 1, result.output
    said = [s for s in result.stdout.splitlines() if s.startswith("line ")]
    assert len(said) == 2
    assert said[0].startswith("line 2: ") and "fields.amount" in said[0]
    assert said[1].startswith("line 3: ") and "fields.currency" in said[1]
    assert [money(d) for d in listed(client)] == [(10.0, "EUR", 2.0)]

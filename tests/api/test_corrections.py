"""Corrections re-derive every consequence, as if the history had been typed in order.

A void or a back-dated action re-derives the steps after it: each is checked
again (required fields, manual moves), chained deals follow what is derived,
and replays `as_of` a past day leave out what has been voided since.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typer.testing import CliRunner

from api.cli import app
from domain.deal import deal_id_for
from tests.api.conftest import head

if TYPE_CHECKING:
    from pathlib import Path

    import pytest
    from fastapi.testclient import TestClient


def day(n: int, hour: int = 9) -> str:
    return f"2024-03-{n:02d}T{hour:02d}:00:00+00:00"


def log(client: TestClient, pipeline: str, contact: str, **body: Any) -> Any:
    sent = {"pipeline": pipeline, "contact_id": contact, **body}
    answer = client.post("/v1/actions", json=sent)
    assert answer.status_code == 201, answer.text
    return answer.json()


def void(client: TestClient, action_id: str, reason: str = "logged by mistake") -> Any:
    return client.post(f"/v1/actions/{action_id}/void", json={"reason": reason})


def timeline(client: TestClient, deal_id: str, **params: str) -> Any:
    answer = client.get(f"/v1/deals/{deal_id}/timeline", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


# -- requirements of every re-derived step ---------------------------------------


def test_a_void_that_would_leave_a_deal_in_a_phase_without_its_fields_is_refused(
    client: TestClient,
) -> None:
    log(
        client,
        "hubspot-default",
        "h1",
        type="meeting_booked",
        action_id="h1-a",
        occurred_at=day(4),
    )
    log(
        client,
        "hubspot-default",
        "h1",
        type="proposal_sent",
        action_id="h1-b",
        occurred_at=day(5),
    )
    # Typed after the proposal, "qualified" is history: it enters nothing.
    late = log(
        client,
        "hubspot-default",
        "h1",
        type="qualified",
        action_id="h1-c",
        occurred_at=day(6),
    )
    assert late["effect"] == "forward_only"
    before = head(client)

    refused = void(client, "h1-b")

    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["field"] == "fields.budget"
    assert "entering 'qualified_to_buy'" in problem["detail"]
    assert "'h1-c'" in problem["detail"]
    assert head(client) == before  # nothing stored
    deal = client.get(f"/v1/deals/{late['deal_id']}").json()
    assert deal["phase"] == "contract_sent"


def test_a_void_that_would_make_a_lost_deal_lose_without_a_reason_is_refused(
    client: TestClient,
) -> None:
    for n, (action_id, kind) in enumerate(
        [("t-1", "contact_captured"), ("t-2", "contract_signed"), ("t-3", "deal_lost")]
    ):
        log(
            client,
            "nl-tesoro",
            "t",
            type=kind,
            action_id=action_id,
            occurred_at=day(4 + n),
            fields={"skip_reason": "returning client"},
        )
    before = head(client)

    refused = void(client, "t-2")

    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == "fields.lost_reason"
    assert "entering 'lost'" in refused.json()["detail"]
    assert head(client) == before
    lost = client.get("/v1/reports/lost-reasons", params={"pipeline": "nl-tesoro"})
    assert lost.status_code == 200
    assert all(r["reason"] is not None for r in lost.json()["reasons"])


def test_a_back_dated_action_that_would_re_derive_a_later_step_is_refused(
    client: TestClient,
) -> None:
    log(client, "hubspot-default", "h2", type="meeting_booked", occurred_at=day(4))
    log(
        client,
        "hubspot-default",
        "h2",
        type="qualified",
        action_id="h2-q",
        occurred_at=day(8),
        fields={"budget": 1, "timeline": "Q2", "decision_makers": "CFO"},
    )
    log(
        client,
        "hubspot-default",
        "h2",
        type="presentation_booked",
        action_id="h2-p",
        occurred_at=day(9),
    )
    before = head(client)

    # A deal lost on day 6: everything after it was typed against a lost deal,
    # which "closed_lost" without its reason would not allow.
    refused = client.post(
        "/v1/actions",
        json={
            "pipeline": "hubspot-default",
            "contact_id": "h2",
            "type": "deal_lost",
            "occurred_at": day(6),
        },
    )
    assert refused.status_code == 422
    assert refused.json()["field"] == "fields.closed_lost_reason"
    assert head(client) == before

    # With its reason it is taken, and the later steps stop at the lost deal.
    taken = log(
        client,
        "hubspot-default",
        "h2",
        type="deal_lost",
        occurred_at=day(6),
        fields={"closed_lost_reason": "budget"},
    )
    assert taken["phase"] == "closed_lost"
    steps = timeline(client, taken["deal_id"])["entries"]
    assert [(e["action_id"], e["effect"]) for e in steps][-2:] == [
        ("h2-q", "terminal_phase"),
        ("h2-p", "terminal_phase"),
    ]


# -- chained deals follow the derivation -----------------------------------------


def _lead_lost_before_its_quote(client: TestClient, contact: str) -> None:
    log(
        client,
        "es-leads",
        contact,
        type="lead_created",
        action_id=f"{contact}-1",
        occurred_at=day(4),
    )
    log(
        client,
        "es-leads",
        contact,
        type="marked_not_interested",
        action_id=f"{contact}-2",
        occurred_at=day(5),
        fields={"reason": "no budget"},
    )
    blocked = log(
        client,
        "es-leads",
        contact,
        type="quote_requested",
        action_id=f"{contact}-3",
        occurred_at=day(6),
    )
    assert blocked["effect"] == "terminal_phase"


def test_a_void_that_re_derives_a_lead_into_converted_opens_its_opportunity(
    client: TestClient,
) -> None:
    _lead_lost_before_its_quote(client, "l1")
    opportunity = str(deal_id_for("es-opportunities", "l1", None))
    assert client.get(f"/v1/deals/{opportunity}").status_code == 404

    assert void(client, "l1-2", "she was interested after all").status_code == 201

    deal = client.get(f"/v1/deals/{opportunity}").json()
    assert deal["phase"] == "quote_requested"
    [opened] = timeline(client, opportunity)["entries"]
    assert opened["occurred_at"].startswith("2024-03-06")
    assert opened["fields"]["source_deal_id"]
    # An earlier conversion, back-dated, opens nothing more; nor does voiding
    # the later one, which no longer is the step that converted the lead.
    log(client, "es-leads", "l1", type="quote_requested", occurred_at=day(4, 12))
    void(client, "l1-3", "asked twice")
    assert len(timeline(client, opportunity)["entries"]) == 1
    assert client.get(f"/v1/deals/{opportunity}").json()["phase"] == "quote_requested"


def test_a_back_dated_action_that_converts_a_lead_opens_its_opportunity(
    client: TestClient,
) -> None:
    log(client, "es-leads", "l2", type="lead_created", occurred_at=day(4))
    log(
        client,
        "es-leads",
        "l2",
        type="marked_not_interested",
        occurred_at=day(8),
        fields={"reason": "bought elsewhere"},
    )

    converted = log(
        client, "es-leads", "l2", type="quote_requested", occurred_at=day(6)
    )

    # Converted on day 6: the "not interested" of day 8 came after a won lead.
    assert converted["phase"] == "converted"
    opportunity = str(deal_id_for("es-opportunities", "l2", None))
    assert client.get(f"/v1/deals/{opportunity}").json()["phase"] == "quote_requested"


def test_voiding_the_conversion_withdraws_the_opportunity_in_both_timelines(
    client: TestClient,
) -> None:
    log(client, "es-leads", "l3", type="lead_created", occurred_at=day(4))
    lead = log(
        client,
        "es-leads",
        "l3",
        type="quote_requested",
        action_id="l3-q",
        occurred_at=day(5),
    )
    opportunity = str(deal_id_for("es-opportunities", "l3", None))
    assert client.get(f"/v1/deals/{opportunity}").json()["phase"] == "quote_requested"

    withdrawing = void(client, "l3-q", "the quote was for her neighbour")
    assert withdrawing.status_code == 201

    assert client.get(f"/v1/deals/{lead['deal_id']}").json()["phase"] == "new"
    withdrawn = client.get(f"/v1/deals/{opportunity}").json()
    assert withdrawn["phase"] is None
    opened, withdrawal = timeline(client, opportunity)["entries"]
    assert opened["voided"] and opened["voided_by"] == withdrawal["action_id"]
    assert withdrawal["kind"] == "void"
    assert lead["deal_id"] in withdrawal["reason"]
    assert "'l3-q'" in withdrawal["reason"]
    lead_entries = timeline(client, lead["deal_id"])["entries"]
    assert [e["voided"] for e in lead_entries if e["action_id"] == "l3-q"] == [True]
    # Reports count a withdrawn deal nowhere; the deal list shows it without
    # a phase.
    funnel = client.get(
        "/v1/reports/funnel",
        params={
            "pipeline": "es-opportunities",
            "after": withdrawing.json()["position"],
        },
    ).json()
    assert (funnel["open"], funnel["lost"], funnel["won"]) == (0, 0, 0)
    assert all(p["reached"] == 0 for p in funnel["phases"])
    rows = client.get(
        "/v1/deals", params={"pipeline": "es-opportunities", "contact_id": "l3"}
    ).json()
    assert [r["phase"] for r in rows["data"]] == [None]


def test_voiding_the_conversion_of_an_opportunity_worked_on_since_is_a_409(
    client: TestClient,
) -> None:
    log(client, "es-leads", "l4", type="lead_created", occurred_at=day(4))
    lead = log(
        client,
        "es-leads",
        "l4",
        type="quote_requested",
        action_id="l4-q",
        occurred_at=day(5),
    )
    log(
        client,
        "es-opportunities",
        "l4",
        type="analysis_started",
        action_id="l4-analysis",
        occurred_at=day(6),
    )
    before = head(client)

    refused = void(client, "l4-q")

    assert refused.status_code == 409, refused.text
    opportunity = str(deal_id_for("es-opportunities", "l4", None))
    assert opportunity in refused.json()["detail"]
    assert "'l4-analysis'" in refused.json()["detail"]
    assert head(client) == before
    assert client.get(f"/v1/deals/{lead['deal_id']}").json()["phase"] == "converted"


def test_a_void_that_re_derives_a_sale_with_upsell_opens_the_upsell_deal(
    client: TestClient,
) -> None:
    inquiry = {"first_name": "Jonas", "last_name": "Berg", "mobile": "+49 170 1"}
    log(
        client,
        "de-deal-phasen",
        "d1",
        type="inquiry",
        occurred_at=day(4),
        fields=inquiry,
    )
    log(client, "de-deal-phasen", "d1", type="consultation_booked", occurred_at=day(5))
    log(
        client,
        "de-deal-phasen",
        "d1",
        type="consultation_held",
        outcome="declined",
        action_id="d1-declined",
        occurred_at=day(6),
    )
    late = log(
        client,
        "de-deal-phasen",
        "d1",
        type="consultation_held",
        outcome="sold",
        action_id="d1-sold",
        occurred_at=day(7),
        fields={"upsell": True},
    )
    # Outcomes of a consultation apply from the consultation phases (seed 001).
    assert late["effect"] == "no_matching_rule"
    upsell = str(deal_id_for("de-upsell", "d1", None))
    assert client.get(f"/v1/deals/{upsell}").status_code == 404

    assert void(client, "d1-declined", "he said yes").status_code == 201

    assert client.get(f"/v1/deals/{late['deal_id']}").json()["phase"] == "sold"
    assert client.get(f"/v1/deals/{upsell}").json()["phase"] is not None
    # And back: voiding the sale withdraws the upsell deal it opened.
    assert void(client, "d1-sold", "signed by someone else").status_code == 201
    assert client.get(f"/v1/deals/{upsell}").json()["phase"] is None


# -- as_of applies every void known now; known_at shows what was known then ------


def test_a_replay_as_of_a_past_day_leaves_out_what_was_voided_since(
    client: TestClient,
) -> None:
    first = log(client, "nl-tesoro", "v", type="contact_captured", occurred_at=day(1))
    log(client, "nl-tesoro", "v", type="budget_confirmed", occurred_at=day(2))
    log(
        client,
        "nl-tesoro",
        "v",
        type="viewing",
        action_id="v-visit",
        occurred_at=day(2, 15),
    )
    deal_id = first["deal_id"]
    known_before_void = timeline(client, deal_id)["entries"][-1]["recorded_at"]
    assert void(client, "v-visit", "the visit was cancelled").status_code == 201

    as_of = timeline(client, deal_id, as_of="2024-03-02")
    known = timeline(client, deal_id, known_at=known_before_void)
    both = timeline(client, deal_id, as_of="2024-03-02", known_at=known_before_void)

    assert as_of["phase"] == "qualification"
    visit = next(e for e in as_of["entries"] if e["action_id"] == "v-visit")
    assert visit["voided"] and visit["effect"] == "voided"
    assert visit["void_reason"] == "the visit was cancelled"
    assert visit["voided_by"]
    assert not any(e["kind"] == "void" for e in as_of["entries"])  # made later
    assert known["phase"] == "viewing"
    assert both["phase"] == "viewing"
    assert not any(e["voided"] for e in both["entries"])


def test_an_import_with_a_back_dated_conversion_opens_the_opportunity(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file is written in recording order: the quote request, found later
    in the paper files, comes after the lead was marked not interested."""
    settings = client.app.state.settings  # type: ignore[attr-defined]
    monkeypatch.setenv("PHASELOG_DATABASE_URL", settings.database_url)
    path = tmp_path / "leads.csv"
    path.write_text(
        "pipeline,contact_id,type,occurred_at,fields.reason\n"
        "es-leads,imp,lead_created,2024-03-04T09:00:00Z,\n"
        "es-leads,imp,marked_not_interested,2024-03-08T09:00:00Z,no budget\n"
        "es-leads,imp,quote_requested,2024-03-06T09:00:00Z,\n"
    )

    result = CliRunner().invoke(app, ["import", str(path)])

    assert result.exit_code == 0, result.output
    opportunity = str(deal_id_for("es-opportunities", "imp", None))
    assert client.get(f"/v1/deals/{opportunity}").json()["phase"] == "quote_requested"
    lead = str(deal_id_for("es-leads", "imp", None))
    assert client.get(f"/v1/deals/{lead}").json()["phase"] == "converted"

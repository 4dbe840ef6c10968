"""The pages as a person uses them, in Chromium, on both databases: actions are
logged through the API, then read on the board, the deal page and the funnel."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest

from tests.api.conftest import ADMIN_KEY
from tests.pages.conftest import VIEWPORT, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.pages.conftest import Site

pytestmark = pytest.mark.process

NOW = dt.datetime.now(dt.UTC)
ROTTEN_BG = "rgb(253, 236, 236)"  # --rot-bg
AGEING_BG = "rgb(255, 246, 229)"  # --age-bg
FRESH_BG = "rgb(255, 255, 255)"


def ago(days: float) -> str:
    return (NOW - dt.timedelta(days=days)).isoformat()


def tesoro(contact: str, kind: str, days: float, **more: Any) -> dict[str, Any]:
    return {
        "pipeline": "nl-tesoro",
        "contact_id": contact,
        "type": kind,
        "occurred_at": ago(days),
        **more,
    }


def a_board(site: Site) -> dict[str, str]:
    """Five deals of nl-tesoro, each where the test expects it; their ids."""
    deals = {}
    deals["fresh"] = site.log(**tesoro("c-fresh", "contact_captured", 1, actor="anna"))
    deals["ageing"] = site.log(
        **tesoro("c-ageing", "contact_captured", 6, actor="anna")
    )
    deals["rotten"] = site.log(
        **tesoro("c-rotten", "contact_captured", 20, actor="bert")
    )
    site.log(
        **tesoro("c-view", "contact_captured", 30, actor="bert", object_id="flat-3")
    )
    site.log(**tesoro("c-view", "budget_confirmed", 25, object_id="flat-3"))
    deals["viewing"] = site.log(
        **tesoro(
            "c-view",
            "viewing",
            3,
            object_id="flat-3",
            fields={"owner": "carla", "amount": 350000, "currency": "EUR"},
        )
    )
    site.log(**tesoro("c-won", "contact_captured", 10, actor="anna"))
    deals["won"] = site.log(
        **tesoro("c-won", "contract_signed", 2, fields={"skip_reason": "cash buyer"})
    )
    return {name: found["deal_id"] for name, found in deals.items()}


def card(page: Page, phase: str, deal_id: str) -> Any:
    return page.locator(f".column[data-phase={phase}] a.card[data-deal='{deal_id}']")


def test_each_card_stands_in_its_phase_with_its_days_and_rot_colour(
    page: Page, site: Site
) -> None:
    deals = a_board(site)
    sign_in(page, site, path="/pipelines/nl-tesoro/board")
    assert page.url.endswith("/pipelines/nl-tesoro/board")
    expected = {
        "fresh": ("lead", "1 d", "fresh", FRESH_BG),
        "ageing": ("lead", "6 d", "ageing", AGEING_BG),
        "rotten": ("lead", "20 d", "rotten", ROTTEN_BG),
        "viewing": ("viewing", "3 d", "fresh", FRESH_BG),
    }
    for name, (phase, days, rot, colour) in expected.items():
        found = card(page, phase, deals[name])
        assert found.count() == 1, name
        assert found.get_attribute("data-rot") == rot, name
        assert found.locator("[data-testid=days]").inner_text() == days, name
        assert found.evaluate("e => getComputedStyle(e).backgroundColor") == colour
    assert "13 days overdue" in card(page, "lead", deals["rotten"]).inner_text()
    lead = page.locator(".column[data-phase=lead]")
    assert lead.locator("[data-testid=count]").inner_text() == "3 deals"
    viewing = page.locator(".column[data-phase=viewing]")
    assert viewing.locator("[data-testid=total]").inner_text() == "€350,000"
    # The closed phases are folded at the end, their cards inside.
    won = page.locator("details.column[data-phase=won]")
    assert won.get_attribute("open") is None
    assert not card(page, "won", deals["won"]).is_visible()
    won.locator("summary").click()
    assert card(page, "won", deals["won"]).is_visible()
    columns = page.locator(".board > .column").evaluate_all(
        "cs => cs.map(c => c.dataset.phase)"
    )
    assert columns[:5] == ["lead", "qualification", "viewing", "negotiation", "closing"]
    assert set(columns[5:]) == {"on_hold", "won", "lost"}


def test_the_owner_and_object_filters_narrow_the_board(page: Page, site: Site) -> None:
    deals = a_board(site)
    sign_in(page, site, path="/pipelines/nl-tesoro/board")
    page.fill("input[name=owner]", "anna")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/board?owner=anna*")
    assert card(page, "lead", deals["fresh"]).count() == 1
    assert card(page, "lead", deals["rotten"]).count() == 0
    assert card(page, "viewing", deals["viewing"]).count() == 0
    page.goto(site.url("/pipelines/nl-tesoro/board?object=flat-3"))
    assert page.locator("a.card").count() == 1
    assert card(page, "viewing", deals["viewing"]).count() == 1


def test_the_deal_page_reads_the_timeline_and_replays_it_as_of_a_past_day(
    page: Page, site: Site
) -> None:
    agent = site.key("agent", "desk-anna")
    first = site.log(**tesoro("c-9", "contact_captured", 9, actor="anna"))
    site.api.post(
        "/v1/actions",
        json=tesoro("c-9", "budget_confirmed", 7, actor="anna"),
        headers={"Authorization": f"Bearer {agent}"},
    ).raise_for_status()
    offer = site.log(
        **tesoro("c-9", "viewing", 4, actor="bert", note="liked the garden")
    )
    voided = site.api.post(
        f"/v1/actions/{offer['action_id']}/void",
        json={"reason": "logged on the wrong contact"},
    )
    assert voided.status_code == 201, voided.text
    sign_in(page, site, path=f"/deals/{first['deal_id']}")
    assert page.locator("[data-testid=phase]").inner_text() == "Qualification"
    rows = page.locator("table.timeline tbody tr")
    assert rows.count() == 4
    budget = rows.nth(1)
    assert "Budget confirmed" in budget.inner_text()
    assert budget.locator("[data-testid=recorded-by]").inner_text() == "desk-anna"
    assert budget.locator("[data-testid=actor]").inner_text() == "anna"
    assert budget.locator("[data-testid=effect]").inner_text() == "moved"
    viewing = page.locator(f"tr[data-action='{offer['action_id']}']")
    assert viewing.get_attribute("data-effect") == "voided"
    link = viewing.locator("[data-testid=voided-by]")
    void_id = link.inner_text()
    assert (
        page.locator(f"tr[data-action='{void_id}'] [data-testid=voids]").inner_text()
        == offer["action_id"]
    )
    link.click()
    assert page.url.endswith(f"#entry-{void_id}")
    stepper = page.locator("ol.stepper li[data-state=current]")
    assert stepper.get_attribute("data-phase") == "qualification"
    assert (
        page.locator("ol.stepper li[data-phase=lead] [data-testid=spent]").inner_text()
        == "2.0 days"
    )
    # As of eight days ago the deal was a lead, and the budget not yet confirmed.
    page.fill("[data-testid=as-of]", (NOW - dt.timedelta(days=8)).date().isoformat())
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**as_of=*")
    assert page.locator("[data-testid=phase]").inner_text() == "Lead"
    assert page.locator("[data-testid=replayed]").is_visible()
    assert page.locator("table.timeline tbody tr").count() == 1


def test_the_funnel_page_shows_the_numbers_of_the_api(page: Page, site: Site) -> None:
    a_board(site)
    site.log(**tesoro("c-lost", "contact_captured", 12))
    lost = {"lost_reason": "financing"}
    last = site.log(**tesoro("c-lost", "deal_lost", 11, fields=lost))
    answer = site.api.get(
        "/v1/reports/funnel",
        params={"pipeline": "nl-tesoro", "after": last["position"]},
    ).json()
    sign_in(page, site, path="/pipelines/nl-tesoro/funnel")
    for phase in answer["phases"]:
        row = page.locator(f"table.funnel tr[data-phase={phase['phase']}]")
        for name in ("reached", "passed", "current"):
            shown = row.locator(f"[data-testid={name}]").inner_text()
            assert int(shown) == phase[name], (phase["phase"], name)
    assert int(page.locator("[data-testid=won]").inner_text()) == answer["won"]
    assert int(page.locator("[data-testid=lost]").inner_text()) == answer["lost"]
    assert page.locator("[data-testid=win-rate]").inner_text() == "50%"
    forecast = page.locator("[data-testid=forecast][data-currency=EUR] .value")
    assert forecast.inner_text() == "€140,000"  # 350,000 x viewing's 40 %
    assert "Win rate" in page.locator("[data-testid=rule]").inner_text()
    page.goto(site.url("/pipelines/nl-tesoro/lost-reasons"))
    assert (
        page.locator("tr[data-reason=financing] [data-testid=count]").inner_text()
        == "1"
    )
    assert page.locator("svg.chart rect").count() == 1


def test_labels_follow_the_browser_and_the_switch(
    browser: Browser, site: Site
) -> None:
    deals = a_board(site)
    # A Dutch browser: it asks for Dutch (Accept-Language: nl-NL,nl).
    context = browser.new_context(viewport=VIEWPORT, locale="nl-NL")
    page = context.new_page()
    sign_in(page, site, path="/pipelines/nl-tesoro/board")
    assert page.locator(".column[data-phase=viewing] h2").inner_text() == "Bezichtiging"
    assert page.locator("html").get_attribute("lang") == "nl"
    page.locator("details.language summary").click()
    page.locator("details.language a[hreflang=en]").click()
    page.wait_for_url("**lang=en*")
    assert page.locator(".column[data-phase=viewing] h2").inner_text() == "Viewing"
    # The choice stays for the next page, whatever the browser asks for.
    page.goto(site.url(f"/deals/{deals['viewing']}"))
    assert page.locator("[data-testid=phase]").inner_text() == "Viewing"
    assert page.locator("[data-testid=amount]").inner_text() == "€350,000"
    page.goto(site.url(f"/deals/{deals['viewing']}?lang=de"))
    assert page.locator("table.timeline th").first.inner_text() == "Geschehen"
    assert page.locator("[data-testid=amount]").inner_text() == "350.000\xa0€"
    context.close()


def test_sign_in_out_and_roles(page: Page, site: Site) -> None:
    agent = site.key("agent", "desk-bert")
    page.goto(site.url("/pipelines/nl-tesoro/funnel"))
    assert "/signin?next=" in page.url
    page.fill("#key", "not-a-key-0000000000")
    page.click("button[type=submit]")
    assert (
        page.locator(".error").inner_text()
        == "This key is not valid (unknown or revoked)."
    )
    page.fill("#key", agent)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    # An agent reads the board but not the reports, as through the API.
    assert page.locator("h1").inner_text() == "403"
    assert "needs manager / auditor / admin" in page.locator(".error").inner_text()
    page.goto(site.url("/pipelines/nl-tesoro/board"))
    assert page.locator("[data-testid=viewer]").inner_text() == "desk-bert"
    cookie = next(c for c in page.context.cookies() if c["name"] == "phaselog_key")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("phaselog_key") == -1
    page.click("form[action='/signout'] button")
    page.wait_for_url("**/signin")
    page.goto(site.url("/pipelines/nl-tesoro/board"))
    assert "/signin?next=" in page.url
    sign_in(page, site, ADMIN_KEY, "/pipelines/nl-tesoro/funnel")
    assert page.url.endswith("/pipelines/nl-tesoro/funnel")


def test_the_api_docs_authorize_with_a_key_and_try_a_route(
    page: Page, site: Site
) -> None:
    manager = site.key("manager", "docs-reader")
    page.goto(site.url("/docs"))
    page.click("button.authorize")
    page.fill(".auth-container input", manager)
    page.click(".auth-btn-wrapper button.authorize")
    page.click(".auth-btn-wrapper button.btn-done")
    operation = page.locator(
        ".opblock-get:has(.opblock-summary-path[data-path='/v1/pipelines'])"
    )
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status")
    assert status.first.inner_text().strip() == "200"
    assert "nl-tesoro" in operation.locator(".live-responses-table").inner_text()

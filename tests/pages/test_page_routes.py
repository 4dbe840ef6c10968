"""The pages' doors, without a browser: sign-in and its token, where a page
sends someone, who may see what, and bad input as a page naming the field."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from api.pages import board
from api.pages.session import CSRF_COOKIE, KEY_COOKIE
from api.pages.words import choose, preferred
from tests.api.conftest import ADMIN_KEY, SKIP, action

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


def signed_in(client: TestClient, key: str = ADMIN_KEY) -> None:
    """Sign in as a browser does: the form (for its token), then the post."""
    form = client.get("/signin", headers={"Authorization": ""})
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    answer = client.post(
        "/signin",
        data={"key": key, "csrf": token.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert client.cookies.get(KEY_COOKIE) == key


def test_a_page_without_a_key_sends_to_sign_in_and_back(client: TestClient) -> None:
    client.headers.pop("Authorization")
    answer = client.get("/pipelines/nl-tesoro/board?owner=anna", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == (
        "/signin?next=%2Fpipelines%2Fnl-tesoro%2Fboard%3Fowner%3Danna"
    )
    form = client.get(answer.headers["location"])
    assert 'name="next" value="/pipelines/nl-tesoro/board?owner=anna"' in form.text


def test_sign_in_refuses_a_form_without_this_browsers_token(client: TestClient) -> None:
    client.headers.pop("Authorization")
    client.get("/signin")  # sets this browser's token
    assert client.cookies.get(CSRF_COOKIE)
    forged = client.post(
        "/signin",
        data={"key": ADMIN_KEY, "csrf": "guessed", "next": "/"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert KEY_COOKIE not in client.cookies
    token = client.cookies[CSRF_COOKIE]
    elsewhere = client.post(
        "/signin",
        data={"key": ADMIN_KEY, "csrf": token, "next": "/"},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert elsewhere.status_code == 403
    assert "another site" in elsewhere.text
    assert KEY_COOKIE not in client.cookies


def test_sign_in_goes_back_only_to_a_page_of_this_server(client: TestClient) -> None:
    client.headers.pop("Authorization")
    client.get("/signin")
    token = client.cookies[CSRF_COOKIE]
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        answer = client.post(
            "/signin",
            data={"key": ADMIN_KEY, "csrf": token, "next": target},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/", target


def test_a_wrong_key_is_refused_on_the_form(client: TestClient) -> None:
    client.headers.pop("Authorization")
    client.get("/signin")
    answer = client.post(
        "/signin",
        data={"key": "x" * 20, "csrf": client.cookies[CSRF_COOKIE]},
        follow_redirects=False,
    )
    assert answer.status_code == 401
    assert "not valid" in answer.text
    assert KEY_COOKIE not in client.cookies


def test_sign_out_needs_the_token_and_forgets_the_key(client: TestClient) -> None:
    client.headers.pop("Authorization")
    signed_in(client)
    assert client.get("/pipelines/nl-tesoro/board").status_code == 200
    refused = client.post("/signout", data={"csrf": "nope"}, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/pipelines/nl-tesoro/board").status_code == 200
    out = client.post(
        "/signout", data={"csrf": client.cookies[CSRF_COOKIE]}, follow_redirects=False
    )
    assert out.status_code == 303
    assert KEY_COOKIE not in client.cookies
    gone = client.get("/pipelines/nl-tesoro/board", follow_redirects=False)
    assert gone.status_code == 303


def test_the_roles_of_the_api_apply(client: TestClient, keys: dict[str, str]) -> None:
    client.headers.pop("Authorization")
    signed_in(client, keys["agent"])
    assert client.get("/pipelines/nl-tesoro/board").status_code == 200
    for path in ("/pipelines/nl-tesoro/funnel", "/pipelines/nl-tesoro/stale"):
        refused = client.get(path)
        assert refused.status_code == 403, path
        assert "needs manager / auditor / admin" in refused.text
    signed_in(client, keys["manager"])
    assert client.get("/pipelines/nl-tesoro/funnel").status_code == 200


def test_a_revoked_key_in_the_cookie_signs_out(client: TestClient) -> None:
    store = client.app.state.keys  # type: ignore[attr-defined]
    key = store.create("manager", name="leaving")
    client.headers.pop("Authorization")
    signed_in(client, key)
    store.revoke("leaving")
    answer = client.get("/pipelines/nl-tesoro/funnel", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/signin")


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/pipelines/nope/board", 404, "no pipeline 'nope'"),
        ("/deals/not-a-deal", 404, "not a deal id"),
        ("/deals/00000000-0000-0000-0000-000000000000", 404, "no deal"),
        ("/pipelines/nl-tesoro/funnel?since=2024-02-30", 422, "since:"),
        (
            "/pipelines/nl-tesoro/funnel?since=2024-03-02&until=2024-03-01",
            422,
            "until: must come after since",
        ),
        ("/pipelines/nl-tesoro/board?owner=a%00b", 422, "owner:"),
        (
            "/deals/00000000-0000-0000-0000-000000000000?as_of=2024-01-01T10:00",
            422,
            "as_of: needs a timezone",
        ),
        ("/pipelines/nl-tesoro/stale?cursor=forged", 422, "cursor:"),
    ],
)
def test_bad_input_is_a_page_naming_the_field(
    client: TestClient, path: str, status: int, says: str
) -> None:
    client.cookies.set(KEY_COOKIE, ADMIN_KEY)
    answer = client.get(path)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert says in answer.text.replace("&#39;", "'")


def test_pages_load_nothing_from_another_host(client: TestClient) -> None:
    deal = client.post("/v1/actions", json=action()).json()["deal_id"]
    client.cookies.set(KEY_COOKIE, ADMIN_KEY)
    for path in (
        "/",
        "/pipelines/nl-tesoro/board",
        "/pipelines/nl-tesoro/funnel",
        f"/deals/{deal}",
        "/signin",
    ):
        html = client.get(path).text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources, path
        assert all(s.startswith(("/", "#", "?")) for s in sources), (path, sources)
    css = client.get("/static/phaselog.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")


def test_the_language_is_the_asked_the_remembered_or_the_browsers() -> None:
    assert preferred("de-CH, fr;q=0.9, en;q=0.8") == ["de", "fr", "en"]
    assert preferred("en;q=0.1, nl") == ["nl", "en"]
    assert preferred("*;q=0.5, xx;q=0") == []
    assert choose(None, None, "pt-BR, es;q=0.5", "nl") == "es"
    assert choose(None, None, "pt-BR", "nl") == "nl"
    assert choose("fr", "de", "es", "nl") == "fr"
    assert choose("xx", "de", "es", "nl") == "de"


def test_a_column_shows_its_first_cards_and_exports_them_all(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for contact in ("c-1", "c-2", "c-3"):
        client.post("/v1/actions", json=action(contact_id=contact)).raise_for_status()
    last = client.post(
        "/v1/actions",
        json=action(contact_id="c-4", type="budget_confirmed", fields=SKIP),
    ).json()
    client.get("/v1/deals", params={"after": last["position"]}).raise_for_status()
    monkeypatch.setattr(board, "CARDS", 2)
    client.cookies.set(KEY_COOKIE, ADMIN_KEY)
    english = {"Accept-Language": "en"}
    html = client.get("/pipelines/nl-tesoro/board", headers=english).text
    lead = html[
        html.index('data-phase="lead"') : html.index('data-phase="qualification"')
    ]
    assert lead.count('class="card"') == 2
    assert "1 more" in lead
    link = re.search(r'href="(/pipelines/nl-tesoro/deals\.csv\?[^"]+)"', lead)
    assert link is not None
    export = client.get(link.group(1).replace("&amp;", "&"), headers=english)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    lines = export.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + 3  # the header and every lead, not only those shown
    assert lines[0].count(",") > 5 and ";" not in lines[0]
    assert sorted(c for c in ("c-1", "c-2", "c-3") if c in export.text) == [
        "c-1",
        "c-2",
        "c-3",
    ]
    assert "c-4" not in export.text
    # A Dutch viewer's spreadsheet reads `;` (its Excel takes `,` as decimals).
    dutch = client.get(link.group(1).replace("&amp;", "&") + "&lang=nl")
    assert dutch.content.decode("utf-8-sig").splitlines()[0].count(";") > 5

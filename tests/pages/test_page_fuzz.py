"""Whatever a URL carries, a page answers it as a page: 200, a redirect, or a
4xx naming what is wrong; never a 5xx (the fuzzing of the API's routes,
tests/api/test_fuzz.py, does not reach the pages: they are not in its schema)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.pages.session import KEY_COOKIE
from tests.api.conftest import ADMIN_KEY, action

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

PAGES = (
    "/",
    "/pipelines/{pipeline}/board",
    "/pipelines/{pipeline}/funnel",
    "/pipelines/{pipeline}/time-in-stage",
    "/pipelines/{pipeline}/stale",
    "/pipelines/{pipeline}/lost-reasons",
    "/pipelines/{pipeline}/deals.csv",
    "/deals/{deal}",
    "/signin",
)
NAMES = (
    "owner",
    "object",
    "since",
    "until",
    "as_of",
    "known_at",
    "lang",
    "cursor",
    "phase",
    "next",
)
values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "2024-03-01",
            "2024-02-30",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31",
            "1e9",
            "lead",
            "nl",
            "\x00",
            "%",
            "-1_" + "0" * 32,
        ]
    ),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    path=st.sampled_from(PAGES),
    pipeline=st.one_of(st.just("nl-tesoro"), st.text(min_size=1, max_size=20)),
    query=st.dictionaries(st.sampled_from(NAMES), values, max_size=4),
)
def test_no_query_makes_a_page_fail(
    client: TestClient, path: str, pipeline: str, query: dict[str, str]
) -> None:
    client.cookies.set(KEY_COOKIE, ADMIN_KEY)
    deal = getattr(client, "_fuzz_deal", None)
    if deal is None:
        deal = client.post("/v1/actions", json=action()).json()["deal_id"]
        client._fuzz_deal = deal  # type: ignore[attr-defined]
    url = path.format(pipeline=quote(pipeline, safe=""), deal=deal)
    answer = client.get(url, params=query, follow_redirects=False)
    assert answer.status_code < 500, (url, query, answer.text[-400:])

"""The API's docs as a reader meets them: /docs and /redoc work offline, the
OpenAPI says how to authorize and shows an example of every body and problem,
and every problem's `type` leads to a page that explains it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.errors import NotYetProjected, problem_for
from api.problem_kinds import BY_NAME, KINDS
from api.schemas.actions import ActionIn, BatchIn, MoveIn, VoidIn
from api.schemas.problem import Problem
from api.schemas.webhooks import RedeliverIn, WebhookIn
from domain.errors import (
    ActionConflict,
    ConcurrencyExhausted,
    NotStored,
    PhaselogError,
)
from domain.staging import DealRejected
from tests.api.conftest import ADMIN_KEY, action, bearer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from httpx import Response
    from pydantic import BaseModel

    from api.settings import Settings

OPEN = {"/healthz", "/readyz"}  # load balancers carry no keys
BODIES: dict[str, type[BaseModel]] = {
    model.__name__: model
    for model in (ActionIn, BatchIn, MoveIn, VoidIn, WebhookIn, RedeliverIn)
}
ASSET_TYPES = ("text/javascript", "application/javascript", "text/css", "image/png")


@pytest.fixture
def anonymous(api_settings: Settings) -> Iterator[TestClient]:
    """A client with no key, on a server that has keys (not open)."""
    with TestClient(create_app(api_settings)) as client:
        yield client


def operations(client: TestClient) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in client.get("/openapi.json").json()["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def references(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def assert_explains(page: Response, type_: str, title: str) -> None:
    """`page` is the HTML page of the problem `type_`, headed by its title."""
    assert page.status_code == 200, type_
    assert page.headers["content-type"].startswith("text/html")
    assert f"<h1>{title}</h1>" in page.text
    assert f"type: {type_}" in page.text


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_every_asset_from_the_server_itself(
    anonymous: TestClient, page: str
) -> None:
    html = anonymous.get(page)

    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert re.search(r"https?://|//[a-z]", html.text) is None  # no CDN, no font
    assets = references(html.text)
    assert any(asset.endswith(".js") for asset in assets)
    for asset in assets:
        answer = anonymous.get(asset)
        assert answer.status_code == 200, asset
        assert answer.headers["content-type"].startswith(ASSET_TYPES), asset


def test_swagger_ui_keeps_the_key_given_to_its_authorize_button(
    anonymous: TestClient,
) -> None:
    html = anonymous.get("/docs").text

    assert '"persistAuthorization": true' in html
    assert "url: '/openapi.json'" in html


def test_openapi_has_a_bearer_scheme_every_keyed_operation_requires(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert "Authorization: Bearer" in scheme["description"]

    for _, path, operation in operations(client):
        if path in OPEN:
            assert "security" not in operation, path
            continue
        [requirement] = operation["security"]
        roles = requirement["bearer"]
        assert roles and set(roles) <= {"agent", "manager", "auditor", "admin"}
        assert operation["description"].endswith(f"**Roles:** {', '.join(roles)}")


def test_the_roles_documented_are_the_roles_admitted(
    client: TestClient, keys: dict[str, str]
) -> None:
    funnel = next(op for _, p, op in operations(client) if p == "/v1/reports/funnel")
    roles = funnel["security"][0]["bearer"]
    url = "/v1/reports/funnel?pipeline=nl-tesoro"

    for role, key in keys.items():
        answer = client.get(url, headers=bearer(key))
        assert (answer.status_code == 200) == (role in roles), role


def test_every_request_body_has_an_example_the_api_accepts_as_valid(
    client: TestClient,
) -> None:
    checked = 0
    for method, path, operation in operations(client):
        if "requestBody" not in operation:
            continue
        content = operation["requestBody"]["content"]["application/json"]
        model = BODIES[content["schema"]["$ref"].rsplit("/", 1)[-1]]
        assert content["examples"], (method, path)
        for example in content["examples"].values():
            model.model_validate(example["value"])
            checked += 1
    assert checked >= 4


def test_every_problem_response_has_an_example_whose_type_has_a_page(
    client: TestClient,
) -> None:
    types = set()
    for method, path, operation in operations(client):
        for code, response in operation["responses"].items():
            if code[0] not in "45" or path in OPEN:
                continue
            examples = response["content"]["application/problem+json"]["examples"]
            assert examples, (method, path, code)
            for example in examples.values():
                problem = Problem.model_validate(example["value"])
                assert problem.status == int(code)
                types.add((problem.type, problem.title))
    assert len(types) >= 9
    for type_, title in types:
        assert_explains(client.get(type_), type_, title)


def test_every_path_parameter_is_described(client: TestClient) -> None:
    for method, path, operation in operations(client):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                assert parameter.get("description"), (method, path, parameter)


@pytest.mark.parametrize(
    ("request_", "status"),
    [
        (("post", "/v1/actions", action(type="deal_lost")), 422),
        (("get", "/v1/deals/5d1f3c2e-8a4b-4c1e-9f0a-2b7c6d5e4f3a", None), 404),
        (("get", "/v1/reports/funnel?pipeline=nl-tesoro", None), 401),
    ],
)
def test_a_real_problem_carries_a_type_whose_page_explains_it(
    anonymous: TestClient,
    request_: tuple[str, str, dict[str, Any] | None],
    status: int,
) -> None:
    method, url, body = request_
    key = {} if status == 401 else bearer(ADMIN_KEY)

    answer = anonymous.request(method, url, json=body, headers=key)

    assert answer.status_code == status
    problem = answer.json()
    page = anonymous.get(problem["type"])  # without a key
    assert_explains(page, problem["type"], problem["title"])


def test_problems_lists_every_kind_and_an_unknown_one_is_not_found(
    anonymous: TestClient,
) -> None:
    listing = anonymous.get("/problems")

    assert listing.status_code == 200
    assert {kind.type for kind in KINDS} <= set(references(listing.text))
    missing = anonymous.get("/problems/no-such-problem")
    assert missing.status_code == 404
    assert missing.json()["type"] == "/problems/not-found"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (NotYetProjected(1042, 5.0), "not-yet-projected"),
        (ConcurrencyExhausted("deal d kept changing; try again"), "busy"),
        (NotStored(), "not-stored"),
        (DealRejected("another action of this deal was rejected"), "deal-rejected"),
        (ActionConflict("crm-1"), "conflict"),
    ],
)
def test_each_error_is_a_problem_of_its_own_kind(
    error: PhaselogError, kind: str
) -> None:
    found = problem_for(error)

    assert found.type == f"/problems/{kind}"
    assert found.status == BY_NAME[kind].status

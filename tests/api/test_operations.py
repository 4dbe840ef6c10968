"""Pipelines, projections, rebuild, health and the OpenAPI document."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi.telemetry._asgi import NativeTelemetry
from fastapi.testclient import TestClient

from api.app import create_app, stop_projector
from tests.api.conftest import action, bearer

if TYPE_CHECKING:
    import pytest

    from api.settings import Settings


def test_pipelines_list_every_preset_and_show_their_versions(
    client: TestClient,
) -> None:
    listed = client.get("/v1/pipelines").json()["data"]
    shown = client.get("/v1/pipelines/de-deal-phasen").json()
    unknown = client.get("/v1/pipelines/nope")

    assert {p["id"] for p in listed} >= {"nl-tesoro", "fr-sale", "hubspot-default"}
    assert (
        "contact_captured"
        in next(p for p in listed if p["id"] == "nl-tesoro")["actions"]
    )
    assert (shown["id"], shown["version"]) == ("de-deal-phasen", 1)
    assert [v["version"] for v in shown["versions"]] == [1]
    assert shown["definition"]["progression"] == "free"
    assert (unknown.status_code, unknown.json()["field"]) == (404, "pipeline_id")


def test_projections_report_position_head_and_lag(client: TestClient) -> None:
    position = client.post("/v1/actions", json=action()).json()["position"]
    client.get(
        "/v1/reports/funnel", params={"pipeline": "nl-tesoro", "after": position}
    )

    [status] = client.get("/v1/projections").json()["data"]

    assert status["position"] >= position
    assert status["head"] >= position
    assert status["lag"] == status["head"] - status["position"]
    assert status["rebuilding"] is False


def test_a_rebuild_runs_in_the_background_and_swaps_in_a_new_generation(
    client: TestClient,
) -> None:
    position = client.post("/v1/actions", json=action()).json()["position"]
    query = {"pipeline": "nl-tesoro", "after": position}
    before = client.get("/v1/reports/funnel", params=query).json()
    generation = client.get("/v1/projections").json()["data"][0]["generation"]

    response = client.post("/v1/projections/rebuild")
    client.app.state.rebuild.join()  # type: ignore[attr-defined]

    assert response.status_code == 202
    assert set(response.json()) >= {"position", "lag", "rebuilding"}
    [status] = client.get("/v1/projections").json()["data"]
    assert status["generation"] > generation
    assert client.get("/v1/reports/funnel", params=query).json() == before


def test_health_and_readiness_need_no_key(api_settings: Settings) -> None:
    with TestClient(create_app(api_settings)) as anonymous:
        assert anonymous.get("/healthz").json() == {"status": "ok"}
        ready = anonymous.get("/readyz")

    assert ready.status_code == 200
    body = ready.json()
    assert (body["status"], body["database"], body["projector"]) == (
        "ready",
        True,
        True,
    )
    assert body["projection"]["failure"] is None
    assert body["projection"]["lag"] >= 0


def test_readiness_fails_when_the_projector_stopped(client: TestClient) -> None:
    stop_projector(client.app)  # type: ignore[arg-type]

    ready = client.get("/readyz")

    assert ready.status_code == 503
    assert ready.json()["projector"] is False


def test_openapi_lists_every_route_with_schemas_and_problems(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()
    paths = document["paths"]
    routes = {
        ("post", "/v1/actions"),
        ("post", "/v1/actions:batch"),
        ("post", "/v1/actions/{action_id}/void"),
        ("get", "/v1/deals"),
        ("get", "/v1/deals/{deal_id}"),
        ("post", "/v1/deals/{deal_id}/moves"),
        ("get", "/v1/deals/{deal_id}/timeline"),
        ("get", "/v1/reports/funnel"),
        ("get", "/v1/reports/time-in-stage"),
        ("get", "/v1/reports/stale"),
        ("get", "/v1/reports/lost-reasons"),
        ("get", "/v1/pipelines"),
        ("get", "/v1/pipelines/{pipeline_id}"),
        ("get", "/v1/projections"),
        ("post", "/v1/projections/rebuild"),
        ("get", "/v1/audit/checkpoint"),
        ("get", "/v1/deals/{deal_id}/proof"),
        ("post", "/v1/webhooks"),
        ("get", "/v1/webhooks"),
        ("get", "/v1/webhooks/{webhook_id}"),
        ("delete", "/v1/webhooks/{webhook_id}"),
        ("post", "/v1/webhooks/{webhook_id}/pause"),
        ("post", "/v1/webhooks/{webhook_id}/resume"),
        ("post", "/v1/webhooks/{webhook_id}/rotate-secret"),
        ("get", "/v1/webhooks/{webhook_id}/deliveries"),
        ("post", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"),
        ("post", "/v1/webhooks/{webhook_id}/redeliver"),
        ("get", "/healthz"),
        ("get", "/readyz"),
    }
    listed = {(m, p) for p, ops in paths.items() for m in ops}
    assert listed == routes
    schemas = document["components"]["schemas"]
    assert {"ActionIn", "ActionOut", "DealOut", "DealsPage", "Problem"} <= set(schemas)
    for method, path in routes - {("get", "/healthz"), ("get", "/readyz")}:
        responses = paths[path][method]["responses"]
        assert {"401", "403"} <= set(responses), (method, path)
        for code, response in responses.items():
            if code.startswith("4"):
                content = response["content"]["application/problem+json"]
                assert content["schema"]["$ref"].endswith("/Problem")
    post_action = paths["/v1/actions"]["post"]
    assert {"200", "201", "409", "413", "422"} <= set(post_action["responses"])
    body = post_action["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/ActionIn")
    created = post_action["responses"]["201"]["content"]["application/json"]
    assert created["schema"]["$ref"].endswith("/ActionOut")


def test_openapi_is_served_to_anyone(api_settings: Settings) -> None:
    with TestClient(create_app(api_settings)) as anonymous:
        assert anonymous.get("/openapi.json").status_code == 200
        assert anonymous.get("/v1/pipelines", headers=bearer("x")).status_code == 401


def test_fastapi_telemetry_runs_only_when_the_setting_asks_for_it(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[bool] = []

    def enabled(self: NativeTelemetry) -> bool:
        asked.append(bool(self.config["tracing"] or self.config["metrics"]))
        return False

    monkeypatch.setattr(NativeTelemetry, "enabled", enabled)
    for telemetry in (False, True):
        on = api_settings.model_copy(update={"telemetry": telemetry})
        with TestClient(create_app(on)) as client:
            client.get("/healthz")

    assert asked[0] is False
    assert asked[-1] is True

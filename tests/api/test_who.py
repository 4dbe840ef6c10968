"""Who stored each entry: set by the server from the caller's key (or the
operator of the command line), never by the request; `actor` stays as the
free-text "on behalf of"."""

from __future__ import annotations

import concurrent.futures
import csv
import io
import json
from typing import TYPE_CHECKING, Any

from typer.testing import CliRunner

from api.cli import app
from tests.api.conftest import action, bearer, head
from tests.helpers.legacy import store_unchecked

if TYPE_CHECKING:
    from pathlib import Path

    import pytest
    from fastapi.testclient import TestClient

    from api.settings import Settings


def timeline(client: TestClient, deal_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/v1/deals/{deal_id}/timeline")
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()["entries"]
    return entries


def key_row(client: TestClient, key: str) -> Any:
    """The stored key's row: its name and id."""
    return client.app.state.keys.identify(key)  # type: ignore[attr-defined]


def test_each_entry_records_the_key_that_stored_it_whatever_the_actor_says(
    client: TestClient, keys: dict[str, str]
) -> None:
    agent, manager = bearer(keys["agent"]), bearer(keys["manager"])
    logged = client.post(
        "/v1/actions",
        json=action(actor="someone.else", action_id="w-1"),
        headers=agent,
    ).json()
    client.post(
        "/v1/actions",
        json=action(type="budget_confirmed", action_id="w-2"),
        headers=manager,
    )
    client.post("/v1/actions/w-2/void", json={"reason": "typo"}, headers=agent)
    client.post(
        f"/v1/deals/{logged['deal_id']}/moves",
        json={"phase": "qualification", "reason": "checked by phone"},
        headers=manager,
    )

    entries = timeline(client, logged["deal_id"])

    who = [(e["action_id"], e["recorded_by"]["name"]) for e in entries]
    agent_name = key_row(client, keys["agent"]).name
    manager_name = key_row(client, keys["manager"]).name
    assert [name for _, name in who] == [
        agent_name,
        manager_name,
        agent_name,
        manager_name,
    ]
    first = entries[0]
    assert first["actor"] == "someone.else"
    assert first["recorded_by"] == {
        "via": "api_key",
        "name": agent_name,
        "key_id": key_row(client, keys["agent"]).key_id,
    }


def test_the_body_cannot_say_who_recorded_it(
    client: TestClient, keys: dict[str, str]
) -> None:
    before = head(client)
    forged = {"via": "api_key", "name": "admin", "key_id": "000000000000"}

    answer = client.post(
        "/v1/actions",
        json=action(recorded_by=forged),
        headers=bearer(keys["agent"]),
    )
    batch = client.post(
        "/v1/actions:batch",
        json={"actions": [action(recorded_by=forged)]},
        headers=bearer(keys["agent"]),
    )

    assert (answer.status_code, answer.json()["field"]) == (422, "recorded_by")
    assert batch.status_code == 422
    assert head(client) == before


def test_coalesced_requests_each_record_their_own_key(
    client: TestClient, keys: dict[str, str]
) -> None:
    roles = ["agent", "manager"] * 8

    def send(n: int) -> Any:
        body = action(contact_id=f"c-{n}", action_id=f"k-{n}")
        return client.post("/v1/actions", json=body, headers=bearer(keys[roles[n]]))

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(len(roles))))

    for n, answer in enumerate(answers):
        assert answer.status_code == 201, answer.text
        [entry] = timeline(client, answer.json()["deal_id"])
        assert entry["recorded_by"]["name"] == key_row(client, keys[roles[n]]).name


def test_a_chained_deal_is_recorded_by_who_stored_its_cause(
    client: TestClient, keys: dict[str, str]
) -> None:
    agent = bearer(keys["agent"])
    sent = {"pipeline": "es-leads", "contact_id": "chain"}
    client.post("/v1/actions", json={**sent, "type": "lead_created"}, headers=agent)
    client.post("/v1/actions", json={**sent, "type": "quote_requested"}, headers=agent)

    deals = client.get(
        "/v1/deals",
        params={
            "contact_id": "chain",
            "pipeline": "es-opportunities",
            "after": head(client),
        },
    ).json()["data"]

    [opened] = timeline(client, deals[0]["deal_id"])
    assert opened["recorded_by"]["name"] == key_row(client, keys["agent"]).name


def test_an_entry_stored_before_phaselog_recorded_who_says_unknown(
    client: TestClient,
) -> None:
    tracker = client.app.state.tracker  # type: ignore[attr-defined]
    deal_id, _ = store_unchecked(tracker, "older")

    [entry] = timeline(client, str(deal_id))

    assert entry["recorded_by"] == {"via": "unknown", "name": "unknown", "key_id": None}


def test_an_import_records_its_operator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.setenv("PHASELOG_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("USER", "erika")
    monkeypatch.setenv("LOGNAME", "erika")
    named, plain = tmp_path / "named.csv", tmp_path / "plain.csv"
    header = "pipeline,contact_id,type,occurred_at,actor\n"
    named.write_text(
        header + "nl-tesoro,imp-1,contact_captured,2024-03-04T09:00:00Z,bob\n"
    )
    plain.write_text(
        header + "nl-tesoro,imp-2,contact_captured,2024-03-04T09:00:00Z,\n"
    )
    runner = CliRunner()

    assert (
        runner.invoke(app, ["import", str(named), "--as", "migration-2024"]).exit_code
        == 0
    )
    assert runner.invoke(app, ["import", str(plain)]).exit_code == 0
    first = runner.invoke(
        app, ["replay", "--pipeline", "nl-tesoro", "--contact", "imp-1"]
    )
    second = runner.invoke(
        app, ["replay", "--pipeline", "nl-tesoro", "--contact", "imp-2"]
    )

    said = " ".join(first.output.split())
    assert "recorded by migration-2024 (command line), on behalf of bob" in said
    assert "recorded by erika (command line)" in " ".join(second.output.split())


def test_the_timeline_export_says_who_recorded_each_entry_and_for_whom(
    client: TestClient, keys: dict[str, str]
) -> None:
    logged = client.post(
        "/v1/actions",
        json=action(actor="ann.agent", fields={"source": "phone"}),
        headers=bearer(keys["agent"]),
    ).json()

    answer = client.get(
        f"/v1/deals/{logged['deal_id']}/timeline",
        params={"format": "csv", "separator": ";"},
    )

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "timeline-" in answer.headers["content-disposition"]
    [row] = list(csv.DictReader(io.StringIO(answer.text), delimiter=";"))
    agent = key_row(client, keys["agent"])
    assert (row["actor"], row["recorded_by_name"], row["recorded_by_key_id"]) == (
        "ann.agent",
        agent.name,
        agent.key_id,
    )
    assert row["recorded_by_via"] == "api_key"
    assert json.loads(row["fields"]) == {"source": "phone"}

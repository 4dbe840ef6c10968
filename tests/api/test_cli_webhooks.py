"""`phaselog webhooks ...` on each test database."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from api.cli import app

if TYPE_CHECKING:
    from api.settings import Settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def configured(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("PHASELOG_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PHASELOG_WEBHOOKS_ALLOW_PRIVATE", "true")


def invoke(*args: str) -> str:
    done = runner.invoke(app, ["webhooks", *args])
    assert done.exit_code == 0, done.output
    return done.stdout


def test_a_subscription_made_shown_paused_rotated_and_deleted() -> None:
    made = runner.invoke(
        app,
        ["webhooks", "create", "http://127.0.0.1:9/hook", "--kind", "won"]
        + ["--pipeline", "nl-tesoro"],
    )
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    [hook_id] = re.findall(r"wh_[0-9a-f]{32}", made.stderr)
    assert "kinds=won" in invoke("list")

    shown = json.loads(invoke("show", hook_id))
    assert shown["pipelines"] == ["nl-tesoro"]
    assert json.loads(invoke("pause", hook_id))["status"] == "paused"
    assert json.loads(invoke("resume", hook_id))["status"] == "active"
    rotated = invoke("rotate", hook_id).strip().splitlines()[-1]
    assert rotated.startswith("whsec_") and rotated != secret
    assert "id" in invoke("deliveries", hook_id)
    assert "redelivering 0" in invoke("redeliver", hook_id, "--after", "0")
    assert f"deleted webhook {hook_id}" in invoke("delete", hook_id)

    gone = runner.invoke(app, ["webhooks", "show", hook_id])
    assert gone.exit_code == 1
    assert "no webhook" in gone.output


def test_a_refused_url_is_one_line_naming_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHASELOG_WEBHOOKS_ALLOW_PRIVATE", "false")
    refused = runner.invoke(app, ["webhooks", "create", "http://127.0.0.1/hook"])
    assert refused.exit_code == 1
    assert refused.output.startswith("error: url: resolves to a loopback address")
    assert "wh_" not in invoke("list")

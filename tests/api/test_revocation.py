"""A key revoked from the command line is refused by every worker of a running
`phaselog serve`, within the life of a worker's cache of keys."""

from __future__ import annotations

import time

import httpx
import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from storage.api_keys import KEY_CACHE_SECONDS
from tests.api.conftest import bearer
from tests.api.serving import server

pytestmark = pytest.mark.process  # starts processes or servers (see pyproject)

runner = CliRunner()


def test_a_revoked_key_is_refused_by_every_worker(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHASELOG_DATABASE_URL", database_url)
    monkeypatch.delenv("PHASELOG_ADMIN_KEY", raising=False)
    with server(database_url, 2) as (base, _):
        created = runner.invoke(
            cli, ["keys", "create", "--role", "agent", "--name", "field-agent"]
        )
        assert created.exit_code == 0, created.output
        key = created.stdout.strip().splitlines()[-1]

        # Step: the key works, on whichever worker takes each new connection.
        assert [_ask(base, key).status_code for _ in range(20)] == [200] * 20

        # Step: an operator revokes it.
        revoked = runner.invoke(cli, ["keys", "revoke", "field-agent"])
        assert revoked.exit_code == 0, revoked.output
        stale_until = time.monotonic() + KEY_CACHE_SECONDS

        # Step: it is refused, and what any worker read of it before the
        # revocation has outlived its cache life.
        deadline = time.monotonic() + 60
        while _ask(base, key).status_code != 401 or time.monotonic() < stale_until:
            assert time.monotonic() < deadline, "the revoked key is still accepted"
            time.sleep(0.1)  # polling the workers, not timing anything

        # Step: from then on every worker refuses it.
        answers = [_ask(base, key) for _ in range(20)]
        assert [(a.status_code, a.json()["detail"]) for a in answers] == [
            (401, "revoked API key")
        ] * 20


def _ask(base: str, key: str) -> httpx.Response:
    """A request on a connection of its own, so that any worker may take it."""
    return httpx.get(f"{base}/v1/deals", headers=bearer(key), timeout=30)

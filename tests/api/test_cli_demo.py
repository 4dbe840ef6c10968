"""`phaselog demo` may be run again: the README's run command works twice."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from api.bootstrap import open_tracker
from api.cli import app
from api.demo import load_demo
from api.synthetic.generator import history
from domain.commands import LogAction
from projections.runner import Projector
from tests.helpers.clock import FakeClock

if TYPE_CHECKING:
    from collections.abc import Iterator

    from api.settings import Settings
    from domain.service import PhaseTracker
    from projections.models import Funnel

pytestmark = pytest.mark.usefixtures("cli_database")
runner = CliRunner()


@pytest.fixture
def service(settings: Settings) -> Iterator[PhaseTracker]:
    tracker = open_tracker(settings)
    yield tracker
    tracker.close()


def funnel(service: PhaseTracker) -> Funnel:
    projector = Projector(service)
    projector.catch_up()
    return projector.reports.funnel(service.pipeline("nl-tesoro"))


def head(service: PhaseTracker) -> int:
    return int(service.store.recorder.max_notification_id() or 0)


def test_a_second_demo_finds_the_first_stores_nothing_and_the_funnel_stays(
    service: PhaseTracker,
) -> None:
    first = runner.invoke(app, ["demo"])
    loaded = funnel(service)
    stored = head(service)

    again = runner.invoke(app, ["demo"])

    assert first.exit_code == 0, first.output
    assert "demo: 3000 actions stored" in first.output
    assert again.exit_code == 0, again.output
    assert "demo: already loaded (3000 actions, history up to " in again.output
    assert "nothing stored" in again.output
    assert head(service) == stored
    assert funnel(service) == loaded
    assert sum(row.reached for row in loaded.phases) > 0


def test_a_demo_loaded_days_ago_is_found_again_and_a_cut_one_completed(
    settings: Settings, service: PhaseTracker
) -> None:
    # Step 1: a demo of 100 actions loaded three days ago (the clock said so).
    days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=3, seconds=0.4)
    then = open_tracker(settings)
    then.clock = FakeClock(days_ago)
    load_demo(then, 100, seed=7)
    then.close()

    # Step 2: today, the whole demo: the first 100 are found, the rest stored.
    completed = runner.invoke(app, ["demo", "--actions", "300"])

    assert completed.exit_code == 0, completed.output
    assert "200 actions stored" in completed.output
    assert "100 already there" in completed.output
    assert "0 rejected" in completed.output
    assert days_ago.strftime("history up to %Y-%m-%d %H:%M UTC") in completed.output


def test_a_rejected_demo_line_is_named_and_the_exit_status_is_1(
    service: PhaseTracker,
) -> None:
    logged = [c for c in history(60, seed=3) if isinstance(c, LogAction)]
    taken = logged[5]
    assert taken.action_id is not None
    # The deal's other actions are kept out with it, each one named.
    deal = [c for c in logged if c.contact_id == taken.contact_id]
    service.log_action(
        LogAction(
            pipeline="nl-tesoro",
            contact_id="someone-else",
            type="contact_captured",
            action_id=taken.action_id,
        )
    )

    result = runner.invoke(app, ["demo", "--actions", "60", "--seed", "3"])

    assert result.exit_code == 1
    assert f"{len(deal)} rejected" in result.stdout
    assert (
        f"rejected {taken.action_id}: action_id {taken.action_id!r} was already "
        "used for a different action"
    ) in result.stderr
    assert all(f"rejected {c.action_id}: " in result.stderr for c in deal)

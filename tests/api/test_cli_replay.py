"""`phaselog replay`: a deal by its id or its keys, at 80 columns, and moments
read as the API reads them."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from api.bootstrap import open_tracker
from api.cli import app
from domain.commands import LogAction, VoidAction
from domain.deal import deal_id_for

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fastapi.testclient import TestClient

    from api.settings import Settings
    from domain.service import PhaseTracker

pytestmark = pytest.mark.usefixtures("cli_database")
runner = CliRunner()
NARROW = {"COLUMNS": "80"}  # a terminal 80 columns wide
NOTE = (
    "Called back about the apartment on the second floor; wants a second visit "
    "next week with her partner, see https://example.com/listings/flat-3/photos/"
    "living-room-and-kitchen-after-renovation.jpg"
)
KEYS = ["--pipeline", "fr-sale", "--contact", "c-1", "--object", "flat-3"]


@pytest.fixture
def service(settings: Settings) -> Iterator[PhaseTracker]:
    tracker = open_tracker(settings)
    yield tracker
    tracker.close()


@pytest.fixture
def story(service: PhaseTracker) -> PhaseTracker:
    """A fr-sale deal: matched, documented (with a note), a viewing voided."""
    for number, (kind, day, note) in enumerate(
        [
            ("matching_contacted", 4, None),
            ("documentation_sent", 5, NOTE),
            ("viewing", 6, None),
        ]
    ):
        service.log_action(
            LogAction(
                pipeline="fr-sale",
                contact_id="c-1",
                object_id="flat-3",
                type=kind,
                occurred_at=dt.datetime(2024, 3, day, 9, tzinfo=dt.UTC),
                actor="agent-07",
                note=note,
                action_id=f"s-{number}",
            )
        )
    service.void(VoidAction("s-2", reason="logged on the wrong deal"))
    return service


def test_replay_by_the_deals_keys_shows_when_each_entry_was_recorded(
    story: PhaseTracker,
) -> None:
    deal_id = deal_id_for("fr-sale", "c-1", "flat-3")
    entries = [step.entry for step in story.timeline(deal_id).steps]

    by_keys = runner.invoke(app, ["replay", *KEYS])
    by_id = runner.invoke(app, ["replay", str(deal_id)])

    assert by_keys.exit_code == 0, by_keys.output
    assert by_keys.output == by_id.output
    for entry in entries:
        assert entry.recorded_at is not None
        recorded = entry.recorded_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        assert f"{entry.occurred_at:%Y-%m-%d %H:%M:%S} UTC  recorded {recorded}" in (
            by_keys.output
        )
    assert "void of s-2: documentation_sent -> documentation_sent" in by_keys.output
    void = next(e for e in entries if e.kind == "void")
    said = " ".join(by_keys.output.split())
    assert f"(voided by {void.entry_id}: logged on the wrong deal)" in said
    assert "phase: documentation_sent" in by_keys.output


def test_replay_at_80_columns_keeps_keys_whole_and_breaks_a_note_between_words(
    story: PhaseTracker,
) -> None:
    steps = story.timeline(deal_id_for("fr-sale", "c-1", "flat-3")).steps

    shown = runner.invoke(app, ["replay", *KEYS], env=NARROW)

    assert shown.exit_code == 0, shown.output
    words = shown.output.split()
    keys = {s.phase_before for s in steps} | {s.phase_after for s in steps}
    keys |= {s.entry.type for s in steps}
    assert keys - {None} <= set(re.split(r"[\s:,()]+", shown.output))
    *said, link = NOTE.split()
    at = words.index("note:") + 1
    assert words[at : at + len(said)] == said  # whole words, in order
    assert len(link) > 80 and link in "".join(shown.output.split())  # folded
    assert all(len(line) <= 80 for line in shown.output.splitlines())


def test_replay_of_keys_no_deal_has_says_so(story: PhaseTracker) -> None:
    missing = runner.invoke(
        app, ["replay", "--pipeline", "fr-sale", "--contact", "c-1"]
    )
    both = runner.invoke(app, ["replay", str(deal_id_for("a", "b", None)), *KEYS])

    assert missing.exit_code == 1
    assert missing.output == "error: no deal of contact 'c-1' in pipeline 'fr-sale'\n"
    assert both.exit_code == 1
    assert "not both" in both.output


@pytest.mark.parametrize(
    "value",
    [
        "2024-03-05T10:00",
        "2024-03-05T10:00:00.5",
        "1709629200",
        "2024-02-30",
        "05/03/2024",
        "3000-01-01T00:00:00Z",
    ],
)
def test_a_moment_the_api_refuses_the_cli_refuses_in_its_words(
    story: PhaseTracker, client: TestClient, value: str
) -> None:
    url = f"/v1/deals/{deal_id_for('fr-sale', 'c-1', 'flat-3')}/timeline"
    for option, name in [("--as-of", "as_of"), ("--known-at", "known_at")]:
        refused = client.get(url, params={name: value}).json()

        result = runner.invoke(app, ["replay", *KEYS, option, value])

        assert result.exit_code == 1
        [problem] = refused["errors"]
        assert problem["field"] == name
        assert result.output == f"error: {option}: {problem['reason']}\n"


def test_a_date_alone_is_through_its_end_as_in_the_api(
    story: PhaseTracker, client: TestClient
) -> None:
    url = f"/v1/deals/{deal_id_for('fr-sale', 'c-1', 'flat-3')}/timeline"
    api = client.get(url, params={"as_of": "2024-03-05"}).json()
    before_today = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date()

    as_of = runner.invoke(app, ["replay", *KEYS, "--as-of", "2024-03-05"])
    known = runner.invoke(app, ["replay", *KEYS, "--known-at", f"{before_today}"])

    assert as_of.exit_code == known.exit_code == 0
    assert "as of 2024-03-05 23:59:59 UTC" in as_of.output
    assert "action documentation_sent" in as_of.output
    assert "action viewing" not in as_of.output
    assert as_of.output.endswith(f"phase: {api['phase']}\n")
    assert api["phase"] == "documentation_sent"
    assert known.output.endswith("phase: -\n")

"""The settings issue 23's seeds needed: final phases, action skips, field
defaults, three expiry limits; and definitions that use none keep their digest."""

from __future__ import annotations

import pytest

from domain.definitions import content_hash, parse_definition
from domain.errors import DefinitionError
from tests.domain.test_definitions import VALID

# The toy's digests under the definition model before these settings existed: a
# database that stored them registers no new version when phaselog is upgraded.
BEFORE = {
    "plain": "20f0f0b2d260cd829f7f89dc3de9644417ac2f27b24b754cb1f8d7c1c203ee3c",
    "expiry": "a16dbe7843ad73843ed0e2319dc9edbd78bd642e930fa614aec03eeb7b291124",
}


def test_a_definition_using_none_of_them_dumps_as_before() -> None:
    pipeline = parse_definition(VALID)
    assert content_hash(pipeline) == BEFORE["plain"]
    dumped = pipeline.model_dump(mode="json", by_alias=True)
    assert "action_skip_policy" not in dumped
    assert all("final" not in phase for phase in dumped["phases"])
    with_expiry = parse_definition(
        VALID + "expiry: {after_days: 9, to: done, fields: {why: idle}}\n"
    )
    expiry = with_expiry.model_dump(mode="json", by_alias=True)["expiry"]
    assert expiry == {"after_days": 9, "to": "done", "fields": {"why": "idle"}}
    assert content_hash(with_expiry) == BEFORE["expiry"]
    # Spelled the new way, the same limit is the same definition.
    renamed = parse_definition(
        VALID + "expiry: {without_activity_days: 9, to: done, fields: {why: idle}}\n"
    )
    assert content_hash(renamed) == content_hash(with_expiry)


def test_settings_in_use_are_part_of_the_digest() -> None:
    plain = parse_definition(VALID)
    final = parse_definition(VALID.replace("kind: won}", "kind: won, final: true}"))
    strict = parse_definition(VALID + "action_skip_policy: reason\n")
    assert len({content_hash(p) for p in (plain, final, strict)}) == 3


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        pytest.param(
            VALID.replace(
                "{key: open, label: {en: Open}}",
                "{key: open, label: {en: Open}, final: true}",
            ),
            "only a won or lost phase is final",
            id="final-open-phase",
        ),
        pytest.param(
            VALID.replace("kind: won}", "kind: won, final: true}")
            + "  - {key: undo, label: {en: Undo}, rules: [{from: [done], to: open}]}\n",
            "'done' is final, never left",
            id="rule-out-of-a-final-phase",
        ),
        pytest.param(
            VALID + "expiry: {to: done}\n",
            "expiry needs without_activity_days (after_days), in_stage_days or "
            "open_days",
            id="expiry-without-a-limit",
        ),
        pytest.param(
            VALID.replace(
                "kind: won}",
                "kind: won, requires: [{name: why, type: enum, values: [a], "
                "default: b}]}",
            ),
            "default 'b' is not one of its values",
            id="default-outside-the-values",
        ),
    ],
)
def test_a_setting_used_wrongly_is_rejected(broken: str, message: str) -> None:
    with pytest.raises(DefinitionError) as error:
        parse_definition(broken)
    assert message in str(error.value)


def test_a_rule_that_only_records_may_name_a_final_phase() -> None:
    text = VALID.replace("kind: won}", "kind: won, final: true}") + (
        "  - {key: note, label: {en: Note}, rules: [{from: [done]}]}\n"
    )
    assert parse_definition(text).phase("done").final

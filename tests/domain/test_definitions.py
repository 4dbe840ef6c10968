"""Pipeline definitions: every preset loads; broken files fail naming file and path."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from domain.definitions import content_hash, json_schema
from domain.errors import DefinitionError
from storage.definitions import PRESETS_DIR, load_definition, load_presets

if TYPE_CHECKING:
    from pathlib import Path

PRESET_IDS = [
    "de-deal-phasen", "de-upsell", "es-leads", "es-opportunities",
    "fr-rental", "fr-sale", "hubspot-default", "nl-tesoro",
]  # fmt: skip

VALID = """\
id: toy
label: {en: Toy}
phases:
  - {key: open, label: {en: Open}}
  - {key: done, label: {en: Done}, kind: won}
actions:
  - {key: start, label: {en: Start}, to: open}
  - {key: finish, label: {en: Finish}, to: done}
"""


def test_every_preset_loads_under_its_file_name() -> None:
    presets = load_presets()
    assert sorted(presets) == PRESET_IDS
    for pipeline_id in PRESET_IDS:
        assert (PRESETS_DIR / f"{pipeline_id}.yaml").is_file()


@pytest.mark.parametrize("pipeline_id", PRESET_IDS)
def test_preset_has_bilingual_labels_in_pipeline_order(pipeline_id: str) -> None:
    pipeline = load_presets()[pipeline_id]
    language = pipeline.default_language
    assert language != "en"
    for item in (*pipeline.phases, *pipeline.actions):
        assert {"en", language} <= set(item.label), item.key
    kinds = [p.kind for p in pipeline.phases]
    first_closed = next(i for i, kind in enumerate(kinds) if kind != "open")
    assert all(kind != "open" for kind in kinds[first_closed:])
    for phase in pipeline.phases:
        assert phase.probability is not None, phase.key
        assert (phase.stale_after_days is not None) == (phase.kind == "open"), phase.key


def test_json_schema_exports_for_editors() -> None:
    schema = json_schema()
    assert schema["title"] == "phaselog pipeline definition"
    assert {"id", "phases", "actions"} <= set(schema["properties"])
    assert "from" in json.dumps(schema)  # the alias, as written in YAML


def test_content_hash_ignores_the_version_stamp() -> None:
    pipeline = load_presets()["nl-tesoro"]
    stamped = pipeline.model_copy(update={"version": 7})
    assert content_hash(stamped) == content_hash(pipeline)


def test_valid_toy_definition_loads(tmp_path: Path) -> None:
    path = tmp_path / "toy.yaml"
    path.write_text(VALID)
    assert load_definition(path).id == "toy"


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        pytest.param(
            VALID.replace("to: done", "to: gone"),
            "actions[1] (finish).rules[0]: unknown phase 'gone'",
            id="unknown-phase",
        ),
        pytest.param(
            VALID.replace("label: {en: Toy}", "label: {en: Toy}\nid: twice"),
            "line 3: duplicate key 'id'",
            id="duplicate-key",
        ),
        pytest.param(
            VALID.replace(", kind: won", ""),
            "phases: a pipeline needs at least one won or lost phase",
            id="no-terminal-phase",
        ),
        pytest.param(
            VALID.replace(
                "  - {key: done",
                "  - {key: limbo, label: {en: Limbo}}\n  - {key: done",
            ),
            "phases: no action leads to ['limbo'] (unreachable phase)",
            id="unreachable-phase",
        ),
        pytest.param(
            VALID.replace(
                "to: open}",
                "rules: [{outcome: maybe, to: open}], outcomes: [held]}",
            ),
            "actions[0] (start): rules[0]: outcome 'maybe' is not one of this "
            "action's outcomes ['held']",
            id="unknown-outcome",
        ),
    ],
)
def test_broken_definition_fails_naming_file_and_path(
    tmp_path: Path, broken: str, message: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(broken)
    with pytest.raises(DefinitionError) as error:
        load_definition(path)
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)


def test_chain_to_an_unknown_pipeline_fails_naming_the_phase(tmp_path: Path) -> None:
    (tmp_path / "toy.yaml").write_text(
        VALID.replace("kind: won}", "kind: won, chain: {pipeline: nowhere, action: x}}")
    )
    with pytest.raises(DefinitionError) as error:
        load_presets(tmp_path)
    assert "toy: phases.done.chain: unknown pipeline 'nowhere'" in str(error.value)


def test_enum_field_without_values_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "enum.yaml"
    path.write_text(
        VALID.replace("kind: won}", "kind: won, requires: [{name: why, type: enum}]}")
    )
    with pytest.raises(DefinitionError) as error:
        load_definition(path)
    assert "phases[1] (done).requires[0]" in str(error.value)
    assert "an enum needs 'values'" in str(error.value)

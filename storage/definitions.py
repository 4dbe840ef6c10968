"""Pipeline definitions read from files: the presets and a folder of the user's.

The presets ship as YAML in domain/pipelines/; `PHASELOG_PIPELINES_DIR` may add
or override some. Each file is parsed by `domain.definitions`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import domain
from domain.definitions import check_chains, parse_definition
from domain.errors import DefinitionError

if TYPE_CHECKING:
    from domain.pipeline import Pipeline

PRESETS_DIR = Path(domain.__file__).parent / "pipelines"


def load_definition(path: Path) -> Pipeline:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DefinitionError(f"{path}: cannot read: {error.strerror}") from None
    return parse_definition(text, str(path))


def load_presets(directory: Path = PRESETS_DIR) -> dict[str, Pipeline]:
    """Every `*.yaml` in `directory`, by pipeline id; chains must resolve."""
    pipelines: dict[str, Pipeline] = {}
    for path in sorted(directory.glob("*.yaml")):
        pipeline = load_definition(path)
        if pipeline.id in pipelines:
            raise DefinitionError(
                f"{path}: pipeline id {pipeline.id!r} is defined twice"
            )
        pipelines[pipeline.id] = pipeline
    check_chains(pipelines)
    return pipelines

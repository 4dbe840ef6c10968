"""Pipeline definitions from YAML text, with errors that name the source and path.

Reading the files (the presets in domain/pipelines/, a folder of the user's) is
`storage.definitions`; here the text becomes a validated `Pipeline`.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from domain.errors import DefinitionError
from domain.pipeline import Pipeline

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails


# libyaml's parser where PyYAML was built with it: the same safe loading, ten
# times faster (every process parses the presets as it starts; a test suite
# starts hundreds of apps).
_SAFE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_SAFE):  # type: ignore[valid-type,misc]
    """A YAML loader that refuses duplicate keys instead of keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        if key in mapping:
            line = key_node.start_mark.line + 1
            raise DefinitionError(f"line {line}: duplicate key {key!r}")
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)


def parse_definition(text: str, source: str = "<text>") -> Pipeline:
    """Parse and validate one definition; raise DefinitionError naming `source`."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader
    except DefinitionError as error:
        raise DefinitionError(f"{source}: {error}") from None
    except yaml.YAMLError as error:
        raise DefinitionError(f"{source}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise DefinitionError(f"{source}: a definition is a mapping at the top level")
    try:
        return Pipeline.model_validate(data)
    except ValidationError as error:
        raise DefinitionError(f"{source}: {_describe(error, data)}") from None


def check_chains(pipelines: dict[str, Pipeline]) -> None:
    for pipeline in pipelines.values():
        for phase, chain in pipeline.chains():
            where = f"{pipeline.id}: phases.{phase.key}.chain"
            target = pipelines.get(chain.pipeline)
            if target is None:
                raise DefinitionError(f"{where}: unknown pipeline {chain.pipeline!r}")
            if not target.has_action(chain.action):
                raise DefinitionError(
                    f"{where}: {chain.pipeline} has no action {chain.action!r}"
                )


def content_hash(pipeline: Pipeline) -> str:
    """A stable digest of a definition, ignoring the version stamped on it."""
    data = pipeline.model_dump(mode="json", by_alias=True, exclude={"version"})
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a definition file, for editors."""
    schema = Pipeline.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "phaselog pipeline definition"
    return schema


def _describe(error: ValidationError, data: dict[str, Any]) -> str:
    problems = []
    items = error.errors()
    for item in items:
        if item["type"] == "too_short" and _inside(item["loc"], items):
            # pydantic counts only the items that validated: a list whose
            # every item is wrong is "too short" as well. The items say it.
            continue
        path = _path(item["loc"], data)
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{path}: {message}" if path else message)
    return "; ".join(problems)


def _inside(loc: tuple[int | str, ...], items: list[ErrorDetails]) -> bool:
    """Whether another error lies inside what `loc` names."""
    return any(
        len(other["loc"]) > len(loc) and other["loc"][: len(loc)] == loc
        for other in items
    )


def _path(loc: tuple[int | str, ...], data: Any) -> str:
    """`phases[2] (viewing).kind` rather than pydantic's bare tuple."""
    text = ""
    node = data
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            node = node[part]
            key = node.get("key") if isinstance(node, dict) else None
            text += f"[{part}]" + (f" ({key})" if key else "")
        else:
            text += ("." if text else "") + str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return text

"""Pipeline versions, stored durably as an event-sourced aggregate per pipeline.

Registering a definition whose content differs from the latest version appends a new
version; nothing is ever rewritten, so a deal pinned to version 1 replays under
version 1 for ever.

There is no index of pipeline ids: the log is one. Each pipeline's first event,
`Registered`, names it, so reading the log for that one topic lists them all
(`storage.eventstore`), whichever process registered them.
"""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.definitions import content_hash
from domain.pipeline import Pipeline

CATALOG_NAMESPACE = uuid.UUID("0b9a4c1e-2f55-4f5c-8d8e-7f1f0a3b9c21")


def catalog_id_for(pipeline_id: str) -> uuid.UUID:
    return uuid.uuid5(CATALOG_NAMESPACE, pipeline_id)


class PipelineHistory(Aggregate):
    """Every version of one pipeline definition, in order."""

    class Registered(Aggregate.Created):
        pipeline_id: str

    class VersionAdded(Aggregate.Event):
        number: int
        definition: dict[str, Any]
        digest: str

    @event(Registered)
    def __init__(self, pipeline_id: str) -> None:
        self.pipeline_id = pipeline_id
        self.definitions: list[dict[str, Any]] = []
        self.digests: list[str] = []

    @staticmethod
    def create_id(pipeline_id: str) -> uuid.UUID:
        return catalog_id_for(pipeline_id)

    def add_if_changed(self, pipeline: Pipeline) -> bool:
        """Append `pipeline` as a new version unless it equals the latest one."""
        digest = content_hash(pipeline)
        if self.digests and self.digests[-1] == digest:
            return False
        definition = pipeline.model_dump(
            mode="json", by_alias=True, exclude={"version"}
        )
        self._add_version(
            number=len(self.definitions) + 1, definition=definition, digest=digest
        )
        return True

    @event(VersionAdded)
    def _add_version(
        self, number: int, definition: dict[str, Any], digest: str
    ) -> None:
        self.definitions.append(definition)
        self.digests.append(digest)

    def versions(self) -> list[Pipeline]:
        return [
            Pipeline.model_validate({**definition, "version": number})
            for number, definition in enumerate(self.definitions, start=1)
        ]

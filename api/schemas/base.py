"""The base every API schema shares: frozen, and unknown fields are an error."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Key = Annotated[str, StringConstraints(min_length=1, max_length=200)]

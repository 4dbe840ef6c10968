"""The base every API schema shares, and the checked types of what it carries.

Frozen, and unknown fields are an error. Every text the API stores or filters by
is one of the types below, each applying `domain.limits` (the same rules the
service applies to its Python callers and `phaselog import` to each line), so a
value that cannot be stored on both databases is a 422 naming its field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from api.moments import Day, moment
from domain.limits import (
    ACTOR_MAX,
    ID_MAX,
    NOTE_MAX,
    REASON_MAX,
    fields_problem,
    line_problem,
    text_problem,
)

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Mapping


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _invalid(reason: str) -> PydanticCustomError:
    return PydanticCustomError("invalid_value", reason)


# One line, in pydantic's own (compiled) pattern: an id is checked at a
# third of a Python validator's cost; `reason` words a mismatch as
# `line_problem` does.
ONE_LINE = "^[^\x00-\x1f\x7f-\x9f]*$"


def reason(error: Mapping[str, Any]) -> str:
    """What a validation error says, in phaselog's words where it has them."""
    if error.get("type") == "string_pattern_mismatch" and isinstance(
        error.get("input"), str
    ):
        if error.get("ctx", {}).get("pattern") == ONE_LINE:
            found = line_problem(error["input"], len(error["input"]))
            if found is not None:
                return found
    return str(error["msg"]).removeprefix("Value error, ")


def _text(limit: int) -> AfterValidator:
    def check(value: str) -> str:
        reason = text_problem(value, limit)
        if reason is not None:
            raise _invalid(reason)
        return value

    return AfterValidator(check)


def _fields(value: dict[str, Any]) -> dict[str, Any]:
    found = fields_problem(value)
    if found is not None:
        path, reason = found
        # The path inside `fields` is part of the reason: pydantic names the
        # field (`fields`, or `actions[3].fields`) and cannot name deeper.
        raise _invalid(f"{path}: {reason}" if path != "fields" else reason)
    return value


def _moment(day: Day) -> BeforeValidator:
    def parse(value: Any) -> dt.datetime:
        try:
            return moment(value, day)
        except ValueError as error:
            raise _invalid(str(error)) from None

    return BeforeValidator(parse)


# An id or key: one line, 1 to 200 characters, no control characters.
Key = Annotated[
    str, StringConstraints(min_length=1, max_length=ID_MAX, pattern=ONE_LINE)
]
Actor = Annotated[str, StringConstraints(max_length=ACTOR_MAX, pattern=ONE_LINE)]
Reason = Annotated[str, StringConstraints(max_length=REASON_MAX), _text(REASON_MAX)]
Note = Annotated[str, StringConstraints(max_length=NOTE_MAX), _text(NOTE_MAX)]
Fields = Annotated[dict[str, Any], AfterValidator(_fields)]
# Times from 1900 to the end of 2999, with a timezone (api/moments.py). A
# business time: the service refuses one more than a day ahead besides. The
# bounds of a period and the moments of a replay may be a date alone.
BusinessTime = Annotated[AwareDatetime, _moment(Day.REFUSED)]
Since = Annotated[AwareDatetime, _moment(Day.START)]
Until = Annotated[AwareDatetime, _moment(Day.BEFORE)]
Through = Annotated[AwareDatetime, _moment(Day.THROUGH)]
FIELDS_DESCRIPTION = (
    "free-form values; keys up to 100 characters, texts up to 65,536, at most "
    "200 entries in any object or list and 5 levels deep"
)

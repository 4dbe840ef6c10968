"""What phaselog accepts of the text, numbers and times it stores or filters by.

One set of rules for every door: the API's schemas and query parameters, `phaselog
import` (through the same schemas) and the service itself (`check_*` below, for
callers in Python). Each rule exists because the value must be storable on both
databases and readable by a person: PostgreSQL's text cannot hold U+0000, neither
database's UTF-8 can hold a lone surrogate, and a control character in a name
rewrites a terminal or a CSV cell. Each check answers None or the reason, so the
API and the CLI can name the field and say why.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from domain.amounts import AMOUNT, CURRENCY, money_problem
from domain.errors import InvalidCommand

ID_MAX = 200  # ids and keys: action, contact, object, pipeline, type, outcome, phase
ACTOR_MAX = 200
REASON_MAX = 2_000  # a void's or a manual move's reason
NOTE_MAX = 65_536  # as long as a CRM's longest text (HubSpot's, Salesforce's)
FIELD_KEY_MAX = 100
FIELD_TEXT_MAX = 65_536
FIELD_ENTRIES_MAX = 200  # entries in `fields`, and in any object or list inside it
FIELD_DEPTH_MAX = 5  # levels of objects and lists, `fields` itself the first
# Integers are stored exactly at any size (domain/transcoder.py); past a few
# thousand digits Python refuses to write one as text, so a bound: 100 digits.
INTEGER_MAX = 10**100 - 1
EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)  # business times and filters
LATEST_FILTER = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)  # a filter's upper bound

# C0 and C1 controls, DEL and lone surrogates; text of several lines (notes,
# reasons, field values) may hold tabs and line breaks.
_NOT_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _character(value: str, found: re.Match[str]) -> str:
    return (
        f"must not contain the control character U+{ord(found.group()):04X} "
        f"(at character {found.start() + 1})"
    )


def line_problem(value: str, limit: int) -> str | None:
    """Why `value` cannot be an id, a name or a filter (one line), or None."""
    if len(value) > limit:
        return f"is longer than {limit} characters"
    if value.isprintable():  # the usual id, at a tenth of the search's cost
        return None
    found = _NOT_ONE_LINE.search(value)
    return None if found is None else _character(value, found)


def text_problem(value: str, limit: int) -> str | None:
    """Why `value` cannot be free text (a note, a reason), or None."""
    if len(value) > limit:
        return f"is longer than {limit} characters"
    found = _NOT_TEXT.search(value)
    return None if found is None else _character(value, found)


def fields_problem(fields: Any) -> tuple[str, str] | None:
    """(path, reason) of the first value `fields` may not hold, or None.

    Walked without recursion: an import's line may nest as deep as it likes.
    The usual `fields`, a few plain texts and numbers, is passed at a glance;
    only one that is not is walked with the paths that name what is wrong.
    """
    if not isinstance(fields, dict):
        return "fields", "must be an object"
    if AMOUNT in fields or CURRENCY in fields:  # what a deal is worth
        money = money_problem(fields)
        if money is not None:
            return money
    if len(fields) <= FIELD_ENTRIES_MAX and all(map(_plain, fields.items())):
        return None
    stack: list[tuple[str, Any, int]] = [("fields", fields, 1)]
    while stack:
        path, value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > FIELD_DEPTH_MAX:
                return path, f"nests deeper than {FIELD_DEPTH_MAX} levels"
            if len(value) > FIELD_ENTRIES_MAX:
                return path, f"holds more than {FIELD_ENTRIES_MAX} entries"
            if isinstance(value, list):
                stack.extend(
                    (f"{path}[{i}]", item, depth + 1) for i, item in enumerate(value)
                )
                continue
            for key, item in value.items():
                if not isinstance(key, str) or not key:
                    return path, "has an empty key"
                reason = line_problem(key, FIELD_KEY_MAX)
                if reason is not None:
                    return f"{path}.{key[:FIELD_KEY_MAX]}", f"key {reason}"
                stack.append((f"{path}.{key}", item, depth + 1))
        elif isinstance(value, str):
            reason = text_problem(value, FIELD_TEXT_MAX)
            if reason is not None:
                return path, reason
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if abs(value) > INTEGER_MAX:
                return path, "is an integer of more than 100 digits"
        elif isinstance(value, float):
            if not math.isfinite(value):
                return path, "is not a finite number"
        else:
            return path, f"cannot be stored (a {type(value).__name__})"
    return None


def _plain(item: tuple[Any, Any]) -> bool:
    """A key and a text or a small number that hold no question at all."""
    key, value = item
    if not (isinstance(key, str) and 0 < len(key) <= FIELD_KEY_MAX):
        return False
    if not key.isprintable():
        return False
    kind = type(value)
    if kind is str:
        return len(value) <= FIELD_TEXT_MAX and value.isprintable()
    return kind is bool or value is None or (kind is int and -(2**63) < value < 2**63)


def time_problem(value: dt.datetime, latest: dt.datetime = LATEST_FILTER) -> str | None:
    """Why `value` cannot be a business time or a filter's bound, or None.

    The year is looked at first: moving a time of year 1 (or 9999) to UTC can
    fall outside what a datetime holds. (The service refuses business times
    more than a day ahead besides: it knows the time.)
    """
    if value.tzinfo is None:
        return "needs a timezone (e.g. 2026-01-31T10:00:00Z)"
    if EARLIEST.year < value.year < latest.year - 1:
        return None  # within the range whatever its offset (asked of a slow tzinfo)
    if value.utcoffset() is None:
        return "needs a timezone (e.g. 2026-01-31T10:00:00Z)"
    too_late = f"lies after {latest.year - 1}-12-31"
    if value.year < EARLIEST.year:
        return "lies before 1900-01-01"
    if value.year >= latest.year:
        return too_late
    utc = value.astimezone(dt.UTC)
    if utc < EARLIEST:
        return "lies before 1900-01-01"
    return too_late if utc >= latest else None


# -- the same rules for the service's own callers --------------------------------


def check_id(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidCommand(name, "must not be empty")
    reason = line_problem(value, ID_MAX)
    if reason is not None:
        raise InvalidCommand(name, reason)
    return value


def check_line(name: str, value: str | None, limit: int) -> None:
    if value is not None:
        reason = line_problem(value, limit) if isinstance(value, str) else _TEXT
        if reason is not None:
            raise InvalidCommand(name, reason)


def check_text(name: str, value: str | None, limit: int) -> None:
    if value is not None:
        reason = text_problem(value, limit) if isinstance(value, str) else _TEXT
        if reason is not None:
            raise InvalidCommand(name, reason)


_TEXT = "must be text"


def check_fields(fields: Any) -> None:
    found = fields_problem(fields)
    if found is not None:
        raise InvalidCommand(*found)

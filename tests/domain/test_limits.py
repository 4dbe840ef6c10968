"""The rules every door applies to text, numbers and times (`domain.limits`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from domain.limits import (
    FIELD_DEPTH_MAX,
    fields_problem,
    line_problem,
    text_problem,
    time_problem,
)


@pytest.mark.parametrize("character", ["\x00", "\x1b", "\x7f", "\x85", "\ud800"])
def test_control_characters_and_lone_surrogates_are_refused_everywhere(
    character: str,
) -> None:
    value = f"ab{character}c"

    assert line_problem(value, 10) == text_problem(value, 10)
    assert f"U+{ord(character):04X} (at character 3)" in (line_problem(value, 10) or "")


def test_free_text_keeps_tabs_and_line_breaks_an_id_does_not() -> None:
    assert text_problem("a\tb\r\nc", 10) is None
    assert "U+0009" in (line_problem("a\tb", 10) or "")


def test_a_nesting_of_any_depth_is_measured_without_recursion() -> None:
    value: Any = 1
    for _ in range(100_000):
        value = [value]

    assert fields_problem({"deep": value}) == (
        "fields.deep" + "[0]" * (FIELD_DEPTH_MAX - 1),
        f"nests deeper than {FIELD_DEPTH_MAX} levels",
    )


def test_values_of_every_json_kind_within_the_limits_pass() -> None:
    fields = {"n": 2**70, "x": -1.5, "b": True, "none": None, "l": ["a", {"k": 1}]}

    assert fields_problem(fields) is None
    assert fields_problem({"x": float("nan")}) == ("fields.x", "is not a finite number")


@pytest.mark.parametrize(
    ("moment", "says"),
    [
        ("0001-01-01T00:00:00+14:00", "before 1900"),
        ("1900-01-01T00:30:00+01:00", "before 1900"),
        ("9999-12-31T23:59:59-14:00", "after 2999"),
        ("2999-12-31T23:00:00-14:00", "after 2999"),
        ("2026-01-01T00:00:00", "timezone"),
    ],
)
def test_times_outside_the_range_are_refused_without_overflow(
    moment: str, says: str
) -> None:
    assert says in (time_problem(dt.datetime.fromisoformat(moment)) or "")


def test_the_range_holds_its_ends() -> None:
    assert time_problem(dt.datetime(1900, 1, 1, tzinfo=dt.UTC)) is None
    assert time_problem(dt.datetime.fromisoformat("2999-12-31T23:59:59Z")) is None

"""A deal's amount and currency: what the door accepts, what the fold keeps."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from domain.amounts import weighted
from domain.engine import replay
from domain.history import Entry
from domain.limits import fields_problem
from tests.helpers.deal_story import START, preset


@pytest.mark.parametrize(
    "value", [0, 350000, 350000.5, "350000.00", "0.01", "999999999999.99"]
)
def test_an_amount_within_the_rules_passes(value: Any) -> None:
    assert fields_problem({"amount": value, "currency": "EUR"}) is None


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (-1, "must not be negative"),
        ("-1.00", "must not be negative"),
        (10**12, "less than 1000000000000"),
        ("1.234", "more than 2 decimal places"),
        (0.001, "more than 2 decimal places"),
        ("1e5", "decimal text"),
        (" 12", "decimal text"),
        (True, "decimal text"),
        (None, "decimal text"),
        ([1], "decimal text"),
        (float("inf"), "not a finite number"),
    ],
)
def test_an_amount_outside_the_rules_is_named_with_its_reason(
    value: Any, says: str
) -> None:
    found = fields_problem({"amount": value})

    assert found is not None
    assert found[0] == "fields.amount"
    assert says in found[1]


@pytest.mark.parametrize("value", ["eur", "EURO", "E1R", "", 978, None])
def test_a_currency_is_three_capital_letters(value: Any) -> None:
    assert fields_problem({"currency": value}) == (
        "fields.currency",
        'must be an ISO 4217 code: three capital letters such as "EUR"',
    )


def _entry(seq: int, day: int, voids: str | None = None, **fields: Any) -> Entry:
    return Entry(
        kind="void" if voids else "action",
        entry_id=f"e{seq}",
        occurred_at=START + dt.timedelta(days=day),
        seq=seq,
        type=None if voids else "contact_captured",
        fields=fields,
        voids=voids,
    )


def test_the_latest_entry_in_business_time_sets_amount_and_currency() -> None:
    entries = [
        _entry(1, 0, amount="100.00", currency="EUR"),
        _entry(2, 5, amount=250),
        _entry(3, 2, amount=999, currency="USD"),  # back-dated: older than e2
    ]

    state = replay(preset("nl-tesoro"), entries)

    assert (state.amount, state.currency) == (Decimal(250), "USD")


def test_a_voided_amount_counts_for_nothing() -> None:
    entries = [
        _entry(1, 0, amount="100.00"),
        _entry(2, 1, amount="200.00"),
        _entry(3, 2, voids="e2"),
    ]

    assert replay(preset("nl-tesoro"), entries).amount == Decimal("100.00")


def test_a_value_the_door_would_refuse_in_an_older_log_is_read_as_not_set() -> None:
    entries = [
        _entry(1, 0, amount="100.00", currency="EUR"),
        _entry(2, 1, amount="lots", currency="euro"),
        _entry(3, 2, amount=-5),
    ]

    state = replay(preset("nl-tesoro"), entries)

    assert (state.amount, state.currency) == (Decimal("100.00"), "EUR")


def test_the_weighted_amount_is_rounded_half_up_to_the_cent() -> None:
    assert weighted(123.45, 33) == 40.74  # 40.7385
    assert weighted(Decimal("0.05"), 50) == 0.03  # 0.025, half up
    assert weighted(100.0, None) is None
    assert weighted(None, 40) is None

"""A deal's amount and currency: what `fields.amount` and `fields.currency` may
hold, and what a history makes of them (the latest entry setting one wins).

One module for the door (`money_problem`, through `domain.limits`) and for the
fold (`Money.carried`, through the engine), so both read a value the same way.
A log written before the door checked them may hold anything there: the fold
reads a value the door would refuse as not set at all, and never fails on it.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Mapping

AMOUNT = "amount"
CURRENCY = "currency"
AMOUNT_LIMIT = Decimal(10**12)  # exclusive; a float column holds it to the cent
PLACES = 2
CENT = Decimal("0.01")
# A decimal text as a person writes it: digits with at most one point (a sign
# only to be told that an amount is never negative).
_DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_CURRENCY = re.compile(r"[A-Z]{3}")  # ISO 4217's alphabetic codes

_NOT_AMOUNT = 'must be a number or a decimal text such as "350000.00"'
_NOT_CURRENCY = 'must be an ISO 4217 code: three capital letters such as "EUR"'


def amount_problem(value: Any) -> str | None:
    """Why `value` cannot be a deal's amount, or None."""
    return _amount(value)[1]


def currency_problem(value: Any) -> str | None:
    """Why `value` cannot be a deal's currency, or None."""
    if isinstance(value, str) and _CURRENCY.fullmatch(value):
        return None
    return _NOT_CURRENCY


def money_problem(fields: Mapping[str, Any]) -> tuple[str, str] | None:
    """(path, reason) of the first of `fields.amount`, `fields.currency` that is
    not valid, or None."""
    if AMOUNT in fields:
        reason = amount_problem(fields[AMOUNT])
        if reason is not None:
            return f"fields.{AMOUNT}", reason
    if CURRENCY in fields:
        reason = currency_problem(fields[CURRENCY])
        if reason is not None:
            return f"fields.{CURRENCY}", reason
    return None


def _amount(value: Any) -> tuple[Decimal | None, str | None]:
    """The amount `value` stands for, or None and why not."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None, _NOT_AMOUNT
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):
        return None, _NOT_AMOUNT
    try:
        # A float by its shortest text: 0.1 is "0.1", not its binary expansion.
        amount = Decimal(value if isinstance(value, int | str) else repr(value))
    except InvalidOperation:  # pragma: no cover - the pattern and types rule it out
        return None, _NOT_AMOUNT
    if not amount.is_finite():
        return None, "is not a finite number"
    if amount < 0:
        return None, "must not be negative"
    if amount >= AMOUNT_LIMIT:
        return None, "must be less than 1000000000000"
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -PLACES:
        return None, f"has more than {PLACES} decimal places"
    return amount, None


class Money(NamedTuple):
    """What a deal's history says it is worth: each the latest valid value set."""

    amount: Decimal | None = None
    currency: str | None = None

    def carried(self, fields: Mapping[str, Any]) -> Money:
        """This, with what an entry's `fields` set; a value not valid is not set."""
        if AMOUNT not in fields and CURRENCY not in fields:
            return self  # nearly every entry: two lookups
        amount, currency = self
        if AMOUNT in fields:
            read = _amount(fields[AMOUNT])[0]
            if read is not None:
                amount = read
        if CURRENCY in fields and currency_problem(fields[CURRENCY]) is None:
            currency = fields[CURRENCY]
        return Money(amount, currency)


NO_MONEY = Money()


def weighted(amount: float | Decimal | None, probability: int | None) -> float | None:
    """`amount` x `probability` %, to the cent; None without either."""
    if amount is None or probability is None:
        return None
    exact = Decimal(repr(amount)) if isinstance(amount, float) else amount
    return cents(exact * probability / 100)


def cents(value: float | Decimal) -> float:
    """`value` rounded to the cent, half up (a float by its shortest text)."""
    exact = Decimal(repr(value)) if isinstance(value, float) else value
    return float(exact.quantize(CENT, ROUND_HALF_UP))

"""Amounts on the pages are Babel's, however the page makes them."""

from __future__ import annotations

import re

from babel import Locale
from babel.numbers import format_currency
from hypothesis import given
from hypothesis import strategies as st

from api.pages.render import _whole
from api.pages.words import LANGUAGES


@given(
    language=st.sampled_from(LANGUAGES),
    currency=st.sampled_from(["EUR", "USD", "GBP", "CHF", "JPY", "SEK"]),
    amount=st.floats(min_value=0, max_value=999_999_999_999.99),
)
def test_a_whole_amount_is_written_as_babel_writes_it(
    language: str, currency: str, amount: float
) -> None:
    pattern = Locale.parse(language).currency_formats["standard"].pattern
    whole = re.sub(r"\.0+", "", pattern)
    expected = format_currency(
        round(amount), currency, whole, locale=language, currency_digits=False
    )
    assert _whole(language, currency).format(amount) == expected

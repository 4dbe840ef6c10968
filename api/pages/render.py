"""Pages as HTML: the Jinja2 templates, and what a template is given (`Page`):
the viewer, the language and words in it, labels from the pipeline, dates,
numbers and amounts as the viewer's locale writes them (Babel).

Times are shown in UTC and say so: the server does not know the viewer's zone,
and the API answers in UTC too.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlencode

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal, format_percent
from fastapi import Request
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from api.auth import Principal
from api.pages.session import CSRF_FIELD, csrf_token, keep_csrf
from api.pages.words import LANGUAGE_COOKIE, LANGUAGES, NAMES, choose, word
from domain.pipeline import Pipeline

ENVIRONMENT = Environment(
    loader=PackageLoader("api.pages", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass
class Page:
    """One page being made: who asks, in which language, about which pipeline."""

    request: Request
    viewer: Principal | None
    pipeline: Pipeline | None = None
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    language: str = "en"
    csrf: str = ""

    def __post_init__(self) -> None:
        request = self.request
        fallback = self.pipeline.default_language if self.pipeline else "en"
        self.language = choose(
            request.query_params.get("lang"),
            request.cookies.get(LANGUAGE_COOKIE),
            request.headers.get("accept-language"),
            fallback,
        )
        self.csrf = csrf_token(request)

    # -- words and labels ----------------------------------------------------

    def t(self, key: str, **values: Any) -> str:
        return word(key, self.language, **values)

    def phase_label(self, key: str | None, pipeline: Pipeline | None = None) -> str:
        chosen = pipeline or self.pipeline
        if key is None:
            return self.t("no_phase")
        if chosen is None or not chosen.has_phase(key):
            return key
        return chosen.label_of(key, self.language)

    def action_label(self, key: str | None) -> str:
        if key is None or self.pipeline is None or not self.pipeline.has_action(key):
            return key or ""
        return _pick(self.pipeline.action(key).label, self.language, self.pipeline, key)

    def pipeline_label(self, pipeline: Pipeline | None = None) -> str:
        chosen = pipeline or self.pipeline
        if chosen is None:
            return ""
        return _pick(chosen.label, self.language, chosen, chosen.id)

    def languages(self) -> list[tuple[str, str]]:
        return [(code, NAMES[code]) for code in LANGUAGES]

    # -- dates and numbers -----------------------------------------------------

    def date(self, value: dt.datetime | dt.date | None) -> str:
        if value is None:
            return ""
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).date()
        return format_date(value, "medium", locale=self.language)

    def datetime(self, value: dt.datetime | None) -> str:
        if value is None:
            return ""
        value = value.astimezone(dt.UTC)
        time = format_time(value, "short", tzinfo=dt.UTC, locale=self.language)
        return f"{self.date(value)} {time} UTC"

    def number(self, value: float | None, digits: int = 1) -> str:
        if value is None:
            return "–"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, pattern, locale=self.language)

    def percent(self, value: float | None) -> str:
        if value is None:
            return "–"
        return format_percent(value, "#,##0.#%", locale=self.language)

    def money(self, amount: float | None, currency: str | None) -> str:
        if amount is None:
            return ""
        if currency is None:
            return format_decimal(amount, "#,##0.##", locale=self.language)
        return _whole(self.language, currency).format(float(amount))

    # -- links -----------------------------------------------------------------

    def link(self, path: str, **query: Any) -> str:
        kept = {k: v for k, v in query.items() if v not in (None, "")}
        return path + (f"?{urlencode(kept)}" if kept else "")

    def with_language(self, language: str) -> str:
        query = dict(self.request.query_params)
        query["lang"] = language
        return self.link(self.request.url.path, **query)


@dataclass(frozen=True)
class WholeUnits:
    """Amounts in one currency as a locale writes them in whole units (a board
    sums to whole euros), learnt once from Babel: a card would otherwise spend
    more on Babel's pattern machinery than on the rest of it together."""

    prefix: str
    suffix: str
    group: str
    ungrouped_below: int  # Spanish writes 1234 €, but 12.345 €

    def format(self, amount: float) -> str:
        whole = round(amount)
        digits = f"{whole:,}" if whole >= self.ungrouped_below else str(whole)
        return self.prefix + digits.replace(",", self.group) + self.suffix


@cache
def _whole(language: str, currency: str) -> WholeUnits:
    pattern = Locale.parse(language).currency_formats["standard"].pattern
    whole = re.sub(r"\.0+", "", pattern)

    def babel(value: int) -> str:
        return format_currency(
            value, currency, whole, locale=language, currency_digits=False
        )

    sample = babel(1234567)
    found = re.search(r"1(?P<g>\D*)234(?P=g)567", sample)
    if found is None:  # a locale with other digits or grouping: Babel each time
        return WholeUnits("", "", ",", 0)
    group = found.group(1)
    four = babel(1234)
    return WholeUnits(
        prefix=sample[: found.start()],
        suffix=sample[found.end() :],
        group=group,
        ungrouped_below=10_000 if group and group not in four else 0,
    )


def _pick(labels: dict[str, str], language: str, pipeline: Pipeline, key: str) -> str:
    return (
        labels.get(language)
        or labels.get(pipeline.default_language)
        or labels.get("en")
        or next(iter(labels.values()), key)
    )


def render(
    page: Page, template: str, status: int = 200, **context: Any
) -> HTMLResponse:
    """The template filled in for `page`; the language asked by `?lang=` is
    remembered for the next pages, and the form token kept."""
    context.setdefault("active", None)
    html = ENVIRONMENT.get_template(template).render(
        page=page, t=page.t, csrf_field=CSRF_FIELD, **context
    )
    response = HTMLResponse(html, status_code=status)
    asked = page.request.query_params.get("lang")
    if asked == page.language:
        response.set_cookie(
            LANGUAGE_COOKIE, asked, max_age=365 * 86400, samesite="lax", path="/"
        )
    keep_csrf(page.request, response, page.csrf)
    return response

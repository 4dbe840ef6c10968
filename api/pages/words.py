"""The pages' own words in the languages the presets are written in, and which
language a request gets: `?lang=`, else the switch's cookie, else the browser's
`Accept-Language`, else the pipeline's own language.

Phase and action labels come from the pipelines (their YAML); these are the
words around them. A missing word falls back to English.
"""

from __future__ import annotations

import re

from api.pages.vocabulary import WORDS as _WORDS

LANGUAGES = ("en", "nl", "de", "fr", "es")
NAMES = {
    "en": "English",
    "nl": "Nederlands",
    "de": "Deutsch",
    "fr": "Français",
    "es": "Español",
}
LANGUAGE_COOKIE = "phaselog_lang"

_COLUMN = {language: index for index, language in enumerate(LANGUAGES)}


def word(key: str, language: str, **values: object) -> str:
    """The page word `key` in `language` (English if it has none), filled in;
    a key with no words (an effect added later, say) is shown as itself."""
    words = _WORDS.get(key)
    if words is None:
        return key.replace("_", " ")
    found = words[_COLUMN.get(language, 0)] or words[0]
    return found.format(**values) if values else found


_RANGE = re.compile(r"^\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q=([0-9.]+))?")


def preferred(accept_language: str | None) -> list[str]:
    """The languages of an Accept-Language header, most wanted first."""
    if not accept_language:
        return []
    ranked: list[tuple[float, int, str]] = []
    for order, part in enumerate(accept_language.split(",")[:20]):
        found = _RANGE.match(part)
        if found is None:
            continue
        try:
            weight = float(found.group(2)) if found.group(2) else 1.0
        except ValueError:
            continue
        if weight > 0:
            ranked.append((-weight, order, found.group(1).lower()))
    return [language for _, _, language in sorted(ranked)]


def choose(
    asked: str | None,
    remembered: str | None,
    accept_language: str | None,
    fallback: str = "en",
) -> str:
    """The language of a page: `?lang=`, the switch's cookie, the browser's
    wish, else `fallback` (the pipeline's own language)."""
    for language in (asked, remembered, *preferred(accept_language)):
        if language in _COLUMN:
            return language
    return fallback if fallback in _COLUMN else "en"

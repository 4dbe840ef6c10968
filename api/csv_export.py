"""Deals and timelines as CSV for spreadsheets: every matching row, a page of
the read model at a time, so an export of 100,000 deals never waits whole in
memory.

A spreadsheet opens it as the user's Excel expects: `separator=;` (French and
German Excel read `,` as the decimal comma, and `;` as the list separator) and
`bom=true` (Excel takes a file without a byte-order mark for the local code
page, and shows `Ærø` as mojibake).
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Query
from fastapi.responses import StreamingResponse

from api.schemas.deals import DealOut, TimelineEntryOut, TimelineOut

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

Separator = Literal[",", ";", "tab"]
CSV = "text/csv"
# The query parameters of a route that answers CSV as well as JSON.
Format = Annotated[
    Literal["json", "csv"] | None,
    Query(description="csv: as `Accept: text/csv`, for a link"),
]
SeparatorParam = Annotated[
    Separator, Query(description="CSV: `;` for French or German Excel")
]
Bom = Annotated[
    bool, Query(description="CSV: a byte-order mark, for Excel to read UTF-8")
]


def wants_csv(accept: str | None, format_: str | None) -> bool:
    """CSV if asked by `Accept: text/csv` or, for a link a browser follows,
    `format=csv`."""
    return format_ == "csv" or CSV in (accept or "")


def csv_response(
    pages: Iterable[list[dict[str, Any]]],
    columns: list[str],
    filename: str,
    separator: Separator,
    bom: bool,
) -> StreamingResponse:
    """One row per dict, its `columns` in order; a download named `filename`."""
    return StreamingResponse(
        _lines(pages, columns, "\t" if separator == "tab" else separator, bom),
        media_type=f"{CSV}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def deal_pages(pages: Iterable[list[DealOut]]) -> Iterator[list[dict[str, Any]]]:
    for page in pages:
        yield [deal.model_dump(mode="json") for deal in page]


DEAL_COLUMNS = list(DealOut.model_fields)
# A timeline's entries, who stored each beside on whose behalf (`actor`).
TIMELINE_COLUMNS = [
    *(n for n in TimelineEntryOut.model_fields if n != "recorded_by"),
    "recorded_by_via",
    "recorded_by_name",
    "recorded_by_key_id",
]


def timeline_rows(timeline: TimelineOut) -> list[dict[str, Any]]:
    rows = []
    for entry in timeline.entries:
        row = entry.model_dump(mode="json")
        who = row.pop("recorded_by")
        row["fields"] = json.dumps(row["fields"], ensure_ascii=False)
        row.update({f"recorded_by_{k}": v for k, v in who.items()})
        rows.append(row)
    return rows


def _lines(
    pages: Iterable[list[dict[str, Any]]], columns: list[str], delimiter: str, bom: bool
) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    if bom:
        out.write("\ufeff")
    writer.writerow(columns)
    for page in pages:
        for row in page:
            writer.writerow([_cell(row[name]) for name in columns])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    if out.tell():
        yield out.getvalue()  # the header of an export without rows


# A text a spreadsheet would run as a formula (`=HYPERLINK(...)` in a note a
# client typed): a leading apostrophe keeps it text, as OWASP advises for CSV.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    # Spreadsheets and mail tools expect JSON's spelling, not Python's True.
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value

"""Bar charts drawn by the server as SVG: no script, no chart library, printable.

`bars` lays out one horizontal bar a row, scaled to the largest value; an
optional second value a row (deals now in a phase, beside those that passed
it) is drawn darker over the first. The template draws what it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

LABEL_WIDTH = 200  # px for the labels, left of the bars
BAR_WIDTH = 420  # px for the longest bar
ROW = 26  # px a row


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    width: float
    y: int
    inner: int | None = None  # the second value, drawn over the first
    inner_width: float | None = None


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    width: int
    height: int
    label_width: int = LABEL_WIDTH
    row: int = ROW


def bars(items: list[tuple[str, int]], inner: list[int] | None = None) -> Chart:
    largest = max((value for _, value in items), default=0) or 1
    made = []
    for index, (label, value) in enumerate(items):
        second = inner[index] if inner is not None else None
        made.append(
            Bar(
                label=label,
                value=value,
                width=round(BAR_WIDTH * value / largest, 1),
                y=index * ROW,
                inner=second,
                inner_width=None
                if second is None
                else round(BAR_WIDTH * second / largest, 1),
            )
        )
    return Chart(made, LABEL_WIDTH + BAR_WIDTH + 60, max(len(made), 1) * ROW)

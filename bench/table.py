"""Benchmark figures and the table they print as."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


@dataclass
class Figure:
    """One measured figure, with what it is compared to in the same run."""

    database: str
    name: str
    ours: float
    unit: str
    compared_to: str = ""  # what the comparison is
    comparison: float | None = None
    target: str = ""  # e.g. ">= 2000", "<= 20 ms"
    higher_is_better: bool = True
    count: int | None = None  # items measured (actions, events, requests)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.comparison is None or self.comparison == 0 or self.ours == 0:
            return None
        if self.higher_is_better:
            return self.ours / self.comparison
        return self.comparison / self.ours

    @property
    def met(self) -> bool | None:
        """Whether `target` holds; None when there is none."""
        if not self.target:
            return None
        kind, _, rest = self.target.partition(" ")
        value = float(rest.split()[0].replace(",", "").rstrip("x%"))
        if rest.rstrip().endswith("x"):  # a ratio target
            return self.ratio is not None and self.ratio >= value
        if rest.rstrip().endswith("%"):  # a share of the comparison
            return self.ratio is not None and self.ratio * 100 >= value
        return self.ours >= value if kind == ">=" else self.ours <= value


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` (0..1) quantile, nearest rank; values need not be sorted."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def render(figures: Iterable[Figure]) -> str:
    """A Markdown table: figure, ours, comparison, ratio, target."""
    header = (
        "| db | figure | ours | compared to (same run) | comparison | ratio "
        "| target | met |"
    )
    lines = [header, "|" + "---|" * 8]
    for f in figures:
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else "-"
        met = {None: "", True: "yes", False: "NO"}[f.met]
        lines.append(
            f"| {f.database} | {f.name} | {_number(f.ours)} {f.unit} "
            f"| {f.compared_to or '-'} "
            f"| {_number(f.comparison)}{' ' + f.unit if f.comparison else ''} "
            f"| {ratio} | {f.target or '-'} | {met} |"
        )
    return "\n".join(lines)


def to_json(figures: Iterable[Figure], meta: dict[str, Any]) -> str:
    rows = [{**asdict(f), "ratio": f.ratio, "met": f.met} for f in figures]
    return json.dumps({"meta": meta, "figures": rows}, indent=2, default=str)

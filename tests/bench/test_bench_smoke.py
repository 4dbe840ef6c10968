"""The benchmark command runs end to end at its tiny size and reports every figure.

Only the correctness of its own output is checked, never a speed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from bench.__main__ import main
from bench.run import SIZES

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.process  # starts processes or servers (see pyproject)

FIGURES = (
    "bulk import (log_actions)",
    "bulk import (phaselog import, NDJSON file, whole command)",
    "import's rows stored again (the recorder alone, ready-made rows)",
    "projection rebuild",
    "rebuild peak memory (RSS)",
    "report funnel p50 (fr-sale)",
    "report time-in-stage p50 (fr-sale)",
    "report stale p50 (fr-sale)",
    "report deal filter page (50) p50 (fr-sale)",
    "report funnel, one owner p50 (fr-sale)",
    "report funnel, 90 days p50 (fr-sale)",
    "report time-in-stage, one owner p50 (fr-sale)",
    "report time-in-stage, 90 days p50 (fr-sale)",
    "timeline replay p50 (50 events, HTTP)",
    "online logging over HTTP, 8 clients",
    "online latency p99, closed loop",
    "online latency p99 at 1,000/s offered",
    "projection lag at 1,000/s offered (worst)",
)


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_tiny_run_reports_every_figure_with_matching_counts(
    database: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Step: run the one command at its tiny size, against its own database.
    args = ["run", "--size", "tiny", "--database", database]
    if database == "postgres":
        args += ["--postgres", request.getfixturevalue("postgres_dsn")]
    out = tmp_path / "figures.json"
    assert main([*args, "--json", str(out)]) == 0

    # Step: the printed table names every figure, and so does the JSON.
    table = capsys.readouterr().out
    figures = {f["name"]: f for f in json.loads(out.read_text())["figures"]}
    for name in FIGURES:
        assert name in figures
        assert f"| {database} | {name} |" in table
    for figure in figures.values():
        assert figure["database"] == database
        if figure["unit"] == "s":  # a lag: none at all is a fine answer
            assert figure["ours"] >= 0, figure["name"]
        else:
            assert figure["ours"] > 0, figure["name"]
        assert figure["comparison"] is None or figure["comparison"] > 0

    # Step: everything generated was imported, and the rebuild folded every event.
    size = SIZES["tiny"]
    imported = figures["bulk import (log_actions)"]
    assert imported["extra"]["actions"] == size.actions
    assert imported["count"] == size.actions
    assert imported["extra"]["rejected"] == 0
    stored = imported["extra"]["stored_events"]
    by_file = figures["bulk import (phaselog import, NDJSON file, whole command)"]
    assert by_file["extra"]["lines"] == by_file["count"] == size.actions
    again = figures["import's rows stored again (the recorder alone, ready-made rows)"]
    assert again["extra"]["events"] + again["extra"]["present"] == stored
    assert again["count"] >= size.actions  # a key for each action, and each chain's
    rebuilt = figures["projection rebuild"]
    assert rebuilt["count"] == stored
    assert rebuilt["extra"]["deals"] > 0

    # Step: every read was answered with success, and every online request.
    reads = [
        f for name, f in figures.items() if name.startswith(("report", "timeline"))
    ]
    assert reads and all(f["count"] == size.repeats for f in reads)
    online = figures["online logging over HTTP, 8 clients"]
    assert online["count"] == size.online
    assert online["extra"]["failures"] == {}
    assert online["extra"]["stock_count"] == size.online // 4
    assert figures["online latency p99 at 1,000/s offered"]["count"] == size.open_loop

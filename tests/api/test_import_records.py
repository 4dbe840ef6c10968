"""`phaselog import` of malformed records: each is a rejected line, the rest imports.

A rejected record is named by the line it begins on, with why; the good lines
before and after it are stored as they would have been without it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from api.bootstrap import open_tracker
from api.cli import app
from api.records import MAX_RECORD

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from click.testing import Result

    from api.settings import Settings
    from domain.service import PhaseTracker

runner = CliRunner()
HEADER = "pipeline,contact_id,type,occurred_at,note,action_id"
WHEN = "2024-03-04T09:00:00Z"


@pytest.fixture(autouse=True)
def configured(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("PHASELOG_DATABASE_URL", settings.database_url)


@pytest.fixture
def service(settings: Settings) -> Iterator[PhaseTracker]:
    tracker = open_tracker(settings)
    yield tracker
    tracker.close()


def row(contact: str, action_id: str, note: str = "") -> str:
    return f"nl-tesoro,{contact},contact_captured,{WHEN},{note},{action_id}"


def action(contact: str, action_id: str, **more: Any) -> str:
    line = {
        "pipeline": "nl-tesoro",
        "contact_id": contact,
        "type": "contact_captured",
        "occurred_at": WHEN,
        "action_id": action_id,
    }
    return json.dumps(line | more)


def run_import(path: Path, lines: list[str], end: str = "\n") -> Result:
    path.write_text(end.join(lines) + end, encoding="utf-8", newline="")
    return runner.invoke(app, ["import", str(path)])


def rejected(result: Result) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("line ")]


def note_of(service: PhaseTracker, action_id: str) -> str | None:
    """The note stored with the action; fails when the action is not stored."""
    found = service.store.find_action(action_id)
    assert found is not None, f"{action_id} was not stored"
    steps = service.timeline(found[0]).steps
    return next(s.entry.note for s in steps if s.entry.entry_id == action_id)


def test_a_quote_left_open_mid_file_is_rejected_and_the_lines_after_read_as_ever(
    tmp_path: Path, service: PhaseTracker
) -> None:
    """The next quote opens a note over two lines: it still imports as that note."""
    result = run_import(
        tmp_path / "export.csv",
        [
            HEADER,
            row("ann", "q-1", "first"),
            row("bob", "q-2", '"never closed'),
            row("cid", "q-3", "plain"),
            row("dan", "q-4", '"called back;\nwants a visit"'),
            row("eve", "q-5", "last"),
        ],
    )

    assert result.exit_code == 1
    assert "imported 4 actions" in result.stdout
    assert rejected(result) == [
        "line 3: a quote opened here is never closed properly: the next quote, "
        "on line 5, has text after it"
    ]
    assert service.store.find_action("q-2") is None
    assert note_of(service, "q-1") == "first"
    assert note_of(service, "q-3") == "plain"
    assert note_of(service, "q-4") == "called back;\nwants a visit"
    assert note_of(service, "q-5") == "last"


def test_a_quote_never_closed_names_its_line_and_the_lines_after_it_import(
    tmp_path: Path, service: PhaseTracker
) -> None:
    result = run_import(
        tmp_path / "export.csv",
        [
            HEADER,
            row("ann", "e-1", '"over\ntwo lines"'),
            row("bob", "e-2"),
            row("cid", "e-3", '"never closed'),
            row("dan", "e-4", "after"),
            row("eve", "e-5"),
        ],
    )

    assert result.exit_code == 1
    assert rejected(result) == ["line 5: a quote opened here is never closed"]
    assert "imported 4 actions" in result.stdout
    assert note_of(service, "e-1") == "over\ntwo lines"
    assert note_of(service, "e-4") == "after"
    assert service.store.find_action("e-5") is not None


def test_text_after_a_closing_quote_is_a_rejected_line_not_a_mangled_note(
    tmp_path: Path, service: PhaseTracker
) -> None:
    result = run_import(
        tmp_path / "export.csv",
        [
            HEADER,
            row("ann", "b-1"),
            row("bob", "b-2", '"note with "quote" here"'),
            row("cid", "b-3", '"a ""doubled"" quote"'),
        ],
    )

    assert result.exit_code == 1
    assert rejected(result) == [
        "line 3: a quoted cell goes on after its closing quote "
        '(inside quotes, write a quote as "")'
    ]
    assert service.store.find_action("b-1") is not None
    assert service.store.find_action("b-2") is None
    assert note_of(service, "b-3") == 'a "doubled" quote'


@pytest.mark.parametrize(
    ("cells", "says"),
    [
        ('"a note\nover two lines",x-2,spare', "has 7 cells, the header has 6"),
        ("x-2", "has 5 cells, the header has 6"),
    ],
    ids=["extra", "missing"],
)
def test_a_row_whose_cell_count_is_not_the_headers_is_rejected_naming_both(
    tmp_path: Path, service: PhaseTracker, cells: str, says: str
) -> None:
    result = run_import(
        tmp_path / "export.csv",
        [
            HEADER,
            row("ann", "x-1", '"two\nlines"'),
            f"nl-tesoro,bob,contact_captured,{WHEN},{cells}",
            row("cid", "x-3"),
        ],
    )

    assert result.exit_code == 1
    assert rejected(result) == [f"line 4: {says}"]
    assert note_of(service, "x-1") == "two\nlines"
    assert service.store.find_action("x-2") is None
    assert service.store.find_action("x-3") is not None


def test_a_broken_record_keeps_the_rest_of_its_deal_out(
    tmp_path: Path, service: PhaseTracker
) -> None:
    """Its deal is told from its first cells, as for any other rejected line."""
    result = run_import(
        tmp_path / "export.csv",
        [
            HEADER,
            row("ann", "d-1"),
            row("ann", "d-2", "a note, with a comma"),
            row("bob", "d-3"),
        ],
    )

    assert result.exit_code == 1
    assert rejected(result) == [
        "line 2: another line of this deal (line 3) was rejected",
        "line 3: has 7 cells, the header has 6",
    ]
    assert service.store.find_action("d-1") is None
    assert service.store.find_action("d-3") is not None


def test_a_cell_longer_than_the_csv_modules_own_limit_imports(
    tmp_path: Path, service: PhaseTracker
) -> None:
    """csv stops at 131,072 characters a cell; phaselog's limit is the record's.

    Each value has its own limit (a note or a field's text 65,536 characters),
    but a `fields` cell holds many.
    """
    fields = {f"k{n}": "v" * 60_000 for n in range(3)}
    cell = '"' + json.dumps(fields).replace('"', '""') + '"'
    result = run_import(
        tmp_path / "export.csv",
        [f"{HEADER},fields", row("ann", "l-1") + ",", row("bob", "l-2") + "," + cell],
    )

    assert result.exit_code == 0, result.output
    assert len(cell) > 131_072
    found = service.store.find_action("l-2")
    assert found is not None
    [step] = service.timeline(found[0]).steps
    assert step.entry.fields == fields


def test_a_csv_line_longer_than_the_record_limit_is_rejected(
    tmp_path: Path, service: PhaseTracker
) -> None:
    """A line of exactly the limit is read whole, its CRLF end too (not a line):
    then its note is checked (and refused, past the note's own limit)."""
    at_limit = "n" * (MAX_RECORD - len(row("bob", "o-2")))
    result = run_import(
        tmp_path / "export.csv",
        [
            HEADER,
            row("ann", "o-1"),
            row("bob", "o-2", at_limit),
            row("cid", "o-3", at_limit + "n"),
            row("dan", "o-4", "after"),
        ],
        end="\r\n",
    )

    assert result.exit_code == 1
    assert rejected(result) == [
        "line 3: note: String should have at most 65536 characters",
        "line 4: the line is longer than 5,000,000 characters",
    ]
    assert service.store.find_action("o-1") is not None
    assert note_of(service, "o-4") == "after"


def test_a_quote_open_past_the_record_limit_is_rejected_and_what_it_ran_over_imports(
    tmp_path: Path, service: PhaseTracker
) -> None:
    """The lines it ran over, long notes all, are read again as their own records."""
    note = "n" * 60_000
    after = [row(f"c{n}", f"p-{n}", note) for n in range(90)]
    result = run_import(
        tmp_path / "export.csv",
        [HEADER, row("ann", "p-a"), row("bob", "p-b", '"never closed'), *after],
    )

    assert result.exit_code == 1
    assert rejected(result) == [
        "line 3: a quote opened here is not closed within 5,000,000 characters"
    ]
    assert service.store.find_action("p-a") is not None
    assert all(note_of(service, f"p-{n}") == note for n in range(90))


def test_an_ndjson_line_longer_than_the_record_limit_is_rejected(
    tmp_path: Path, service: PhaseTracker
) -> None:
    result = run_import(
        tmp_path / "history.ndjson",
        [
            action("ann", "j-1"),
            action("bob", "j-2", note="n" * MAX_RECORD),
            action("cid", "j-3"),
        ],
    )

    assert result.exit_code == 1
    assert rejected(result) == ["line 2: the line is longer than 5,000,000 characters"]
    assert service.store.find_action("j-1") is not None
    assert service.store.find_action("j-3") is not None


DEEP = "[" * 100_000 + "]" * 100_000


def test_an_ndjson_line_nested_100000_deep_is_rejected(
    tmp_path: Path, service: PhaseTracker
) -> None:
    nested = action("bob", "n-2")[:-1] + f', "fields": {{"x": {DEEP}}}}}'
    result = run_import(
        tmp_path / "history.ndjson",
        [action("ann", "n-1"), nested, action("cid", "n-3")],
    )

    assert result.exit_code == 1
    assert rejected(result) == ["line 2: nested too deeply to read"]
    assert service.store.find_action("n-1") is not None
    assert service.store.find_action("n-3") is not None


def test_a_csv_fields_cell_nested_100000_deep_is_rejected(
    tmp_path: Path, service: PhaseTracker
) -> None:
    nested = f'"{{""x"": {DEEP}}}",' + row("bob", "n-2")
    result = run_import(
        tmp_path / "export.csv",
        ["fields," + HEADER, "," + row("ann", "n-1"), nested, "," + row("cid", "n-3")],
    )

    assert result.exit_code == 1
    assert rejected(result) == ["line 3: fields: nested too deeply to read"]
    assert service.store.find_action("n-1") is not None
    assert service.store.find_action("n-3") is not None


def test_a_time_that_has_no_utc_equivalent_is_rejected_naming_occurred_at(
    tmp_path: Path, service: PhaseTracker
) -> None:
    result = run_import(
        tmp_path / "history.ndjson",
        [
            action("ann", "t-1"),
            action("bob", "t-2", occurred_at="0001-01-01T00:00:00+14:00"),
            action("cid", "t-3"),
        ],
    )

    assert result.exit_code == 1
    [line] = rejected(result)
    assert line.startswith("line 2: occurred_at: ")
    assert service.store.find_action("t-1") is not None
    assert service.store.find_action("t-3") is not None


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("[1, 2]", "not an object"),
        ('"just text"', "not an object"),
        ("{oops", "not JSON: Expecting property name enclosed in double quotes"),
        (
            action("bob", "s-2", note="half a pair: \ud800"),
            "a string holds half a surrogate pair (\\ud800-\\udfff)",
        ),
        (
            action("bob", "s-2")[:-1] + ', "fields": {"n": 1' + "0" * 4300 + "}}",
            "not JSON phaselog can read: Exceeds the limit (4300 digits) for "
            "integer string conversion: value has 4301 digits",
        ),
    ],
    ids=["array", "string", "not-json", "lone-surrogate", "huge-integer"],
)
def test_an_ndjson_line_that_is_no_object_of_text_is_rejected(
    tmp_path: Path, service: PhaseTracker, line: str, says: str
) -> None:
    result = run_import(
        tmp_path / "history.ndjson", [action("ann", "s-1"), line, action("cid", "s-3")]
    )

    assert result.exit_code == 1
    assert rejected(result) == [f"line 2: {says}"]
    assert service.store.find_action("s-1") is not None
    assert service.store.find_action("s-3") is not None


def test_a_header_naming_a_column_twice_is_one_error_and_nothing_is_stored(
    tmp_path: Path, service: PhaseTracker
) -> None:
    result = run_import(
        tmp_path / "export.csv", [HEADER + ",note", row("ann", "h-1") + ",again"]
    )

    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: export.csv: line 1, the header: 'note' appears twice"
    ]
    assert service.store.find_action("h-1") is None


def test_rejected_lines_past_show_are_counted_not_dropped(
    tmp_path: Path, service: PhaseTracker
) -> None:
    path = tmp_path / "x.ndjson"
    result = run_import(path, [action("ann", "v-1"), *(["[]"] * 5)])
    listed = runner.invoke(app, ["import", "--show", "2", str(path)])

    assert result.exit_code == 1
    assert len(rejected(result)) == 5
    assert len(rejected(listed)) == 2
    assert "... and 3 more rejected lines (--show to list them)" in listed.stdout


@pytest.mark.parametrize(
    ("more", "says"),
    [
        (
            {"contact_id": "a\u0000b"},
            "contact_id: must not contain the control character U+0000",
        ),
        (
            {"object_id": "x\u001b"},
            "object_id: must not contain the control character U+001B",
        ),
        (
            {"actor": "agent\u0000"},
            "actor: must not contain the control character U+0000",
        ),
        ({"fields": {"owner": "o\u0000"}}, "fields: fields.owner: must not contain"),
        ({"occurred_at": 0}, "occurred_at: must be an ISO 8601 time"),
    ],
)
def test_a_value_the_api_refuses_is_a_rejected_line_of_the_import(
    tmp_path: Path, service: PhaseTracker, more: dict[str, Any], says: str
) -> None:
    result = run_import(
        tmp_path / "history.ndjson",
        [action("ann", "v-1"), action("bob", "v-2", **more), action("cid", "v-3")],
    )

    assert result.exit_code == 1
    [line] = rejected(result)
    assert line.startswith(f"line 2: {says}")
    assert "\x00" not in result.output  # written out, not sent to the terminal
    assert service.store.find_action("v-1") is not None
    assert service.store.find_action("v-2") is None
    assert service.store.find_action("v-3") is not None

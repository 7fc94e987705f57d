"""Bad inputs to `python -m dashboard.ingest`, on SQLite and PostgreSQL: each gets a sentence that names the file,
row, column and value, or the fix; a refused import leaves every table as it was; a warning imports and says so;
no temporary file is left behind.

Each case is built here from a few lines of text. Most run the command's main() in this process (the same exit code
and output as the command); the cases marked `child` run it as a user would, in a child process.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from dashboard import ingest
from dashboard.store import db
from tests.ingest.import_databases import databases, execute, fingerprint

ROOT = Path(__file__).resolve().parent.parent.parent

HEADER = ("id", "created_at", "channel", "campaign", "stage", "company", "web_visits", "score", "timeline",
          "feedback", "notes")  # fmt: skip
ROWS = (
    ("A1", "2026-10-01 09:00", "email", "News", "mql", "Acme", "3", "40", "6", "", "first"),
    ("A2", "2026-10-02 10:00", "paid_search", "Search", "sal", "Beta", "5", "70", "3", "accepted", "second"),
)
MAPPING = """
[file]
date_order = "iso"

[columns]
external_id = "id"
created_at = "created_at"
channel = "channel"
campaign = "campaign"
stage = "stage"
company = "company"
web_visits = "web_visits"
score = "score"
timeline_months = "timeline"
feedback = ["feedback"]

[attributes]
"Notes" = "notes"
"""
EVENTS_MAPPING = MAPPING + '\n[events]\nexternal_id = "lead"\nstage = "stage"\noccurred_at = "when"\n'
EVENTS = "lead,stage,when\nA1,sal,2026-10-03 09:00\n"


def leads(delimiter: str = ",", header: tuple[str, ...] = HEADER, **second: str) -> str:
    """The two-lead file, its second lead (row 3) changed; values are written as given (quote them yourself)."""
    rows = [dict(zip(HEADER, r, strict=True)) for r in ROWS]
    rows[1].update(second)
    lines = [delimiter.join(header)] + [delimiter.join(row.get(c, "") for c in header) for row in rows]
    return "\n".join(lines) + "\n"


def mapping(**file: str) -> str:
    """The mapping with these [file] keys added (values written as TOML)."""
    return MAPPING.replace("[file]\n", "[file]\n" + "".join(f"{k} = {v}\n" for k, v in file.items()))


def workbook(sheets: dict[str, list[tuple]]) -> Callable[[Path], None]:
    """A writer of an Excel workbook with these sheets (rows of cells; the first row is the header)."""

    def make(path: Path) -> None:
        book = xlsxwriter.Workbook(str(path))
        for name, rows in sheets.items():
            sheet = book.add_worksheet(name)
            for number, row in enumerate(rows):
                sheet.write_row(number, 0, row)
        book.close()

    return make


LEADS_SHEET = [HEADER, *ROWS]
COVER = [("About this export",), ("Made by the CRM on 2026-11-30",)]


def xlsx_bytes() -> bytes:
    folder = Path(tempfile.mkdtemp(prefix="handoff-test-"))
    try:
        workbook({"Leads": LEADS_SHEET})(folder / "book.xlsx")
        return (folder / "book.xlsx").read_bytes()
    finally:
        shutil.rmtree(folder)


def noise() -> bytes:
    rng = random.Random(15)
    return bytes(rng.randrange(256) for _ in range(4_000))


# The database refuses the import's rows: on PostgreSQL the lead sequence is set back (as `python -m seed` leaves
# it, so that the next id collides), on SQLite a trigger refuses new leads.
REFUSING = {
    "sqlite": ["CREATE TRIGGER refuse_leads BEFORE INSERT ON lead BEGIN SELECT RAISE(ABORT, 'no new leads'); END"],
    "postgres": ["SELECT setval('lead_id_seq', 1, false)"],
}


@dataclass(frozen=True)
class Case:
    """One bad input and what the command must answer."""

    files: dict[str, str | bytes | Callable[[Path], None]]
    says: tuple[str, ...] = ()  # in the error sentence (exit 1) or in the notes (exit 0)
    problem: tuple | None = None  # (file, row, column, value, what the problem says) the report must list
    code: int = 1
    imported: int = 0  # leads inserted, when the import goes ahead
    mapping: str | bytes = MAPPING
    leads: str = "leads.csv"
    events: str | None = None
    argv: tuple[str, ...] | None = None  # instead of the usual arguments; {dir} is the inputs' folder
    extra: tuple[str, ...] = ()
    child: bool = False  # run as a child process
    setup: dict[str, list[str]] | None = None  # SQL run on the database first, per backend


CASES: dict[str, Case] = {
    # ---------------------------------------------------------------- the file as a whole: refused
    "empty file": Case({"leads.csv": ""}, ("leads.csv is empty.",), child=True),
    "only blank lines": Case({"leads.csv": "\n  \n\n"}, ("leads.csv is empty.",)),
    "header only": Case({"leads.csv": "id,created_at\n"}, ("leads.csv has a header but no rows",)),
    "a PNG renamed .csv": Case(
        {"leads.csv": b"\x89PNG\r\n\x1a\n" + noise()}, ("leads.csv is a PNG image, not a CSV file",), child=True
    ),
    "binary noise": Case({"leads.csv": noise()}, ("leads.csv is not a text file",)),
    "an Excel workbook renamed .csv": Case(
        {"leads.csv": xlsx_bytes()}, ("leads.csv is a ZIP archive", "give it the .xlsx extension")
    ),
    "cp1252 declared UTF-8": Case(
        {"leads.csv": leads(company="Société Générale").encode("cp1252")},
        ("leads.csv is not in utf-8: line 3 has the byte E9", "It looks like cp1252"),
        mapping=mapping(encoding='"utf-8"'),
        child=True,
    ),
    "an accented file declared ASCII (read through a temporary copy)": Case(
        {"leads.csv": leads(company="Société Générale")},
        ("leads.csv is not in ascii: line 3 has the byte C3", "It looks like utf-8"),
        mapping=mapping(encoding='"ascii"'),
    ),
    "an encoding nobody knows": Case(
        {"leads.csv": leads()}, ("mapping.toml: file.encoding = 'klingon'",), mapping=mapping(encoding='"klingon"')
    ),
    "a row with more fields than the header": Case(
        {"leads.csv": leads(notes="second,extra")}, ("leads.csv: line 3 has 12 fields but the header has 11",)
    ),
    "a short row": Case(
        {
            "leads.csv": leads().replace(
                "A2,2026-10-02 10:00,paid_search,Search,sal,Beta,5,70,3,accepted,second", "A2,2026-10-02 10:00"
            )
        },
        ("leads.csv: line 3 has 2 fields but the header has 11", "A delimiter is missing"),
        child=True,
    ),  # fmt: skip
    "a quote never closed": Case(
        {"leads.csv": leads(company='"Beta')}, ("leads.csv could not be read as CSV", "line 3", "not properly quoted")
    ),
    "two columns of one name": Case(
        {"leads.csv": "id,company,company\nA1,Acme,Acme Inc\n"},
        ("leads.csv has two columns named “company” (columns 2 and 3)",),
    ),
    "two names that differ by a space": Case(
        {"leads.csv": "id,company,company \nA1,Acme,Acme Inc\n"},
        ("leads.csv has two columns named “company” (columns 2 and 3)",),
    ),
    "the wrong delimiter": Case(
        {"leads.csv": leads()},
        ("leads.csv has no column “id”", "is the delimiter (or the sheet) right?"),
        mapping=mapping(delimiter='";"'),
    ),
    "no id column": Case(
        {"leads.csv": leads(header=("company", *HEADER[1:5]))},
        ("leads.csv has no column “id”", "Its columns are: company, created_at"),
    ),
    "a two-character delimiter": Case(
        {"leads.csv": leads()}, ("file.delimiter = '::' is not a delimiter",), mapping=mapping(delimiter='"::"')
    ),
    "a 200 KB company name, delimiter on auto": Case(
        {"leads.csv": leads(company="x" * 200_000)},
        problem=("leads.csv", 3, "company", "x" * 60 + "… (200000 characters)", "longer than 200 characters"),
    ),
    "a 200 KB field in a column no field maps": Case(
        {"leads.csv": leads(header=(*HEADER, "blob"), blob="y" * 200_000)},
        ("not imported: blob",),
        code=0,
        imported=2,
    ),
    # ---------------------------------------------------------------- Excel
    "several sheets, none chosen": Case(
        {"leads.xlsx": workbook({"Cover": COVER, "Leads": LEADS_SHEET})},
        ("leads.xlsx has 2 sheets: “Cover”, “Leads”", 'sheet = "Cover"'),
        leads="leads.xlsx",
        child=True,
    ),
    "a sheet the workbook does not have": Case(
        {"leads.xlsx": workbook({"Cover": COVER, "Leads": LEADS_SHEET})},
        ("leads.xlsx has no sheet “Contacts”; its sheets are: “Cover”, “Leads”",),
        mapping=mapping(sheet='"Contacts"'),
        leads="leads.xlsx",
    ),
    "an empty sheet": Case(
        {"leads.xlsx": workbook({"Cover": COVER, "Leads": []})},
        ("The sheet “Leads” of leads.xlsx is empty.",),
        mapping=mapping(sheet='"Leads"'),
        leads="leads.xlsx",
    ),
    "a sheet with two columns of one name": Case(
        {"leads.xlsx": workbook({"Leads": [("id", "company", "company"), ("A1", "Acme", "Acme Inc")]})},
        ("The sheet “Leads” of leads.xlsx has two columns named “company” (columns 2 and 3)",),
        leads="leads.xlsx",
    ),
    "a cover page chosen instead of the leads' sheet": Case(
        {"leads.xlsx": workbook({"Cover": COVER, "Leads": LEADS_SHEET})},
        ("leads.xlsx has no column “id”", "Its columns are: About this export", "or the sheet"),
        mapping=mapping(sheet='"Cover"'),
        leads="leads.xlsx",
    ),
    "a text file named .xlsx": Case(
        {"leads.xlsx": leads()}, ("leads.xlsx is not an Excel workbook: it holds text",), leads="leads.xlsx"
    ),
    "the sheet the mapping chooses": Case(
        {"leads.xlsx": workbook({"Cover": COVER, "Leads": LEADS_SHEET})},
        ("Read the sheet “Leads” of leads.xlsx.",),
        code=0,
        imported=2,
        mapping=mapping(sheet='"Leads"'),
        leads="leads.xlsx",
    ),
    # ---------------------------------------------------------------- the mapping: refused
    "a TOML syntax error": Case(
        {"leads.csv": leads()},
        ("mapping.toml: The mapping is not valid TOML", "line 3"),
        mapping='[columns]\nexternal_id = "id"\ncreated_at = \n',
        child=True,
    ),
    "a misspelt [file] key": Case(
        {"leads.csv": leads()},
        ("[file] has 'delimter'", "Valid keys there: preset, delimiter"),
        mapping=mapping(delimter='";"'),
    ),
    "a misspelt [events] key": Case(
        {"leads.csv": leads()}, ("[events] has 'lead_id'",), mapping=MAPPING + '[events]\nlead_id = "lead"\n'
    ),
    "a misspelt section": Case(
        {"leads.csv": leads()}, ("top level has 'colums'",), mapping=MAPPING.replace("[columns]", "[colums]")
    ),
    "a field Handoff does not have": Case(
        {"leads.csv": leads()},
        ("[columns] has 'shoe_size'",),
        mapping=MAPPING.replace("[attributes]", 'shoe_size = "x"\n\n[attributes]'),
    ),
    "a stage Handoff does not know in [values.stage]": Case(
        {"leads.csv": leads()},
        ("In [values.stage], champion is not one of: inquiry, mql",),
        mapping=MAPPING + '[values.stage]\n"Won" = "champion"\n',
    ),
    "a number where a column name goes": Case(
        {"leads.csv": leads()},
        ("In the mapping's [columns], external_id = 5 must be a column name",),
        mapping=MAPPING.replace('external_id = "id"', "external_id = 5"),
    ),
    "a value where a section goes": Case(
        {"leads.csv": leads()},
        ("values.channel must be a section",),
        mapping=MAPPING + '[values]\nchannel = "email"\n',
    ),
    "empty_values not a list": Case(
        {"leads.csv": leads()}, ("file.empty_values must be a list",), mapping=mapping(empty_values='"N/A"')
    ),
    "a mapping not in UTF-8": Case(
        {"leads.csv": leads()}, ("mapping.toml is not UTF-8 text",), mapping=("# Société\n" + MAPPING).encode("cp1252")
    ),
    "a mapping file that does not exist": Case(
        {"leads.csv": leads()},
        ("There is no mapping file", "nope.toml"),
        argv=("--leads", "{dir}/leads.csv", "--mapping", "{dir}/nope.toml"),
    ),
    "a leads file that does not exist": Case(
        {"leads.csv": leads()},
        ("There is no file", "nope.csv"),
        argv=("--leads", "{dir}/nope.csv", "--mapping", "{dir}/mapping.toml"),
    ),
    "several columns for a one-column field": Case(
        {"leads.csv": leads()},
        ("[columns] owner names several columns",),
        mapping=MAPPING.replace("[attributes]", 'owner = ["company", "campaign"]\n\n[attributes]'),
    ),
    "a score range upside down": Case(
        {"leads.csv": leads()}, ("file.score_range = [100, 0]",), mapping=mapping(score_range="[100, 0]")
    ),
    # ---------------------------------------------------------------- a row's values: problems
    "a negative count": Case(
        {"leads.csv": leads(web_visits="-4")},
        problem=("leads.csv", 3, "web_visits", "-4", "outside 0 to 1,000,000"),
        child=True,
    ),
    "an absurd count": Case(
        {"leads.csv": leads(web_visits="5000000")},
        problem=("leads.csv", 3, "web_visits", "5000000", "outside 0 to 1,000,000"),
    ),
    "NaN in a count": Case(
        {"leads.csv": leads(web_visits="NaN")}, problem=("leads.csv", 3, "web_visits", "NaN", "not a number")
    ),
    "inf in a count": Case(
        {"leads.csv": leads(web_visits="inf")}, problem=("leads.csv", 3, "web_visits", "inf", "not a number")
    ),
    "1e308 in a count": Case(
        {"leads.csv": leads(web_visits="1e308")},
        problem=("leads.csv", 3, "web_visits", "1e308", "outside 0 to 1,000,000"),
    ),
    "a fractional count (or a thousands separator)": Case(
        {"leads.csv": leads(web_visits='"1,234"')},
        problem=("leads.csv", 3, "web_visits", "1,234", "not a whole number"),
    ),
    "a score above 100": Case(
        {"leads.csv": leads(score="250")},
        problem=("leads.csv", 3, "score", "250", "outside 0 to 100; if the CRM scores on another scale"),
    ),
    "a score within the range the mapping declares": Case(
        {"leads.csv": leads(score="250")}, code=0, imported=2, mapping=mapping(score_range="[0, 1000]")
    ),
    "a negative timeline": Case(
        {"leads.csv": leads(timeline="-1")}, problem=("leads.csv", 3, "timeline", "-1", "outside 0 to 120")
    ),
    "a date in 2099": Case(
        {"leads.csv": leads(created_at="2099-01-01 10:00")},
        problem=("leads.csv", 3, "created_at", "2099-01-01 10:00", "later than tomorrow"),
        child=True,
    ),
    "the year 9999": Case(
        {"leads.csv": leads(created_at="9999-12-31")},
        problem=("leads.csv", 3, "created_at", "9999-12-31", "later than tomorrow"),
    ),
    "a placeholder date from 1900": Case(
        {"leads.csv": leads(created_at="1900-01-01")},
        problem=("leads.csv", 3, "created_at", "1900-01-01", "before 1990: a placeholder"),
    ),
    "a date Handoff cannot read": Case(
        {"leads.csv": leads(created_at="yesterday")},
        problem=("leads.csv", 3, "created_at", "yesterday", "not a date Handoff understands"),
    ),
    "dates that read both ways": Case(
        {"leads.csv": leads(created_at="05/06/2026").replace("2026-10-01 09:00", "03/04/2026")},
        ("“created_at” has dates such as 03/04/2026", "date_order in the mapping"),
        mapping=MAPPING.replace('date_order = "iso"\n', ""),
    ),
    "a lead id twice": Case({"leads.csv": leads(id="A1")}, problem=("leads.csv", 3, "id", "A1", "also on row 2")),
    "a missing lead id": Case({"leads.csv": leads(id="")}, problem=("leads.csv", 3, "id", None, "missing lead id")),
    "a 201-character company name": Case(
        {"leads.csv": leads(company="C" * 201)},
        problem=("leads.csv", 3, "company", "C" * 60 + "… (201 characters)", "longer than 200 characters"),
    ),
    "a 2,001-character attribute": Case(
        {"leads.csv": leads(notes="n" * 2001)},
        problem=("leads.csv", 3, "notes", "n" * 60 + "… (2001 characters)", "longer than 2,000 characters"),
    ),
    "a NUL byte in a cell": Case(
        {"leads.csv": leads(company="Be\x00ta")}, problem=("leads.csv", 3, "company", "Be\\0ta", "a NUL character")
    ),
    "a formula in a cell": Case(
        {"leads.csv": leads(company='"=HYPERLINK(""http://x"")"')},
        problem=("leads.csv", 3, "company", '=HYPERLINK("http://x")', "spreadsheet formula"),
    ),
    "a stage that is not mapped": Case(
        {"leads.csv": leads(stage="maybe")}, problem=("leads.csv", 3, "stage", "maybe", "no status / stage is mapped")
    ),
    "a yes/no that is neither": Case(
        {"leads.csv": leads(header=(*HEADER, "budget"), budget="maybe")},
        problem=("leads.csv", 3, "budget", "maybe", "not yes or no"),
        mapping=MAPPING.replace("[attributes]", 'has_budget = "budget"\n\n[attributes]'),
    ),
    "every row bad, with --valid-rows-only": Case(
        {"leads.csv": leads(web_visits="-1").replace("Acme,3,", "Acme,-2,")},
        ("2 problems in 2 rows; nothing was written",),
        problem=("leads.csv", 2, "web_visits", "-2", "outside 0 to 1,000,000"),
        extra=("--valid-rows-only",),
    ),
    # ---------------------------------------------------------------- the events file
    "events for leads that are not in the file": Case(
        {"leads.csv": leads(), "events.csv": EVENTS + "Z9,sal,2026-10-03 09:00\n"},
        ("1 rows of the events file name 1 leads that are not among the imported leads (Z9)",),
        code=0,
        imported=2,
        mapping=EVENTS_MAPPING,
        events="events.csv",
        child=True,
    ),
    "an event in 2099": Case(
        {"leads.csv": leads(), "events.csv": EVENTS.replace("2026-10-03", "2099-10-03")},
        problem=("events.csv", 2, "when", "2099-10-03 09:00", "later than tomorrow"),
        mapping=EVENTS_MAPPING,
        events="events.csv",
    ),
    "an event stage Handoff does not know": Case(
        {"leads.csv": leads(), "events.csv": EVENTS.replace(",sal,", ",maybe,")},
        problem=("events.csv", 2, "stage", "maybe", "unknown stage"),
        mapping=EVENTS_MAPPING,
        events="events.csv",
    ),
    "an event without a lead id": Case(
        {"leads.csv": leads(), "events.csv": EVENTS.replace("A1,sal", ",sal")},
        problem=("events.csv", 2, "lead", None, "missing lead id"),
        mapping=EVENTS_MAPPING,
        events="events.csv",
    ),
    "event rows that are not stage changes": Case(
        {
            "leads.csv": leads(),
            "events.csv": "lead,field,stage,when\nA1,Status,sal,2026-10-03 09:00\nA1,Owner,Ava,2026-10-03 09:05\n",
        },
        ("1 rows of the events file are not stage changes (field is Status only) and were skipped.",),
        code=0,
        imported=2,
        mapping=EVENTS_MAPPING + '[events.where]\n"field" = ["Status"]\n',
        events="events.csv",
    ),
    "an events file and no [events] section": Case(
        {"leads.csv": leads(), "events.csv": EVENTS},
        ("An events file was given but the mapping has no [events] section",),
        events="events.csv",
    ),
    "an events file without the date column": Case(
        {"leads.csv": leads(), "events.csv": "lead,stage\nA1,sal\n"},
        ("events.csv has no column “when”", "Its columns are: lead, stage"),
        mapping=EVENTS_MAPPING,
        events="events.csv",
    ),
    # ---------------------------------------------------------------- imported, with a note
    "a mapped column the file does not have": Case(
        {"leads.csv": leads(header=tuple(c for c in HEADER if c != "score"))},
        ("Not in leads.csv, so left empty: score.",),
        code=0,
        imported=2,
    ),
    "sales feedback no mapping assigns": Case(
        {"leads.csv": leads(feedback="Call later")},
        ("Values of feedback that no mapping assigns, so left empty: Call later. Map them in [values.feedback]",),
        code=0,
        imported=2,
    ),
    "a UTF-8 byte-order mark": Case({"leads.csv": "\ufeff" + leads()}, code=0, imported=2),
    "a cp1252 file, encoding on auto": Case(
        {"leads.csv": leads(company="Société Générale").encode("cp1252")},
        ("leads.csv is not in UTF-8: it was read as cp1252",),
        code=0,
        imported=2,
    ),
    "a UTF-16 file with tabs (Excel's Unicode text)": Case(
        {"leads.csv": leads(delimiter="\t", company="Zoë").encode("utf-16")},
        ("it was read as utf-16",),
        code=0,
        imported=2,
    ),
    "a blank line between rows": Case(
        {"leads.csv": leads().replace("\nA2,", "\n\nA2,")},
        ("1 empty rows of leads.csv were skipped (rows 3).",),
        code=0,
        imported=2,
    ),
    # ---------------------------------------------------------------- the database
    "the database refuses the rows": Case(
        {"leads.csv": leads()},
        ("The database refused the import", "Nothing was written."),
        setup=REFUSING,
        child=True,
    ),
}


# ------------------------------------------------------------------------------------------------ the databases


BASELINE = "id,created_at,channel,campaign,stage,company\nB1,2026-09-01 08:00,email,News,mql,Gamma\n"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request, tmp_path_factory):
    """A database holding one earlier import (so that every table's checksum means something), and its copies."""
    folder = tmp_path_factory.mktemp(f"db-{request.param}")

    def fill(url: str) -> None:
        db.create_schema(url)
        path = folder / "baseline.csv"
        path.write_text(BASELINE)
        summary, _ = ingest.import_files(leads=path, mapping=ingest.Mapping.from_toml(MAPPING), url=url)
        assert summary is not None and summary.inserted == 1

    server = request.getfixturevalue("postgres_server") if request.param == "postgres" else None
    with databases(request.param, folder, fill, server) as made:
        yield made


# ------------------------------------------------------------------------------------------------ the corpus


def _inputs(case: Case, folder: Path) -> list[str]:
    """Write the case's files into folder; the command's arguments."""
    folder.mkdir()
    for name, content in case.files.items():
        path = folder / name
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))
    mapping = case.mapping.encode("utf-8") if isinstance(case.mapping, str) else case.mapping
    (folder / "mapping.toml").write_bytes(mapping)
    if case.argv is not None:
        return [a.format(dir=folder) for a in case.argv]
    argv = ["--leads", str(folder / case.leads), "--mapping", str(folder / "mapping.toml")]
    return argv + (["--events", str(folder / case.events)] if case.events else [])


def _command(argv: list[str], *, child: bool, temp: Path, monkeypatch, capsys) -> tuple[int, str, str]:
    """Run the import: exit code, stdout, stderr. Its temporary files go to temp."""
    if child:
        env = {**os.environ, "TMPDIR": str(temp)}
        done = subprocess.run(
            [sys.executable, "-m", "dashboard.ingest", *argv],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.returncode, done.stdout, done.stderr
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    code = ingest.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _report(stderr: str) -> tuple[str, pl.DataFrame]:
    """The error sentence (the first line, JSON) and the problems listed after it (CSV)."""
    first, _, rest = stderr.partition("\n")
    error = json.loads(first)["error"]
    if not rest.strip():
        return error, pl.DataFrame(schema={c: pl.String for c in ("file", "row", "column", "value", "problem")})
    return error, pl.read_csv(io.StringIO(rest), infer_schema=False)


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_input_gets_a_sentence_and_changes_nothing(database, name, tmp_path, monkeypatch, capsys):
    case = CASES[name]
    url = database.clone() if case.code == 0 or case.setup else database.url
    if case.setup:
        execute(url, case.setup[database.kind])
    inputs = tmp_path / "inputs"
    argv = [*_inputs(case, inputs), *case.extra, "--db", url]
    files = sorted(p.name for p in inputs.iterdir())
    temp = tmp_path / "temp"
    temp.mkdir()
    before = fingerprint(url)

    code, out, err = _command(argv, child=case.child, temp=temp, monkeypatch=monkeypatch, capsys=capsys)

    assert "Traceback" not in err, err
    assert code == case.code, err or out
    after = fingerprint(url)
    if case.code == 1:
        error, report = _report(err)
        for part in case.says:
            assert part in error, error
        if case.problem:
            assert "nothing was written" in error
            file, row, column, value, says = case.problem
            listed = report.filter(
                (pl.col("file") == file)
                & (pl.col("row") == str(row))
                & (pl.col("column") == column)
                & (pl.col("value").is_null() if value is None else pl.col("value") == value)
            )
            assert listed.height >= 1, report
            assert any(says in p for p in listed["problem"]), listed
        else:
            assert report.is_empty(), report
        assert after == before, "a refused import must leave every table as it was"
    else:
        summary = json.loads(out)
        assert summary["inserted"] == case.imported
        notes = " ".join(summary["notes"])
        for part in case.says:
            assert part in notes, notes
        assert after["lead"][0] == before["lead"][0] + case.imported
        assert after["audit_entry"][0] == before["audit_entry"][0] + 1  # the import, with its audit line
    assert list(temp.iterdir()) == [], "the import left a temporary file behind"
    assert sorted(p.name for p in inputs.iterdir()) == files


def test_the_corpus_is_large_and_covers_each_outcome():
    outcomes = {(c.code, c.problem is not None) for c in CASES.values()}
    assert len(CASES) >= 40 and outcomes == {(1, False), (1, True), (0, False)}
    assert sum(c.child for c in CASES.values()) >= 8


def test_every_problem_names_file_row_column_and_value(tmp_path):
    """Straight from the validation: each row problem has all four, and a value never longer than 80 characters."""
    text = leads(web_visits="-4", company="C" * 5_000, created_at="2099-01-01", score="nan")
    path = tmp_path / "leads.csv"
    path.write_text(text)
    raw = ingest.read_file(path, mapping=ingest.Mapping.from_toml(MAPPING))
    prepared = ingest.prepare(
        raw.frame, ingest.Mapping.from_toml(MAPPING), now=datetime(2026, 12, 2), names={"leads": "leads.csv"}
    )
    problems = prepared.problems
    assert problems["column"].to_list() == ["company", "created_at", "score", "web_visits"]
    assert problems.select(pl.col("file").unique()).item() == "leads.csv"
    assert problems["row"].to_list() == [3, 3, 3, 3]
    assert problems["value"].str.len_chars().max() <= 80

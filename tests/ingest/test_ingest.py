"""Imports: presets on files with each CRM's real column names, the X Education sample through the command line,
bad files that must leave the database exactly as it was, idempotence and upserts; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from dashboard import export, ingest
from dashboard.data.data import acceptance_frames, overview_frames, read_tables, whatif_base_frames, whatif_frames
from dashboard.filters import Filters
from dashboard.models import TABLES
from dashboard.store import db

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
NOW = datetime(2026, 11, 20, 9, 30)

# Hand-written exports with each CRM's real column names.
HUBSPOT = (FIXTURES / "hubspot_contacts.csv").read_text(encoding="utf-8")
SALESFORCE = (FIXTURES / "salesforce_leads.csv").read_text(encoding="utf-8")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path) -> str:
    address = (
        f"sqlite:///{tmp_path / 'import.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    )
    db.create_schema(address)
    return address


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def fingerprint(url: str) -> dict[str, tuple[int, int]]:
    """Row count and a content checksum of every table."""
    result = {}
    for table in TABLES:
        frame = db.read_table(table, url=url)
        result[table.__tablename__] = (frame.height, int(frame.hash_rows(seed=1).sum()) if frame.height else 0)
    return result


def imported(path: Path, mapping: ingest.Mapping, url: str, **kw):
    return ingest.import_files(leads=path, mapping=mapping, url=url, now=NOW, **kw)


def test_hubspot_preset(tmp_path, url):
    summary, prepared = imported(write(tmp_path, "contacts.csv", HUBSPOT), ingest.load_preset("hubspot"), url)
    assert prepared.problems.is_empty()
    assert (summary.inserted, summary.updated, summary.rejected) == (5, 0, 0)
    t = read_tables(url)
    leads = t.leads.sort("external_id")
    assert leads["stage"].to_list() == ["inquiry", "sal", "sql", "customer", "rejected"]
    assert leads["created_at"][0] == datetime(2026, 10, 1, 9, 12)
    assert leads["company"].to_list() == ["Acme", "Beta", "Gamma", "Delta", "Eps"]
    channels = dict(zip(t.campaigns["name"], t.campaigns["channel_id"], strict=True))
    keys = dict(zip(t.channels["id"], t.channels["key"], strict=True))
    assert keys[channels["LinkedIn ABM"]] == "paid_social" and keys[channels["Newsletter"]] == "email"
    decisions = t.decisions.join(t.leads.select(pl.col("id").alias("lead_id"), "external_id"), on="lead_id")
    rejected = decisions.filter(pl.col("decision") == "rejected").row(0, named=True)
    assert (rejected["external_id"], rejected["reason"], rejected["reason_kind"], rejected["comment"]) == (
        "105",
        "not_target_market",
        "definitional",
        "Unqualified",
    )
    assert set(t.reps["name"]) >= {"Ava Thompson", "Maya Robinson"}


def test_salesforce_preset_with_month_first_dates(tmp_path, url):
    # 10/14/2026 can only be month-first, so the order is detected rather than asked
    summary, prepared = imported(write(tmp_path, "leads.csv", SALESFORCE), ingest.load_preset("salesforce"), url)
    assert summary.inserted == 4 and prepared.problems.is_empty()
    leads = read_tables(url).leads.sort("external_id")
    assert leads["created_at"].to_list()[:2] == [datetime(2026, 10, 14), datetime(2026, 10, 15)]
    assert leads["stage"].to_list() == ["mql", "sal", "sql", "rejected"]


def test_x_education_sample_through_the_command_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    command = [
        sys.executable,
        "-m",
        "dashboard.ingest",
        "--leads",
        str(FIXTURES / "xeducation_sample.csv"),
        "--mapping",
        str(FIXTURES / "xeducation_mapping.toml"),
        "--db",
        url,
    ]
    first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    sample = pl.read_csv(FIXTURES / "xeducation_sample.csv", infer_schema=False)
    assert (summary["rows_read"], summary["inserted"], summary["rejected"]) == (sample.height, sample.height, 0)
    assert any("no date column" in note for note in summary["notes"])
    t = read_tables(url)
    # Converted = 1 is the won stage; Lead Source values are the channels; tags are sales feedback
    converted = sample.filter(pl.col("Converted") == "1").height
    assert t.leads.filter(pl.col("stage") == "customer").height == converted
    assert t.events.filter(pl.col("stage") == "customer").height == converted
    assert t.leads["dated"].sum() == 0
    rejected = t.decisions.filter(pl.col("decision") == "rejected")
    students = sample.filter(pl.col("Tags") == "Already a student").height
    assert rejected.filter(pl.col("comment") == "Already a student").height == students > 0
    google = sample.filter(pl.col("Lead Source") == "Google").height
    paid_search = t.channels.filter(pl.col("key") == "paid_search")["id"][0]
    google_campaign = t.campaigns.filter(pl.col("name") == "Google").row(0, named=True)
    assert google_campaign["channel_id"] == paid_search
    assert t.leads.filter(pl.col("campaign_id") == google_campaign["id"]).height == google
    # the behavioural component is fed by the activity columns
    assert t.leads["web_visits"].sum() >= sample["TotalVisits"].cast(pl.Int64, strict=False).sum()
    # and the pages' figures work on it
    period = Filters(start=NOW.date().replace(day=1), end=datetime.now().date())
    assert acceptance_frames(t, period, order="worst_first").total["decided"][0] > 0
    assert overview_frames(t, period, now=datetime.now(), maturity_days=56).undated_leads == sample.height
    base = whatif_base_frames(t, now=datetime.now(), maturity_days=56)
    assert base.active is not None and base.active.version == 1
    assert whatif_frames(base, period, base.active.rule).total["projected_mqls"][0] > 0
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert json.loads(again.stdout) | {"notes": []} == {**summary, "inserted": 0, "events_added": 0,
        "decisions_added": 0, "disqualifications_added": 0, "notes": []}  # fmt: skip


GENERIC = ingest.load_preset("generic")


def generic(**changes) -> ingest.Mapping:
    mapping = ingest.Mapping.from_toml(GENERIC.to_toml())
    for name, value in changes.items():
        setattr(mapping, name, value)
    return mapping


GOOD = "id,created_at,channel,campaign,stage,feedback,company\nA1,2026-10-01,email,News,mql,,Acme\n"
BAD_FILES = {
    "empty file": ("", generic(), "empty"),
    "wrong delimiter": ("id;created_at;channel\nA1;2026-10-01;email\n", generic(delimiter=","), "delimiter"),
    "missing id column": ("lead,created_at\nA1,2026-10-01\n", generic(), "no column “id”"),
    "duplicate ids": ("id,created_at\nA1,2026-10-01\nA1,2026-10-02\n", generic(), "more than once"),
    "unparseable date": ("id,created_at\nA1,2026-10-01\nA2,yesterday\n", generic(), "not a date"),
    "ambiguous dates": ("id,created_at\nA1,03/04/2026\nA2,05/06/2026\n", generic(), "day-first or month-first"),
    "non-UTF-8 file declared as UTF-8": (
        "id,created_at,company\nA1,2026-10-01,Société Générale\n",
        generic(encoding="utf-8"),
        "not in utf-8",
    ),
    "a row with too many fields": ("id,created_at\nA1,2026-10-01\nA2,2026-10-02,extra\n", generic(), "line 3"),
    "a formula in a cell": (
        'id,created_at,company\nA1,2026-10-01,=HYPERLINK("http://x")\n',
        generic(),
        "spreadsheet formula",
    ),
    "unknown stage": ("id,created_at,stage\nA1,2026-10-01,maybe\n", generic(), "no status / stage is mapped"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_get_a_clear_message_and_change_nothing(tmp_path, url, case):
    text, mapping, message = BAD_FILES[case]
    imported(write(tmp_path, "first.csv", GOOD), generic(), url)
    before = fingerprint(url)
    encoding = "cp1252" if "UTF-8" in case else "utf-8"
    path = write(tmp_path, "bad.csv", text, encoding)
    try:
        summary, prepared = imported(path, mapping, url)
    except ingest.ImportRefused as exc:
        said = str(exc)
    else:
        assert summary is None, "a file with problems must not be written"
        said = " ".join(prepared.problems["problem"].to_list())
    assert message.lower() in said.lower()
    assert fingerprint(url) == before


def test_ambiguous_dates_import_once_the_order_is_given(tmp_path, url):
    path = write(tmp_path, "dates.csv", "id,created_at\nA1,03/04/2026\nA2,05/06/2026\n")
    summary, _ = imported(path, generic(date_order="day-first"), url)
    assert summary.inserted == 2
    assert read_tables(url).leads.sort("external_id")["created_at"][0] == datetime(2026, 4, 3)


def test_a_windows_1252_file_is_detected_and_read(tmp_path, url):
    path = write(tmp_path, "latin.csv", "id;created_at;company\nA1;2026-10-01;Société Générale\n", "cp1252")
    summary, _ = imported(path, generic(), url)
    assert summary.inserted == 1
    assert read_tables(url).leads["company"].to_list() == ["Société Générale"]


def test_the_same_import_twice_gives_the_same_database(tmp_path, url):
    path = write(tmp_path, "contacts.csv", HUBSPOT)
    imported(path, ingest.load_preset("hubspot"), url)
    once = fingerprint(url)
    summary, _ = imported(path, ingest.load_preset("hubspot"), url)
    assert (summary.inserted, summary.updated, summary.events_added, summary.decisions_added) == (0, 0, 0, 0)
    assert fingerprint(url) == once


def test_a_newer_export_updates_changed_leads_and_appends_only_new_events(tmp_path, url):
    imported(write(tmp_path, "v1.csv", HUBSPOT), ingest.load_preset("hubspot"), url)
    events_before = read_tables(url).events.height
    newer = HUBSPOT.replace(
        "101,Ana,Lopez,ana@acme.io,2026-10-01 09:12,Lead,New",
        "101,Ana,Lopez,ana@acme.io,2026-10-01 09:12,Marketing Qualified Lead,New",
    )
    newer += (
        "106,Fay,Gil,fay@zeta.io,2026-10-06 10:00,Lead,New,Direct Traffic,,Ava Thompson,Zeta,Retail,Spain,CFO,3,0\n"
    )
    summary, _ = imported(write(tmp_path, "v2.csv", newer), ingest.load_preset("hubspot"), url)
    assert (summary.inserted, summary.updated) == (1, 1)
    t = read_tables(url)
    assert t.leads.filter(pl.col("external_id") == "101")["stage"][0] == "mql"
    # lead 101 gains an MQL event, lead 106 its inquiry; nothing else is repeated
    assert summary.events_added == 2 and t.events.height == events_before + 2


def test_valid_rows_only_imports_the_rest_and_reports_the_rejected(tmp_path, url):
    text = "id,created_at,company\nA1,2026-10-01,Acme\nA2,not a date,Beta\nA3,2026-10-03,Gamma\n"
    none, prepared = imported(write(tmp_path, "mixed.csv", text), generic(), url)
    assert none is None and prepared.problems.select("row", "column").rows() == [(3, "created_at")]
    summary, _ = imported(write(tmp_path, "mixed.csv", text), generic(), url, valid_rows_only=True)
    assert (summary.inserted, summary.rejected) == (2, 1)
    assert sorted(read_tables(url).leads["external_id"]) == ["A1", "A3"]


def test_an_events_file_dates_the_journey(tmp_path, url):
    leads = write(
        tmp_path, "leads.csv", "id,created_at,channel\nE1,2026-10-01 08:00,email\nE2,2026-10-01 09:00,email\n"
    )
    events = write(
        tmp_path,
        "events.csv",
        "lead,stage,when,rep\nE1,mql,2026-10-01 10:00,\nE1,sal,2026-10-01 15:00,Ava Thompson\n",
    )
    mapping = generic()
    mapping.event_columns = {"external_id": "lead", "stage": "stage", "occurred_at": "when", "rep": "rep"}
    summary, _ = ingest.import_files(leads=leads, events=events, mapping=mapping, url=url, now=NOW)
    t = read_tables(url)
    e1 = t.leads.filter(pl.col("external_id") == "E1").row(0, named=True)
    assert e1["dated"] and e1["stage"] == "sal"
    # E2 has no events, but a date of its own: it counts at that date (its only stage, inquiry, is dated by it)
    e2 = t.leads.filter(pl.col("external_id") == "E2").row(0, named=True)
    assert e2["dated"] and e2["created_at"] == datetime(2026, 10, 1, 9)
    e2_events = t.events.filter(pl.col("lead_id") == e2["id"])
    assert e2_events.select("stage", "timed").rows() == [("inquiry", True)]
    decision = t.decisions.row(0, named=True)
    assert (decision["decision"], decision["decided_at"], decision["timed"]) == (
        "accepted",
        datetime(2026, 10, 1, 15),
        True,
    )
    assert t.reps.filter(pl.col("name") == "Ava Thompson").height == 1  # a rep named by the events file
    assert summary.events_added == 4  # E1: inquiry, mql, sal; E2: inquiry


def test_the_mapping_round_trips_through_toml():
    mapping = ingest.Mapping.from_toml((FIXTURES / "xeducation_mapping.toml").read_text())
    again = ingest.Mapping.from_toml(mapping.to_toml())
    assert again == mapping


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[columns]\nexternal_id = "id"\nshoe_size = "x"\n', "shoe_size"),
        ('[columns]\nchannel = "src"\n', "lead id"),
        ('[columns]\nexternal_id = "id"\n[values.stage]\n"Won" = "champion"\n', "champion"),
        ('[columns]\nexternal_id = "id"\n[file]\ndelimter = ";"\n', "'delimter'.*Valid keys there: preset, delimiter"),
        ('[colums]\nexternal_id = "id"\n', "'colums'.*Valid keys there: file, columns"),
        ('[columns]\nexternal_id = "id"\n[events]\nlead = "x"\n', r"\[events\] has 'lead'"),
        ('[columns]\nexternal_id = "id"\n[constants]\nstage = "won"\n', "not one of"),
        ('[columns]\nexternal_id = "id"\n[stage_dates]\nwon = "Closed"\n', "'won'"),
        ('[columns]\nexternal_id = "id"\n[events]\nexternal_id = "id"\noccurred_at = "d"\n', "needs a stage"),
        ("[columns\n", "not valid TOML"),
    ],
)
def test_a_wrong_mapping_is_refused_with_a_reason(toml, message):
    with pytest.raises(ingest.ImportRefused, match=message):
        ingest.Mapping.from_toml(toml)


def test_exports_neutralise_formulas_in_csv_and_excel(tmp_path):
    frame = pl.DataFrame({"comment": ["=cmd|' /C calc'!A0", "+1+1", "@SUM(A1)", "-2", "fine"], "n": [-1, 2, 3, 4, 5]})
    csv = export.csv_bytes(frame).decode("utf-8-sig")
    assert "'=cmd" in csv and "'+1+1" in csv and "'@SUM" in csv and "'-2" in csv and "\nfine," in csv
    assert ",-1\n" in csv  # numbers stay numbers
    workbook = tmp_path / "t.xlsx"
    workbook.write_bytes(export.excel_bytes(frame))
    back = pl.read_excel(workbook)
    assert back["comment"].to_list() == ["'=cmd|' /C calc'!A0", "'+1+1", "'@SUM(A1)", "'-2", "fine"]
    assert back["n"].to_list() == [-1, 2, 3, 4, 5]


def test_the_first_model_qualifies_every_lead_of_an_export_of_mqls_only():
    from dashboard.ingest.write import _first_model
    from queries.scoring import ScoringRule

    scores = pl.Series([12.7, 30.0, 45.9, None])
    everyone = _first_model(scores, 1.0)
    assert all(score >= everyone.mql_threshold for score in scores.drop_nulls())
    assert _first_model(scores, 0.0) == ScoringRule()  # none handed over: nothing to reproduce, the default rule
    assert _first_model(pl.Series([None], dtype=pl.Float64), 0.5) == ScoringRule()

"""A leads file read, checked and written a batch at a time: what only the whole file tells (a repeated id, the date
order, a campaign's channel, a rep's tier) still comes from the whole file, a row is still named by its number in
the file, and a problem in the last batch still leaves the database as it was. Batches of two rows keep the files
small; each expectation is worked out here from the rows written, or from the same file checked whole."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dashboard import ingest
from dashboard.models import TABLES, Campaign, ChannelRow, Lead, Rep
from dashboard.store import db

NOW = datetime(2026, 11, 20, 9, 30)
BATCH = 2
HEADER = ("id", "created_at", "channel", "campaign", "owner", "closer", "stage", "web_visits")
MAPPING = """
[file]
date_order = "auto"

[columns]
external_id = "id"
created_at = "created_at"
channel = "channel"
campaign = "campaign"
owner = "owner"
closer = "closer"
stage = "stage"
web_visits = "web_visits"
"""


def _lead(i: int, **changed: str) -> dict[str, str]:
    row = {
        "id": f"L{i}",
        "created_at": f"2026-10-{1 + i % 28:02d} 09:00",
        "channel": "email",
        "campaign": "News",
        "owner": "Ann",
        "closer": "",
        "stage": "mql",
        "web_visits": str(i),
    }
    return row | changed


def _file(folder: Path, rows: list[dict[str, str]]) -> Path:
    path = folder / "leads.csv"
    path.write_text("\n".join([",".join(HEADER)] + [",".join(r[c] for c in HEADER) for r in rows]) + "\n")
    return path


def _import(path: Path, url: str, *, batch_rows: int = BATCH, **kw):
    mapping = ingest.Mapping.from_toml(MAPPING)
    return ingest.import_files(leads=path, mapping=mapping, url=url, now=NOW, batch_rows=batch_rows, **kw)


def _whole(path: Path) -> ingest.Prepared:
    """The same file checked whole, in one frame, as the import page does."""
    mapping = ingest.Mapping.from_toml(MAPPING)
    raw = ingest.read_file(path, mapping=mapping)
    return ingest.prepare(raw.frame, mapping, now=NOW, names={"leads": path.name})


def _contents(url: str) -> dict[str, pl.DataFrame]:
    return {t.__tablename__: db.read_table(t, url=url) for t in TABLES}


def _unchanged(before: dict[str, pl.DataFrame], url: str) -> None:
    after = _contents(url)
    for name, frame in before.items():
        assert_frame_equal(after[name], frame, check_row_order=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path) -> str:
    """A database holding one earlier import, so that "unchanged" is checked against rows, not empty tables."""
    address = (
        f"sqlite:///{tmp_path / 'import.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    )
    db.create_schema(address)
    folder = tmp_path / "earlier"
    folder.mkdir()
    summary, _ = _import(_file(folder, [_lead(90), _lead(91)]), address)
    assert summary is not None and summary.inserted == 2
    return address


def test_an_id_repeated_in_another_batch_is_a_problem_on_both_rows(tmp_path, url):
    rows = [_lead(i) for i in range(7)]
    rows[6]["id"] = rows[0]["id"]  # file rows 2 and 8: the first and the last batch
    path = _file(tmp_path, rows)
    before = _contents(url)

    summary, prepared = _import(path, url)

    assert summary is None
    repeated = prepared.problems.filter(pl.col("column") == "id")
    assert repeated.select("row", "value").rows() == [(2, "L0"), (8, "L0")]
    assert repeated["problem"].to_list() == [
        "this lead id appears more than once in the file (also on row 8)",
        "this lead id appears more than once in the file (also on row 2)",
    ]
    assert_frame_equal(prepared.problems, _whole(path).problems)
    _unchanged(before, url)

    summary, _ = _import(path, url, valid_rows_only=True)
    assert (summary.inserted, summary.rejected) == (5, 2)
    ids = set(db.read_table(Lead, url=url)["external_id"])
    assert ids == {"L90", "L91", "L1", "L2", "L3", "L4", "L5"}


@pytest.mark.parametrize(
    ("changed", "column", "says"),
    [
        ({"web_visits": "-4"}, "web_visits", "outside 0 to 1,000,000"),
        ({"created_at": "2099-01-01"}, "created_at", "later than tomorrow"),
        ({"campaign": "=HYPERLINK(1)"}, "campaign", "spreadsheet formula"),
    ],
)
def test_a_bad_value_in_the_last_batch_refuses_the_whole_file(tmp_path, url, changed, column, says):
    rows = [_lead(i) for i in range(6)] + [_lead(6, **changed)]
    last = len(rows) + 1  # the header is row 1
    path = _file(tmp_path, rows)
    before = _contents(url)

    summary, prepared = _import(path, url)

    assert summary is None
    assert prepared.problems.select("row", "column", "value").rows() == [(last, column, changed[column])]
    assert says in prepared.problems["problem"][0]
    assert prepared.valid_leads == len(rows) - 1
    _unchanged(before, url)


def test_a_refusal_in_the_last_batch_writes_nothing(tmp_path, url):
    text = _file(tmp_path, [_lead(i) for i in range(6)]).read_text() + "L9,2026-10-09 09:00,email,News,Ann,,mql,1,x\n"
    path = tmp_path / "ragged.csv"
    path.write_text(text)
    before = _contents(url)

    with pytest.raises(ingest.ImportRefused, match="line 8 has 9 fields but the header has 8"):
        _import(path, url)
    _unchanged(before, url)


def test_the_date_order_is_decided_by_a_row_in_a_later_batch(tmp_path, url):
    # Every date could be either order until the last row's 25: day first.
    dates = ["03/04/2026 10:00", "05/06/2026 10:00", "01/02/2026 10:00", "11/12/2025 10:00", "25/04/2026 10:00"]
    path = _file(tmp_path, [_lead(i, created_at=d) for i, d in enumerate(dates)])

    summary, prepared = _import(path, url)

    assert summary is not None and prepared.problems.is_empty()
    leads = db.read_table(Lead, url=url).filter(pl.col("external_id").is_in([f"L{i}" for i in range(5)]))
    day_first = [datetime.strptime(d, "%d/%m/%Y %H:%M") for d in dates]
    assert leads.sort("external_id")["created_at"].to_list() == day_first


def test_dates_that_no_batch_decides_are_refused(tmp_path, url):
    dates = ["03/04/2026", "05/06/2026", "01/02/2026", "11/12/2025", "07/08/2026"]
    path = _file(tmp_path, [_lead(i, created_at=d) for i, d in enumerate(dates)])
    before = _contents(url)

    with pytest.raises(ingest.AmbiguousDates, match="03/04/2026, 05/06/2026, 01/02/2026"):
        _import(path, url)
    _unchanged(before, url)


def test_a_campaigns_channel_and_a_reps_tier_come_from_the_whole_file(tmp_path, url):
    # Spring: one email lead in the first batch, two webinar leads after it. Bo owns a lead in the first batch and
    # closes one in the last: a closer is a senior rep.
    rows = [
        _lead(0, campaign="Spring", channel="email", owner="Bo"),
        _lead(1),
        _lead(2, campaign="Spring", channel="webinar"),
        _lead(3),
        _lead(4, campaign="Spring", channel="webinar", closer="Bo", stage="sql"),
    ]
    path = _file(tmp_path, rows)

    summary, _ = _import(path, url)

    assert summary is not None and summary.inserted == 5
    channels = db.read_table(ChannelRow, url=url).select(pl.col("id").alias("channel_id"), "key")
    spring = db.read_table(Campaign, url=url).filter(pl.col("name") == "Spring").join(channels, on="channel_id")
    assert spring["key"].to_list() == ["webinar"]
    assert db.read_table(Rep, url=url).filter(pl.col("name") == "Bo")["tier"].to_list() == ["senior"]


def test_batches_write_what_one_batch_writes(tmp_path):
    """The same file into two new databases, two rows a batch and all at once: the same rows in every table (ids
    aside, which follow the order rows are written in)."""
    rows = [
        _lead(i, campaign=f"C{i % 3}", channel=("email", "webinar", "Trade fair")[i % 3], stage=s, closer=c)
        for i, (s, c) in enumerate([("inquiry", ""), ("sal", "Cy"), ("rejected", ""), ("customer", "Cy"), ("mql", "")])
    ]
    path = _file(tmp_path, rows)
    contents = []
    for batch_rows in (BATCH, 1_000):
        url = f"sqlite:///{tmp_path / f'batches-{batch_rows}.db'}"
        summary, prepared = _import(path, url, batch_rows=batch_rows)
        assert summary is not None and summary.inserted == len(rows)
        contents.append((summary, prepared.notes, _named(url)))
    assert contents[0] == contents[1]


def _named(url: str) -> dict[str, list[tuple]]:
    """Every table's rows with their ids replaced by the names they stand for, sorted."""
    t = {table.__tablename__: db.read_table(table, url=url) for table in TABLES}
    leads = t["lead"].select(pl.col("id").alias("lead_id"), "external_id")
    names = {
        "campaign_id": t["campaign"].select(pl.col("id").alias("campaign_id"), pl.col("name").alias("campaign")),
        "channel_id": t["channel"].select(pl.col("id").alias("channel_id"), pl.col("key").alias("channel")),
        "owner_rep_id": t["rep"].select(pl.col("id").alias("owner_rep_id"), pl.col("name").alias("owner")),
        "senior_rep_id": t["rep"].select(pl.col("id").alias("senior_rep_id"), pl.col("name").alias("closer")),
        "lead_id": leads,
    }
    named = {}
    for table, frame in t.items():
        for column, lookup in names.items():
            if column in frame.columns:
                frame = frame.join(lookup, on=column, how="left").drop(column)
        frame = frame.drop("id", "at", strict=False)  # "at": the audit line's clock
        named[table] = sorted(frame.rows(), key=repr)
    return named


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("batch_rows", [1, 2, 3])
def test_pieces_of_the_file_read_as_the_whole_file_reads(tmp_path, newline, batch_rows):
    """Quoted line feeds, quotes in quotes, blank lines and delimiter-only rows, wherever a batch ends."""
    lines = [
        "id,note,stage",
        'A1,"two\nlines",mql',
        "",
        'A2,"say ""hi""",sal',
        ",,",
        'A3,"a, b",mql',
        "",
        "",
        'A4,"x\n\ny",sql',
        "A5,plain,mql",
    ]
    path = tmp_path / "leads.csv"
    path.write_bytes((newline.join(lines) + newline).encode())
    mapping = ingest.Mapping.from_toml(MAPPING)
    whole = ingest.read_file(path, mapping=mapping).frame.with_row_index("row", offset=2)

    with ingest.read_batches(path, mapping=mapping, batch_rows=batch_rows) as source:
        batches = list(source)

    assert len(batches) > 1
    assert_frame_equal(pl.concat(batches).select(whole.columns), whole)

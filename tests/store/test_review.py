"""The weekly review's repository on SQLite and PostgreSQL: action items, meeting notes and closing a week."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from dashboard.auth import RIGHTS, Action, Actor, Role
from dashboard.data import review_data
from dashboard.models import AuditEntry, ReviewSnapshot
from dashboard.refusals import Refused
from dashboard.store import db
from dashboard.store import review as review_store
from queries.review import IsoWeek
from tests.conftest import in_transaction

D = datetime
W = IsoWeek.parse

# ------------------------------------------------------------------------------------------------ the store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path) -> str:
    """An empty database with the schema."""
    address = (
        f"sqlite:///{tmp_path / 'review.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    )
    db.create_schema(address)
    return address


def _week_items(url: str, week: str, today: date) -> list[tuple]:
    frame = review_data.week_action_items(url, W(week), today)
    return frame.select("title", "status_in_week", "overdue").rows()


def test_action_items_are_created_carried_over_marked_overdue_and_closed(url):
    feb25 = D(2026, 2, 25, 9, 30)
    item = in_transaction(
        url,
        review_store.add_action_item,
        title="  Fix EMEA routing  ",
        owner="Ann",
        due_date=date(2026, 3, 2),
        week=W("2026-W09"),
        now=feb25,
    )
    in_transaction(
        url,
        review_store.add_action_item,
        title="Brief the SDRs",
        owner="Bob",
        due_date=date(2026, 3, 20),
        week=W("2026-W10"),
        now=D(2026, 3, 9),
    )
    stored = review_data.action_items(url).sort("id")
    assert stored.select("title", "owner", "due_date", "status", "created_week", "closed_at").rows()[0] == (
        "Fix EMEA routing",
        "Ann",
        date(2026, 3, 2),
        "open",
        "2026-W09",
        None,
    )
    assert stored["created_at"][0] == feb25
    # shown from its week on; overdue once its due date has passed by the end of a week
    assert _week_items(url, "2026-W08", date(2026, 3, 12)) == []
    assert _week_items(url, "2026-W09", date(2026, 3, 12)) == [("Fix EMEA routing", "open", False)]
    assert _week_items(url, "2026-W10", date(2026, 3, 12)) == [
        ("Fix EMEA routing", "open", True),
        ("Brief the SDRs", "open", False),
    ]
    closed = in_transaction(url, review_store.close_action_item, item_id=item.id, now=D(2026, 3, 18, 10))  # in 2026-W12
    assert (closed.status, closed.closed_at) == ("done", D(2026, 3, 18, 10))
    assert _week_items(url, "2026-W11", date(2026, 3, 20))[0] == ("Fix EMEA routing", "open", True)
    assert ("Fix EMEA routing", "done", False) in _week_items(url, "2026-W12", date(2026, 3, 20))
    assert [t for t, *_ in _week_items(url, "2026-W13", date(2026, 3, 30))] == ["Brief the SDRs"]
    with pytest.raises(Refused, match="already closed on 18 Mar 2026"):
        in_transaction(url, review_store.close_action_item, item_id=item.id, now=D(2026, 3, 19))
    with pytest.raises(Refused, match="no longer exists"):
        in_transaction(url, review_store.close_action_item, item_id=9999, now=D(2026, 3, 19))


@pytest.mark.parametrize(
    ("title", "owner", "due", "message"),
    [
        ("", "Ann", date(2026, 3, 20), "what is to be done"),
        ("   ", "Ann", date(2026, 3, 20), "what is to be done"),
        ("Fix it", "", date(2026, 3, 20), "who owns it"),
        ("Fix it", "Ann", None, "pick a due date"),
        ("Fix it", "Ann", date(2026, 3, 8), "has passed"),
        ("x" * 201, "Ann", date(2026, 3, 20), "at most 200 characters"),
    ],
)
def test_an_action_item_without_what_who_or_when_is_refused_and_nothing_is_written(url, title, owner, due, message):
    with pytest.raises(Refused, match=message):
        in_transaction(
            url,
            review_store.add_action_item,
            title=title,
            owner=owner,
            due_date=due,
            week=W("2026-W10"),
            now=D(2026, 3, 9),
        )
    assert review_data.action_items(url).is_empty()


def test_meeting_notes_are_saved_per_week_and_kept_as_typed(url):
    text = "Agreed: pause CTV - Streaming Launch.\n<script>alert(1)</script> **not bold**"
    in_transaction(
        url, review_store.save_meeting_note, week=W("2026-W10"), text=text, author="Maria", now=D(2026, 3, 9, 10)
    )
    in_transaction(
        url, review_store.save_meeting_note, week=W("2026-W11"), text="Next week", author="Sam", now=D(2026, 3, 16)
    )
    note = review_data.meeting_note(url, W("2026-W10"))
    assert (note["text"], note["author"], note["updated_at"]) == (text, "Maria", D(2026, 3, 9, 10))
    in_transaction(
        url, review_store.save_meeting_note, week=W("2026-W10"), text="Revised", author="Sam", now=D(2026, 3, 9, 11)
    )
    note = review_data.meeting_note(url, W("2026-W10"))
    assert (note["text"], note["author"]) == ("Revised", "Sam")
    assert review_data.meeting_note(url, W("2026-W11"))["text"] == "Next week"
    assert review_data.meeting_note(url, W("2026-W12")) is None
    assert db.read_table(review_data.MeetingNote, url=url).height == 2  # one row per week
    with pytest.raises(Refused, match="your name"):
        in_transaction(
            url, review_store.save_meeting_note, week=W("2026-W10"), text="Lost", author=" ", now=D(2026, 3, 9, 12)
        )
    assert review_data.meeting_note(url, W("2026-W10"))["text"] == "Revised"


# ------------------------------------------------------------------------------------------------ closing a week

FIGURES = json.dumps({"headline": [{"figure": "mqls", "this_week": 40.0}], "counts": {"decided": 30}})
SUNDAY_NIGHT, MONDAY = D(2026, 11, 29, 23, 59), D(2026, 11, 30, 0, 0)  # 2026-W48 ends on Sunday 29 November


def _closed_weeks(url: str) -> list[tuple]:
    rows = db.read_table(ReviewSnapshot, url=url).sort("week")
    return rows.select("week", "closed_by", "closed_at", "sla_hours", "figures").rows()


def _audit(url: str) -> list[tuple]:
    return db.read_table(AuditEntry, url=url).sort("id").select("actor", "action", "target").rows()


def _close(url: str, *, now: datetime, closed_by: str = "Maria", actor: Actor | None = None):
    return in_transaction(
        url,
        review_store.close_week,
        week=W("2026-W48"),
        figures=FIGURES,
        sla_hours=24.0,
        closed_by=closed_by,
        now=now,
        actor=actor,
    )


def test_closing_a_week_keeps_its_figures_with_who_closed_it_and_when_and_reopening_keeps_them_in_the_log(url):
    closed = _close(url, now=D(2026, 11, 30, 9, 15))
    assert (closed.week, closed.closed_by, closed.closed_at) == ("2026-W48", "Maria", D(2026, 11, 30, 9, 15))
    assert _closed_weeks(url) == [("2026-W48", "Maria", D(2026, 11, 30, 9, 15), 24.0, FIGURES)]
    (line,) = _audit(url)
    assert line[:2] == ("local", "review")
    assert json.loads(line[2]) == {"closed_review": "2026-W48", "closed_by": "Maria"}
    reopened = in_transaction(url, review_store.reopen_week, week=W("2026-W48"), now=D(2026, 12, 1, 8))
    assert reopened.figures == FIGURES
    assert _closed_weeks(url) == []
    kept = json.loads(_audit(url)[-1][2])  # the snapshot removed from the review stays in the audit log
    assert kept == {
        "reopened_review": "2026-W48",
        "closed_by": "Maria",
        "closed_at": "2026-11-30 09:15:00",
        "sla_hours": 24.0,
        "figures": json.loads(FIGURES),
    }
    with pytest.raises(Refused, match="2026-W48 is not closed"):
        in_transaction(url, review_store.reopen_week, week=W("2026-W48"), now=D(2026, 12, 1, 9))
    assert len(_audit(url)) == 2
    _close(url, now=D(2026, 12, 1, 10), closed_by="Sam")  # reopened: it can be closed again
    assert [(w, by) for w, by, *_ in _closed_weeks(url)] == [("2026-W48", "Sam")]


@pytest.mark.parametrize(
    ("setup", "call", "message"),
    [
        (None, {"now": SUNDAY_NIGHT}, r"2026-W48 is not over yet: its review can be closed from Monday 30 Nov 2026"),
        (None, {"now": MONDAY, "closed_by": "  "}, "Please enter your name"),
        (
            {"now": MONDAY, "closed_by": "Maria"},
            {"now": D(2026, 12, 1, 9), "closed_by": "Sam"},
            "already closed by Maria on 30 Nov 2026 at 00:00",
        ),
        (
            None,
            {"now": MONDAY, "actor": Actor(email="ann@example.com", name="Ann", role=Role.REP)},
            r"Ann \(Rep\) may not edit the weekly review",
        ),
    ],
    ids=["week not over", "no name", "closed twice", "a role without the right"],
)
def test_a_refused_close_leaves_no_snapshot_and_no_audit_line(url, monkeypatch, setup, call, message):
    # Every role may edit the review today: take the right from reps to see the check guard the close.
    monkeypatch.setitem(RIGHTS, Action.REVIEW, RIGHTS[Action.REVIEW] - {Role.REP})
    if setup:
        _close(url, **setup)
    before = (_closed_weeks(url), _audit(url))
    with pytest.raises(Refused, match=message):
        _close(url, **call)
    assert (_closed_weeks(url), _audit(url)) == before

"""The weekly review page under AppTest."""

from __future__ import annotations

import json
from datetime import datetime

import polars as pl
from streamlit.testing.v1 import AppTest

from dashboard.data import review_data
from dashboard.models import AuditEntry, Rep
from dashboard.store import db, users
from dashboard.ui.text import plain
from queries import review
from queries.review import IsoWeek
from tests.apps import app_on
from tests.conftest import DEMO_PLAN, in_transaction
from tests.data import test_review_snapshot as snapshot_data

D = datetime
W = IsoWeek.parse

# ------------------------------------------------------------------------------------------------ the page


def _app(monkeypatch, url: str) -> AppTest:
    return app_on(monkeypatch, url, page="review")


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_the_review_page_renders_and_another_week_changes_the_figures(monkeypatch, demo_url):
    at = _app(monkeypatch, demo_url)
    assert not at.exception
    last = IsoWeek.last_complete(DEMO_PLAN.now.date())  # the last complete week with data
    assert at.selectbox(key="review_week").value == str(last)
    before = _metrics(at)
    assert list(before) == [f.label for f in review.HEADLINE]
    assert int(before["MQLs"].replace(",", "")) > 0
    assert before["Acceptance rate"].endswith("%") and before["Median time to decision"].endswith(" h")
    assert len(at.get("plotly_chart")) == 3
    at.selectbox(key="review_week").set_value(str(last.shifted(-3))).run()
    assert not at.exception
    assert _metrics(at) != before


def test_adding_an_action_item_and_notes_on_the_page_shows_them(monkeypatch, demo_copy):
    url = demo_copy
    in_transaction(url, users.save_user, email="maria@example.com", name="Maria Ops", role="revops", rep_id=None,
                   team=None, active=True, now=D(2026, 12, 1))  # fmt: skip
    in_transaction(url, users.save_user, email="gone@example.com", name="Gone", role="revops", rep_id=None,
                   team=None, active=False, now=D(2026, 12, 1))  # fmt: skip
    reps = db.read_table(Rep, url=url)
    at = _app(monkeypatch, url)
    assert not any("Ask marketing ops" in str(t.value) for t in at.table)
    # the owner is picked from the active users and reps
    owners = at.selectbox(key="review_item_owner").options
    assert sorted(owners) == sorted({"Maria Ops", *reps.filter(pl.col("active"))["name"]})
    assert "Gone" not in owners and not set(reps.filter(~pl.col("active"))["name"]) & set(owners)
    at.text_input(key="review_item_title").set_value("Ask marketing ops to pause CTV - Streaming Launch")
    at.selectbox(key="review_item_owner").set_value("Maria Ops")
    next(b for b in at.button if b.label == "Add action item").click().run()
    assert not at.exception
    items = at.table[-1].value
    assert plain("Ask marketing ops to pause CTV - Streaming Launch") in items.iloc[:, 0].tolist()  # as plain text
    assert review_data.action_items(url)["owner"].to_list() == ["Maria Ops"]
    # agreed in the review of the week on the page: the last complete week with data
    assert review_data.action_items(url)["created_week"].to_list() == [str(IsoWeek.last_complete(DEMO_PLAN.now.date()))]
    at.text_area(key="review_note_text").set_value("Decided: pause it.\n**not markdown**")
    at.text_input(key="review_note_author").set_value("Sam")
    next(b for b in at.button if b.label == "Save notes").click().run()
    assert not at.exception
    assert "Decided: pause it.\n**not markdown**" in [t.value for t in at.text]


# ------------------------------------------------------------------------------------------------ closing the week


def _click(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception


def _since(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if w.value.startswith("Since then")]


def test_a_closed_week_shows_its_snapshot_as_of_and_what_a_later_decision_changed(monkeypatch, demo_copy):
    url = demo_copy
    week = IsoWeek.last_complete(DEMO_PLAN.now.date())
    at = _app(monkeypatch, url)
    seen = _metrics(at)
    counted = snapshot_data.recount(url)
    assert seen["Acceptance rate"] == f"{snapshot_data.rate(counted):.1%}"  # the page agrees with a recount
    assert any("Live figures" in c.value for c in at.caption)
    at.text_input(key="review_close_by").set_value("Maria")
    _click(at, "Close this week's review")
    kept = review_data.week_snapshot(url, week)
    as_of = f"As of {kept.closed_at:%d %b %Y at %H:%M}, closed by Maria"
    assert any(as_of in i.value for i in at.info)
    assert _metrics(at) == seen and not _since(at)
    assert not any(b.label == "Close this week's review" for b in at.button)

    (lead,) = snapshot_data.pending_of_the_week(url, 1)  # a late decision on a lead of the closed week
    snapshot_data.decide_late(url, lead, "rejected")
    at.run()
    assert not at.exception
    assert _metrics(at) == seen  # what the meeting saw
    assert any(as_of in i.value for i in at.info)
    after = snapshot_data.recount(url)
    now = f"{snapshot_data.rate(after):.1%}"
    (since,) = _since(at)
    assert f"acceptance rate {seen['Acceptance rate']} → {now}" in since
    assert "1 more decision (+1 rejected)" in since
    moved = at.table[0].value  # in the expander under the sentence
    expected = [f"{counted['decided']:,}", f"{after['decided']:,}", "+1"]
    assert moved.set_index("Figure").loc["Decided"].tolist() == [plain(cell) for cell in expected]  # cells as text

    _click(at, "Reopen this week's review")  # live figures again; the snapshot stays in the audit log
    assert review_data.week_snapshot(url, week) is None
    assert _metrics(at)["Acceptance rate"] == now and not _since(at)
    audit = db.read_table(AuditEntry, url=url).filter(pl.col("action") == "review")["target"].to_list()
    assert [json.loads(t).get("closed_by") for t in audit] == ["Maria", "Maria"]
    assert json.loads(audit[-1])["reopened_review"] == str(week)


# ------------------------------------------------------------------------------------------------ signed in


def _signed_in_forms(url: str, week: str) -> None:
    """The notes and the close form as a signed-in sales manager sees them (AppTest runs this source alone)."""
    from datetime import datetime

    import streamlit as st

    from dashboard.auth import Actor, Role
    from dashboard.data import review_data as rd
    from dashboard.data.data import read_tables
    from dashboard.ui import review_widgets
    from queries.review import IsoWeek

    st.session_state["actor"] = Actor(email="mo@example.com", name="Mo Manager", role=Role.SALES_MANAGER, team="x")
    review_widgets.meeting_notes(url, IsoWeek.parse(week))
    review = rd.review_frames(read_tables(url), IsoWeek.parse(week), sla_hours=24.0, now=datetime(2026, 12, 1))
    review_widgets.close_review(url, review, None, rd.shown_of(review))


def test_signed_in_the_author_and_who_closed_are_the_user_not_a_typed_name(demo_copy):
    url, week = demo_copy, str(IsoWeek.last_complete(DEMO_PLAN.now.date()))
    at = AppTest.from_function(_signed_in_forms, args=(url, week), default_timeout=120)
    at.run()
    assert not at.exception
    keys = {w.key for w in at.text_input}
    assert not keys & {"review_note_author", "review_close_by"}  # nothing to type
    shown = [c.value for c in at.caption]
    assert "Your name: **Mo Manager** (signed in)" in shown and "Closed by: **Mo Manager** (signed in)" in shown
    at.text_area(key="review_note_text").set_value("Agreed.")
    _click(at, "Save notes")
    assert review_data.meeting_note(url, IsoWeek.parse(week))["author"] == "Mo Manager"
    _click(at, "Close this week's review")
    assert review_data.week_snapshot(url, IsoWeek.parse(week)).closed_by == "Mo Manager"
    actors = db.read_table(AuditEntry, url=url).filter(pl.col("action") == "review")["actor_name"].to_list()
    assert actors == ["Mo Manager", "Mo Manager"]

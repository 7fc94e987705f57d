"""Text from a URL, a file or the database is shown as plain text in every markdown-rendering element: a link, an
image and a header fed through each reach the element escaped, never as markdown (the element's source is what
Streamlit renders; test_plain_text_browser.py checks the rendering itself in Chromium)."""

from __future__ import annotations

import re
import shutil
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from dashboard.models import Lead, LeadAttribute, Rep, SalesDecision
from dashboard.store import db, queue, review
from dashboard.ui.text import JOINER, plain
from dashboard.ui.whatif_widgets import SCENARIOS, SECTION_KEY
from queries.review import IsoWeek
from seed import populate
from seed.generator import today_plan
from tests.apps import app_on
from tests.conftest import in_transaction

LINK, IMAGE, HEADER = "[click](http://evil.example)", "![x](http://evil.example/x.png)", "# big"
EVIL = (LINK, IMAGE, HEADER)
NOW = datetime.now().replace(microsecond=0)


def assert_literal(body: str, *texts: str) -> None:
    """body, an element's markdown source, shows each text as it is: escaped, with no link, image or heading left."""
    for text in texts:
        assert plain(text) in body, (text, body)
    assert "](http" not in body.lower() and "![" not in body, body
    assert not re.search(r"(^|\n)[ \t]*#", body), body


def _containing(values: list[str], text: str) -> str:
    """The first value that contains text, else all of them (for the failure's message)."""
    return next((v for v in values if text in v), " | ".join(values))


def test_plain_escapes_what_markdown_reads_and_nothing_is_lost():
    for text in (*EVIL, "a_b*c `x` <b> ~~s~~ $x$ :red[x] :material/home: www.evil.example ann@evil.example"):
        escaped = plain(text)
        assert re.sub(r"\\(.)", r"\1", escaped.replace(JOINER, "")) == text  # what the page shows
        assert not re.search(r"(?<!\\)[\[\]()*_`<>~$:#!@]", escaped), escaped
        # found after parsing, where escapes are gone: bare URLs, www., emails, icon names
        shown = escaped.replace("\\", "")
        assert not re.search(r"https?://|www\.|@\w|:material/", shown, re.IGNORECASE), escaped


# ----- a demo database holding hostile text in every place outside text comes from ----------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("plain") / "template.db"
    url = f"sqlite:///{path}"
    populate(url, today_plan(2_000, 12, seed=4, now=NOW))
    reps = in_transaction(url, queue.reps)
    juniors = reps.filter(reps["tier"] == "junior").sort("pending", descending=True)
    working, other = juniors["id"][0], juniors["id"][1]
    pending = in_transaction(url, queue.pending_queue, rep_id=working, now=NOW, sla_hours=24)
    lead_id = int(pending["lead_id"][0])
    lead, rep, decision = Lead.__table__, Rep.__table__, SalesDecision.__table__
    with db.transaction(url) as session:
        # an imported lead: its id, role and company from the file
        session.execute(
            sa.update(lead).where(lead.c.id == lead_id).values(external_id=LINK, role=IMAGE, company=HEADER)
        )
        session.execute(sa.update(rep).where(rep.c.id == other).values(name=LINK))  # an imported owner's name
        # a lead attribute kept by an import: its name and values
        ids = session.execute(sa.select(lead.c.id).order_by(lead.c.id).limit(50)).scalars().all()
        session.add_all(LeadAttribute(lead_id=i, name=LINK, value=IMAGE if i % 2 else HEADER) for i in ids)
        # a rep's comment
        newest = (
            sa.select(decision.c.id).where(decision.c.decision == "rejected").order_by(decision.c.decided_at.desc())
        )
        session.execute(
            sa.update(decision)
            .where(decision.c.id == session.execute(newest.limit(1)).scalar_one())
            .values(comment=f"{HEADER} {LINK} {IMAGE}")
        )
    week = IsoWeek.last_complete(date.today())
    in_transaction(url, review.save_meeting_note, week=week, text="notes", author=f"{HEADER} {IMAGE}", now=NOW)
    in_transaction(url, review.add_action_item, title=LINK, owner=HEADER, due_date=date.today() + timedelta(days=3),
                   week=week, now=NOW)  # fmt: skip
    return str(path)


@pytest.fixture
def url(template, tmp_path) -> str:
    shutil.copy(template, tmp_path / "plain.db")
    return f"sqlite:///{tmp_path / 'plain.db'}"


_app = app_on


def _click(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click().run()


# ----- one test per element that shows outside text -------------------------------------------------------------------


def test_warning_the_link_parameters_it_ignores(monkeypatch, url):
    at = _app(monkeypatch, url)
    at.query_params["channel"] = LINK
    at.query_params["start"] = IMAGE
    at.query_params["attr.# big"] = "1"
    at.run()
    assert not at.exception
    notices = [w.value for w in at.warning]
    assert len(notices) == 3
    for notice, text in zip(notices, (IMAGE, LINK, HEADER), strict=True):
        assert_literal(notice, text)


def test_widget_label_and_caption_of_an_imported_attribute(monkeypatch, url):
    at = _app(monkeypatch, url)
    at.run()
    assert not at.exception
    label = next(m.label for m in at.sidebar.multiselect if m.key == f"filter_attr_{LINK}")
    assert_literal(label, LINK)
    caption = next(c.value for c in at.caption if "in the period, per" in c.value)
    assert_literal(caption, LINK)


def test_markdown_of_the_queue_lead_card(monkeypatch, url):
    at = _app(monkeypatch, url)
    at.run()
    at.switch_page("pages/queue.py").run()
    row = at.dataframe[0].value["external_id"].tolist().index(LINK)
    at.session_state["queue_table"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    card = _containing([m.value for m in at.markdown], " · ")
    assert_literal(card, LINK, IMAGE, HEADER)


def test_success_and_warning_of_a_queue_decision(monkeypatch, url):
    at = _app(monkeypatch, url)
    at.run()
    at.switch_page("pages/queue.py").run()
    row = at.dataframe[0].value["external_id"].tolist().index(LINK)
    at.session_state["queue_table"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    reps = in_transaction(url, queue.reps)
    new_owner = int(reps.filter(reps["name"] == LINK)["id"][0])
    at.selectbox(key="queue_new_owner").set_value(new_owner).run()
    at.button(key="queue_reassign").click().run()
    assert not at.exception
    assert_literal(at.success[0].value, LINK)
    # in the new owner's queue, someone else decides the lead first: the refusal names it
    at.selectbox(key="queue_rep").set_value(new_owner).run()
    row = at.dataframe[0].value["external_id"].tolist().index(LINK)
    at.session_state["queue_table"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    pending = in_transaction(url, queue.pending_queue, rep_id=new_owner, now=datetime.now(), sla_hours=24)
    lead_id = int(pending.filter(pending["external_id"] == LINK)["lead_id"][0])
    in_transaction(url, queue.accept, lead_id=lead_id, rep_id=new_owner, now=datetime.now())
    at.button(key="queue_accept").click().run()
    assert not at.exception
    assert_literal(_containing([w.value for w in at.warning], "already accepted"), LINK)


def test_table_of_the_reps_comments(monkeypatch, url):
    at = _app(monkeypatch, url)
    at.query_params["start"] = "2020-01-01"
    at.run()
    at.switch_page("pages/rejections.py").run()
    assert not at.exception
    comments = at.table[0].value["Comment"].tolist()
    assert_literal(_containing(comments, "big"), HEADER, LINK, IMAGE)


def test_caption_table_toast_and_warning_of_the_weekly_review(monkeypatch, url):
    at = _app(monkeypatch, url)
    at.run()
    at.switch_page("pages/review.py").run()
    assert not at.exception
    assert_literal(_containing([c.value for c in at.caption], "Saved by"), HEADER, IMAGE)
    items = at.table[-1].value
    assert_literal(" ".join(items.astype(str).values.ravel()), LINK, HEADER)
    at.text_input(key="review_item_title").set_value(IMAGE)
    at.selectbox(key="review_item_owner").select_index(0)
    _click(at, "Add action item")
    assert not at.exception
    assert_literal(at.toast[0].value, IMAGE)
    at.text_input(key="review_jump").set_value(LINK).run()
    assert_literal(_containing([w.value for w in at.warning], "is not a week"), LINK.upper())


def test_caption_label_and_error_of_an_imported_file(monkeypatch, url):
    at = _app(monkeypatch, url)
    at.run()
    at.switch_page("pages/imports.py").run()
    csv = f"id,created_at,stage,{LINK}\nE1,2026-10-01,{HEADER},x\nE2,2026-10-02,mql,y\n".encode()
    at.file_uploader(key="import_leads").upload(f"{IMAGE}.csv", csv, "text/csv").run()
    assert not at.exception
    assert_literal(_containing([c.value for c in at.caption], "no field maps"), LINK, IMAGE)  # names file and column
    label = next(s.label for s in at.selectbox if s.key.startswith("import_val_stage_"))
    assert_literal(label, HEADER)
    at.file_uploader(key="import_leads").clear().upload(f"{LINK}.csv", b"", "text/csv").run()
    assert not at.exception
    assert_literal(at.error[0].value, LINK)


def test_toast_and_success_of_a_scenario(monkeypatch, url):
    at = _app(monkeypatch, url)
    at.run()
    at.session_state[SECTION_KEY] = SCENARIOS
    at.switch_page("pages/whatif.py").run()
    at.text_input(key="whatif_scenario_name").set_value(LINK)
    at.text_input(key="whatif_scenario_author").set_value(HEADER)
    _click(at, "Save scenario")
    assert not at.exception
    assert_literal(at.toast[0].value, LINK)
    at.selectbox(key="whatif_apply_choice").set_value(LINK)
    at.text_input(key="whatif_apply_author").set_value(IMAGE)
    at.text_input(key="whatif_apply_reason").set_value(HEADER)
    _click(at, "Apply as the active model")
    assert not at.exception
    assert_literal(at.success[0].value, LINK)


def test_toast_of_a_saved_user(monkeypatch, url):
    at = _app(monkeypatch, url)
    at.run()
    at.switch_page("pages/users.py").run()
    at.text_input(key="users_email").set_value(f"ann@{LINK}")
    at.text_input(key="users_name").set_value(HEADER)
    _click(at, "Save user")
    assert not at.exception
    assert_literal(at.toast[0].value, LINK)


def _no_access_page(url: str) -> None:
    from dashboard.ui import signin

    signin.no_access(url, "[click](http://evil.example)")


def test_markdown_of_the_no_access_page(url):
    at = AppTest.from_function(_no_access_page, args=(url,))
    at.run()
    assert not at.exception
    assert_literal(_containing([m.value for m in at.markdown], "signed in as"), LINK)

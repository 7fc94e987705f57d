"""The weekly review page under AppTest."""

from __future__ import annotations

from datetime import datetime

from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from dashboard.apptest import app_test
from dashboard.data import review_data
from dashboard.ui.text import plain
from queries import review
from queries.review import IsoWeek
from tests.conftest import DEMO_PLAN

D = datetime
W = IsoWeek.parse

# ------------------------------------------------------------------------------------------------ the page


def _app(monkeypatch, url: str) -> AppTest:
    monkeypatch.setattr(PagesManager, "__init__", PagesManager.__init__)  # restored after the test
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HANDOFF_SEED_DEMO", "0")
    at = app_test()
    at.run()
    at.switch_page("pages/review.py").run()
    return at


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
    at = _app(monkeypatch, url)
    assert not any("Ask marketing ops" in str(t.value) for t in at.table)
    at.text_input(key="review_item_title").set_value("Ask marketing ops to pause CTV - Streaming Launch")
    at.text_input(key="review_item_owner").set_value("Maria")
    next(b for b in at.button if b.label == "Add action item").click().run()
    assert not at.exception
    items = at.table[-1].value
    assert plain("Ask marketing ops to pause CTV - Streaming Launch") in items.iloc[:, 0].tolist()  # as plain text
    # agreed in the review of the week on the page: the last complete week with data
    assert review_data.action_items(url)["created_week"].to_list() == [str(IsoWeek.last_complete(DEMO_PLAN.now.date()))]
    at.text_area(key="review_note_text").set_value("Decided: pause it.\n**not markdown**")
    at.text_input(key="review_note_author").set_value("Sam")
    next(b for b in at.button if b.label == "Save notes").click().run()
    assert not at.exception
    assert "Decided: pause it.\n**not markdown**" in [t.value for t in at.text]

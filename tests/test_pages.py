"""Pages under AppTest, on a seeded SQLite file and on a real PostgreSQL server."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from seed import populate
from seed.generator import today_plan

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")


def _app(monkeypatch, url: str, **env: str) -> AppTest:
    _navigation_only(monkeypatch)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HANDOFF_SEED_DEMO", env.pop("seed", "0"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return AppTest.from_file(APP, default_timeout=120)


def _navigation_only(monkeypatch) -> None:
    # AppTest re-detects the pages/ folder before every run and then replays the finished page
    # without the entry script (the legacy multipage mode). A served app leaves that mode on its
    # first st.navigation call; do the same here so every run goes through streamlit_app.py.
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def _kpis(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('pages') / 'handoff.db'}"
    populate(url, today_plan(4_000, 26, seed=5, now=datetime.now().replace(microsecond=0)))
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def seeded_url(request, sqlite_url) -> str:
    if request.param == "sqlite":
        return sqlite_url
    url = request.getfixturevalue("postgres_url")
    populate(url, today_plan(4_000, 26, seed=5, now=datetime.now().replace(microsecond=0)))
    return url


def test_overview_renders_and_a_channel_filter_changes_the_kpis(monkeypatch, seeded_url):
    at = _app(monkeypatch, seeded_url)
    at.run()
    assert not at.exception
    before = _kpis(at)
    assert set(before) == {"Inquiries", "MQLs", "SALs", "SQLs", "Opportunities", "Won"}
    assert int(before["Inquiries"].replace(",", "")) > 0
    at.multiselect(key="filter_channels").set_value(["ctv"]).run()
    assert not at.exception
    after = _kpis(at)
    assert int(after["Inquiries"].replace(",", "")) < int(before["Inquiries"].replace(",", ""))
    assert at.query_params["channel"] == ["ctv"] or at.query_params["channel"] == "ctv"


def test_counting_mode_changes_the_figures(monkeypatch, sqlite_url):
    at = _app(monkeypatch, sqlite_url)
    at.run()
    cohort = _kpis(at)
    at.radio(key="filter_mode").set_value("in_period").run()
    assert not at.exception
    assert _kpis(at) != cohort
    assert "Stage entries per week" in [c.proto.spec for c in at.get("plotly_chart")][1]


def test_filters_that_match_nothing_show_an_empty_state(monkeypatch, sqlite_url):
    at = _app(monkeypatch, sqlite_url)
    at.query_params["start"] = "2001-01-01"
    at.query_params["end"] = "2001-01-31"
    at.run()
    assert not at.exception
    assert any("No leads match" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_an_invalid_link_parameter_is_ignored_with_a_notice(monkeypatch, sqlite_url):
    at = _app(monkeypatch, sqlite_url)
    at.query_params["channel"] = "ctv,not-a-channel"
    at.query_params["start"] = "yesterday"
    at.run()
    assert not at.exception
    notices = " ".join(w.value for w in at.warning)
    assert "not-a-channel" in notices and "yesterday" in notices
    assert at.multiselect(key="filter_channels").value == ["ctv"]


def test_first_start_seeds_once_and_never_again(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    at = _app(monkeypatch, url, seed="1", HANDOFF_DEMO_LEADS="800", HANDOFF_DEMO_WEEKS="8")
    at.run()
    assert not at.exception
    first = _kpis(at)
    assert int(first["Inquiries"].replace(",", "")) > 0
    again = _app(monkeypatch, url, seed="1", HANDOFF_DEMO_LEADS="800", HANDOFF_DEMO_WEEKS="8")
    again.run()
    assert _kpis(again) == first


def test_an_unreachable_database_shows_a_sentence_not_a_traceback(monkeypatch, tmp_path):
    at = _app(monkeypatch, "postgresql+psycopg://nobody@127.0.0.1:1/none")
    at.run()
    assert not at.exception
    assert any("cannot reach its database" in e.value for e in at.error)


def test_acceptance_page_renders_and_follows_the_filters(monkeypatch, seeded_url):
    at = _app(monkeypatch, seeded_url)
    at.run()
    at.switch_page("pages/acceptance.py").run()
    assert not at.exception
    before = _kpis(at)
    assert set(before) == {"Acceptance rate", "Accepted", "Rejected", "Pending decision"}
    assert before["Acceptance rate"].endswith("%")
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert len(titles) == 4
    at.multiselect(key="filter_channels").set_value(["ctv"]).run()
    assert not at.exception
    after = _kpis(at)
    assert int(after["Accepted"].replace(",", "")) < int(before["Accepted"].replace(",", ""))
    # the sort control reorders the bars: largest volume first puts the biggest campaign on top
    at.radio(key="acceptance_order").set_value("largest_first").run()
    assert not at.exception


def test_rejection_page_renders_and_the_search_narrows_the_comments(monkeypatch, seeded_url):
    at = _app(monkeypatch, seeded_url)
    at.run()
    at.switch_page("pages/rejections.py").run()
    assert not at.exception
    labels = {m.label for m in at.metric}
    assert labels == {"Procedural rejections", "Clerical rejections", "Definitional rejections"}
    everything = at.table[0].value.shape[0]
    at.text_input(key="rejections_search").set_value("student").run()
    assert not at.exception
    narrowed = at.table[0].value
    assert 0 < narrowed.shape[0] < everything
    assert all("student" in " ".join(map(str, row)).lower() for row in narrowed.itertuples())


def test_sla_page_follows_the_sla_setting(monkeypatch, seeded_url):
    at = _app(monkeypatch, seeded_url)
    at.run()
    at.switch_page("pages/sla.py").run()
    assert not at.exception
    strict = _kpis(at)["SLA compliance"]
    at.number_input(key="sla_hours").set_value(2.0).run()
    assert not at.exception
    assert float(_kpis(at)["SLA compliance"].rstrip("%")) < float(strict.rstrip("%"))

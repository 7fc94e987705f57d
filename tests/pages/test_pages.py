"""Pages under AppTest, on the demo database in SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.ui.text import plain
from dashboard.ui.whatif_widgets import SCENARIOS, SECTION_KEY
from tests.apps import app_on
from tests.conftest import in_transaction

_app = app_on


def _kpis(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def seeded_url(request) -> str:
    """The shared demo database (the tests that take it only read), in SQLite or PostgreSQL."""
    return request.getfixturevalue("demo_url" if request.param == "sqlite" else "demo_postgres")


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


def test_counting_mode_changes_the_figures(monkeypatch, demo_url):
    at = _app(monkeypatch, demo_url)
    at.run()
    cohort = _kpis(at)
    at.radio(key="filter_mode").set_value("in_period").run()
    assert not at.exception
    assert _kpis(at) != cohort
    assert "Stage entries per week" in [c.proto.spec for c in at.get("plotly_chart")][1]


def test_filters_that_match_nothing_show_an_empty_state(monkeypatch, demo_url):
    at = _app(monkeypatch, demo_url)
    at.query_params["start"] = "2001-01-01"
    at.query_params["end"] = "2001-01-31"
    at.run()
    assert not at.exception
    assert any("No leads match" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_an_invalid_link_parameter_is_ignored_with_a_notice(monkeypatch, demo_url):
    at = _app(monkeypatch, demo_url)
    at.query_params["channel"] = "ctv,not-a-channel"
    at.query_params["start"] = "yesterday"
    at.run()
    assert not at.exception
    notices = " ".join(w.value for w in at.warning)
    assert plain("not-a-channel") in notices and "yesterday" in notices
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


def _number(text: str) -> float:
    return float(text.replace("≈", "").replace(",", "").replace("%", "").strip())


def test_whatif_page_moving_the_threshold_or_a_weight_changes_the_projection(monkeypatch, seeded_url):
    at = _app(monkeypatch, seeded_url)
    at.run()
    at.switch_page("pages/whatif.py").run()
    assert not at.exception
    start = _kpis(at)
    assert {"Projected MQLs", "Projected acceptance", "Projected SQLs", "Projected wins"} <= set(start)
    at.slider(key="whatif_threshold").set_value(25.0).run()
    assert not at.exception
    lower = _kpis(at)
    assert _number(lower["Projected MQLs"]) > _number(start["Projected MQLs"])
    assert lower["Projected acceptance"].startswith("≈")  # added leads are estimated, and marked so
    assert any("never reached sales" in c.value for c in at.caption)
    at.slider(key="whatif_w_firmographic").set_value(80).run()
    assert not at.exception
    assert _kpis(at)["Projected MQLs"] != lower["Projected MQLs"]
    at.button(key="whatif_reset").click().run()
    assert at.slider(key="whatif_threshold").value == 40.0
    assert _kpis(at) == start


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request) -> str:
    """A demo database of its own, for tests that write."""
    return request.getfixturevalue("demo_copy" if request.param == "sqlite" else "demo_postgres_copy")


def _click(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click().run()


def test_saving_and_applying_a_scenario_creates_a_model_version(monkeypatch, fresh_url):
    from dashboard.store import scoring

    at = _app(monkeypatch, fresh_url)
    at.run()
    at.session_state[SECTION_KEY] = SCENARIOS
    at.switch_page("pages/whatif.py").run()
    at.slider(key="whatif_threshold").set_value(55.0).run()
    at.text_input(key="whatif_scenario_name").set_value("Stricter 55")
    at.text_input(key="whatif_scenario_author").set_value("Maria (Marketing Ops)")
    at.text_input(key="whatif_scenario_note").set_value("Fewer, better MQLs")
    _click(at, "Save scenario")
    assert not at.exception
    saved = in_transaction(fresh_url, scoring.scenarios)
    assert [(s.name, s.author, s.mql_threshold) for s in saved] == [("Stricter 55", "Maria (Marketing Ops)", 55.0)]
    comparison = next(d.value for d in at.dataframe if "scenario" in d.value.columns)
    assert comparison["scenario"].to_list() == ["Stricter 55", "Current proposal"]
    # saving the same name again is refused with a sentence, and nothing is written
    at.slider(key="whatif_threshold").set_value(60.0).run()
    at.text_input(key="whatif_scenario_name").set_value("Stricter 55")
    at.text_input(key="whatif_scenario_author").set_value("Maria")
    _click(at, "Save scenario")
    assert any("already exists" in e.value for e in at.error)
    assert len(in_transaction(fresh_url, scoring.scenarios)) == 1
    # applying it makes version 3, live from now, with its author and reason
    at.selectbox(key="whatif_apply_choice").set_value("Stricter 55")
    at.text_input(key="whatif_apply_author").set_value("Maria")
    at.text_input(key="whatif_apply_reason").set_value("Acceptance fell below 50%")
    _click(at, "Apply as the active model")
    assert not at.exception
    assert any("now scoring model v3" in s.value for s in at.success)
    assert at.button(key="whatif_reset").label == "Reset to the active model (v3)"
    assert at.slider(key="whatif_threshold").value == 55.0
    from dashboard.data.data import read_tables

    versions = read_tables(fresh_url).scoring_models.sort("version")
    assert versions["version"].to_list() == [1, 2, 3]
    assert versions["active_to"][1] == versions["active_from"][2]  # v2 ended when v3 began
    newest = versions.row(2, named=True)
    assert (newest["author"], newest["note"], newest["mql_threshold"]) == ("Maria", "Acceptance fell below 50%", 55.0)


def test_applying_without_a_reason_is_refused_and_writes_nothing(monkeypatch, fresh_url):
    at = _app(monkeypatch, fresh_url)
    at.run()
    at.session_state[SECTION_KEY] = SCENARIOS
    at.switch_page("pages/whatif.py").run()
    at.text_input(key="whatif_scenario_name").set_value("Looser")
    at.text_input(key="whatif_scenario_author").set_value("Sam")
    _click(at, "Save scenario")
    at.text_input(key="whatif_apply_author").set_value("Sam")
    _click(at, "Apply as the active model")
    assert any("reason" in e.value for e in at.error)
    from dashboard.data.data import read_tables

    assert read_tables(fresh_url).scoring_models.height == 2


def test_rejecting_from_the_queue_removes_the_lead_and_counts_at_once(monkeypatch, fresh_url):
    at = _app(monkeypatch, fresh_url)
    at.query_params["start"] = "2020-01-01"  # every MQL, however old
    at.run()
    at.switch_page("pages/rejections.py").run()
    procedural = int(_kpis(at)["Procedural rejections"].replace(",", ""))
    at.switch_page("pages/queue.py").run()
    assert not at.exception
    waiting = int(_kpis(at)["Waiting for you"].replace(",", ""))
    assert waiting > 0
    lead = at.dataframe[0].value["external_id"].iloc[0]
    at.session_state["queue_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert any(plain(lead) in m.value for m in at.markdown)  # why it qualified: the lead's card (plain text)
    at.selectbox(key="queue_reason").set_value("duplicate").run()
    at.button(key="queue_reject").click().run()
    assert not at.exception
    assert any("Rejected this lead" in s.value for s in at.success)
    assert int(_kpis(at)["Waiting for you"].replace(",", "")) == waiting - 1
    assert lead not in at.dataframe[0].value["external_id"].to_list()
    at.switch_page("pages/rejections.py").run()
    assert int(_kpis(at)["Procedural rejections"].replace(",", "")) == procedural + 1


def test_a_refused_decision_is_explained_not_raised(monkeypatch, fresh_url):
    from dashboard.store import queue

    at = _app(monkeypatch, fresh_url)
    at.run()
    at.switch_page("pages/queue.py").run()
    rep = at.selectbox(key="queue_rep").value
    pending = in_transaction(fresh_url, queue.pending_queue, rep_id=rep, now=datetime.now(), sla_hours=24)
    at.session_state["queue_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    # someone else decides the same lead first (another session)
    in_transaction(fresh_url, queue.accept, lead_id=pending["lead_id"][0], rep_id=rep, now=datetime.now())
    at.button(key="queue_accept").click().run()
    assert not at.exception
    assert any("already accepted" in w.value for w in at.warning)


def test_whatif_track_record_replays_the_model_change_and_a_chosen_cutoff(monkeypatch, demo_url):
    from tests.conftest import DEMO_PLAN

    at = _app(monkeypatch, demo_url)
    at.run()
    at.switch_page("pages/whatif.py").run()
    assert not at.exception
    assert not any("Forecast made" in d.value.columns for d in at.dataframe)  # the section runs only when opened
    at.session_state[SECTION_KEY] = "Track record"
    at.run()
    record = next(d.value for d in at.dataframe if "Forecast made" in d.value.columns)
    assert record["Forecast made"].str.startswith("v1 → v2 on ").all() and len(record) == 1
    at.date_input(key="whatif_backtest_cutoff").set_value(DEMO_PLAN.now.date() - timedelta(weeks=10)).run()
    record = next(d.value for d in at.dataframe if "Forecast made" in d.value.columns)
    assert len(record) == 2 and record["Forecast made"].iloc[1].startswith("From ")
    assert set(record["Acceptance"]) <= {"✓ held", "✗ missed", "–"}


def test_the_leads_behind_the_figures_show_labels_not_codes_or_none(monkeypatch, demo_url):
    from dashboard.domain import REJECTION_REASONS

    at = _app(monkeypatch, demo_url)
    at.run()
    at.switch_page("pages/acceptance.py").run()
    leads = next(d.value for d in at.dataframe if "outcome" in d.value.columns)
    assert set(leads["outcome"]) <= {"Accepted", "Rejected", "Pending"} and len(set(leads["outcome"])) == 3
    codes = {r.key for r in REJECTION_REASONS}
    cells = {str(v) for column in leads.columns for v in leads[column]}
    assert not cells & codes and "None" not in cells and "nan" not in cells

"""The weekly review as a file: good and bad news coloured, and the command line that writes it or says why not."""

from __future__ import annotations

from datetime import datetime

import plotly.graph_objects as go
import pytest

from dashboard.report import report
from queries.review import IsoWeek
from tests.conftest import DEMO_PLAN

D = datetime
W = IsoWeek.parse


@pytest.mark.parametrize(
    ("change", "lower_is_better", "css"),
    [
        ("+4", False, "num up"),
        ("-5.8 pp", False, "num down"),
        ("-0.3 h", True, "num up"),  # a faster decision is good news
        ("+1.2 h", True, "num down"),
        ("+0", False, "num"),
        ("-0.0 pp", False, "num"),
        (None, False, "num"),
    ],
)
def test_the_reports_changes_are_coloured_by_good_or_bad_news(change, lower_is_better, css):
    assert report._change_cell(change, lower_is_better).startswith(f'<td class="{css}">')


# ------------------------------------------------------------------------------------------------ the report


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--week", "2026-W60"], "2026 has no week 60"),
        (["--week", "last week"], "not an ISO week"),
        (["--week", "2026-W10", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none"], "cannot reach its database"),
        (["--week", "2026-W10", "--db", "sqlite:////nonexistent/handoff.db"], "no database file"),
    ],
)
def test_the_command_line_says_why_it_wrote_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "review.html"
    assert report.main([*args, "--out", str(out)]) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_the_command_line_refuses_an_unknown_file_kind(tmp_path, capsys, demo_url):
    assert report.main(["--week", "2026-W10", "--db", demo_url, "--out", str(tmp_path / "review.docx")]) == 1
    assert "must end in .html or .pdf" in capsys.readouterr().err


def test_without_chart_images_the_report_shows_tables_and_says_why(tmp_path, monkeypatch, demo_url):
    monkeypatch.setattr(report, "chromium_path", lambda: None)
    week = IsoWeek.last_complete(DEMO_PLAN.now.date())  # the demo's last complete week
    out = tmp_path / "review.html"
    assert report.main(["--week", str(week), "--db", demo_url, "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "The charts are shown as tables: no Chrome or Chromium is installed" in html
    assert "<img" not in html
    assert f"<td>{week}</td>" in html  # the weekly trend as a table instead


def test_a_failing_renderer_is_described_not_raised(monkeypatch):
    import kaleido

    class Broken:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("Chromium crashed\nwith details")

    monkeypatch.setattr(kaleido, "Kaleido", Broken)
    monkeypatch.setattr(report, "chromium_path", lambda: "/usr/bin/chromium")
    images = report.chart_images({"x": go.Figure(go.Bar(x=["a"], y=[1]))})
    assert images.pngs == {} and images.problem == "the chart renderer failed (Chromium crashed)"


def test_the_report_of_a_closed_week_carries_its_snapshot_as_of_and_what_moved_since(tmp_path, monkeypatch, demo_copy):
    import re
    from html import escape

    from tests.data import test_review_snapshot as snapshot_data

    monkeypatch.setattr(report, "chromium_path", lambda: None)  # tables for charts: no Chromium needed
    url, week = demo_copy, snapshot_data.WEEK
    counted = snapshot_data.recount(url)
    review = snapshot_data.review_of(url)
    snapshot_data.rd.close_week(url=url, actor=None, week=week, shown=snapshot_data.rd.shown_of(review),
                                sla_hours=24.0, closed_by="<b>Maria</b>", now=snapshot_data.CLOSED_AT)  # fmt: skip
    (lead,) = snapshot_data.pending_of_the_week(url, 1)
    snapshot_data.decide_late(url, lead, "accepted")
    after = snapshot_data.recount(url)
    out = tmp_path / "review.html"
    assert report.main(["--week", str(week), "--db", url, "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert escape("As of 01 Dec 2026 at 09:30, closed by <b>Maria</b>") in html  # the name as text
    rate = re.search(r'data-figure="acceptance_rate">([^<]+)<', html)[1]
    was, now = snapshot_data.rate(counted), snapshot_data.rate(after)
    assert rate == f"{was:.1%}"  # the headline as the meeting saw it
    assert f"acceptance rate {was:.1%} → {now:.1%}" in html and "1 more decision (+1 accepted)" in html

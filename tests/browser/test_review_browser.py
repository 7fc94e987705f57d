"""The weekly review for real: the report file opened in Chromium with no request leaving it, showing the same
headline as the served page; the PDF; screenshots of both kept as artifacts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from dashboard.store import review as review_store
from queries.review import HEADLINE, IsoWeek
from tests.browser.test_browser import MAIN, kpis
from tests.conftest import DEMO_PLAN, copy_of_demo, free_port, in_transaction, wait_for_port

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent.parent
HOSTILE_NOTE = "<script>window.__pwned = 1</script> Pause **CTV - Streaming Launch**\nOwner: <b>Maria</b>"


@pytest.fixture(scope="module")
def review_db(tmp_path_factory, demo_file) -> tuple[str, IsoWeek]:
    """A copy of the demo database whose last complete week has an overdue action item and notes full of markup."""
    url = copy_of_demo(demo_file, tmp_path_factory.mktemp("review_served"))
    week = IsoWeek.last_complete(DEMO_PLAN.now.date())  # the week the page opens on: the last complete one with data
    monday = datetime.combine(week.monday, time(9))
    in_transaction(
        url,
        review_store.add_action_item,
        title="Fix EMEA routing",
        owner="Ann",
        due_date=week.monday + timedelta(days=2),
        week=week,
        now=monday,
    )
    in_transaction(url, review_store.save_meeting_note, week=week, text=HOSTILE_NOTE, author="Maria", now=monday)
    return url, week


@pytest.fixture(scope="module")
def served(review_db):
    """The app on a free port over that file."""
    url, _ = review_db
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "HANDOFF_SEED_DEMO": "0"}
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"), "--server.port", str(port)]
        + ["--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture
def browser(chromium_context):
    return chromium_context


def _tab(context, errors: list[str]):
    tab = context.new_page()
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    return tab


def _report(url: str, week: IsoWeek, out: Path) -> None:
    """The report written by the command line, as a scheduled job would."""
    done = subprocess.run(
        [sys.executable, "-m", "dashboard.report", "--week", str(week), "--db", url, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert f"Wrote the weekly review of {week}" in done.stdout


def _open_review_page(tab, base: str) -> None:
    tab.goto(base)
    tab.locator(f'{MAIN} [data-testid="stPlotlyChart"]').first.wait_for(timeout=90_000)
    tab.locator('[data-testid="stSidebarNav"]').get_by_text("Weekly review").click()
    tab.locator(MAIN).get_by_text("Download the report (HTML)").wait_for(timeout=90_000)
    tab.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidget"]')
                 && document.querySelectorAll('[data-testid="stMain"] [data-testid="stPlotlyChart"]').length >= 3""",
        timeout=60_000,
    )
    tab.wait_for_timeout(1500)


def test_the_report_opens_offline_and_shows_the_pages_headline(review_db, served, browser, artifacts, tmp_path):
    url, week = review_db
    out = tmp_path / "review.html"
    _report(url, week, out)

    errors: list[str] = []
    report = _tab(browser, errors)
    requested: list[str] = []
    report.on("request", lambda r: requested.append(r.url))
    report.goto(out.as_uri())
    report.wait_for_load_state("load")
    assert requested and all(u == out.as_uri() or u.startswith("data:") for u in requested), requested
    images = report.evaluate("[...document.images].map(i => [i.complete, i.naturalWidth])")
    assert len(images) == 3 and all(done and width > 0 for done, width in images), images
    figures = {
        cell.get_attribute("data-figure"): cell.inner_text().strip() for cell in report.locator("[data-figure]").all()
    }
    notes = report.locator("pre.notes").inner_text()
    assert "<script>window.__pwned = 1</script>" in notes and "<b>Maria</b>" in notes  # shown, never run
    assert report.evaluate("window.__pwned") is None
    assert report.locator("td.overdue", has_text="OVERDUE").count() == 1
    report.set_viewport_size({"width": 1100, "height": 1000})
    report.screenshot(path=str(artifacts / "review_report.png"), full_page=True)

    page = _tab(browser, errors)
    _open_review_page(page, served)
    shown = kpis(page)
    assert list(figures) == [f.key for f in HEADLINE]
    assert {f.label: figures[f.key] for f in HEADLINE} == shown
    assert int(shown["MQLs"].replace(",", "")) > 0
    main = page.locator(MAIN)
    assert "<script>window.__pwned = 1</script>" in main.inner_text()
    assert page.evaluate("window.__pwned") is None
    assert "OVERDUE" in main.inner_text()
    page.set_viewport_size({"width": 1400, "height": 4200})
    page.wait_for_timeout(1500)
    page.screenshot(path=str(artifacts / "review.png"), full_page=True)
    assert errors == [], errors


def test_the_report_as_pdf(review_db, tmp_path):
    url, week = review_db
    out = tmp_path / "review.pdf"
    _report(url, week, out)
    content = out.read_bytes()
    assert content.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page[^s]", content)) >= 2  # the review runs over several A4 pages

"""The real thing: the app served by `streamlit run`, driven in Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM_ARGS, copy_of_demo, free_port, wait_for_port  # noqa: F401 (others import it)

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent.parent
MAIN = '[data-testid="stMain"]'


EVIL_COMMENT = "<script>window.__pwned = 1</script> not <b>bold</b>"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, demo_file):
    """The app on a free port over a copy of the demo database that holds one hostile comment."""
    folder = tmp_path_factory.mktemp("served")
    port = free_port()
    url = copy_of_demo(demo_file, folder)
    add_hostile_comment(url)
    env = {**os.environ, "DATABASE_URL": url, "HANDOFF_SEED_DEMO": "1", "HANDOFF_DEMO_LEADS": "3000"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "streamlit_app.py"),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, 60)
        yield f"http://127.0.0.1:{port}", url
    finally:
        server.terminate()
        server.wait(timeout=20)


def add_hostile_comment(url: str) -> None:
    """Reject one pending MQL with a comment full of markup, the way a rep could type it."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        lead, rep = conn.execute(
            sa.text(
                "SELECT l.id, l.owner_rep_id FROM lead l JOIN stage_event e ON e.lead_id = l.id AND e.stage = 'mql' "
                "WHERE NOT EXISTS (SELECT 1 FROM sales_decision d WHERE d.lead_id = l.id) ORDER BY e.occurred_at DESC"
            )
        ).first()
        conn.execute(
            sa.text(
                "INSERT INTO sales_decision (lead_id, decision, reason, reason_kind, comment, rep_id, decided_at) "
                "VALUES (:lead, 'rejected', 'duplicate', 'procedural', :comment, :rep, :now)"
            ),
            {"lead": lead, "rep": rep, "comment": EVIL_COMMENT, "now": datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")},
        )
    engine.dispose()


@pytest.fixture
def page(chromium_context):
    """A Chromium page; fails the test on console errors."""
    tab = chromium_context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    yield tab
    assert errors == [], errors


def kpis(tab) -> dict[str, str]:
    metrics = tab.locator(f'{MAIN} [data-testid="stMetric"]')
    return {
        metrics.nth(i).locator('[data-testid="stMetricLabel"]').inner_text().strip(): metrics.nth(i)
        .locator('[data-testid="stMetricValue"]')
        .inner_text()
        .strip()
        for i in range(metrics.count())
    }


def test_overview_loads_and_a_channel_filter_changes_the_kpis(app_url, page, artifacts):
    page.goto(app_url[0])
    page.locator(f'{MAIN} [data-testid="stPlotlyChart"]').first.wait_for(timeout=90_000)
    page.wait_for_timeout(1500)
    before = kpis(page)
    assert int(before["Inquiries"].replace(",", "")) > 0
    page.screenshot(path=str(artifacts / "overview.png"), full_page=True)

    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.locator('[data-testid="stMultiSelect"]').filter(has_text="Channel").locator("input").click()
    page.get_by_role("option", name="Connected TV (CTV)").click()
    page.locator(f"{MAIN} h1").first.click()  # close the dropdown
    page.wait_for_function(
        """(before) => {
            const v = document.querySelector('[data-testid="stMain"] [data-testid="stMetricValue"]');
            return v && v.innerText.trim() !== before;
        }""",
        arg=before["Inquiries"],
        timeout=30_000,
    )
    page.wait_for_timeout(1500)
    after = kpis(page)
    assert int(after["Inquiries"].replace(",", "")) < int(before["Inquiries"].replace(",", ""))
    assert "channel=ctv" in page.url
    page.screenshot(path=str(artifacts / "overview_filtered.png"), full_page=True)


def test_an_invalid_link_parameter_shows_a_notice(app_url, page, artifacts):
    page.goto(f"{app_url[0]}/?channel=not-a-channel")
    page.locator(f'{MAIN} [data-testid="stPlotlyChart"]').first.wait_for(timeout=90_000)
    main = page.locator(MAIN)
    assert "ignored" in main.inner_text()
    assert "Traceback" not in main.inner_text()
    page.screenshot(path=str(artifacts / "overview_bad_link.png"), full_page=True)


# The last thing each page draws: once it is there, the page has finished rendering.
LAST_ELEMENT = {
    "Sales acceptance": "Leads behind the figures",
    "Rejection feedback": "Disqualifications after contact",
    "SLA and hand-off speed": "Stage velocity",
    "Threshold what-if": "Leads it adds (estimated)",  # the first section's; the others run when opened
    "Acceptance queue": "Accepted: hand to a senior rep",
}


PAGES_WITHOUT_CHARTS = ("Acceptance queue", "Import leads")
CHARTS_AT_FIRST = {"Threshold what-if": 1}  # the weekly chart; the sections' charts draw when their tab is opened


def open_page(tab, base: str, title: str, heading: str) -> None:
    tab.goto(base)
    tab.locator(f'{MAIN} [data-testid="stPlotlyChart"]').first.wait_for(timeout=90_000)
    tab.locator('[data-testid="stSidebarNav"]').get_by_text(title).click()
    tab.locator(MAIN).get_by_text(heading).first.wait_for(timeout=60_000)
    tab.locator(MAIN).get_by_text(LAST_ELEMENT[title]).first.wait_for(timeout=60_000)
    charts = 0 if title in PAGES_WITHOUT_CHARTS else CHARTS_AT_FIRST.get(title, 3)
    tab.wait_for_function(
        """(charts) => !document.querySelector('[data-testid="stStatusWidget"]') && document.querySelectorAll(
               '[data-testid="stMain"] [data-testid="stPlotlyChart"]').length >= charts""",
        arg=charts,
        timeout=60_000,
    )
    tab.wait_for_timeout(1500)


@pytest.mark.parametrize(
    ("title", "heading", "metric", "shot"),
    [
        ("Sales acceptance", "By channel", "Acceptance rate", "acceptance.png"),
        ("SLA and hand-off speed", "By rep", "SLA compliance", "sla.png"),
    ],
)
def test_analytics_pages_render(app_url, page, artifacts, title, heading, metric, shot):
    open_page(page, app_url[0], title, heading)
    assert metric in kpis(page)
    assert page.locator(f'{MAIN} [data-testid="stPlotlyChart"]').count() >= 3
    page.set_viewport_size({"width": 1400, "height": 3200})
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts / shot), full_page=True)


def test_rejection_comments_show_markup_as_literal_text(app_url, page, artifacts):
    open_page(page, app_url[0], "Rejection feedback", "Pareto of rejection reasons")
    search = page.locator(MAIN).get_by_label("Search the sales comments")
    search.wait_for(timeout=60_000)
    search.fill("pwned")
    search.press("Enter")
    cell = page.locator(f'{MAIN} [data-testid="stTable"]').get_by_text(
        "<script>window.__pwned = 1</script>", exact=False
    )
    cell.wait_for(timeout=30_000)
    assert "<b>bold</b>" in cell.inner_text()
    assert page.evaluate("window.__pwned") is None
    assert page.locator(f"{MAIN} [data-testid='stTable'] b").count() == 0
    page.set_viewport_size({"width": 1400, "height": 2800})
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts / "rejections.png"), full_page=True)


def test_selecting_a_bar_lists_the_leads_behind_it(app_url, page, artifacts):
    open_page(page, app_url[0], "Sales acceptance", "By channel")
    main = page.locator(MAIN)
    everything = main.get_by_text("all MQLs of the period").first.inner_text()
    bars = page.locator(f'{MAIN} [data-testid="stPlotlyChart"]').first.locator("g.point path")
    bars.nth(bars.count() - 1).click(force=True)  # the top bar: the worst channel
    caption = main.get_by_text("leads: ").first
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stCaptionContainer"]')]
              .some(e => /^[\\d,]+ leads: (?!all MQLs)/.test(e.innerText.trim()))""",
        timeout=30_000,
    )
    narrowed = caption.inner_text()
    assert int(narrowed.split(" ")[0].replace(",", "")) < int(everything.split(" ")[0].replace(",", ""))
    page.screenshot(path=str(artifacts / "acceptance_drilldown.png"), full_page=True)


# The texts of the page's captions, in JavaScript.
CAPTIONS = f"""[...document.querySelectorAll('{MAIN} [data-testid="stCaptionContainer"]')]
    .map(e => e.innerText.trim())"""


def test_a_selection_in_two_charts_narrows_the_leads_by_both(app_url, page, artifacts):
    open_page(page, app_url[0], "Sales acceptance", "By channel")
    charts = page.locator(f'{MAIN} [data-testid="stPlotlyChart"]')

    def leads_caption(pattern: str) -> str:
        page.wait_for_function(
            "(pattern) => " + CAPTIONS + ".some(t => new RegExp(pattern).test(t))", arg=pattern, timeout=30_000
        )
        return next(t for t in page.evaluate("() => " + CAPTIONS) if " leads: " in t)

    channel_bars = charts.nth(0).locator("g.point path")
    channel_bars.nth(channel_bars.count() - 1).click(force=True)  # the worst channel
    by_channel = leads_caption(r"^[\d,]+ leads: (?!all MQLs)[^;]+$")
    campaign_bars = charts.nth(1).locator("g.point path")
    campaign_bars.nth(campaign_bars.count() - 1).click(force=True)  # and the worst campaign
    by_both = leads_caption(r"^[\d,]+ leads: [^;]+; ")
    channel = by_channel.split(" leads: ")[1]
    assert by_both.split(" leads: ")[1].startswith(f"{channel}; ")  # the first chart's selection still counts
    assert int(by_both.split(" ")[0].replace(",", "")) <= int(by_channel.split(" ")[0].replace(",", ""))
    page.screenshot(path=str(artifacts / "acceptance_two_selections.png"), full_page=True)


def test_whatif_slider_moves_the_projection(app_url, page, artifacts):
    open_page(page, app_url[0], "Threshold what-if", "Accepted leads excluded")
    before = kpis(page)
    assert not before["Projected MQLs"].startswith("≈")
    page.set_viewport_size({"width": 1400, "height": 3600})
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts / "whatif.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1100})
    threshold = page.locator(f'{MAIN} [data-testid="stSlider"]').filter(has_text="MQL threshold")
    handle = threshold.locator("input[type=range]")
    handle.focus()
    for _ in range(12):
        handle.press("ArrowLeft")
    page.wait_for_function(
        """(before) => {
            const v = document.querySelector('[data-testid="stMain"] [data-testid="stMetricValue"]');
            return v && v.innerText.trim() !== before;
        }""",
        arg=before["Projected MQLs"],
        timeout=30_000,
    )
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000)
    page.wait_for_timeout(1500)
    after = kpis(page)
    assert int(after["Projected MQLs"].replace(",", "")) > int(before["Projected MQLs"].replace(",", ""))
    assert after["Projected acceptance"].startswith("≈")
    assert "never reached sales" in page.locator(MAIN).inner_text()
    page.set_viewport_size({"width": 1400, "height": 3600})
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts / "whatif_after_slider.png"), full_page=True)
    # a section below runs when its tab is opened, with the proposal as it stands
    page.locator(f'{MAIN} [role="tab"]').filter(has_text="Load on sales").click()
    page.locator(MAIN).get_by_text("Under the proposal:").wait_for(timeout=30_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts / "whatif_load_section.png"), full_page=True)


def test_a_rep_rejects_a_lead_from_the_queue(app_url, page, artifacts):
    open_page(page, app_url[0], "Acceptance queue", "Waiting for you")
    main = page.locator(MAIN)
    waiting = int(kpis(page)["Waiting for you"].replace(",", ""))
    grid = page.locator(f'{MAIN} [data-testid="stDataFrame"]').first
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # the first row's selection box
    main.get_by_text("Reject this lead").wait_for(timeout=30_000)
    page.screenshot(path=str(artifacts / "queue.png"), full_page=True)
    reason = page.locator(f'{MAIN} [data-testid="stSelectbox"]').filter(has_text="Reason (required)")
    reason.scroll_into_view_if_needed()  # a list opened while the page still scrolls to it closes again
    reason.click()
    page.get_by_role("option", name="Duplicate record (procedural)").click()
    main.get_by_label("Comment (optional)").nth(1).fill("Same person as <b>DEMO-1</b>")
    main.get_by_role("button", name="Reject").click()
    main.get_by_text("Rejected this lead").wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    assert int(kpis(page)["Waiting for you"].replace(",", "")) == waiting - 1
    page.screenshot(path=str(artifacts / "queue_rejected.png"), full_page=True)


def test_charts_can_be_saved_as_png(app_url, page):
    page.goto(app_url[0])
    chart = page.locator(f'{MAIN} [data-testid="stPlotlyChart"]').first
    chart.wait_for(timeout=90_000)
    chart.hover()
    button = chart.locator(".modebar-btn[data-title='Download plot as a PNG']")
    with page.expect_download(timeout=30_000) as download:
        button.click()
    assert download.value.suggested_filename.endswith(".png")


def test_importing_a_file_from_the_page(app_url, page, artifacts):
    fixtures = ROOT / "tests" / "fixtures"
    page.goto(app_url[0])
    page.locator(f'{MAIN} [data-testid="stPlotlyChart"]').first.wait_for(timeout=90_000)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Import leads").click()
    main = page.locator(MAIN)
    main.get_by_text("Choose a leads file to start").wait_for(timeout=60_000)
    uploads = page.locator(f'{MAIN} [data-testid="stFileUploader"] input[type=file]')
    uploads.nth(2).set_input_files(str(fixtures / "xeducation_mapping.toml"))
    page.wait_for_timeout(1500)
    uploads.nth(0).set_input_files(str(fixtures / "xeducation_sample.csv"))
    main.get_by_text("Preview").first.wait_for(timeout=60_000)
    main.get_by_text("no date column").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)
    page.set_viewport_size({"width": 1400, "height": 2600})
    page.screenshot(path=str(artifacts / "import_preview.png"), full_page=True)
    main.get_by_role("button", name="Import").click()
    main.get_by_text("Imported: 300 new leads").wait_for(timeout=120_000)
    page.screenshot(path=str(artifacts / "import_done.png"), full_page=True)

"""The escaped text as Chromium shows it: a link, an image and a header planted in a shared URL, an imported
attribute and a rep's comment read literally, with no link, image or heading made of them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from dashboard.models import Lead, LeadAttribute, SalesDecision
from dashboard.store import db
from dashboard.ui.text import JOINER
from seed import populate
from seed.generator import today_plan
from tests.conftest import free_port, wait_for_port

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent.parent
MAIN = '[data-testid="stMain"]'
LINK, IMAGE, HEADER = "[click](http://evil.example)", "![x](http://evil.example/x.png)", "# big"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plain_served")
    url = f"sqlite:///{folder / 'handoff.db'}"
    populate(url, today_plan(1_500, 12, seed=6, now=datetime.now().replace(microsecond=0)))
    lead, decision = Lead.__table__, SalesDecision.__table__
    with db.transaction(url) as session:
        ids = session.execute(sa.select(lead.c.id).order_by(lead.c.id).limit(30)).scalars().all()
        session.add_all(LeadAttribute(lead_id=i, name=LINK, value=HEADER) for i in ids)
        newest = (
            sa.select(decision.c.id).where(decision.c.decision == "rejected").order_by(decision.c.decided_at.desc())
        )
        session.execute(
            sa.update(decision)
            .where(decision.c.id == session.execute(newest.limit(1)).scalar_one())
            .values(comment=f"{HEADER} {LINK} {IMAGE}")
        )
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "HANDOFF_SEED_DEMO": "0"}
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"), "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true"]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)


def _shown(text: str) -> str:
    """What a person reads: the invisible word joiners that keep URLs from being linked left out."""
    return text.replace(JOINER, "")


def _nothing_planted(page) -> None:
    assert page.locator('a[href*="evil.example"]').count() == 0
    assert page.locator('img[src*="evil.example"]').count() == 0
    assert page.locator("h1, h2, h3", has_text="big").count() == 0


def test_planted_markdown_reads_literally_in_chromium(served, chromium_context, artifacts):
    page = chromium_context.new_page()
    query = urlencode({"channel": LINK, "start": IMAGE, "attr.# big": "1"})
    page.goto(f"{served}/?{query}")
    page.locator(f'{MAIN} [data-testid="stPlotlyChart"]').first.wait_for(timeout=90_000)
    page.wait_for_timeout(1_000)
    notices = page.locator('[data-testid="stAlertContentWarning"]').all_inner_texts()
    text = _shown(" ".join(notices))
    assert LINK in text and IMAGE in text and f"“{HEADER}”" in text, notices
    sidebar = _shown(page.locator('[data-testid="stSidebar"]').inner_text())
    assert LINK in sidebar  # the attribute's filter, labelled with its name as it is
    assert f"per {LINK}" in _shown(page.locator(MAIN).inner_text())  # the overview's caption under "By lead attribute"
    _nothing_planted(page)
    page.screenshot(path=str(artifacts / "plain_text_overview.png"), full_page=True)

    page.locator('[data-testid="stSidebarNav"]').get_by_text("Rejection feedback").click()
    comment = page.locator('[data-testid="stTable"]').get_by_text("big", exact=False)
    comment.first.wait_for(timeout=90_000)
    assert f"{HEADER} {LINK} {IMAGE}" in _shown(comment.first.inner_text())
    _nothing_planted(page)
    page.screenshot(path=str(artifacts / "plain_text_comments.png"), full_page=True)

"""A real sign-in round trip: a local OpenID Connect provider (oidc-provider-mock), the app served with [auth]
configured, and Chromium signing in as a rep, as an unknown user, and out again."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from datetime import datetime

import polars as pl
import pytest

from dashboard.store import queue, users
from tests.browser.test_browser import MAIN, ROOT, kpis
from tests.conftest import copy_of_demo, free_port, in_transaction, wait_for_port

pytestmark = pytest.mark.browser
NOW = datetime.now().replace(microsecond=0)


def _serve(args: list[str], env: dict, cwd) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def signed_app(tmp_path_factory, demo_file):
    folder = tmp_path_factory.mktemp("signin")
    url = copy_of_demo(demo_file, folder)
    reps = in_transaction(url, queue.reps)
    rep = reps.filter((pl.col("tier") == "junior") & (pl.col("pending") > 0)).row(0, named=True)
    in_transaction(
        url,
        users.save_user,
        email="rep@example.com",
        name=rep["name"],
        role="rep",
        rep_id=rep["id"],
        team=None,
        active=True,
        now=NOW,
    )
    provider_port, app_port = free_port(), free_port()
    provider = _serve(
        [sys.executable, "-m", "oidc_provider_mock", "--port", str(provider_port)], {**os.environ}, folder
    )
    secrets_file = folder / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        'client_id = "handoff"\n'
        'client_secret = "handoff-secret"\n'
        f'server_metadata_url = "http://127.0.0.1:{provider_port}/.well-known/openid-configuration"\n'
    )
    env = {**os.environ, "DATABASE_URL": url, "HANDOFF_SEED_DEMO": "0", "HANDOFF_ADMINS": "boss@example.com"}
    app = _serve(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"), "--server.port", str(app_port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--secrets.files", str(secrets_file)],
        env,
        ROOT,
    )  # fmt: skip
    try:
        wait_for_port(provider_port, 60)
        wait_for_port(app_port, 60)
        yield {"base": f"http://127.0.0.1:{app_port}", "rep": rep}
    finally:
        for process in (app, provider):
            process.terminate()
            process.wait(timeout=20)


@pytest.fixture
def tab(chromium_context):
    return chromium_context.new_page()


def sign_in(tab, base: str, email: str) -> None:
    tab.goto(base)
    tab.get_by_role("button", name="Sign in").click()
    tab.locator("input[name=sub]").fill(email)
    tab.get_by_role("button", name="Authorize").click()
    tab.wait_for_url(f"{base}/**", timeout=30_000)


def test_a_rep_signs_in_sees_only_their_queue_is_refused_a_forbidden_action_and_signs_out(signed_app, tab, artifacts):
    base, rep = signed_app["base"], signed_app["rep"]
    sign_in(tab, base, "rep@example.com")
    sidebar = tab.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Signed in as").wait_for(timeout=60_000)
    assert "Rep" in sidebar.inner_text()
    nav = tab.locator('[data-testid="stSidebarNav"]')
    assert "Acceptance queue" in nav.inner_text()
    assert "Import leads" not in nav.inner_text() and "Users" not in nav.inner_text()
    nav.get_by_text("Acceptance queue").click()
    tab.locator(MAIN).get_by_text("Waiting for you").wait_for(timeout=60_000)
    working_as = tab.locator(f'{MAIN} [data-testid="stSelectbox"]').first
    shown = (
        working_as.inner_text() + " " + " ".join(working_as.locator("input").evaluate_all("e => e.map(i => i.value)"))
    )
    assert rep["name"] in shown
    working_as.click()
    assert tab.get_by_role("option").count() == 1  # only their own queue
    tab.keyboard.press("Escape")
    tab.screenshot(path=str(artifacts / "signin_rep_queue.png"), full_page=True)
    # a forbidden action: saving a what-if scenario is for RevOps and admins
    nav.get_by_text("Threshold what-if").click()
    main = tab.locator(MAIN)
    main.locator('[role="tab"]').filter(has_text="Scenarios").click()
    main.get_by_text("Scoring model history").wait_for(timeout=60_000)
    main.get_by_label("Scenario name", exact=True).fill("Mine")
    main.get_by_text(f"Author: {rep['name']} (signed in)").wait_for(timeout=30_000)  # the user, not a typed name
    main.get_by_role("button", name="Save scenario").click()
    main.get_by_text("may not save scenarios").wait_for(timeout=30_000)
    tab.screenshot(path=str(artifacts / "signin_rep_refused.png"), full_page=True)
    sidebar.get_by_role("button", name="Sign out").click()
    # Streamlit ends the session at the provider too (its end-session page), then comes back signed out.
    tab.get_by_role("button", name="End session").click()
    tab.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
    assert tab.locator('[data-testid="stSidebarNav"]').count() == 0
    tab.screenshot(path=str(artifacts / "signin_signed_out.png"), full_page=True)


def test_an_unknown_user_sees_no_data(signed_app, tab, artifacts):
    sign_in(tab, signed_app["base"], "stranger@example.com")
    main = tab.locator(MAIN)
    main.get_by_text("No access yet").wait_for(timeout=60_000)
    # who can grant it (shown as plain text: an invisible word joiner after the @ keeps it from turning into a link)
    main.get_by_text(re.compile("boss@\u2060?example\\.com")).wait_for(timeout=30_000)
    assert not kpis(tab) and tab.locator('[data-testid="stPlotlyChart"]').count() == 0
    assert tab.locator('[data-testid="stSidebarNav"]').count() == 0
    tab.screenshot(path=str(artifacts / "signin_no_access.png"), full_page=True)

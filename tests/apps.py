"""The whole app under AppTest for one test: on a database of its own, the environment set for that test alone."""

from __future__ import annotations

from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from dashboard.apptest import app_test


def app_on(monkeypatch, url: str, *, page: str | None = None, **env: str) -> AppTest:
    """The app on the database at url, not seeded with demo data (seed="1" to seed), with env set for this test;
    run and switched to pages/<page>.py when page is given (before that, the caller may set query parameters or
    session state)."""
    monkeypatch.setattr(PagesManager, "__init__", PagesManager.__init__)  # restored after the test
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HANDOFF_SEED_DEMO", env.pop("seed", "0"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    at = app_test()
    if page is not None:
        at.run()
        at.switch_page(f"pages/{page}.py").run()
    return at

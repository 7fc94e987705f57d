"""Running the app under Streamlit's AppTest, as the page tests and the benchmark do."""

from __future__ import annotations

from pathlib import Path

from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")


def modern_navigation() -> None:
    """Keep AppTest out of Streamlit's legacy pages/-folder mode.

    AppTest re-detects the pages/ folder before every run and then replays the finished page without the entry
    script (the legacy multipage mode). A served app leaves that mode on its first st.navigation call; this does
    the same for every AppTest run, so each goes through streamlit_app.py.
    """
    original = PagesManager.__init__
    if getattr(original, "modern_only", False):
        return

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    init.modern_only = True
    PagesManager.__init__ = init


def app_test(timeout: float = 120) -> AppTest:
    """The whole app under AppTest (configured by the environment, like a served app)."""
    modern_navigation()
    return AppTest.from_file(APP, default_timeout=timeout)

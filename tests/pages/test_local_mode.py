"""Local mode (no sign-in configured) refuses to listen beyond 127.0.0.1."""

from __future__ import annotations

from datetime import datetime

from dashboard.apptest import app_test

NOW = datetime.now().replace(microsecond=0)


def test_local_mode_refuses_to_listen_beyond_this_machine(monkeypatch, demo_url):
    from streamlit import config

    monkeypatch.setenv("DATABASE_URL", demo_url)
    monkeypatch.setenv("HANDOFF_SEED_DEMO", "0")
    original = config.get_option("server.address")
    try:
        config.set_option("server.address", "0.0.0.0")
        at = app_test()
        at.run()
        assert not at.exception
        assert any("refuses to start" in e.value and "0.0.0.0" in e.value for e in at.error)
        assert not at.metric and not at.get("plotly_chart")  # no data shown
        config.set_option("server.address", "127.0.0.1")
        at = app_test()
        at.run()
        assert not at.error and at.metric
    finally:
        config.set_option("server.address", original)

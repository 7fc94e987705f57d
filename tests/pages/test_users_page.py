"""The users and audit log pages under AppTest: a user saved through the form shows in the table and in the log."""

from __future__ import annotations

from streamlit.runtime.pages_manager import PagesManager

from dashboard.apptest import app_test
from dashboard.auth import Role
from dashboard.ui.text import plain


def test_saving_a_user_shows_them_in_the_table_and_the_audit_log(monkeypatch, demo_copy):
    url = demo_copy
    monkeypatch.setattr(PagesManager, "__init__", PagesManager.__init__)  # restored after the test
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HANDOFF_SEED_DEMO", "0")
    at = app_test()
    at.run()
    at.switch_page("pages/users.py").run()
    assert not at.exception
    assert at.dataframe[0].value.empty
    at.text_input(key="users_email").set_value("  ann@example.com ")
    at.text_input(key="users_name").set_value("Ann")
    at.selectbox(key="users_role").set_value(Role.REVOPS)
    next(b for b in at.button if b.label == "Save user").click().run()
    assert not at.exception
    assert any(f"Saved {plain('ann@example.com')}" in t.value for t in at.toast)  # shown as plain text
    table = at.dataframe[0].value
    assert table[["email", "name", "role", "active"]].values.tolist() == [
        ["ann@example.com", "Ann", "RevOps / marketing ops", True]
    ]
    at.switch_page("pages/audit.py").run()
    assert not at.exception
    log = at.dataframe[0].value
    assert log[["actor", "action"]].values.tolist() == [["local", "Manage users"]]  # the label, not the code

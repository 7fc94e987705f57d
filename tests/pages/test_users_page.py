"""The users and audit log pages under AppTest: a user saved through the form shows in the table and in the log."""

from __future__ import annotations

from dashboard.auth import Role
from dashboard.ui.text import plain
from tests.apps import app_on


def test_saving_a_user_shows_them_in_the_table_and_the_audit_log(monkeypatch, demo_copy):
    url = demo_copy
    at = app_on(monkeypatch, url, page="users")
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

"""SLA alerts: `python -m dashboard.alerts` tells each rep their pending MQLs past or near the SLA and each sales
manager their team's, by mail through a real SMTP server and by Slack to a local webhook; --dry-run sends nothing;
a failed send is one sentence and exit code 1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dashboard.alerts import alerts
from dashboard.models import Lead, Rep, StageEvent
from dashboard.notify import settings as notify_settings
from dashboard.store import db, users
from queries import alerts as alert_queries
from tests.conftest import in_transaction
from tests.notify.mail_servers import free_port, smtp_server

ROOT = Path(__file__).resolve().parent.parent.parent
NOW = datetime(2026, 3, 12, 10, 0)
SLA, NEAR = 24.0, 8.0
ARGS = ["--sla-hours", f"{SLA:g}", "--near-hours", f"{NEAR:g}"]

# ------------------------------------------------------------------------------------------------ the questions


def test_the_mqls_past_or_within_the_window_most_overdue_first():
    pending = pl.LazyFrame({"lead_id": [1, 2, 3, 4, 5], "hours_left": [30.0, 4.0, 4.01, -0.1, -50.0]})
    got = alert_queries.sla_alerts(pending, near_hours=4).collect()
    expected = pl.DataFrame({"lead_id": [5, 4, 2], "hours_left": [-50.0, -0.1, 4.0], "breached": [True, True, False]})
    assert_frame_equal(got, expected)


USERS = pl.LazyFrame(
    {
        "email": ["a@x", "a2@x", "old@x", "m@x", "m-old@x", "m-none@x", "admin@x"],
        "name": ["Ann", "Ann too", "Old", "", "Gone", "Nobody", "Root"],
        "role": ["rep", "rep", "rep", "sales_manager", "sales_manager", "sales_manager", "admin"],
        "rep_id": [1, 1, 2, None, None, None, None],
        "team": [None, None, None, "East", "East", None, None],
        "active": [True, True, False, True, False, True, True],
    },
    schema_overrides={"rep_id": pl.Int64, "team": pl.String},
)


def test_each_rep_has_the_addresses_of_the_active_users_linked_to_it():
    reps = pl.LazyFrame({"id": [1, 2, 3], "name": ["Ann", "Bob", "Cid"], "team": ["East", "East", "West"]})
    got = alert_queries.rep_addresses(reps, USERS).collect()
    assert got.to_dicts() == [
        {"rep_id": 1, "rep": "Ann", "team": "East", "emails": ["a2@x", "a@x"]},
        {"rep_id": 2, "rep": "Bob", "team": "East", "emails": []},
        {"rep_id": 3, "rep": "Cid", "team": "West", "emails": []},
    ]


def test_the_managers_told_are_the_active_sales_managers_with_a_team():
    assert alert_queries.team_managers(USERS).collect().to_dicts() == [{"email": "m@x", "name": "m@x", "team": "East"}]


@pytest.mark.parametrize(
    ("hours", "text"),
    [(0.2, "12 min"), (1.0, "1 h 00 min"), (-3.07, "3 h 04 min"), (48.0, "48 h 00 min"), (-60.0, "2.5 days")],
)
def test_spans_read_in_hours_then_days(hours, text):
    assert alerts.span(hours) == text


# ------------------------------------------------------------------------------------------------ the command


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A seeded database whose users link some reps (one through a deactivated user only, one not at all) and name a
    sales manager for two of the three teams."""
    from seed import populate
    from seed.generator import today_plan

    url = f"sqlite:///{tmp_path_factory.mktemp('alerts') / 'handoff.db'}"
    populate(url, today_plan(1500, 6, seed=21, now=NOW))
    reps = db.read_table(Rep, url=url)
    teams = sorted(set(reps["team"]))
    expected = _due_by_hand(url)
    waiting = sorted(set(expected["rep_id"]))
    assert len(waiting) >= 4 and expected["breached"].any() and not expected["breached"].all()
    unlinked, deactivated, linked = waiting[0], waiting[1], waiting[2:]
    for rep in reps.iter_rows(named=True):
        if rep["id"] in (*linked, deactivated):
            email = f"rep{rep['id']}@example.com"
            _user(url, email=email, name=rep["name"], role="rep", rep_id=rep["id"], active=rep["id"] != deactivated)
    for team in teams[:2]:
        _user(url, email=f"manager.{teams.index(team)}@example.com", name=f"Manager of {team}", role="sales_manager",
              team=team)  # fmt: skip
    _user(url, email="admin@example.com", name="Admin", role="admin")
    names = dict(zip(reps["id"], reps["name"], strict=True))
    return url, expected, names, unlinked, deactivated, teams


def _user(url: str, *, email: str, name: str, role: str, rep_id=None, team=None, active=True) -> None:
    in_transaction(
        url, users.save_user, email=email, name=name, role=role, rep_id=rep_id, team=team, active=active, now=NOW
    )


def _due_by_hand(url: str) -> pl.DataFrame:
    """The pending MQLs past or within NEAR hours of the SLA, computed here from the tables: leads waiting for a
    decision (stage mql) owned by an active rep, timed from their latest MQL event."""
    reps = db.read_table(Rep, url=url).filter(pl.col("active"))
    latest = (
        db.read_table(StageEvent, url=url)
        .filter(pl.col("stage") == "mql")
        .group_by("lead_id")
        .agg(pl.col("occurred_at").max().alias("mql_at"))
    )
    return (
        db.read_table(Lead, url=url)
        .filter(pl.col("stage") == "mql")
        .join(latest, left_on="id", right_on="lead_id")
        .join(reps.select(pl.col("id").alias("rep_id"), "team"), left_on="owner_rep_id", right_on="rep_id")
        .with_columns((SLA - (pl.lit(NOW) - pl.col("mql_at")).dt.total_seconds() / 3600).alias("hours_left"))
        .filter(pl.col("hours_left") <= NEAR)
        .select(pl.col("owner_rep_id").alias("rep_id"), "team", "external_id", pl.col("hours_left") < 0)
        .rename({"hours_left": "breached"})
    )


@pytest.fixture(autouse=True)
def isolated(monkeypatch):
    monkeypatch.setattr(notify_settings, "streamlit_secrets", lambda: {})
    for setting in notify_settings.SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)


def _listed(text: str) -> list[str]:
    """The external ids a message lists, in its order."""
    return re.findall(r"(DEMO-\d+) \(", text)


def test_each_rep_and_manager_is_mailed_exactly_their_mqls_past_or_near_the_sla(world, monkeypatch, capsys):
    url, expected, names, unlinked, deactivated, teams = world
    with smtp_server() as server:
        for name, value in server.env(FROM="Handoff <handoff@example.com>").items():
            monkeypatch.setenv(name, value)
        assert alerts.main(["--db", url, "--mail", *ARGS, "--app-url", "https://h.example.com"], now=NOW) == 0
    said = capsys.readouterr()
    assert said.err == ""
    received = {tuple(r.recipients): r.message for r in server.inbox.received}
    assert len(received) == len(server.inbox.received)  # one message per person

    by_rep = expected.group_by("rep_id").agg("external_id")
    for rep_id, ids in by_rep.iter_rows():
        if rep_id in (unlinked, deactivated):
            assert f"Not reached by mail: {names[rep_id]} (rep, " in said.out
            continue
        message = received.pop((f"rep{rep_id}@example.com",))
        body = message.get_body(("plain",)).get_content()
        assert sorted(_listed(body)) == sorted(ids)
        assert message["Subject"].startswith("Handoff SLA alert: ") and message["Subject"].endswith(" in your queue")
        assert body.startswith(f"Hello {names[rep_id]},") and "https://h.example.com/queue" in body
    for index, team in enumerate(teams[:2]):
        ids = expected.filter(pl.col("team") == team)["external_id"].to_list()
        if not ids:
            continue
        message = received.pop((f"manager.{index}@example.com",))
        body = message.get_body(("plain",)).get_content()
        assert sorted(_listed(body)) == sorted(ids)
        assert f"In your team ({team}), " in body
    assert received == {}  # nobody else: not the admin, not the team without a manager, not a deactivated user
    # each line says whether its MQL is past the SLA or how long is left
    said_past = {
        lead: standing.startswith("past the SLA by ")
        for r in server.inbox.received
        for lead, standing in re.findall(r"- (?:.+: )?(DEMO-\d+) \(.*, (past the SLA by .+|.+ left)\r?$",
                                          r.message.get_body(("plain",)).get_content(), flags=re.M)
    }  # fmt: skip
    assert said_past == {
        lead: past for lead, past in expected.select("external_id", "breached").iter_rows() if lead in said_past
    }
    assert set(said_past.values()) == {True, False}


def test_each_alert_is_posted_to_slack_addressed_by_name(world, httpserver, capsys):
    httpserver.clear_log()  # the server is shared by the session: only this test's requests
    url, expected, names, _, _, teams = world
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    assert alerts.main(["--db", url, "--slack-webhook", httpserver.url_for("/hook"), *ARGS], now=NOW) == 0
    posts = [json.loads(request.data)["text"] for request, _ in httpserver.log]
    reps_waiting = expected["rep_id"].unique().to_list()
    managers_told = expected.filter(pl.col("team").is_in(teams[:2]))["team"].n_unique()
    assert len(posts) == len(reps_waiting) + managers_told
    for rep_id in reps_waiting:
        (post,) = [p for p in posts if p.startswith(f"*{names[rep_id]}*: ")]
        ids = expected.filter(pl.col("rep_id") == rep_id)["external_id"].to_list()
        assert sorted(_listed(post)) == sorted(ids)
    assert f"Posted {len(posts)} alerts to Slack." in capsys.readouterr().out


def test_a_dry_run_prints_the_alerts_and_sends_nothing(world, httpserver, capsys):
    httpserver.clear_log()  # the server is shared by the session: only this test's requests
    url, expected, *_ = world
    assert (
        alerts.main(["--db", url, "--mail", "--dry-run", "--slack-webhook", httpserver.url_for("/h"), *ARGS], now=NOW)
        == 0
    )
    out = capsys.readouterr().out
    assert httpserver.log == []
    assert out.count("--- Mail to ") > 0 and out.count("--- Slack post for ") > 0
    assert set(_listed(out)) == set(expected["external_id"])
    assert "Not reached by mail: " in out


def test_nothing_due_says_so(world, capsys):
    url, *_ = world
    assert alerts.main(["--db", url, "--mail", "--dry-run", "--sla-hours", "100000", "--near-hours", "0"], now=NOW) == 0
    assert "No pending MQL is past the 100000 h SLA or within 0 h of it: nothing to send." in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "No alerts sent: say how to tell them: --mail and/or --slack-webhook URL"),
        (["--mail"], "No alerts sent: no mail server is set: set HANDOFF_SMTP_HOST"),
        (["--slack-webhook", "ftp://x/y"], "No alerts sent: the Slack webhook must be an https:// address"),
        (["--dry-run", "--db", "sqlite:////nonexistent/h.db"], "No alerts sent: there is no database file"),
    ],
)
def test_settings_that_cannot_work_are_said(world, capsys, args, message):
    assert alerts.main(["--db", world[0], *args], now=NOW) == 1  # the last --db given wins
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_a_webhook_answering_500_says_why_after_the_mail_went(world, monkeypatch, httpserver, capsys):
    httpserver.clear_log()  # the server is shared by the session: only this test's requests
    url, *_ = world
    httpserver.expect_request("/hook").respond_with_data("rollup_error", status=500)
    with smtp_server() as server:
        for name, value in server.env(FROM="h@example.com").items():
            monkeypatch.setenv(name, value)
        assert alerts.main(["--db", url, "--mail", "--slack-webhook", httpserver.url_for("/hook"), *ARGS], now=NOW) == 1
    said = capsys.readouterr()
    assert server.inbox.received and "Mailed " in said.out
    assert said.err == (
        f"The alerts were not all posted to Slack: the Slack webhook at {httpserver.host}:{httpserver.port} answered "
        "HTTP 500 (rollup_error): check the webhook's address, and that its app and channel still exist.\n"
    )


def test_python_m_with_nothing_listening_says_why_without_a_traceback(world, tmp_path):
    url, *_ = world
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")} | {
        "PYTHONPATH": str(ROOT),
        "HANDOFF_SMTP_HOST": "127.0.0.1",
        "HANDOFF_SMTP_PORT": str(port),
        "HANDOFF_SMTP_STARTTLS": "off",
        "HANDOFF_SMTP_FROM": "h@example.com",
    }
    done = subprocess.run(
        [sys.executable, "-m", "dashboard.alerts", "--db", url, "--mail", "--sla-hours", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr == (
        f"The alerts were not all mailed: nothing accepts connections at 127.0.0.1:{port}: check HANDOFF_SMTP_HOST "
        "and HANDOFF_SMTP_PORT.\n"
    )
    assert "Traceback" not in done.stdout

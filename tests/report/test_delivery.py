"""The weekly report delivered: `python -m dashboard.report --week last --mail-to ... --slack-webhook ...` mails one
message through a real SMTP server and posts the headline to a local webhook; a failed send is one sentence and
exit code 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from dashboard.models import SalesDecision, StageEvent
from dashboard.notify import settings as notify_settings
from dashboard.report import report
from dashboard.store import db
from queries.review import IsoWeek
from tests.notify.mail_servers import free_port, smtp_server

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

ROOT = Path(__file__).resolve().parent.parent.parent
NOW = datetime(2026, 3, 12, 10, 0)  # a Thursday: the last complete week is 2026-W10
LAST = IsoWeek(2026, 10)
SLA_HOURS = 24.0


@pytest.fixture(scope="module")
def seeded_url(tmp_path_factory) -> str:
    from seed import populate
    from seed.generator import today_plan

    url = f"sqlite:///{tmp_path_factory.mktemp('delivery') / 'handoff.db'}"
    populate(url, today_plan(2000, 10, seed=8, now=NOW))
    return url


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    """No chart images (the tables instead: quick), and only the settings each test gives."""
    monkeypatch.setattr(report, "chromium_path", lambda: None)
    monkeypatch.setattr(notify_settings, "streamlit_secrets", lambda: {})
    for setting in notify_settings.SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)


def _week_figures(url: str, week: IsoWeek) -> dict[str, str]:
    """The headline of week computed here from the tables: MQLs, acceptance, SQLs, wins and SLA compliance, as the
    report writes them."""
    events = db.read_table(StageEvent, url=url).filter(pl.col("timed"))
    decisions = db.read_table(SalesDecision, url=url)
    in_week = pl.col("occurred_at").is_between(week.start, week.end, closed="left")
    mqls = events.filter((pl.col("stage") == "mql") & in_week).select("lead_id", pl.col("occurred_at").alias("mql_at"))
    decided = mqls.join(decisions, on="lead_id", how="inner").filter(pl.col("decided_at") >= pl.col("mql_at"))
    accepted = decided.filter(pl.col("decision") == "accepted").height
    hours = (decided["decided_at"] - decided["mql_at"]).dt.total_seconds() / 3600
    within = int((hours <= SLA_HOURS).sum())
    reached = {s: events.filter((pl.col("stage") == s) & in_week)["lead_id"].n_unique() for s in ("sql", "customer")}
    return {
        "mqls": f"{mqls.height:,}",
        "acceptance_rate": f"{accepted / decided.height:.1%}",
        "sqls": f"{reached['sql']:,}",
        "wins": f"{reached['customer']:,}",
        "sla_compliance": f"{within / decided.height:.1%}",
    }


def _mqls_in(url: str, week: IsoWeek) -> int:
    events = db.read_table(StageEvent, url=url)
    return events.filter(
        (pl.col("stage") == "mql") & pl.col("occurred_at").is_between(week.start, week.end, closed="left")
    ).height


def test_the_report_arrives_as_one_message_with_the_html_report(seeded_url, monkeypatch, capsys, tmp_path):
    out = tmp_path / "review.html"
    with smtp_server() as server:
        for name, value in server.env(FROM="Handoff <handoff@example.com>").items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("HANDOFF_APP_URL", "https://handoff.example.com/")
        argv = ["--week", "last", "--db", seeded_url, "--out", str(out), "--mail-to", "a@x.org, Bea <b@y.org>"]
        assert report.main(argv, now=NOW) == 0
    said = capsys.readouterr()
    assert said.err == ""
    assert f"Mailed the weekly review of {LAST} to a@x.org, Bea <b@y.org>." in said.out
    (received,) = server.inbox.received
    assert received.sender == "handoff@example.com"
    assert received.recipients == ["a@x.org", "b@y.org"]
    message = received.message
    assert message["Subject"] == f"Handoff weekly review {LAST.label}"
    assert message["To"] == "a@x.org, Bea <b@y.org>"
    html = message.get_body(("html",)).get_content()
    assert html.startswith("<!DOCTYPE html>") and f"Weekly review · {LAST.label}" in html
    for key, text in _week_figures(seeded_url, LAST).items():
        assert f'data-figure="{key}">{text}</td>' in html, key
    link = f"https://handoff.example.com/review?week={LAST}"
    assert f'href="{link}"' in html
    text = message.get_body(("plain",)).get_content()
    change = _mqls_in(seeded_url, LAST) - _mqls_in(seeded_url, LAST.shifted(-1))
    assert f"MQLs: {_week_figures(seeded_url, LAST)['mqls']} ({change:+,} on the week before)" in text
    assert f"Open the weekly review: {link}" in text
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")  # --out still writes the file


def test_the_headline_is_posted_to_slack_with_a_link_to_the_week(seeded_url, httpserver, capsys):
    httpserver.clear_log()  # the server is shared by the session: only this test's requests
    httpserver.expect_oneshot_request("/services/T1/B1/xyz", method="POST").respond_with_data("ok")
    argv = ["--week", "last", "--db", seeded_url, "--slack-webhook", httpserver.url_for("/services/T1/B1/xyz")]
    assert report.main([*argv, "--app-url", "http://127.0.0.1:8501"], now=NOW) == 0
    assert f"Posted the headline of {LAST} to Slack." in capsys.readouterr().out
    # only this webhook's posts: a slow request another test gave up on may still be logged by the shared server
    ((request, _),) = [(r, a) for r, a in httpserver.log if r.path == "/services/T1/B1/xyz"]
    text = json.loads(request.data)["text"]
    figures = _week_figures(seeded_url, LAST)
    change = _mqls_in(seeded_url, LAST) - _mqls_in(seeded_url, LAST.shifted(-1))
    assert text.startswith(f"*Weekly review · {LAST.label}*")
    assert f"MQLs: *{figures['mqls']}* ({change:+,} on the week before)" in text
    for key, label in (("acceptance_rate", "Acceptance rate"), ("sqls", "SQLs"), ("wins", "Wins")):
        assert f"{label}: *{figures[key]}* (" in text
    assert f"SLA compliance: *{figures['sla_compliance']}* (" in text
    assert text.endswith(f"<http://127.0.0.1:8501/review?week={LAST}|Open the weekly review of {LAST}>")


def test_a_figure_the_data_cannot_support_is_posted_as_a_dash_with_the_reason():
    from dashboard.data import review_data as rd
    from dashboard.report import delivery

    headline = pl.DataFrame(
        {
            "figure": ["mqls", "acceptance_rate", "sqls", "wins", "sla_compliance", "median_hours"],
            "this_week": [10.0, None, 3.0, 1.0, None, None],
            "previous_week": [8.0, None, 3.0, None, 0.9, None],
            "four_week_average": [9.0, None, 2.0, 1.0, 0.8, None],
        }
    ).with_columns(
        (pl.col("this_week") - pl.col("previous_week")).alias("change"),
        (pl.col("this_week") - pl.col("four_week_average")).alias("change_vs_average"),
    )
    why = "No rejections are recorded in this data: there is no acceptance rate."
    review = rd.Review(LAST, 24, headline, *[pl.DataFrame()] * 7, notes=(why,), unsupported={"acceptance_rate": why})
    assert [(f.label, f.value, f.note) for f in delivery.sent_figures(review)] == [
        ("MQLs", "10", "+2 on the week before"),
        ("Acceptance rate", "–", why.rstrip(".")),
        ("SQLs", "3", "+0 on the week before"),
        ("Wins", "1", "no figure for the week before"),
        ("SLA compliance", "–", "no MQL of the week has been decided yet"),
    ]
    assert "Open the weekly review" not in delivery.slack_text(review, None)


def test_a_closed_week_is_posted_as_the_meeting_saw_it():
    from datetime import datetime

    from dashboard.data import review_data as rd
    from dashboard.report import delivery

    def headline(mqls: float, wins: float) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "figure": ["mqls", "acceptance_rate", "sqls", "wins", "sla_compliance", "median_hours"],
                "this_week": [mqls, 0.5, 3.0, wins, 0.9, 5.0],
                "previous_week": [8.0, 0.5, 3.0, 1.0, 0.9, 5.0],
                "four_week_average": [9.0, 0.5, 2.0, 1.0, 0.8, 5.0],
            }
        ).with_columns(
            (pl.col("this_week") - pl.col("previous_week")).alias("change"),
            (pl.col("this_week") - pl.col("four_week_average")).alias("change_vs_average"),
        )

    live = rd.Review(LAST, 24, headline(12.0, 4.0), *[pl.DataFrame()] * 7)
    kept = rd.Snapshot(LAST, datetime(2026, 11, 30, 9, 5), "Maria <b>", 24, rd.Shown(headline(10.0, 2.0), {}, {}))
    text = delivery.slack_text(live, None, kept)
    assert "MQLs: *10* (+2 on the week before)" in text and "Wins: *2* (+1 on the week before)" in text
    assert "_As of 30 Nov 2026 at 09:05, closed by Maria &lt;b&gt;_" in text
    plain_part = delivery.headline_text(live, None, kept)
    assert "As of 30 Nov 2026 at 09:05, closed by Maria <b>" in plain_part and "MQLs: 10 (+2" in plain_part
    assert "MQLs: *12* (+4 on the week before)" in delivery.slack_text(live, None)  # an open week: live figures


# ------------------------------------------------------------------------------------------------ failures


def _smtp_env(monkeypatch, port: int, **more: str) -> None:
    base = {"HOST": "127.0.0.1", "PORT": str(port), "STARTTLS": "off", "FROM": "h@x.org"}
    for name, value in (base | more).items():
        monkeypatch.setenv(f"HANDOFF_SMTP_{name}", value)


@pytest.mark.parametrize(
    ("server", "env", "message"),
    [
        (
            None,
            {},
            "The report was not mailed: nothing accepts connections at 127.0.0.1:{port}: check HANDOFF_SMTP_HOST "
            "and HANDOFF_SMTP_PORT.",
        ),
        (
            {"users": {"bot": "right"}},
            {"USER": "bot", "PASSWORD": "wrong"},
            "The report was not mailed: the mail server at 127.0.0.1:{port} refused the user name and password for "
            "bot (535 5.7.8 Authentication credentials invalid): check HANDOFF_SMTP_USER and HANDOFF_SMTP_PASSWORD.",
        ),
        (
            {},
            {"STARTTLS": "on"},
            "The report was not mailed: the mail server at 127.0.0.1:{port} does not offer STARTTLS: use its "
            "STARTTLS port (usually 587), or set HANDOFF_SMTP_STARTTLS=off for a relay on a trusted network.",
        ),
    ],
    ids=["nothing listening", "log-in refused", "no STARTTLS"],
)
def test_a_failed_mail_says_why_in_one_sentence_and_exits_1(seeded_url, monkeypatch, capsys, server, env, message):
    argv = ["--week", "last", "--db", seeded_url, "--mail-to", "a@x.org"]
    if server is None:
        port = free_port()
        _smtp_env(monkeypatch, port, **env)
        assert report.main(argv, now=NOW) == 1
    else:
        with smtp_server(**server) as running:
            port = running.port
            _smtp_env(monkeypatch, port, **env)
            assert report.main(argv, now=NOW) == 1
        assert running.inbox.received == []
    err = capsys.readouterr().err
    assert err == message.format(port=port) + "\n"


def test_a_webhook_answering_500_says_why_and_exits_1_after_the_mail_went(seeded_url, monkeypatch, httpserver, capsys):
    httpserver.clear_log()  # the server is shared by the session: only this test's requests
    httpserver.expect_request("/hook").respond_with_data("rollup_error", status=500)
    with smtp_server() as server:
        _smtp_env(monkeypatch, server.port)
        argv = ["--week", "2026-W09", "--db", seeded_url, "--mail-to", "a@x.org"]
        assert report.main([*argv, "--slack-webhook", httpserver.url_for("/hook")], now=NOW) == 1
    said = capsys.readouterr()
    assert len(server.inbox.received) == 1 and "Mailed the weekly review of 2026-W09" in said.out
    assert said.err == (
        f"The headline was not posted to Slack: the Slack webhook at {httpserver.host}:{httpserver.port} answered "
        "HTTP 500 (rollup_error): check the webhook's address, and that its app and channel still exist.\n"
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--mail-to", "a@x.org"], {}, "No report sent: no mail server is set: set HANDOFF_SMTP_HOST"),
        (["--mail-to", "a@x.org"], {"HANDOFF_SMTP_HOST": "h"}, "No report sent: no sender address is set"),
        (["--mail-to", "a@x.org,bob"], {}, "No report sent: “bob” is not an e-mail address"),
        (["--slack-webhook", "hooks.slack.com/x"], {}, "must be an https:// address"),
        (["--slack-webhook", "https://h/x", "--app-url", "h"], {}, "must start with http:// or https://"),
        ([], {}, "No report sent: say where the report goes: --out FILE, --mail-to ADDRESSES and/or --slack-webhook"),
        (["--out", "review.docx"], {}, "No report written: the output file must end in .html or .pdf"),
    ],
)
def test_settings_that_cannot_work_are_said_before_anything_is_made(tmp_path, monkeypatch, capsys, args, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(report, "load_review", lambda *a, **k: pytest.fail("the report was made"))
    assert report.main(["--week", "last", "--db", f"sqlite:///{tmp_path / 'none.db'}", *args], now=NOW) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_python_m_reads_the_secrets_and_says_why_without_a_traceback(tmp_path, seeded_url):
    secrets = tmp_path / ".streamlit" / "secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text('[smtp]\nhost = "127.0.0.1"\nport = "smtp"\nfrom = "h@x.org"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")} | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "dashboard.report", "--week", "last", "--db", seeded_url, "--mail-to", "a@x.org"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr == (
        "No report sent: the mail server's port must be a number from 1 to 65535, not “smtp”: check "
        "HANDOFF_SMTP_PORT (or port in [smtp] of .streamlit/secrets.toml).\n"
    )
    assert done.stdout == ""


def test_the_last_week_is_the_last_complete_week_with_data(seeded_url, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert report.main(["--week", "LAST", "--db", seeded_url, "--out", str(out)], now=NOW + timedelta(days=30)) == 0
    # the data ends on NOW: thirty days later, its last complete week is still the one before NOW's
    assert f"Wrote the weekly review of {LAST} to {out}." in capsys.readouterr().out

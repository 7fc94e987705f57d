"""SLA alerts for a scheduled job: each rep is told which of their pending MQLs are past the SLA or near it, each
sales manager the same for their team, by mail (one message each) and/or Slack (one post each); --dry-run prints
what would be sent and sends nothing.

    python -m dashboard.alerts [--db URL] [--near-hours 4] [--sla-hours H] [--mail] [--slack-webhook URL]
        [--app-url URL] [--dry-run]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from sqlalchemy.engine import make_url

from dashboard.config import load_settings
from dashboard.data import alerts_data
from dashboard.data.alerts_data import Due
from dashboard.notify import DeliveryError, as_clause, mail, slack
from dashboard.notify.settings import SmtpSettings, app_url, smtp_settings
from dashboard.store import db

NEAR_HOURS = 4.0
QUEUE_PAGE = "queue"  # pages/queue.py's address in the app
SLACK_LINES = 40  # a post lists this many MQLs, then says how many more there are


@dataclass(frozen=True)
class Alert:
    """One person told: their name, their addresses (none: they cannot be mailed), and the MQLs they are told about."""

    name: str
    emails: tuple[str, ...]
    mqls: pl.DataFrame  # Due.mqls' rows: most overdue first
    team: str | None = None  # a sales manager's team; None for a rep

    @property
    def who(self) -> str:
        return f"sales manager, {self.team}" if self.team else "rep"


def alerts_of(due: Due) -> list[Alert]:
    """An alert for each rep with MQLs past or near the SLA, then one for each sales manager whose team has any."""
    reps = [
        Alert(rep["rep"], tuple(rep["emails"]), mine)
        for rep in due.reps.iter_rows(named=True)
        if (mine := due.mqls.filter(pl.col("rep_id") == rep["rep_id"])).height
    ]
    managers = [
        Alert(manager["name"], (manager["email"],), theirs, team=manager["team"])
        for manager in due.managers.iter_rows(named=True)
        if (theirs := due.mqls.filter(pl.col("team") == manager["team"])).height
    ]
    return reps + managers


def span(hours: float) -> str:
    """A span as a person reads it: "45 min", "3 h 04 min", and in days above 48 hours ("2.5 days")."""
    minutes = round(abs(hours) * 60)
    if minutes > 48 * 60:
        return f"{minutes / (24 * 60):.1f} days"
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def standing(hours_left: float) -> str:
    return f"past the SLA by {span(hours_left)}" if hours_left < 0 else f"{span(hours_left)} left"


@dataclass(frozen=True)
class Window:
    """The SLA and how near to it an MQL is worth an alert, in hours."""

    sla_hours: float
    near_hours: float


def _count(n: int) -> str:
    return f"{n:,} MQL is" if n == 1 else f"{n:,} MQLs are"


def summary(alert: Alert, window: Window) -> str:
    """ "2 MQLs are past the 24 h SLA", "1 MQL is within 4 h of the 24 h SLA", or both with how many are past."""
    past, total = int(alert.mqls["breached"].sum()), alert.mqls.height
    sla, near = f"{window.sla_hours:g} h SLA", f"{window.near_hours:g} h"
    if past == total:
        return f"{_count(total)} past the {sla}"
    if past == 0:
        return f"{_count(total)} within {near} of the {sla}"
    return f"{_count(total)} past the {sla} or within {near} of it ({past:,} past it)"


def _line(row: dict, *, manager: bool) -> str:
    where = " · ".join(str(v) for v in (row["campaign"], row["channel_label"]) if v)
    lead = f"{row['external_id']} ({where})" if where else row["external_id"]
    mql_at = f"MQL since {row['mql_at']:%d %b %H:%M} UTC" if row["mql_at"] else "MQL time unknown"
    text = f"{lead}: {mql_at}, {standing(row['hours_left'])}"
    return f"{row['rep']}: {text}" if manager else text


def lines(alert: Alert) -> list[str]:
    """One line per MQL, most overdue first (a manager's name the rep)."""
    return [_line(row, manager=alert.team is not None) for row in alert.mqls.iter_rows(named=True)]


def queue_link(base: str | None) -> str | None:
    return f"{base}/{QUEUE_PAGE}" if base else None


def _scope(alert: Alert) -> str:
    return f"in your team ({alert.team})" if alert.team else "in your queue"


def subject(alert: Alert, window: Window) -> str:
    return f"Handoff SLA alert: {summary(alert, window)} {_scope(alert)}"


def mail_text(alert: Alert, window: Window, link: str | None) -> str:
    """The alert as a plain-text mail."""
    text = [
        f"Hello {alert.name},",
        "",
        f"{_scope(alert)[0].upper()}{_scope(alert)[1:]}, {summary(alert, window)}:",
        "",
        *(f"- {line}" for line in lines(alert)),
        "",
        f"Decide them in the acceptance queue: {link}" if link else "Decide them in Handoff's acceptance queue.",
    ]
    return "\n".join(text) + "\n"


def slack_text(alert: Alert, window: Window, link: str | None) -> str:
    """The alert as one Slack post, addressed by name (a webhook posts to one channel)."""
    team = f" (team {alert.team})" if alert.team else ""
    shown = lines(alert)
    text = [
        f"*{slack.escaped(alert.name)}*{slack.escaped(team)}: {summary(alert, window)}",
        *(f"• {slack.escaped(line)}" for line in shown[:SLACK_LINES]),
    ]
    if len(shown) > SLACK_LINES:
        text.append(f"… and {len(shown) - SLACK_LINES:,} more")
    if link:
        text.append(slack.link(link, "Open the acceptance queue"))
    return "\n".join(text)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m dashboard.alerts",
        description="Tell each rep which of their pending MQLs are past or near the SLA, and each sales manager "
        "their team's, by mail and/or Slack.",
    )
    parser.add_argument("--db", help="database URL (default: DATABASE_URL, else the embedded SQLite file)")
    parser.add_argument(
        "--near-hours",
        type=float,
        default=NEAR_HOURS,
        help=f"an MQL is near the SLA within this many hours of it (default {NEAR_HOURS:g})",
    )
    parser.add_argument("--sla-hours", type=float, help="the SLA in hours (default: HANDOFF_SLA_HOURS, else 24)")
    parser.add_argument("--mail", action="store_true", help="mail each person (SMTP settings: see the README)")
    parser.add_argument("--slack-webhook", metavar="URL", help="post each person's alert to this Slack webhook")
    parser.add_argument(
        "--app-url", metavar="URL", help="the app's address, for the link to the queue (default: HANDOFF_APP_URL)"
    )
    parser.add_argument("--dry-run", action="store_true", help="print what would be sent, and send nothing")
    return parser.parse_args(argv)


@dataclass(frozen=True)
class Plan:
    """How the alerts go out, checked before anything is read."""

    mail: bool
    smtp: SmtpSettings | None
    webhook: str | None
    app_url: str | None


def _plan(args: argparse.Namespace) -> Plan:
    if args.near_hours < 0 or (args.sla_hours is not None and args.sla_hours <= 0):
        raise DeliveryError("--near-hours must be 0 or more and --sla-hours more than 0.")
    if not (args.mail or args.slack_webhook is not None or args.dry_run):
        raise DeliveryError("Say how to tell them: --mail and/or --slack-webhook URL (or --dry-run to see the alerts).")
    by_mail = args.mail or (args.dry_run and args.slack_webhook is None)
    return Plan(
        mail=by_mail,
        smtp=smtp_settings() if args.mail and not args.dry_run else None,
        webhook=slack.checked_webhook(args.slack_webhook) if args.slack_webhook is not None else None,
        app_url=app_url(args.app_url),
    )


def _unreached(alerts: list[Alert]) -> list[str]:
    """The reps who cannot be mailed, and why."""
    return [
        f"{a.name} ({a.who}, {a.mqls.height:,} MQL{'' if a.mqls.height == 1 else 's'}): no active user with an "
        "e-mail address is linked to this rep record (link one on the Users page)"
        for a in alerts
        if not a.emails
    ]


def main(argv: list[str] | None = None, *, now: datetime | None = None) -> int:
    """The command line: 0 when every alert went (or there was none), 1 with a sentence on stderr otherwise."""
    args = _arguments(argv)
    settings = load_settings()
    url = args.db or settings.database_url
    sla_hours = args.sla_hours or settings.sla_hours
    now = now or datetime.now(UTC).replace(tzinfo=None, microsecond=0)  # stored times are naive UTC
    try:
        plan = _plan(args)
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and not (parsed.database and Path(parsed.database).is_file()):
            raise DeliveryError(f"There is no database file at {parsed.database or url}: check --db or DATABASE_URL.")
        due = alerts_data.due(url, now=now, sla_hours=sla_hours, near_hours=args.near_hours)
    except (DeliveryError, db.DatabaseUnavailable) as exc:
        print(f"No alerts sent: {as_clause(exc)}", file=sys.stderr)
        return 1
    alerts = alerts_of(due)
    window = Window(sla_hours, args.near_hours)
    if not alerts:
        print(f"No pending MQL is past the {sla_hours:g} h SLA or within {args.near_hours:g} h of it: nothing to send.")
        return 0
    link = queue_link(plan.app_url)
    mailed = [a for a in alerts if a.emails] if plan.mail else []
    if args.dry_run:
        for alert in mailed:
            print(f"--- Mail to {', '.join(alert.emails)} ({alert.name}, {alert.who})")
            print(f"Subject: {subject(alert, window)}\n\n{mail_text(alert, window, link)}")
        for alert in alerts if plan.webhook else []:
            print(f"--- Slack post for {alert.name} ({alert.who})\n{slack_text(alert, window, link)}\n")
        failures = []
    else:
        failures = _send(alerts, mailed, plan, window, link)
    if plan.mail:
        for line in _unreached(alerts):
            print(f"Not reached by mail: {line}.")
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


def _send(alerts: list[Alert], mailed: list[Alert], plan: Plan, window: Window, link: str | None) -> list[str]:
    """Mail and post the alerts; the sentence of each way that failed."""
    failures = []
    if mailed:
        messages = [
            mail.message(
                sender=plan.smtp.sender, to=a.emails, subject=subject(a, window), text=mail_text(a, window, link)
            )
            for a in mailed
        ]
        try:
            mail.send(messages, plan.smtp)
            for alert in mailed:
                print(f"Mailed {alert.name} ({', '.join(alert.emails)}): {summary(alert, window)}.")
        except DeliveryError as exc:
            failures.append(f"The alerts were not all mailed: {as_clause(exc)}")
    if plan.webhook:
        posted = 0
        try:
            for alert in alerts:
                slack.post(plan.webhook, slack_text(alert, window, link))
                posted += 1
            print(f"Posted {posted:,} alerts to Slack.")
        except DeliveryError as exc:
            before = f" ({posted} of {len(alerts)} were posted before)" if posted else ""
            failures.append(f"The alerts were not all posted to Slack: {as_clause(exc).removesuffix('.')}{before}.")
    return failures

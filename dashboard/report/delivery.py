"""The weekly review sent: its headline as text (the Slack post, the mail's plain part), the link to the week on the
app's weekly review page, and the one mail that carries the report."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

from dashboard.data import review_data as rd
from dashboard.notify import mail, slack
from queries.review import IsoWeek

# The headline figures a post carries, in the meeting's order (the time to decision stays in the report).
SENT_FIGURES = ("mqls", "acceptance_rate", "sqls", "wins", "sla_compliance")
REVIEW_PAGE = "review"  # pages/review.py's address in the app; it opens the week named by ?week=
NOT_DECIDED = "no MQL of the week has been decided yet"


def review_link(app_url: str, week: IsoWeek) -> str:
    """The app's weekly review page, opened on week."""
    return f"{app_url.rstrip('/')}/{REVIEW_PAGE}?week={week}"


@dataclass(frozen=True)
class SentFigure:
    label: str
    value: str
    note: str  # its change on the week before, or why there is no figure


def sent_figures(review: rd.Review, snapshot: rd.Snapshot | None = None) -> list[SentFigure]:
    """The figures a post carries, each with its change on the week before or, as "–", the reason there is none: a
    closed week's as the meeting saw them (its snapshot), an open week's live."""
    sent = []
    for f in rd.headline_figures(snapshot.shown.headline if snapshot else review.headline):
        if f.key not in SENT_FIGURES:
            continue
        if f.value == "–":
            note = review.unsupported.get(f.key, NOT_DECIDED).rstrip(".")
        elif f.change is None:
            note = "no figure for the week before"
        else:
            note = f"{f.change} on the week before"
        sent.append(SentFigure(f.label, f.value, note))
    return sent


def headline_text(review: rd.Review, link: str | None, snapshot: rd.Snapshot | None = None) -> str:
    """The headline as plain text: the mail's plain part."""
    lines = [f"Weekly review · {review.week.label}", *([snapshot.as_of()] if snapshot else []), ""]
    lines += [f"{f.label}: {f.value} ({f.note})" for f in sent_figures(review, snapshot)]
    if link:
        lines += ["", f"Open the weekly review: {link}"]
    return "\n".join(lines) + "\n"


def slack_text(review: rd.Review, link: str | None, snapshot: rd.Snapshot | None = None) -> str:
    """The headline in Slack's markup, with the link to the week's review page."""
    lines = [f"*Weekly review · {slack.escaped(review.week.label)}*"]
    if snapshot:
        lines.append(f"_{snapshot.as_of(slack.escaped)}_")
    lines += [
        f"• {f.label}: *{slack.escaped(f.value)}* ({slack.escaped(f.note)})" for f in sent_figures(review, snapshot)
    ]
    if link:
        lines.append(slack.link(link, f"Open the weekly review of {review.week}"))
    return "\n".join(lines)


def subject(week: IsoWeek) -> str:
    return f"Handoff weekly review {week.label}"


def report_mail(
    review: rd.Review,
    html: str,
    *,
    sender: str,
    to: tuple[str, ...],
    link: str | None,
    snapshot: rd.Snapshot | None = None,
) -> EmailMessage:
    """One message to every recipient: the report as its HTML body, the headline as its plain-text part."""
    text = headline_text(review, link, snapshot)
    return mail.message(sender=sender, to=to, subject=subject(review.week), text=text, html=html)

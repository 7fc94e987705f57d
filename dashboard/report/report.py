"""The weekly review as a file to mail, and its command line for a scheduled job.

HTML: one self-contained file (inline CSS, charts as PNG data URIs, a policy that forbids fetching anything), so it
opens the same in a mail client, offline. PDF: that file printed by headless Chromium, when Chromium is installed.
The command also mails the report (one message, the report as its HTML body) and posts its headline to Slack.

    python -m dashboard.report --week 2026-W07|last [--db URL] [--out review.html|review.pdf]
        [--mail-to a@x,b@y] [--slack-webhook URL] [--app-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from html import escape
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
from sqlalchemy.engine import make_url

from dashboard.charts import review_charts
from dashboard.config import load_settings
from dashboard.data import review_data as rd
from dashboard.notify import DeliveryError, as_clause, mail, slack
from dashboard.notify.settings import SmtpSettings, app_url, smtp_settings
from dashboard.report import delivery
from dashboard.store import db
from queries import backtest
from queries.review import IsoWeek

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHART_WIDTH = 960
RENDER_SECONDS = 90
PDF_SECONDS = 90
# Chromium's flags for printing a local file: no sandbox (it may run as root in a container), and nothing that
# reaches out to the network on its own.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
PDF_FLAGS = ("--headless", *CHROMIUM_FLAGS, "--no-pdf-header-footer")


class ReportError(RuntimeError):
    """The report could not be made; the message says why and what to do."""


def chromium_path() -> str | None:
    """The Chrome or Chromium to drive: $BROWSER_PATH when set (kaleido's own variable), else one on the PATH."""
    if (configured := os.environ.get("BROWSER_PATH")) and Path(configured).is_file():
        return configured
    for name in CHROMIUM_NAMES:
        if found := shutil.which(name):
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


@dataclass(frozen=True)
class ChartImages:
    """PNG images of the report's charts; problem says why there are none."""

    pngs: dict[str, bytes] = field(default_factory=dict)
    problem: str | None = None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def chart_images(figures: dict[str, go.Figure]) -> ChartImages:
    """Every figure as a PNG, rendered by kaleido in one Chromium; never raises: a failure is described instead."""
    browser = chromium_path()
    if browser is None:
        return ChartImages(problem="no Chrome or Chromium is installed on the machine that made this report")
    try:
        import kaleido
    except ImportError:
        return ChartImages(problem="the chart renderer (kaleido) is not installed")

    async def render() -> dict[str, bytes]:
        # mathjax=False: the default would fetch MathJax from the web; plotly.js comes from the plotly package.
        async with kaleido.Kaleido(path=browser, mathjax=False, n=1, timeout=RENDER_SECONDS) as renderer:
            return {
                name: await renderer.calc_fig(
                    fig, opts={"format": "png", "width": CHART_WIDTH, "height": fig.layout.height or 400, "scale": 2}
                )
                for name, fig in figures.items()
            }

    # Its own thread and event loop: the caller may be inside one (Streamlit's server runs downloads on a thread).
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            return ChartImages(pngs=pool.submit(asyncio.run, render()).result(timeout=RENDER_SECONDS * 2))
    except Exception as exc:  # kaleido and Chromium fail in many ways; each means "no images"
        return ChartImages(problem=f"the chart renderer failed ({_first_line(exc)})")


def review_figures(review: rd.Review) -> dict[str, go.Figure]:
    """The report's charts, the same the page draws."""
    return {
        "trend": review_charts.trend_chart(
            review.trend,
            week=str(review.week),
            title=f"MQLs and acceptance, the {rd.TREND_WEEKS} weeks to {review.week}",
            partial=rd.unfinished_weeks(review.trend, date.today()),
        ),
        "breaches": review_charts.breaches_chart(
            review.breaches, sla_hours=review.sla_hours, title="SLA breaches by rep"
        ),
        "load": review_charts.load_chart(rd.tier_labels(review.load), title="Sales tiers' load against capacity"),
    }


STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1f2937;
       margin: 0 auto; max-width: 1000px; padding: 24px; font-size: 14px; line-height: 1.45; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 2px solid #e5e7eb; }
h3 { font-size: 15px; margin: 16px 0 6px; }
p.meta, p.note { color: #4b5563; margin: 4px 0; }
p.problem { background: #fff7ed; border: 1px solid #fdba74; padding: 8px 12px; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; font-size: 13px; }
th, td { border-bottom: 1px solid #e5e7eb; padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
table.headline td.value { font-size: 18px; font-weight: 700; }
.up { color: #15803d; } .down { color: #b91c1c; }
.overdue { color: #b91c1c; font-weight: 700; }
img.chart { width: 100%; height: auto; border: 1px solid #e5e7eb; border-radius: 6px; margin: 6px 0; }
pre.notes { white-space: pre-wrap; font-family: inherit; background: #f9fafb; border: 1px solid #e5e7eb;
            padding: 10px 12px; border-radius: 6px; }
@page { size: A4; margin: 12mm; }
@media print { body { padding: 0; font-size: 12px; } table { font-size: 11px; } h2, h3 { break-after: avoid; }
               tr, img.chart { break-inside: avoid; } }
"""
# Nothing may be fetched when the file is opened: no scripts, no fonts, images only from data: URIs (or, in the mailed
# copy, from the message's own parts: cid:).
CONTENT_POLICY = "default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'"
NUMERIC_UNITS = {"count", "signed", "rate", "pp", "hours", "percent0"}


def _table(frame: pl.DataFrame, *, numeric: set[str] = frozenset(), css: str = "") -> str:
    """A plain HTML table of text cells, every value escaped."""
    if frame.is_empty():
        return ""
    head = "".join(
        f'<th class="num">{escape(c)}</th>' if c in numeric else f"<th>{escape(c)}</th>" for c in frame.columns
    )
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{escape(str(v))}</td>' if c in numeric else f"<td>{escape(str(v))}</td>"
            for c, v in zip(frame.columns, row, strict=True)
        )
        + "</tr>"
        for row in frame.iter_rows()
    )
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _display_table(frame: pl.DataFrame, columns: tuple[rd.Column, ...], empty: str) -> str:
    if frame.is_empty():
        return f'<p class="note">{escape(empty)}</p>'
    numeric = {c.header for c in columns if c.unit in NUMERIC_UNITS}
    return _table(rd.display(frame, columns), numeric=numeric)


def _text_table(frame: pl.DataFrame, columns: tuple[rd.Column, ...], empty: str) -> str:
    if frame.is_empty():
        return f'<p class="note">{escape(empty)}</p>'
    return _table(frame, numeric={c.header for c in columns if c.unit in NUMERIC_UNITS})


def _change_cell(text: str | None, lower_is_better: bool) -> str:
    """A change, green when it is good news and red when it is bad (none for no change)."""
    if text is None:
        return '<td class="num">–</td>'
    good = text.startswith("-") if lower_is_better else text.startswith("+")
    css = "" if rd.is_no_change(text) else (" up" if good else " down")
    return f'<td class="num{css}">{escape(text)}</td>'


def headline_html(shown: rd.Shown) -> str:
    """The headline as a table; each value carries data-figure so a test can read it back."""
    rows = "".join(
        "<tr>"
        f"<th>{escape(f.label)}</th>"
        f'<td class="num value" data-figure="{f.key}">{escape(f.value)}</td>'
        f'<td class="num">{escape(f.previous)}</td>'
        f"{_change_cell(f.change, f.lower_is_better)}"
        f'<td class="num">{escape(f.average)}</td>'
        f"{_change_cell(f.change_vs_average, f.lower_is_better)}"
        "</tr>"
        for f in rd.headline_figures(shown.headline)
    )
    head = (
        "<tr><th>Figure</th><th class='num'>This week</th><th class='num'>Week before</th><th class='num'>Change</th>"
        "<th class='num'>4-week average</th><th class='num'>Against the average</th></tr>"
    )
    said = "".join(f'<p class="data-note">{escape(note)}</p>' for note in shown.notes)
    return f'{said}<table class="headline"><thead>{head}</thead><tbody>{rows}</tbody></table>'


def closed_html(snapshot: rd.Snapshot | None, live: rd.Shown, *, sla_hours: float) -> str:
    """For a closed week: when and by whom, and what moved since in numbers; nothing for an open week."""
    if snapshot is None:
        return ""
    since = rd.since_closed(snapshot, live, sla_hours=sla_hours)
    moved = since or "The week's figures today are still the ones the meeting saw."
    return (
        f'<p class="problem">{escape(snapshot.as_of())}. The headline and top movers are the figures the meeting '
        f'saw; the rest of the report is as of its making.</p><p class="note">{escape(moved)}</p>'
    )


def _chart(name: str, images: ChartImages, fallback: str, alt: str) -> str:
    png = images.pngs.get(name)
    if png is None:
        return fallback
    return f'<img class="chart" alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def report_html(
    review: rd.Review,
    *,
    images: ChartImages,
    actions: pl.DataFrame,
    note: dict | None,
    generated_at: datetime,
    link: str | None = None,
    snapshot: rd.Snapshot | None = None,
) -> str:
    """The review of one week as a self-contained HTML document (nothing in it is fetched when it is opened); link,
    when given, is the week on the app's weekly review page. A closed week (snapshot) shows its headline and top
    movers as the meeting saw them, and what moved since."""
    week, live = review.week, rd.shown_of(review)
    shown = snapshot.shown if snapshot else live
    no_movers = (pl.DataFrame(), pl.DataFrame())
    trend = rd.display(
        review.trend,
        (
            rd.Column("week", "Week"),
            rd.Column("mqls", "MQLs", "count"),
            rd.Column("decided", "Decided", "count"),
            rd.Column("rate", "Acceptance", "rate"),
        ),
    )
    load = rd.tier_labels(review.load)
    problem = (
        f'<p class="problem">The charts are shown as tables: {escape(images.problem)}.</p>' if images.problem else ""
    )
    overdue = int(actions["overdue"].sum()) if actions.height else 0
    notes = (
        f'<pre class="notes">{escape(note["text"])}</pre>'
        f'<p class="meta">Saved by {escape(note["author"])}, {note["updated_at"]:%d %b %Y %H:%M}.</p>'
        if note and note["text"]
        else '<p class="note">No notes were saved for this week.</p>'
    )
    sections = [
        f"<h1>Weekly review · {escape(week.label)}</h1>",
        f'<p class="meta">Handoff, made {generated_at:%d %b %Y %H:%M}. Every channel and campaign; leads imported '
        f"without dates are left out. SLA: {review.sla_hours:g} hours from MQL to accept/reject. The 4-week average "
        "is of the four weeks before this one (rates and the median pooled over them).</p>",
        f'<p class="meta"><a href="{escape(link)}">Open this week in Handoff</a></p>' if link else "",
        problem,
        "<h2>Headline</h2>",
        closed_html(snapshot, live, sla_hours=review.sla_hours),
        headline_html(shown),
        _chart(
            "trend", images, _table(trend, numeric={"MQLs", "Decided", "Acceptance"}), "MQLs and acceptance per week"
        ),
        "<h2>Top movers against the week before</h2>",
        '<p class="note">A change is <em>within noise</em> when chance alone could make it at that sample size: '
        "for acceptance, last week's rate lies inside this week's 95% Wilson interval.</p>",
        "<h3>Campaigns</h3>",
        _text_table(shown.movers.get("Campaigns", no_movers)[0], rd.MOVER_COLUMNS, "No MQLs in either week."),
        "<h3>Channels</h3>",
        _text_table(shown.movers.get("Channels", no_movers)[0], rd.MOVER_COLUMNS, "No MQLs in either week."),
        "<h2>Rejection reasons, new or growing</h2>",
        _display_table(review.rejections, rd.REJECTION_COLUMNS, "No rejection reason is new or growing this week."),
        "<h2>SLA breaches by rep</h2>",
        _chart("breaches", images, "", "SLA breaches by rep"),
        _display_table(review.breaches, rd.BREACH_COLUMNS, "No MQLs this week."),
        "<h2>Sales tiers' load against capacity</h2>",
        _chart("load", images, "", "Load against capacity"),
        _display_table(load, rd.LOAD_COLUMNS, "No sales reps on record."),
        "<h2>Decision log: scoring-model changes</h2>",
        '<p class="note">MQLs per week and acceptance in the (up to) four weeks after each change against the four '
        "weeks before. The what-if columns are <em>estimated</em>: the new rule replayed on the weeks before it, "
        "with the acceptance of leads sales never saw estimated by a model.</p>",
        _text_table(
            rd.decisions_table(review.decisions) if review.decisions.height else pl.DataFrame(),
            rd.DECISION_COLUMNS,
            "No scoring-model change so far.",
        ),
        f"<h2>Action items ({actions.height:,}, {overdue:,} overdue)</h2>",
        _text_table(
            rd.actions_table(actions) if actions.height else pl.DataFrame(),
            rd.ACTION_COLUMNS,
            "No action items for this week.",
        ).replace("<td>OVERDUE</td>", '<td class="overdue">OVERDUE</td>'),
        "<h2>Meeting notes</h2>",
        notes,
    ]
    body = "\n".join(s for s in sections if s)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_POLICY}">'
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Weekly review {week}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def html_to_pdf(html: str, *, browser: str | None = None) -> bytes:
    """The HTML printed to PDF (A4) by headless Chromium; ReportError when there is none or printing fails."""
    browser = browser or chromium_path()
    if browser is None:
        raise ReportError(
            "A PDF needs Chrome or Chromium on this machine (e.g. apt-get install chromium); the HTML report needs "
            "nothing and prints to PDF from any browser."
        )
    with tempfile.TemporaryDirectory(prefix="handoff-report-") as folder:
        source, target = Path(folder) / "report.html", Path(folder) / "report.pdf"
        source.write_text(html, encoding="utf-8")
        command = [
            browser,
            *PDF_FLAGS,
            f"--user-data-dir={Path(folder) / 'profile'}",
            f"--print-to-pdf={target}",
            source.as_uri(),
        ]
        try:
            subprocess.run(command, capture_output=True, timeout=PDF_SECONDS, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ReportError(f"Chromium could not print the report to PDF ({_first_line(exc)}).") from exc
        if not target.is_file() or not target.read_bytes().startswith(b"%PDF"):
            raise ReportError("Chromium did not print the report to PDF; the HTML report can be printed instead.")
        return target.read_bytes()


def render(
    review: rd.Review,
    *,
    actions: pl.DataFrame,
    note: dict | None,
    generated_at: datetime,
    pdf: bool = False,
    snapshot: rd.Snapshot | None = None,
) -> bytes:
    """The report file's bytes: HTML (UTF-8), or PDF when pdf is set; a closed week's with its snapshot."""
    html = report_html(
        review,
        images=chart_images(review_figures(review)),
        actions=actions,
        note=note,
        generated_at=generated_at,
        snapshot=snapshot,
    )
    return html_to_pdf(html) if pdf else html.encode("utf-8")


def load_review(url: str, week: IsoWeek | None, *, now: datetime, sla_hours: float, maturity_days: int) -> rd.Review:
    """The review of week read straight from the database at url (no Streamlit caches: for scripts); week None is
    the last complete week with data, the one the page opens on."""
    from dashboard.data import data  # here, not at the top: its Streamlit caches log a warning each outside an app

    db.create_schema(url)  # a database made before the review existed gains its two tables
    t = data.read_tables(url)
    if week is None:
        week = rd.default_week(t, rd.week_choices(t, now.date()), now.date())
    base: list = []

    def scored():
        if not base:  # scoring every lead is the slow part: only when there is a change to estimate
            base.append(data.whatif_base_frames(t, now=now, maturity_days=maturity_days))
        return base[0]

    def project(filters, rule):
        return data.whatif_frames(scored(), filters, rule)

    def forecast(cutoff, until, rule):
        return backtest.forecast(
            scored().frame, cutoff=cutoff, until=until, rule=rule, now=now, maturity_days=maturity_days
        )

    return rd.review_frames(t, week, sla_hours=sla_hours, now=now, project=project, forecast=forecast)


LAST_WEEK = "last"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m dashboard.report",
        description="Make the weekly review of one ISO week: write it as HTML or PDF, mail it, post its headline to "
        "Slack.",
    )
    parser.add_argument(
        "--week", required=True, help="the ISO week, e.g. 2026-W07, or last: the last complete week with data"
    )
    parser.add_argument("--db", help="database URL (default: DATABASE_URL, else the embedded SQLite file)")
    parser.add_argument("--out", type=Path, help="the file to write, ending .html or .pdf")
    parser.add_argument(
        "--mail-to",
        metavar="ADDRESSES",
        help="mail the report to these addresses, comma-separated, as one message (SMTP settings: see the README)",
    )
    parser.add_argument("--slack-webhook", metavar="URL", help="post the headline to this Slack incoming webhook")
    parser.add_argument(
        "--app-url", metavar="URL", help="the app's address, for the link to the week (default: HANDOFF_APP_URL)"
    )
    return parser.parse_args(argv)


@dataclass(frozen=True)
class Sending:
    """Where the report goes besides its file, checked before anything is made."""

    mail_to: tuple[str, ...] = ()
    smtp: SmtpSettings | None = None
    webhook: str | None = None
    app_url: str | None = None


def _sending(args: argparse.Namespace) -> Sending:
    """The destinations the command line asks for; ReportError or DeliveryError when one is missing or malformed."""
    if not (args.out or args.mail_to is not None or args.slack_webhook is not None):
        raise ReportError("Say where the report goes: --out FILE, --mail-to ADDRESSES and/or --slack-webhook URL.")
    if args.out and args.out.suffix.lower() not in (".html", ".pdf"):
        raise ReportError(f"The output file must end in .html or .pdf, not “{args.out.name}”.")
    if args.mail_to is None and args.slack_webhook is None:
        return Sending()
    to = mail.addresses(args.mail_to) if args.mail_to is not None else ()
    return Sending(
        mail_to=to,
        smtp=smtp_settings() if to else None,
        webhook=slack.checked_webhook(args.slack_webhook) if args.slack_webhook is not None else None,
        app_url=app_url(args.app_url),
    )


def _send(review: rd.Review, html: str, sending: Sending, snapshot: rd.Snapshot | None) -> list[str]:
    """Mail the report and post its headline (a closed week's as its snapshot kept it), as asked; the sentence of
    each that failed."""
    failures = []
    link = delivery.review_link(sending.app_url, review.week) if sending.app_url else None
    if sending.mail_to:
        message = delivery.report_mail(
            review, html, sender=sending.smtp.sender, to=sending.mail_to, link=link, snapshot=snapshot
        )
        try:
            mail.send([message], sending.smtp)
            print(f"Mailed the weekly review of {review.week} to {', '.join(sending.mail_to)}.")
        except DeliveryError as exc:
            failures.append(f"The report was not mailed: {as_clause(exc)}")
    if sending.webhook:
        try:
            slack.post(sending.webhook, delivery.slack_text(review, link, snapshot))
            unlinked = ", without a link to the app (set --app-url or HANDOFF_APP_URL for one)" if not link else ""
            print(f"Posted the headline of {review.week} to Slack{unlinked}.")
        except DeliveryError as exc:
            failures.append(f"The headline was not posted to Slack: {as_clause(exc)}")
    return failures


def main(argv: list[str] | None = None, *, now: datetime | None = None) -> int:
    """The command line: 0 when the report was written and sent where asked, 1 with a sentence on stderr for each
    thing that could not be done."""
    args = _arguments(argv)
    # Outside a Streamlit app, every cache would log that it falls back to memory: noise in a scheduled job's log.
    # (Streamlit sets its loggers' levels when it is imported and when it reads its configuration, which reading
    # the secrets does: so the configuration is read first, and the level set after that.)
    from streamlit import config

    config.get_option("logger.level")
    logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)
    settings = load_settings()
    url = args.db or settings.database_url
    now = now or datetime.now().replace(microsecond=0)
    nothing = "No report written" if args.out and not (args.mail_to or args.slack_webhook) else "No report sent"
    try:
        week = None if args.week.strip().lower() == LAST_WEEK else IsoWeek.parse(args.week)
    except ValueError as exc:
        print(f"{nothing}: {as_clause(exc)}", file=sys.stderr)
        return 1
    try:
        sending = _sending(args)
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and not (parsed.database and Path(parsed.database).is_file()):
            raise ReportError(f"There is no database file at {parsed.database or url}: check --db or DATABASE_URL.")
        review = load_review(
            url, week, now=now, sla_hours=settings.sla_hours, maturity_days=settings.cohort_maturity_days
        )
        week = review.week
        snapshot = rd.week_snapshot(url, week)
        html = report_html(
            review,
            images=chart_images(review_figures(review)),
            actions=rd.week_action_items(url, week, now.date()),
            note=rd.meeting_note(url, week),
            generated_at=now,
            link=delivery.review_link(sending.app_url, week) if sending.app_url else None,
            snapshot=snapshot,
        )
        if args.out:
            content = html_to_pdf(html) if args.out.suffix.lower() == ".pdf" else html.encode("utf-8")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_bytes(content)
            print(f"Wrote the weekly review of {week} to {args.out}.")
    except (ReportError, DeliveryError, db.DatabaseUnavailable, OSError) as exc:
        print(f"{nothing}: {as_clause(exc)}", file=sys.stderr)
        return 1
    failures = _send(review, html, sending, snapshot)
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


def report_filename(week: IsoWeek, kind: str) -> str:
    """The file name a downloaded report gets: handoff-weekly-review-2026-W07.html."""
    return f"handoff-weekly-review-{week}.{kind}"


if __name__ == "__main__":
    sys.exit(main())

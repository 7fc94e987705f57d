"""The weekly review's boundary: the week's figures from the analytics tables, the action items, notes and closed
weeks' snapshots from the database, and the tables as people read them (the page and the mailed report show the very
same text)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

import polars as pl

from dashboard.auth import Actor, signed_name
from dashboard.domain import TIER_LABELS, Stage
from dashboard.filters import Filters
from dashboard.models import ActionItem, MeetingNote, ReviewSnapshot
from dashboard.store import db
from dashboard.store import review as review_store
from queries import backtest, review
from queries.acceptance import SMALL_SAMPLE
from queries.review import HEADLINE, Figure, IsoWeek
from queries.scoring import ScoringRule

if TYPE_CHECKING:  # data.data sets up Streamlit caches on import: a script uses this module without them
    from dashboard.data.data import Tables, WhatIf
    from queries.backtest import Forecast

TREND_WEEKS = 12
TOP_MOVERS = 5
# Whether a figure going up is good news: the change is coloured by it.
LOWER_IS_BETTER = {"median_hours"}
# The what-if's projection for one period and rule: data.whatif_view on the page, data.whatif_frames in a script.
Projector = Callable[[Filters, ScoringRule], "WhatIf"]
# The what-if's track record: the forecast made at a change (cut-off, until, rule), from what was known then.
Forecaster = Callable[[datetime, datetime, ScoringRule], "Forecast"]
RULE_FIELDS = tuple(ScoringRule.__dataclass_fields__)


@dataclass(frozen=True)
class Review:
    """Everything the review of one week shows, computed once for the page and the report alike."""

    week: IsoWeek
    sla_hours: float
    headline: pl.DataFrame  # review.headline: figure, label, unit, this_week, previous_week, four_week_average, ...
    trend: pl.DataFrame  # per week of the last TREND_WEEKS: mqls, decided, accepted, rate
    campaign_movers: pl.DataFrame  # review.top_movers by campaign
    channel_movers: pl.DataFrame  # review.top_movers by channel_label
    rejections: pl.DataFrame  # the rejection reasons new or growing this week
    breaches: pl.DataFrame  # per rep: SLA breaches of the week's MQLs
    load: pl.DataFrame  # per tier: leads worked against capacity
    decisions: pl.DataFrame  # scoring-model changes, before and after, with the what-if's estimate
    notes: tuple[str, ...] = ()  # what the data cannot tell, said in the page and the report
    campaign_noise: pl.DataFrame = field(default_factory=pl.DataFrame)  # review.within_noise by campaign
    channel_noise: pl.DataFrame = field(default_factory=pl.DataFrame)  # review.within_noise by channel_label
    unsupported: dict[str, str] = field(default_factory=dict)  # headline figure -> why the data cannot support it

    @property
    def is_empty(self) -> bool:
        """True when the week and the four before it had no MQL at all."""
        return not any(self.headline.filter(pl.col("figure") == "mqls").row(0, named=True)[p] for p in review.PERIODS)


def _dated(t: Tables) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The hand-offs and stage events the data dates, counted by their own dates whether or not the lead came with
    events (a stage reached at an unknown time, or a lead dated only by its import, has no week to count in)."""
    return t.mqls.lazy().filter(pl.col("mql_timed")), t.events.lazy().filter(pl.col("timed"))


def unsupported(facts) -> dict[str, str]:
    """The headline figures this data cannot support, each with the sentence that says why."""
    reasons = {}
    if not facts.rejections_recorded:
        reasons["acceptance_rate"] = "No rejections are recorded in this data: there is no acceptance rate."
    if not facts.decision_times_recorded:
        why = "No decision times are recorded in this data: there is no SLA figure or time to decision."
        reasons |= {"sla_compliance": why, "median_hours": why}
    if not facts.stage_recorded(Stage.SQL):
        reasons["sqls"] = "No SQL is recorded in this data: there is no SQL figure."
    if not facts.stage_recorded(Stage.CUSTOMER):
        reasons["wins"] = "No won deal is recorded in this data: there is no win figure."
    return reasons


def review_frames(
    t: Tables,
    week: IsoWeek,
    *,
    sla_hours: float,
    now: datetime,
    project: Projector | None = None,
    forecast: Forecaster | None = None,
) -> Review:
    """The review of week from the tables; project (the what-if) adds the estimate to each scoring-model change, and
    forecast its track record (the forecast made when it went live, against what happened)."""
    mqls, events = _dated(t)
    trend_weeks = [week.shifted(-k) for k in range(TREND_WEEKS - 1, -1, -1)]
    frames = pl.collect_all(
        [
            review.headline(mqls, events, week=week, sla_hours=sla_hours),
            review.weekly_trend(mqls, weeks=trend_weeks),
            review.movers(mqls, week=week, by="campaign"),
            review.movers(mqls, week=week, by="channel_label"),
            review.rising_rejections(mqls, week=week),
            review.sla_breaches_by_rep(mqls, week=week, sla_hours=sla_hours, now=min(now, week.end)),
            review.tier_load(t.reps.lazy(), t.work.lazy(), week=week),
            review.model_changes(t.scoring_models.lazy(), mqls, as_of=min(now, week.end)),
        ]
    )
    headline, trend, campaign_moved, channel_moved, rejections, breaches, load, changes = frames
    gaps = unsupported(t.facts)
    if "acceptance_rate" in gaps:  # rates drawn from accepted leads only would read 100%
        rates = ("rate", "rate_low", "rate_high", "rate_before", "rate_change", "rate_change_low", "rate_change_high",
                 "rate_within_noise", "rate_evidence")  # fmt: skip
        trend, campaign_moved, channel_moved = (
            f.with_columns(pl.lit(None, dtype=f.schema[c]).alias(c) for c in rates if c in f.columns)
            for f in (trend, campaign_moved, channel_moved)
        )
        campaign_moved, channel_moved = (
            f.with_columns(pl.col("volume_evidence").alias("evidence")) for f in (campaign_moved, channel_moved)
        )
    campaign_movers, channel_movers, campaign_noise, channel_noise = pl.collect_all(
        [
            review.top_movers(campaign_moved.lazy(), by="campaign", n=TOP_MOVERS),
            review.top_movers(channel_moved.lazy(), by="channel_label", n=TOP_MOVERS),
            review.within_noise(campaign_moved.lazy(), by="campaign"),
            review.within_noise(channel_moved.lazy(), by="channel_label"),
        ]
    )
    if "sla_compliance" in gaps:  # without decision times nothing is late or on time
        breaches = breaches.clear()
    # A figure the data cannot support is left empty (shown as "–"), never drawn from placeholders.
    headline = headline.with_columns(
        pl.when(pl.col("figure").is_in(list(gaps))).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("this_week", "previous_week", "four_week_average", "change", "change_vs_average")
    )
    return Review(
        week,
        sla_hours,
        headline,
        trend,
        campaign_movers,
        channel_movers,
        rejections,
        breaches,
        load,
        decisions=with_forecasts(with_projections(changes, project), forecast, now=now),
        notes=tuple(dict.fromkeys(gaps.values())),
        campaign_noise=campaign_noise,
        channel_noise=channel_noise,
        unsupported=gaps,
    )


def unfinished_weeks(trend: pl.DataFrame, today: date) -> tuple[str, ...]:
    """The trend's weeks that are not over on today (the current week, when it is reviewed): drawn as partial."""
    return tuple(w for w in trend["week"].to_list() if IsoWeek.parse(w).sunday >= today)


def with_projections(changes: pl.DataFrame, project: Projector | None) -> pl.DataFrame:
    """changes with what the what-if projected for each new rule over the weeks before it took effect (estimated:
    per week, projected MQLs and acceptance, and the what-if's own actual figures for the same leads)."""
    columns = {
        "projected_mqls_per_week": pl.Float64,
        "projected_actual_mqls_per_week": pl.Float64,
        "projected_rate": pl.Float64,
        "projected_actual_rate": pl.Float64,
        "projected_estimated_share": pl.Float64,
    }
    rows = []
    for change in changes.iter_rows(named=True):
        values = dict.fromkeys(columns)
        start, end = change["before_start"].date(), (change["active_from"] - timedelta(microseconds=1)).date()
        if project is not None and change["weeks_before"] > 0 and start <= end:
            rule = ScoringRule(**{name: change[name] for name in RULE_FIELDS})
            total = project(Filters(start=start, end=end), rule).total.row(0, named=True)
            weeks = ((end - start).days + 1) / 7
            values.update(
                projected_mqls_per_week=total["projected_mqls"] / weeks,
                projected_actual_mqls_per_week=total["actual_mqls"] / weeks,
                projected_rate=total["projected_rate"],
                projected_actual_rate=total["actual_rate"],
                projected_estimated_share=total["estimated_share"],
            )
        rows.append(values)
    return pl.concat([changes, pl.DataFrame(rows, schema=columns)], how="horizontal")


FORECAST_COLUMNS = {
    "forecast_rate": pl.Float64,
    "forecast_rate_low": pl.Float64,
    "forecast_rate_high": pl.Float64,
    "forecast_actual_rate": pl.Float64,
    "forecast_decided": pl.Int64,
}


def with_forecasts(changes: pl.DataFrame, forecast: Forecaster | None, *, now: datetime) -> pl.DataFrame:
    """changes with the forecast made when each went live (fitted on what was known then) for the leads it handed
    to sales after, and what those leads did: acceptance forecast with its 95% interval, and actual."""
    rows = []
    for change in changes.iter_rows(named=True):
        values = dict.fromkeys(FORECAST_COLUMNS)
        if forecast is not None:
            rule = ScoringRule(**{name: change[name] for name in RULE_FIELDS})
            result = forecast(change["active_from"], change.get("active_to") or now, rule)
            values.update(
                forecast_rate=result.projected_rate,
                forecast_rate_low=result.rate_low,
                forecast_rate_high=result.rate_high,
                forecast_actual_rate=result.actual_rate,
                forecast_decided=result.decided,
            )
        rows.append(values)
    return pl.concat([changes, pl.DataFrame(rows, schema=FORECAST_COLUMNS)], how="horizontal")


def review_view(url: str, week: IsoWeek, *, sla_hours: float, today: date, maturity_days: int) -> Review:
    """The review of week from the app's cached tables, with the what-if's cached estimates."""
    from dashboard.data import data

    now = datetime.now() if today == date.today() else datetime.combine(today, time())
    return review_frames(
        data.tables(url),
        week,
        sla_hours=sla_hours,
        now=now,
        project=lambda filters, rule: data.whatif_view(url, filters, rule, today, maturity_days),
        forecast=lambda cutoff, until, rule: backtest.forecast(
            data.whatif_base_view(url, today, maturity_days).frame,
            cutoff=cutoff,
            until=until,
            rule=rule,
            now=now,
            maturity_days=maturity_days,
        ),
    )


def week_choices(t: Tables, today: date) -> list[IsoWeek]:
    """The weeks a review can pick, newest first: the data's weeks, from its first dated MQL to its last one (to the
    week in progress when the data is current)."""
    current = IsoWeek.of(today)
    dated = t.mqls.filter(pl.col("mql_timed"))["mql_at"]
    if dated.is_empty():
        return [current, IsoWeek.last_complete(today)]
    first, last = IsoWeek.of(dated.min()), min(IsoWeek.of(dated.max()), current)
    return list(reversed(review.weeks_between(min(first, last.shifted(-1)), last)))


def default_week(t: Tables, choices: list[IsoWeek], today: date) -> IsoWeek:
    """The last complete week that has data: last week for current data, an older export's last full week."""
    dated = t.mqls.filter(pl.col("mql_timed"))["mql_at"]
    last_day = today - timedelta(days=1)
    if not dated.is_empty():
        last_day = min(last_day, dated.max().date())
    complete = [w for w in choices if w.sunday <= last_day]
    return complete[0] if complete else choices[-1]


def week_label(week: IsoWeek, today: date) -> str:
    """The week as a person reads it, marked while it is still in progress."""
    return week.label + (" · in progress" if week == IsoWeek.of(today) else "")


def action_items(url: str) -> pl.DataFrame:
    """Every action item ever recorded."""
    return db.read_table(ActionItem, url=url)


def week_action_items(url: str, week: IsoWeek, today: date) -> pl.DataFrame:
    """The action items of week's review: open ones carried over, new ones, the ones closed that week."""
    return review.action_items_in_week(action_items(url).lazy(), week=week, today=today).collect()


def meeting_note(url: str, week: IsoWeek) -> dict | None:
    """The notes saved for week's review (text, author, updated_at), or None."""
    notes = db.read_table(MeetingNote, url=url).filter(pl.col("week") == str(week))
    return notes.row(0, named=True) if notes.height else None


# The review's writes, each in one transaction with its rights check and audit line. No cached figure changes:
# the action items and notes are read live above.


def add_action_item(
    *, url: str, actor: Actor | None, title: str, owner: str, due_date: date | None, week: IsoWeek, now: datetime
) -> ActionItem:
    """Record a new open action item agreed in week's review (store.review.add_action_item)."""
    with db.transaction(url) as session:
        return review_store.add_action_item(
            session=session, actor=actor, title=title, owner=owner, due_date=due_date, week=week, now=now
        )


def close_action_item(*, url: str, actor: Actor | None, item_id: int, now: datetime) -> ActionItem:
    """Mark an open action item done (store.review.close_action_item)."""
    with db.transaction(url) as session:
        return review_store.close_action_item(session=session, actor=actor, item_id=item_id, now=now)


def save_meeting_note(
    *, url: str, actor: Actor | None, week: IsoWeek, text: str, author: str, now: datetime
) -> MeetingNote:
    """Save the notes of week's review (store.review.save_meeting_note), signed by the signed-in user (local mode:
    the name typed)."""
    with db.transaction(url) as session:
        return review_store.save_meeting_note(
            session=session, actor=actor, week=week, text=text, author=signed_name(actor, author), now=now
        )


def close_week(
    *, url: str, actor: Actor | None, week: IsoWeek, shown: Shown, sla_hours: float, closed_by: str, now: datetime
) -> ReviewSnapshot:
    """Close week's review keeping shown, the figures the page showed (store.review.close_week), closed by the
    signed-in user (local mode: the name typed)."""
    with db.transaction(url) as session:
        return review_store.close_week(
            session=session,
            actor=actor,
            week=week,
            figures=shown.to_json(),
            sla_hours=sla_hours,
            closed_by=signed_name(actor, closed_by),
            now=now,
        )


def reopen_week(*, url: str, actor: Actor | None, week: IsoWeek, now: datetime) -> ReviewSnapshot:
    """Reopen week's closed review (store.review.reopen_week): the page shows live figures again."""
    with db.transaction(url) as session:
        return review_store.reopen_week(session=session, actor=actor, week=week, now=now)


# How figures read: the page's metrics and the report's cells are made by these, so they always agree.


def figure_text(value: float | None, unit: str) -> str:
    """A figure in its unit: 1,234 (or 12.5 for an average), 45.2%, 6.1 h; "–" when there is none."""
    if value is None:
        return "–"
    if unit == "rate":
        return f"{value:.1%}"
    if unit == "hours":
        return f"{value:,.1f} h"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def as_shown(value: float, unit: str) -> float:
    """value rounded as figure_text shows it: a rate to a tenth of a percent, hours to a tenth."""
    if unit == "rate":
        return round(value, 3)
    if unit == "hours" or not float(value).is_integer():
        return round(value, 1)
    return value


def change_text(value: float | None, unit: str) -> str | None:
    """A change in its unit: +12, -3.5 pp, +0.4 h; None when either side is missing."""
    if value is None:
        return None
    if unit == "rate":
        return f"{value * 100:+.1f} pp"
    if unit == "hours":
        return f"{value:+,.1f} h"
    return f"{value:+,.0f}" if float(value).is_integer() else f"{value:+,.1f}"


def is_no_change(text: str | None) -> bool:
    """True for a change that rounds to nothing ("+0", "+0.0 pp"): shown without the colour of good or bad news."""
    number = (text or "").split(" ")[0].lstrip("+-")
    return bool(number) and not set(number) - set("0.,")


@dataclass(frozen=True)
class HeadlineFigure:
    key: str
    label: str
    value: str
    previous: str
    average: str
    change: str | None  # against the week before
    change_vs_average: str | None
    lower_is_better: bool


def headline_figures(headline: pl.DataFrame) -> list[HeadlineFigure]:
    """The headline as text, in HEADLINE's order (a figure a stored snapshot lacks reads "–")."""
    rows = {row["figure"]: row for row in headline.iter_rows(named=True)}
    missing = dict.fromkeys(SHOWN_COLUMNS)
    rows = {f.key: rows.get(f.key, missing) for f in HEADLINE}
    return [
        HeadlineFigure(
            key=f.key,
            label=f.label,
            value=figure_text(rows[f.key]["this_week"], f.unit),
            previous=figure_text(rows[f.key]["previous_week"], f.unit),
            average=figure_text(rows[f.key]["four_week_average"], f.unit),
            change=change_text(rows[f.key]["change"], f.unit),
            change_vs_average=change_text(rows[f.key]["change_vs_average"], f.unit),
            lower_is_better=f.key in LOWER_IS_BETTER,
        )
        for f in HEADLINE
    ]


@dataclass(frozen=True)
class Column:
    name: str
    header: str
    unit: str = "text"  # text, count, signed (a count's change), rate, pp (a rate's change), percent0, hours, date


def _cell(value, unit: str) -> str:
    if value is None:
        return "–"
    if unit in ("count", "rate", "hours"):
        return figure_text(value, unit)
    if unit == "signed":
        return change_text(value, "count") or "–"
    if unit == "pp":
        return change_text(value, "rate") or "–"
    if unit == "date":
        return f"{value:%d %b %Y}"
    if unit == "percent0":
        return f"{value:.0%}"
    return str(value)


def display(frame: pl.DataFrame, columns: tuple[Column, ...]) -> pl.DataFrame:
    """frame's columns as the text a person reads, under their headers (every cell a plain string)."""
    return pl.DataFrame(
        {c.header: [_cell(v, c.unit) for v in frame[c.name].to_list()] for c in columns},
        schema={c.header: pl.String for c in columns},
    )


def _noise_note(row: dict) -> str:
    notes = []
    if row["rate_within_noise"]:
        notes.append(f"acceptance change within noise ({row['decided']:,} decided)")
    elif row["rate_change"] is not None and row["decided"] < SMALL_SAMPLE:
        notes.append(f"small sample: {row['decided']:,} decided")
    if row["rate_within_noise"] is False and row.get("rate_change_low") is not None:
        low, high = row["rate_change_low"] * 100, row["rate_change_high"] * 100
        notes.append(f"acceptance change 95%: {low:+.1f} to {high:+.1f} pp")
    if row["volume_within_noise"] and row["mql_change"]:
        notes.append("volume change within noise")
    if row["rate"] is None:
        notes.append("nothing decided this week")
    return "; ".join(notes)


MOVER_COLUMNS = (
    Column("mqls", "MQLs", "count"),
    Column("mqls_before", "MQLs week before", "count"),
    Column("mql_change", "MQL change", "signed"),
    Column("rate", "Acceptance", "rate"),
    Column("rate_before", "Acceptance week before", "rate"),
    Column("rate_change", "Acceptance change", "pp"),
    Column("note", "Note"),
)


def movers_table(frame: pl.DataFrame, *, by: str, header: str) -> pl.DataFrame:
    """The top movers as text, with a note where a change is within noise for its sample size."""
    notes = pl.Series("note", [_noise_note(row) for row in frame.iter_rows(named=True)], dtype=pl.String)
    shown = frame.with_columns(pl.col(by).cast(pl.String), notes)
    return display(shown, (Column(by, header), *MOVER_COLUMNS))


REJECTION_COLUMNS = (
    Column("reason_label", "Reason"),
    Column("reason_kind", "Kind"),
    Column("status", "Status"),
    Column("this_week", "This week", "count"),
    Column("previous_week", "Week before", "count"),
    Column("four_week_average", "4-week average", "count"),
)
BREACH_COLUMNS = (
    Column("rep", "Rep"),
    Column("mqls", "MQLs of the week", "count"),
    Column("decided_late", "Decided after the SLA", "count"),
    Column("waiting_late", "Waiting past the SLA", "count"),
    Column("breaches", "Breaches", "count"),
    Column("sla_compliance", "Decided within the SLA", "rate"),
)
LOAD_COLUMNS = (
    Column("tier_label", "Tier"),
    Column("reps", "Active reps", "count"),
    Column("leads", "Leads worked", "count"),
    Column("capacity", "Weekly capacity", "count"),
    Column("utilisation", "Load", "percent0"),
    Column("utilisation_before", "Load week before", "percent0"),
)
DECISION_COLUMNS = (
    Column("change", "Change"),
    Column("week", "Took effect"),
    Column("why", "By, and why"),
    Column("mqls", "MQLs per week, before → after"),
    Column("acceptance", "Acceptance, before → after"),
    Column("projected", "What-if projected for it (estimated)"),
    Column("track_record", "Forecast when it went live, against what happened"),
)
ACTION_COLUMNS = (
    Column("title", "Action"),
    Column("owner", "Owner"),
    Column("due_date", "Due", "date"),
    Column("state", "Status"),
    Column("created_week", "Agreed in"),
)


def tier_labels(load: pl.DataFrame) -> pl.DataFrame:
    labels = {t.value: label for t, label in TIER_LABELS.items()}
    return load.with_columns(pl.col("tier").replace_strict(labels, default=pl.col("tier")).alias("tier_label"))


def _rule_summary(row: dict) -> str:
    weights = [row[f"w_{c}"] for c in ("demographic", "firmographic", "behavioural", "engagement")]
    shares = "/".join(str(round(100 * w / (sum(weights) or 1))) for w in weights)
    return f"v{row['version']}: threshold {row['mql_threshold']:g}, weights D/F/B/E {shares}"


def _before_after(before: float | None, after: float | None, unit: str) -> str:
    text = f"{figure_text(before, unit)} → {figure_text(after, unit)}"
    change = None if before is None or after is None else change_text(after - before, unit)
    return f"{text} ({change})" if change else text


def _weeks(weeks: float) -> str:
    """ "1 week", "2.5 weeks"."""
    figure = f"{weeks:.1f}".removesuffix(".0")
    return f"{figure} week" if figure == "1" else f"{figure} weeks"


def _projection(row: dict) -> str:
    """What the what-if projected for the new rule: its change against the live rule on the same leads."""
    projected, live = row["projected_mqls_per_week"], row["projected_actual_mqls_per_week"]
    if projected is None or live is None:
        return "–"
    relative = f", {(projected - live) / live:+.1%}" if live else ""  # one decimal, as every rate in the table
    rate, live_rate = row["projected_rate"], row["projected_actual_rate"]
    acceptance = f"acceptance {figure_text(rate, 'rate')}"
    if rate is not None and live_rate is not None:
        acceptance += f" ({change_text(rate - live_rate, 'rate')})"
    return f"{change_text(projected - live, 'count')} MQLs per week{relative}; {acceptance}"


def _track_record(row: dict) -> str:
    """The forecast made when the change went live against what happened: whether its interval held."""
    rate, low, high, actual = (row.get(k) for k in ("forecast_rate", "forecast_rate_low", "forecast_rate_high",
                                                    "forecast_actual_rate"))  # fmt: skip
    if rate is None or actual is None:
        return "–"
    held = "held" if low <= actual <= high else "missed"
    return (
        f"acceptance forecast {figure_text(rate, 'rate')} ({figure_text(low, 'rate')}–{figure_text(high, 'rate')}), "
        f"{figure_text(actual, 'rate')} happened on {row['forecast_decided']:,} decided MQLs: {held}"
    )


def decisions_table(frame: pl.DataFrame) -> pl.DataFrame:
    """The scoring-model changes as text: what changed, when, and what happened against the estimate."""
    rows = frame.iter_rows(named=True)
    texts = [
        {
            "change": _rule_summary(row),
            "week": row["week"],
            "why": f"{row['author']}: {row['note']}" if row["note"] else row["author"],
            "mqls": _before_after(row["mqls_per_week_before"], row["mqls_per_week_after"], "count")
            + (f" (first {_weeks(row['weeks_after'])})" if row["weeks_after"] < review.AVERAGE_WEEKS else ""),
            "acceptance": _before_after(row["rate_before"], row["rate_after"], "rate"),
            "projected": _projection(row),
            "track_record": _track_record(row),
        }
        for row in rows
    ]
    return display(pl.DataFrame(texts, schema={c.name: pl.String for c in DECISION_COLUMNS}), DECISION_COLUMNS)


def actions_table(items: pl.DataFrame) -> pl.DataFrame:
    """The week's action items as text; the overdue ones say so in their status."""
    state = (
        pl.when(pl.col("status_in_week") == "done")
        .then(pl.format("done {}", pl.col("closed_at").dt.strftime("%d %b")))
        .when(pl.col("overdue"))
        .then(pl.lit("OVERDUE"))
        .otherwise(pl.lit("open"))
    )
    return display(items.with_columns(state.alias("state")), ACTION_COLUMNS)


# ----- closing a week: the figures the meeting saw, kept; and what changed in them since -------------------------

SHOWN_COLUMNS = ("this_week", "previous_week", "four_week_average", "change", "change_vs_average")
# The week's own counts beside the headline: what a late decision moves.
COUNTS: tuple[Figure, ...] = (
    Figure("decided", "Decided", "count"),
    Figure("accepted", "Accepted", "count"),
    Figure("rejected", "Rejected", "count"),
    Figure("pending", "Pending", "count"),
    Figure("sla_breaches", "SLA breaches", "count"),
)
# The movers' tabs: title, the column grouped by, its header.
MOVER_TABS = (("Campaigns", "campaign", "Campaign"), ("Channels", "channel_label", "Channel"))


def _text_rows(frame: pl.DataFrame) -> dict:
    return {"columns": frame.columns, "rows": [list(row) for row in frame.rows()]}


def _text_frame(stored: dict) -> pl.DataFrame:
    schema = {c: pl.String for c in stored["columns"]}
    return pl.DataFrame(stored["rows"], schema=schema, orient="row")


@dataclass(frozen=True)
class Shown:
    """The figures at the top of a week's review, the ones closing the week keeps: the headline (this week, the week
    before, the 4-week average and the changes), the week's counts, and the top movers as text."""

    headline: pl.DataFrame  # figure and SHOWN_COLUMNS, one row per HEADLINE figure
    counts: dict[str, int]  # COUNTS' keys
    movers: dict[str, tuple[pl.DataFrame, pl.DataFrame]]  # MOVER_TABS' title -> (top movers, within noise), as text
    notes: tuple[str, ...] = ()  # what the data cannot tell

    def to_json(self) -> str:
        return json.dumps(
            {
                "headline": self.headline.to_dicts(),
                "counts": self.counts,
                "movers": {title: [_text_rows(top), _text_rows(noise)] for title, (top, noise) in self.movers.items()},
                "notes": list(self.notes),
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> Shown:
        stored = json.loads(text)
        headline = pl.DataFrame(
            stored["headline"], schema={"figure": pl.String} | {c: pl.Float64 for c in SHOWN_COLUMNS}
        )
        movers = {title: (_text_frame(top), _text_frame(noise)) for title, (top, noise) in stored["movers"].items()}
        return cls(headline, stored["counts"], movers, tuple(stored["notes"]))


def week_counts(r: Review) -> dict[str, int]:
    """The week's MQLs decided (accepted, rejected), pending, and its SLA breaches (decided after the SLA, or still
    waiting past it at the week's end)."""
    row = r.trend.filter(pl.col("week") == str(r.week))
    mqls, decided, accepted = (int(row[c].sum()) for c in ("mqls", "decided", "accepted"))
    breaches = int(r.breaches["breaches"].sum()) if r.breaches.height else 0
    return {
        "decided": decided,
        "accepted": accepted,
        "rejected": decided - accepted,
        "pending": mqls - decided,
        "sla_breaches": breaches,
    }


def shown_of(r: Review) -> Shown:
    """The top of r's page as it reads now: what closing the week keeps."""
    noise = {"campaign": r.campaign_noise, "channel_label": r.channel_noise}
    top = {"campaign": r.campaign_movers, "channel_label": r.channel_movers}
    return Shown(
        headline=r.headline.select("figure", *(pl.col(c).cast(pl.Float64) for c in SHOWN_COLUMNS)),
        counts=week_counts(r),
        movers={
            title: (
                movers_table(top[by], by=by, header=header),
                movers_table(noise[by], by=by, header=header) if noise[by].height else pl.DataFrame(),
            )
            for title, by, header in MOVER_TABS
        },
        notes=r.notes,
    )


@dataclass(frozen=True)
class Snapshot:
    """A closed week's review: who closed it, when, and what the page showed then."""

    week: IsoWeek
    closed_at: datetime
    closed_by: str
    sla_hours: float
    shown: Shown

    def as_of(self, safe: Callable[[str], str] = str) -> str:
        """When and by whom, e.g. "As of 30 Nov 2026 at 09:05, closed by Maria"; safe makes the name safe where it
        is shown (plain() in markdown, html.escape in the report)."""
        return f"As of {self.closed_at:%d %b %Y at %H:%M}, closed by {safe(self.closed_by)}"


def week_snapshot(url: str, week: IsoWeek) -> Snapshot | None:
    """The snapshot kept when week's review was closed, or None while it is open (read live, like the notes)."""
    rows = db.read_table(ReviewSnapshot, url=url).filter(pl.col("week") == str(week))
    if rows.is_empty():
        return None
    row = rows.row(0, named=True)
    return Snapshot(week, row["closed_at"], row["closed_by"], row["sla_hours"], Shown.from_json(row["figures"]))


@dataclass(frozen=True)
class Moved:
    """One figure of the week that moved since the week was closed."""

    key: str
    label: str
    then: float | None
    now: float | None
    unit: str

    @property
    def change(self) -> str:
        """The change between the two figures as they read (53.9% → 53.6% is -0.3 pp, whatever the digits
        behind them), so the sentence adds up for whoever reads it."""
        if self.then is None or self.now is None:
            return "–"
        return change_text(as_shown(self.now, self.unit) - as_shown(self.then, self.unit), self.unit) or "–"

    @property
    def text(self) -> str:
        """e.g. "acceptance rate 53.9% → 54.0% (+0.1 pp)"."""
        label = self.label if self.label[:2].isupper() else self.label[0].lower() + self.label[1:]
        change = f" ({self.change})" if self.change != "–" else ""
        return f"{label} {figure_text(self.then, self.unit)} → {figure_text(self.now, self.unit)}{change}"


def moved_since(then: Shown, now: Shown) -> list[Moved]:
    """The week's headline figures and counts that read differently in the snapshot (then) and live (now): a median
    that moved by less than its last digit shown has not moved for the meeting."""
    before = {row["figure"]: row["this_week"] for row in then.headline.iter_rows(named=True)}
    after = {row["figure"]: row["this_week"] for row in now.headline.iter_rows(named=True)}
    pairs = [(f, before.get(f.key), after.get(f.key)) for f in HEADLINE]
    pairs += [(f, then.counts.get(f.key), now.counts.get(f.key)) for f in COUNTS]
    return [
        Moved(f.key, f.label, a, b, f.unit) for f, a, b in pairs if figure_text(a, f.unit) != figure_text(b, f.unit)
    ]


def _decisions(moved: dict[str, Moved]) -> str | None:
    """The decisions made (or undone) since: "2 more decisions (+1 accepted, +1 rejected)"."""
    if "decided" not in moved:
        return None
    step = int(moved["decided"].now - moved["decided"].then)
    split = [f"{moved[k].change} {k}" for k in ("accepted", "rejected") if k in moved]
    plural = "" if abs(step) == 1 else "s"
    text = f"{abs(step):,} {'more' if step > 0 else 'fewer'} decision{plural}"
    return text + (f" ({', '.join(split)})" if split else "")


def since_closed(snapshot: Snapshot, now: Shown, *, sla_hours: float) -> str | None:
    """What changed in the week's figures since its review was closed, in numbers, as one sentence; None when nothing
    did."""
    moved = {m.key: m for m in moved_since(snapshot.shown, now)}
    if not moved:
        return None
    parts = [m.text for m in moved.values() if m.key in {f.key for f in HEADLINE}]
    parts += [decisions] if (decisions := _decisions(moved)) else []
    parts += [moved[k].text for k in ("pending", "sla_breaches") if k in moved]
    if not parts:  # only the split moved (an accept turned into a reject): say so
        parts = [moved[k].text for k in ("accepted", "rejected") if k in moved]
    sla = (
        f" The SLA was {snapshot.sla_hours:g} hours then and is {sla_hours:g} hours now: the SLA figures differ "
        "partly for that reason."
        if snapshot.sla_hours != sla_hours
        else ""
    )
    return f"Since then: {', '.join(parts)}.{sla}"


MOVED_COLUMNS = (
    Column("label", "Figure"),
    Column("then", "When closed"),
    Column("now", "Now"),
    Column("change", "Change"),
)


def moved_table(then: Shown, now: Shown) -> pl.DataFrame:
    """The figures that moved since the week was closed, as text: then, now and the change."""
    rows = [
        {
            "label": m.label,
            "then": figure_text(m.then, m.unit),
            "now": figure_text(m.now, m.unit),
            "change": m.change,
        }
        for m in moved_since(then, now)
    ]
    return display(pl.DataFrame(rows, schema={c.name: pl.String for c in MOVED_COLUMNS}), MOVED_COLUMNS)

"""The boundary: read the database into polars once, run queries, return ready frames."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, time

import polars as pl
import sqlalchemy as sa
import streamlit as st
from sqlmodel import Session, select

from dashboard import db
from dashboard.config import Settings
from dashboard.filters import FilterOptions, Filters
from dashboard.models import Campaign, ChannelRow, Disqualification, Lead, Rep, SalesDecision, StageEvent
from queries import acceptance, funnel, rejection, sla
from queries.leads import filter_dimensions, lead_dimensions

TTL_SECONDS = 600


@dataclass(frozen=True)
class Tables:
    """The tables the analytics read, as polars frames (immutable: never changed in place).

    The last fields are derived once per load because they do not depend on the filters.
    """

    leads: pl.DataFrame
    events: pl.DataFrame
    campaigns: pl.DataFrame
    channels: pl.DataFrame
    reps: pl.DataFrame
    decisions: pl.DataFrame
    disqualifications: pl.DataFrame
    journeys: pl.DataFrame  # per lead: dimensions, external_id, owner and first time at each stage (<stage>_at)
    mqls: pl.DataFrame  # per MQL event: the lead's journey columns, mql_at, latest decision, decider name and tier
    steps: pl.DataFrame  # per lead and main-path step it made: when and how many days (stage_steps)
    work: pl.DataFrame  # the events that are a rep's work
    disqualified: pl.DataFrame  # disqualifications with the lead's filter columns


# Columns the pages group by, held as categoricals: grouping and copying them is several times faster than strings.
GROUP_COLUMNS = ("campaign", "channel", "channel_label", "tier", "owner")


def read_tables(url: str) -> Tables:
    """Every analytics table read in bulk (ADBC), without ORM objects, with what derives from them.

    The derived frames carry the filter columns (channel, campaign_id, tier) so that a page's queries only
    filter and aggregate them, never join the million-row tables per run.
    """
    leads, events, campaigns, channels, reps, decisions, disqualifications = (
        db.read_table(model, url=url)
        for model in (Lead, StageEvent, Campaign, ChannelRow, Rep, SalesDecision, Disqualification)
    )
    owners = reps.lazy().select(pl.col("id").alias("owner_rep_id"), pl.col("name").alias("owner"))
    deciders = reps.lazy().select(
        pl.col("id").alias("decided_by"),
        pl.col("name").cast(pl.Categorical).alias("decided_by_name"),
        pl.col("tier").cast(pl.Categorical).alias("decider_tier"),
    )
    dims = (
        lead_dimensions(leads.lazy(), campaigns.lazy(), channels.lazy(), reps.lazy())
        .join(leads.lazy().select(pl.col("id").alias("lead_id"), "external_id"), on="lead_id", how="left")
        .join(owners, on="owner_rep_id", how="left")
        .with_columns(pl.col(GROUP_COLUMNS).cast(pl.Categorical))
    )
    latest = acceptance.latest_decisions(decisions.lazy())
    journeys = sla.lead_journeys(dims, events.lazy()).collect()
    steps, mqls, work, disqualified = pl.collect_all(
        [
            sla.stage_steps(journeys.lazy()),
            acceptance.mql_journeys(dims, events.lazy(), latest)
            .join(deciders, on="decided_by", how="left")
            .with_columns(pl.col("outcome").cast(pl.Categorical)),
            sla.rep_work(reps.lazy(), events.lazy()),
            disqualifications.lazy().join(
                dims.select("lead_id", "channel", "campaign_id", "tier"), on="lead_id", how="inner"
            ),
        ]
    )
    return Tables(
        leads,
        events,
        campaigns,
        channels,
        reps,
        decisions,
        disqualifications,
        journeys,
        mqls,
        steps,
        work,
        disqualified,
    )


# cache_resource, not cache_data: cache_data would copy a million-row frame on every rerun;
# the frames are immutable and writers clear this cache.
@st.cache_resource(ttl=TTL_SECONDS, max_entries=2, show_spinner="Loading leads from the database…")
def tables(url: str) -> Tables:
    """The analytics tables of the database at url, read once and shared by every session."""
    return read_tables(url)


_seed_lock = threading.Lock()


def database_is_empty(url: str) -> bool:
    """Create the schema if needed; True when the database has no data at all yet."""
    engine = db.make_engine(url)
    try:
        db.create_schema(engine)
        with Session(engine) as session:
            return session.exec(select(sa.func.count()).select_from(ChannelRow)).one() == 0
    except sa.exc.OperationalError as exc:
        raise db.DatabaseUnavailable(db.describe_connection_error(engine.url, exc)) from exc
    finally:
        engine.dispose()


def seed_demo_once(settings: Settings, progress) -> bool:
    """Fill an empty database with demo data (one seeder per process); False when it already had data."""
    from seed import populate
    from seed.generator import today_plan

    with _seed_lock:
        if not database_is_empty(settings.database_url):
            return False
        plan = today_plan(settings.demo_leads, settings.demo_weeks, seed=7)
        populate(settings.database_url, plan, progress=progress)
    tables.clear()
    return True


@st.cache_data(ttl=TTL_SECONDS, max_entries=8)
def filter_options(url: str) -> tuple[FilterOptions, dict[str, str], dict[int, str]]:
    """The values the filters offer, with the labels to show for channels and campaigns."""
    t = tables(url)
    channel_labels = dict(zip(t.channels["key"], t.channels["label"], strict=True))
    campaigns = t.campaigns.sort("name")
    campaign_labels = dict(zip(campaigns["id"], campaigns["name"], strict=True))
    tiers = tuple(sorted(t.reps["tier"].unique().to_list()))
    options = FilterOptions(channels=tuple(channel_labels), campaigns=tuple(campaign_labels), tiers=tiers)
    return options, channel_labels, campaign_labels


@dataclass(frozen=True)
class Overview:
    kpis: pl.DataFrame  # stage, stage_label, count, previous, change, relative_change
    funnel: pl.DataFrame  # stage, stage_label, count, pct_of_previous, pct_of_first
    weekly: pl.DataFrame  # week, stage, stage_label, count
    cohort_leads: int
    immature_share: float
    immature_since: datetime


def overview_frames(t: Tables, filters: Filters, *, now: datetime, maturity_days: int) -> Overview:
    """The funnel overview's figures for filters, computed from the tables."""
    dims = _filtered(t.journeys, filters)
    events = t.events.lazy()
    current = funnel.stage_counts(dims, events, start=filters.start, end=filters.end, mode=filters.mode)
    prev = filters.previous()
    previous = funnel.stage_counts(dims, events, start=prev.start, end=prev.end, mode=filters.mode)
    since = funnel.immature_since(now, maturity_days)
    kpis, conversion, weekly, maturity = pl.collect_all(
        [
            funnel.kpi_comparison(current, previous),
            funnel.funnel_conversion(current),
            funnel.weekly_stage_counts(dims, events, start=filters.start, end=filters.end, mode=filters.mode),
            funnel.immature_share(dims, start=filters.start, end=filters.end, since=since),
        ]
    )
    return Overview(
        kpis=kpis,
        funnel=conversion,
        weekly=weekly,
        cohort_leads=int(maturity["leads"][0]),
        immature_share=float(maturity["immature_share"][0]),
        immature_since=since,
    )


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner="Counting the funnel…")
def overview(url: str, filters: Filters, today: date, maturity_days: int) -> Overview:
    """The overview's figures (cached per filters and day)."""
    return overview_frames(tables(url), filters, now=datetime.combine(today, time()), maturity_days=maturity_days)


def _filtered(frame: pl.DataFrame, filters: Filters) -> pl.LazyFrame:
    """frame (which carries the filter columns) narrowed by the shared filters."""
    return filter_dimensions(frame.lazy(), channels=filters.channels, campaigns=filters.campaigns, tiers=filters.tiers)


@dataclass(frozen=True)
class Acceptance:
    by_channel: pl.DataFrame
    by_campaign: pl.DataFrame
    matrix: pl.DataFrame  # campaign, channel_label, rates
    weekly: pl.DataFrame  # week, channel_label, rates (this period)
    weekly_previous: pl.DataFrame  # the same for the previous period, weeks shifted onto this one
    total: pl.DataFrame  # one row of rates for everything filtered
    outcomes: pl.DataFrame  # one row per MQL, oldest first: the leads behind every figure


OUTCOME_COLUMNS = ("external_id", "campaign", "channel_label", "owner", "mql_at", "outcome", "reason", "decided_at")


def _outcomes(t: Tables, filters: Filters) -> pl.LazyFrame:
    """The period's MQLs under filters, with their outcome and the name of the rep who decided."""
    mqls = _filtered(t.mqls, filters)
    # Materialised once: every figure of a page reads it, and polars would otherwise recompute it per figure.
    return acceptance.mql_outcomes(mqls, start=filters.start, end=filters.end).collect().lazy()


def acceptance_frames(t: Tables, filters: Filters, *, order: str) -> Acceptance:
    """The acceptance page's figures for filters."""
    outcomes = _outcomes(t, filters)
    previous = _outcomes(t, filters.previous())
    shift = pl.duration(days=filters.days)
    by_channel, by_campaign, matrix, weekly, weekly_previous, total, rows = pl.collect_all(
        [
            acceptance.acceptance_by(outcomes, by=["channel", "channel_label"], order=order),
            acceptance.acceptance_by(outcomes, by=["campaign", "channel_label"], order=order),
            acceptance.acceptance_rates(outcomes, by=["campaign", "channel_label"]),
            acceptance.weekly_acceptance(outcomes, by=["channel_label"]),
            acceptance.weekly_acceptance(previous.with_columns(pl.col("mql_at") + shift), by=["channel_label"]),
            acceptance.acceptance_rates(outcomes.with_columns(pl.lit("all").alias("all")), by=["all"]),
            outcomes.select(OUTCOME_COLUMNS),
        ]
    )
    return Acceptance(by_channel, by_campaign, matrix, weekly, weekly_previous, total, rows)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner="Computing acceptance…")
def acceptance_view(url: str, filters: Filters, order: str) -> Acceptance:
    """The acceptance page's figures (cached per filters and sort order)."""
    return acceptance_frames(tables(url), filters, order=order)


@dataclass(frozen=True)
class Rejections:
    pareto: pl.DataFrame  # reason, reason_label, reason_kind, count, share, cumulative_share
    by_kind: pl.DataFrame  # reason_kind, count, decided, rate
    by_channel: pl.DataFrame  # channel_label, reason_kind, count, decided, rate
    by_campaign: pl.DataFrame  # campaign, reason_kind, count, decided, rate
    weekly: pl.DataFrame  # week, reason_kind, count, change
    comments: pl.DataFrame  # the rejections that carry a comment
    disqualifications: pl.DataFrame  # reason, reason_label, count


COMMENT_COLUMNS = ("decided_at", "external_id", "campaign", "reason", "decided_by_name", "comment")


def rejection_frames(t: Tables, filters: Filters, *, search: str) -> Rejections:
    """The rejection feedback page's figures for filters."""
    outcomes = _outcomes(t, filters).with_columns(pl.lit("all").alias("all"))
    frames = pl.collect_all(
        [
            rejection.rejection_pareto(outcomes),
            rejection.rejection_by(outcomes, by=["all"]).drop("all"),
            rejection.rejection_by(outcomes, by=["channel_label"]),
            rejection.rejection_by(outcomes, by=["campaign"]),
            rejection.weekly_rejections(outcomes, start=filters.start, end=filters.end),
            rejection.rejection_comments(outcomes, search=search).select(COMMENT_COLUMNS),
            rejection.disqualification_reasons(
                _filtered(t.disqualified, filters), start=filters.start, end=filters.end
            ),
        ]
    )
    return Rejections(*frames)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner="Collecting rejection reasons…")
def rejection_view(url: str, filters: Filters, search: str) -> Rejections:
    """The rejection page's figures (cached per filters and search)."""
    return rejection_frames(tables(url), filters, search=search)


@dataclass(frozen=True)
class HandoffSpeed:
    overall: pl.DataFrame  # one row: decisions, median_hours, p90_hours, sla_compliance
    by_rep: pl.DataFrame
    by_tier: pl.DataFrame
    by_channel: pl.DataFrame
    weekly_by_rep: pl.DataFrame  # week, decided_by_name, sla_compliance
    breached: pl.DataFrame  # pending MQLs past the SLA, oldest first
    escalation: pl.DataFrame  # per junior owner
    load: pl.DataFrame  # per rep against capacity
    velocity: pl.DataFrame  # median days per step


BREACH_COLUMNS = ("mql_at", "hours_waiting", "external_id", "owner", "campaign", "channel_label")


def handoff_frames(t: Tables, filters: Filters, *, sla_hours: float, now: datetime) -> HandoffSpeed:
    """The SLA page's figures for filters."""
    journeys = _filtered(t.journeys, filters)
    outcomes = _outcomes(t, filters)
    times = sla.decision_times(outcomes, sla_hours=sla_hours).collect().lazy()
    frames = pl.collect_all(
        [
            sla.time_to_decision_by(times, by=[]),
            sla.time_to_decision_by(times, by=["decided_by_name"]),
            sla.time_to_decision_by(times, by=["decider_tier"]),
            sla.time_to_decision_by(times, by=["channel_label"]),
            sla.weekly_compliance(times, by=["decided_by_name"]),
            sla.breached_pending(outcomes, now=now, sla_hours=sla_hours).select(BREACH_COLUMNS),
            sla.escalation(journeys, start=filters.start, end=filters.end),
            sla.rep_load(t.reps.lazy(), t.work.lazy(), start=filters.start, end=filters.end),
            sla.stage_velocity(_filtered(t.steps, filters), start=filters.start, end=filters.end),
        ]
    )
    return HandoffSpeed(*frames)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner="Timing the hand-off…")
def handoff_view(url: str, filters: Filters, sla_hours: float, today: date) -> HandoffSpeed:
    """The SLA page's figures (cached per filters, SLA and day)."""
    now = datetime.now() if today == date.today() else datetime.combine(today, time())
    return handoff_frames(tables(url), filters, sla_hours=sla_hours, now=now)

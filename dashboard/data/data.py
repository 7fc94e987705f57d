"""The boundary: read the database into polars once, run queries, return ready frames."""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import polars as pl
import polars.selectors as cs
import sqlalchemy as sa
import streamlit as st
from sqlmodel import select

from dashboard.config import Settings
from dashboard.domain import ACTIVITY_COUNTS, MAIN_PATH, CountingMode, Stage
from dashboard.filters import FilterOptions, Filters
from dashboard.models import (
    Campaign,
    ChannelRow,
    Disqualification,
    Lead,
    LeadAttribute,
    Rep,
    SalesDecision,
    ScoringModel,
    StageEvent,
)
from dashboard.store import db
from queries import acceptance, backtest, funnel, propensity, rejection, sla, whatif
from queries.leads import ATTRIBUTE, attribute_breakdown, filter_dimensions, lead_dimensions
from queries.scoring import ScoringRule, component_scores

TTL_SECONDS = 600


@dataclass(frozen=True)
class Facts:
    """What the data holds, and for how many leads: a figure rests only on these (see DOMAIN.md)."""

    leads: int
    dated_leads: int  # leads with a creation date of their own (not dated by the import)
    mqls: int  # leads handed to sales
    decided: int  # MQLs with a recorded decision
    rejected: int  # of them, rejected
    timed_decisions: int  # decisions whose time (and the MQL's) is known
    stage_timed_leads: int  # leads with at least one stage after creation dated
    scored_leads: int  # leads with score inputs (profile, activity) or the CRM's own score
    crm_scored_leads: int  # leads with the CRM's own score
    model_scored_leads: int  # leads with inputs for Handoff's scoring model (profile, activity)
    first_day: date | None  # the first and last creation date of the dated leads
    last_day: date | None
    last_moment: datetime | None  # the newest moment the data records: a dated lead, stage change or decision
    furthest_reached: int  # the furthest main-path stage any lead reached (its order in MAIN_PATH; 0: inquiry)

    def stage_recorded(self, stage: Stage) -> bool:
        """Some lead of the data reached stage: an export that holds no opportunity or won deal at all says nothing
        about them (a count of 0 would be a false statement, not a result)."""
        return MAIN_PATH.index(stage) <= self.furthest_reached

    @property
    def rejections_recorded(self) -> bool:
        return self.rejected > 0

    @property
    def decision_times_recorded(self) -> bool:
        return self.timed_decisions > 0


SCORE_INPUTS = ("role", "seniority", "industry", "company_size_band", "revenue_band")


def data_facts(
    leads: pl.DataFrame,
    latest: pl.DataFrame,
    mqls: pl.DataFrame,
    *,
    stage_timed_leads: int,
    last_event: datetime | None,
    last_decision: datetime | None,
    scored: db.ScoredLeads,
    furthest_reached: int,
) -> Facts:
    """Which facts the data holds (decisions, decision times, stage times, score inputs) and for how many leads.

    leads needs created_at and imported_at; stage_timed_leads counts the leads with a dated stage after creation,
    last_event and last_decision are the newest dated stage change and decision, scored counts the leads with score
    inputs, furthest_reached is the furthest main-path stage any lead reached."""
    dated = leads.filter(pl.col("imported_at").is_null() | (pl.col("imported_at") != pl.col("created_at")))
    handed = mqls.unique("lead_id", keep="last")
    return Facts(
        leads=leads.height,
        dated_leads=dated.height,
        mqls=handed.height,
        decided=latest.height,
        rejected=int((latest["decision"] == "rejected").sum()),
        timed_decisions=int(
            mqls.filter(pl.col("decision").is_not_null() & pl.col("decision_timed") & pl.col("mql_timed")).height
        ),
        stage_timed_leads=stage_timed_leads,
        scored_leads=scored.any_score,
        crm_scored_leads=scored.crm_score,
        model_scored_leads=scored.model_inputs,
        first_day=dated["created_at"].min().date() if dated.height else None,
        last_day=dated["created_at"].max().date() if dated.height else None,
        last_moment=max(
            (moment for moment in (dated["created_at"].max(), last_event, last_decision) if moment is not None),
            default=None,
        ),
        furthest_reached=furthest_reached,
    )


# Data whose newest record is older than this is an export that stopped there, not a live feed.
LIVE_WITHIN = timedelta(days=7)


def data_clock(now: datetime, last_moment: datetime | None) -> datetime:
    """The moment waiting is counted to: now for live data, the export's last recorded moment for one that
    stopped earlier (a lead pending when the export was taken has waited until then, as far as the data knows)."""
    if last_moment is None or last_moment >= now - LIVE_WITHIN:
        return now
    return last_moment


# What the load reads of the two large tables: the columns the first page (the overview) and the filters need. The
# rest is read when a page first asks for it (Tables' cached properties).
LEAD_COLUMNS = ("id", "created_at", "campaign_id", "channel_id", "owner_rep_id", "dated", "imported_at")
EVENT_COLUMNS = ("lead_id", "stage", "occurred_at", "timed")
# The columns the shared filters narrow by (besides the lead attributes): every derived frame carries them.
FILTER_COLUMNS = ("channel", "campaign_id", "tier")
# The groups the SLA page times decisions by.
SLA_GROUPS = ("decided_by_name", "decider_tier", "channel_label")
# Columns the pages group by, held as categoricals: grouping and copying them is several times faster than strings.
GROUP_COLUMNS = ("campaign", "channel", "channel_label", "tier", "owner")


class OnDemand:
    """A Tables field made when first read (load(tables)) and kept (or, with keep=False, read again each time: a
    whole table only a script or the what-if's first visit reads), unless a value was given for it (a test's own
    frame, dataclasses.replace): the default of a dataclass field, as a descriptor."""

    def __init__(self, load: Callable[[Tables], pl.DataFrame], *, keep: bool = True) -> None:
        self.load, self.keep = load, keep

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, tables: Tables | None, owner: type | None = None):
        if tables is None:
            return self  # the field's default: "not given"
        if not self.keep and self.name not in tables.__dict__:
            return self.load(tables)
        if self.name not in tables.__dict__:
            with _on_demand_lock:  # sessions run in threads: one of them reads, the others wait for it
                if self.name not in tables.__dict__:
                    tables.__dict__[self.name] = self.load(tables)
        return tables.__dict__[self.name]

    def __set__(self, tables: Tables, value) -> None:
        if value is not self:
            tables.__dict__[self.name] = value


_on_demand_lock = threading.RLock()


def _journeys(t: Tables) -> pl.DataFrame:
    if t.all_timed:
        return t.timed_journeys
    return sla.lead_journeys(t.dims.lazy(), t.stage_events.lazy()).collect()


@dataclass(frozen=True, eq=False)
class Tables:
    """The analytics tables of the database at url, as polars frames (immutable: never changed in place).

    The fields without a default are read and derived at load: what the overview and the filters need (the funnel's
    per-lead frames). Every other frame is read or derived the first time a page asks for it, then kept: none of
    them depends on the filters.
    """

    url: str
    campaigns: pl.DataFrame
    channels: pl.DataFrame
    reps: pl.DataFrame
    scoring_models: pl.DataFrame
    dims: pl.DataFrame  # per lead: dimensions, owner, attributes, reach (funnel.lead_reach); no external_id
    timed_journeys: pl.DataFrame  # dims with the first dated time at each stage (<stage>_at)
    stage_events: pl.DataFrame  # every stage change: lead_id, stage, occurred_at, timed (EVENT_COLUMNS)
    all_timed: bool  # every stage event is dated: journeys and timed_journeys are then the same
    attributes: dict[str, tuple[str, ...]]  # lead attribute name -> its values
    lead_facts: pl.DataFrame  # the leads' share of Facts (created_at, imported_at)
    stage_timed_leads: int  # the events' share of Facts: leads with a dated stage after creation
    last_event: datetime | None  # and the newest dated stage change
    # read on demand: every column of the raw tables (the what-if's scores, the review's events, tests, scripts);
    # the two large ones are not kept, the pages keep what they derive from them
    leads: pl.DataFrame = OnDemand(lambda t: db.read_table(Lead, url=t.url), keep=False)
    events: pl.DataFrame = OnDemand(lambda t: db.read_table(StageEvent, url=t.url), keep=False)
    decisions: pl.DataFrame = OnDemand(lambda t: db.read_table(SalesDecision, url=t.url))
    disqualifications: pl.DataFrame = OnDemand(lambda t: db.read_table(Disqualification, url=t.url))
    # derived on demand
    latest: pl.DataFrame = OnDemand(lambda t: acceptance.latest_decisions(t.decisions.lazy()).collect())
    # per lead: dimensions, owner and the first time at each stage (<stage>_at), dated or not
    journeys: pl.DataFrame = OnDemand(_journeys)

    @functools.cached_property
    def external_ids(self) -> pl.DataFrame:
        """lead_id, external_id: the lead's id in the CRM, for the lists of leads."""
        ids = db.read_table(Lead, url=self.url, columns=("id", "external_id"))
        return ids.rename({"id": "lead_id"})

    @functools.cached_property
    def entries(self) -> pl.DataFrame:
        """Per dated main-path stage change: the lead's filter columns, entered_at, previous_at (the in-period
        funnel's frame, funnel.stage_entries)."""
        leads = self.dims.lazy().select("lead_id", *FILTER_COLUMNS, *self.attribute_columns)
        return funnel.stage_entries(leads, self.stage_events.lazy()).collect()

    @functools.cached_property
    def mqls(self) -> pl.DataFrame:
        """Per MQL event: the lead's columns, mql_at, the latest decision of that hand-off, decider name and tier."""
        deciders = self.reps.lazy().select(
            pl.col("id").alias("decided_by"),
            pl.col("name").cast(pl.Categorical).alias("decided_by_name"),
            pl.col("tier").cast(pl.Categorical).alias("decider_tier"),
        )
        leads = self.dims.lazy().join(self.external_ids.lazy(), on="lead_id", how="left")
        return (
            acceptance.mql_journeys(leads, self.stage_events.lazy(), self.decisions.lazy())
            .join(deciders, on="decided_by", how="left")
            .with_columns(pl.col("outcome").cast(pl.Categorical))
            .collect()
        )

    @functools.cached_property
    def decision_hours(self) -> pl.DataFrame:
        """The dated decisions of dated hand-offs with the hours they took, sorted by them (sla.decision_hours)."""
        timed = pl.col("mql_timed") & pl.col("decision_timed")
        columns = (*FILTER_COLUMNS, *self.attribute_columns, "mql_at", "decided_at", "outcome", *SLA_GROUPS)
        return sla.decision_hours(self.mqls.lazy().filter(timed).select(columns)).drop("decided_at").collect()

    @functools.cached_property
    def accepted(self) -> pl.DataFrame:
        """The leads that reached SAL at a known time, with owner, sal_at and sql_at (what escalation reads)."""
        columns = ("lead_id", *FILTER_COLUMNS, *self.attribute_columns, "owner", "sal_at", "sql_at")
        return self.timed_journeys.lazy().filter(pl.col("sal_at").is_not_null()).select(columns).collect()

    @functools.cached_property
    def steps(self) -> pl.DataFrame:
        """Per lead and main-path step it made at known times: when and how many days (sla.stage_steps)."""
        journeys = self.timed_journeys.lazy().select(
            *FILTER_COLUMNS, *self.attribute_columns, cs.ends_with("_at").exclude("created_at")
        )
        return sla.stage_steps(journeys).collect()

    @functools.cached_property
    def work(self) -> pl.DataFrame:
        """The dated events that are a rep's work (sla.rep_work)."""
        events = db.read_table(StageEvent, url=self.url, columns=("lead_id", "stage", "occurred_at", "rep_id", "timed"))
        return sla.rep_work(self.reps.lazy(), events.lazy().filter("timed")).collect()

    @functools.cached_property
    def disqualified(self) -> pl.DataFrame:
        """Disqualifications with the lead's filter columns."""
        dims = self.dims.lazy().select("lead_id", *FILTER_COLUMNS, *self.attribute_columns)
        return self.disqualifications.lazy().join(dims, on="lead_id", how="inner").collect()

    @functools.cached_property
    def facts(self) -> Facts:
        """What the data holds, and for how many leads."""
        return data_facts(
            self.lead_facts,
            self.latest,
            self.mqls,
            stage_timed_leads=self.stage_timed_leads,
            last_event=self.last_event,
            last_decision=self.decisions.filter("timed")["decided_at"].max(),
            scored=db.scored_leads(url=self.url, score_inputs=SCORE_INPUTS, activity_counts=ACTIVITY_COUNTS),
            furthest_reached=int(self.dims["furthest"].max() or 0),
        )

    def lead_columns(self, columns: Sequence[str]) -> pl.DataFrame:
        """The leads with only these columns: read alone, or taken from the leads frame when one was given."""
        given = self.__dict__.get("leads")
        return given.select(columns) if given is not None else db.read_table(Lead, url=self.url, columns=columns)

    @property
    def attribute_columns(self) -> list[str]:
        return [c for c in self.dims.columns if c.startswith(ATTRIBUTE)]


def _attribute_columns(attributes: pl.DataFrame) -> pl.DataFrame | None:
    """One row per lead with an attribute, one categorical column per attribute name (attr:<name>)."""
    if attributes.is_empty():
        return None
    wide = attributes.pivot(on="name", index="lead_id", values="value", aggregate_function="first")
    return wide.rename({c: ATTRIBUTE + c for c in wide.columns if c != "lead_id"}).with_columns(
        pl.exclude("lead_id").cast(pl.Categorical)
    )


def read_tables(url: str) -> Tables:
    """What the overview and the filters need, read in bulk (ADBC: only the columns they use) with the per-lead
    frames derived from it; everything else is read or derived when a page first asks (Tables' cached properties).

    The derived frames carry the filter columns (channel, campaign_id, tier, attributes) so that a page's queries
    only filter and aggregate them, never join the million-row tables per run.
    """
    campaigns, channels, reps, scoring_models, attributes = (
        db.read_table(model, url=url) for model in (Campaign, ChannelRow, Rep, ScoringModel, LeadAttribute)
    )
    leads = db.read_table(Lead, url=url, columns=LEAD_COLUMNS)
    events = db.read_table(StageEvent, url=url, columns=EVENT_COLUMNS)
    # The labels made categorical on the small tables, before they are joined onto a million leads.
    labels = {
        "campaigns": campaigns.lazy().with_columns(pl.col("name").cast(pl.Categorical)),
        "channels": channels.lazy().with_columns(pl.col("key", "label").cast(pl.Categorical)),
        "reps": reps.lazy().with_columns(pl.col("name", "tier").cast(pl.Categorical)),
    }
    owners = labels["reps"].select(pl.col("id").alias("owner_rep_id"), pl.col("name").alias("owner"))
    dims = (
        lead_dimensions(leads.lazy(), **labels)
        .join(owners, on="owner_rep_id", how="left")
        .with_columns(pl.col(GROUP_COLUMNS).cast(pl.Categorical))
    )
    wide = _attribute_columns(attributes)
    if wide is not None:
        dims = dims.join(wide.lazy(), on="lead_id", how="left")
    dims = dims.collect()
    # Stage times an export does not hold are placeholders: time-based figures read only the known ones.
    timed_journeys = funnel.with_reach(dims.lazy(), funnel.lead_reach(events.lazy(), dated_times=True)).collect()
    dims = timed_journeys.select(pl.exclude("^.*_at$"), "created_at")
    return Tables(
        url,
        campaigns,
        channels,
        reps,
        scoring_models,
        dims,
        timed_journeys,
        events,
        all_timed=bool(events["timed"].all()),
        attributes={
            name: tuple(sorted(attributes.filter(pl.col("name") == name)["value"].unique().to_list()))
            for name in sorted(attributes["name"].unique().to_list())
        },
        lead_facts=leads.select("created_at", "imported_at"),
        stage_timed_leads=events.filter(pl.col("timed") & (pl.col("stage") != "inquiry"))["lead_id"].n_unique(),
        last_event=events.filter("timed")["occurred_at"].max(),
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
    db.create_schema(url)
    with db.transaction(url) as session:
        return session.exec(select(sa.func.count()).select_from(ChannelRow)).one() == 0


def seed_demo_once(settings: Settings, progress) -> bool:
    """Fill an empty database with demo data (one seeder per process); False when it already had data."""
    from seed import populate
    from seed.generator import today_plan

    with _seed_lock:
        if not database_is_empty(settings.database_url):
            return False
        plan = today_plan(settings.demo_leads, settings.demo_weeks, seed=7)
        populate(settings.database_url, plan, progress=progress)
    invalidate()
    return True


@st.cache_data(ttl=TTL_SECONDS, max_entries=8)
def filter_options(url: str) -> tuple[FilterOptions, dict[str, str], dict[int, str]]:
    """The values the filters offer, with the labels to show for channels and campaigns."""
    t = tables(url)
    channel_labels = dict(zip(t.channels["key"], t.channels["label"], strict=True))
    campaigns = t.campaigns.sort("name")
    campaign_labels = dict(zip(campaigns["id"], campaigns["name"], strict=True))
    tiers = tuple(sorted(t.reps["tier"].unique().to_list()))
    options = FilterOptions(
        channels=tuple(channel_labels),
        campaigns=tuple(campaign_labels),
        tiers=tiers,
        attributes=tuple(t.attributes.items()),
    )
    return options, channel_labels, campaign_labels


@dataclass(frozen=True)
class Overview:
    kpis: pl.DataFrame  # stage, stage_label, count, previous, change, relative_change
    # cohort mode: the previous period's cohorts are counted as they stood at this moment, at the age this period's
    # have now (None in the in-period mode, where age plays no part)
    previous_as_of: datetime | None
    funnel: pl.DataFrame  # stage, stage_label, count, pct_of_previous, pct_of_first
    weekly: pl.DataFrame  # week, stage, stage_label, count
    cohort_leads: int
    immature_share: float
    immature_since: datetime
    undated_leads: int  # leads of the cohort imported from a file without dates
    by_attribute: dict[str, pl.DataFrame]  # per lead attribute: stage counts per value (funnel.lead_stage_counts_by)


def overview_frames(t: Tables, filters: Filters, *, now: datetime, maturity_days: int) -> Overview:
    """The funnel overview's figures for filters, computed from the per-lead frames (the lead's reach and its dated
    first stage times in timed_journeys, the dated stage changes in entries)."""
    dims = _filtered(t.timed_journeys, filters)
    cohort = filters.mode is CountingMode.COHORT
    # In-period counts need the time of each stage change: entries holds only the dated ones (made on first use).
    entries = None if cohort else _filtered(t.entries, filters)
    prev = filters.previous()
    as_of = None
    if cohort:
        as_of = funnel.equal_age_moment(data_clock(now, t.facts.last_moment), filters.days)
    period = {"start": filters.start, "end": filters.end, "mode": filters.mode}
    current = funnel.lead_stage_counts(dims, entries, **period)
    previous = funnel.lead_stage_counts(dims, entries, start=prev.start, end=prev.end, mode=filters.mode, as_of=as_of)
    since = funnel.immature_since(now, maturity_days)
    kpis, conversion, weekly, maturity, undated = pl.collect_all(
        [
            funnel.kpi_comparison(current, previous),
            funnel.funnel_conversion(current),
            funnel.lead_weekly_stage_counts(dims, entries, **period),
            funnel.immature_share(dims, start=filters.start, end=filters.end, since=since),
            funnel.undated_leads(dims, start=filters.start, end=filters.end),
        ]
    )
    return Overview(
        kpis=kpis,
        previous_as_of=as_of,
        funnel=conversion,
        weekly=weekly,
        cohort_leads=int(maturity["leads"][0]),
        immature_share=float(maturity["immature_share"][0]),
        immature_since=since,
        undated_leads=int(undated["undated"][0]),
        by_attribute=_per_attribute(
            t,
            dims,
            lambda frame, column: funnel.lead_stage_counts_by(
                frame,
                None if entries is None else attribute_breakdown(entries, column.removeprefix(ATTRIBUTE)),
                by=column,
                **period,
            ),
        ),
    )


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner="Counting the funnel…")
def overview(url: str, filters: Filters, today: date, maturity_days: int) -> Overview:
    """The overview's figures (cached per filters and day)."""
    return overview_frames(tables(url), filters, now=datetime.combine(today, time()), maturity_days=maturity_days)


def _filtered(frame: pl.DataFrame, filters: Filters) -> pl.LazyFrame:
    """frame (which carries the filter columns) narrowed by the shared filters."""
    return filter_dimensions(
        frame.lazy(),
        channels=filters.channels,
        campaigns=filters.campaigns,
        tiers=filters.tiers,
        attributes=filters.attributes,
    )


def _per_attribute(
    t: Tables, frame: pl.LazyFrame, figure: Callable[[pl.LazyFrame, str], pl.LazyFrame]
) -> dict[str, pl.DataFrame]:
    """figure(frame, column) for every lead attribute the data keeps, keyed by the attribute's name; the column
    holds its values as text, "(not set)" where a lead has none."""
    names = list(t.attributes)
    frames = pl.collect_all([figure(attribute_breakdown(frame, name), ATTRIBUTE + name) for name in names])
    return dict(zip(names, frames, strict=True))


@st.cache_data(ttl=TTL_SECONDS, max_entries=8)
def facts(url: str) -> Facts:
    """What the data holds (cached with the tables)."""
    return tables(url).facts


@dataclass(frozen=True)
class Acceptance:
    by_channel: pl.DataFrame
    by_campaign: pl.DataFrame
    matrix: pl.DataFrame  # campaign, channel_label, rates
    weekly: pl.DataFrame  # week, channel_label, rates (this period)
    weekly_previous: pl.DataFrame  # the same for the previous period, weeks shifted onto this one
    total: pl.DataFrame  # one row of rates for everything filtered
    outcomes: pl.DataFrame  # one row per MQL, oldest first: the leads behind every figure
    by_attribute: dict[str, pl.DataFrame]  # per lead attribute: rates per value


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
    by_attribute = _per_attribute(
        t, outcomes, lambda frame, column: acceptance.acceptance_by(frame, by=[column], order=order)
    )
    return Acceptance(by_channel, by_campaign, matrix, weekly, weekly_previous, total, rows, by_attribute)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner="Computing acceptance…")
def acceptance_view(url: str, filters: Filters, order: str) -> Acceptance:
    """The acceptance page's figures (cached per filters and sort order)."""
    return acceptance_frames(tables(url), filters, order=order)


def leads_behind(view: Acceptance, selections: list[list[dict[str, str]]]) -> pl.DataFrame:
    """The MQLs behind the bars and cells selected in each chart, newest first (acceptance.leads_behind)."""
    return acceptance.leads_behind(view.outcomes.lazy(), *selections).collect()


@dataclass(frozen=True)
class Rejections:
    pareto: pl.DataFrame  # reason, reason_label, reason_kind, count, share, cumulative_share
    by_kind: pl.DataFrame  # reason_kind, count, decided, rate
    by_channel: pl.DataFrame  # channel_label, reason_kind, count, decided, rate
    by_campaign: pl.DataFrame  # campaign, reason_kind, count, decided, rate
    weekly: pl.DataFrame  # week, reason_kind, count, change
    comments: pl.DataFrame  # the rejections that carry a comment
    disqualifications: pl.DataFrame  # reason, reason_label, count
    by_attribute: dict[str, pl.DataFrame]  # per lead attribute: value, reason_kind, count, decided, rate
    unexplained: int  # rejections of the period whose reason the data does not record


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
    by_attribute = _per_attribute(t, outcomes, lambda frame, column: rejection.rejection_by(frame, by=[column]))
    unexplained = frames[1].filter(pl.col("reason_kind").is_null())["count"].sum()
    return Rejections(*frames, by_attribute, unexplained=int(unexplained))


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
    undated: int  # MQLs of the period left out: the data does not say when they became MQLs
    decided: int  # decided MQLs of the period
    timed: int  # of them, the ones whose decision time is known (what the SLA figures are measured on)
    by_attribute: dict[str, pl.DataFrame]  # per lead attribute: timing per value
    clock: datetime  # the moment pending leads have waited until: now, or the end of an export that stopped


BREACH_COLUMNS = ("mql_at", "hours_waiting", "external_id", "owner", "campaign", "channel_label")


def handoff_frames(t: Tables, filters: Filters, *, sla_hours: float, now: datetime) -> HandoffSpeed:
    """The SLA page's figures for filters, measured only on the times the data holds."""
    every = _outcomes(t, filters)
    outcomes = every.filter(pl.col("mql_timed"))
    # sorted by hours once per load (Tables.decision_hours): the medians are read off, not sorted per run
    hours = acceptance.mql_outcomes(_filtered(t.decision_hours, filters), start=filters.start, end=filters.end)
    times = sla.within_sla(hours, sla_hours=sla_hours).collect().lazy()
    # Without any recorded decision time, "pending" only means the export does not say: no breach to list.
    waiting = outcomes if t.facts.decision_times_recorded else outcomes.filter(pl.lit(False))
    frames = pl.collect_all(
        [
            sla.time_to_decision_by(times, by=[]),
            *(sla.time_to_decision_by(times, by=[group]) for group in SLA_GROUPS),
            sla.weekly_compliance(times, by=["decided_by_name"]),
            sla.breached_pending(waiting, now=now, sla_hours=sla_hours).select(BREACH_COLUMNS),
            sla.escalation(_filtered(t.accepted, filters), start=filters.start, end=filters.end),
            sla.rep_load(t.reps.lazy(), t.work.lazy(), start=filters.start, end=filters.end),
            sla.stage_velocity(_filtered(t.steps, filters), start=filters.start, end=filters.end),
        ]
    )
    counts = every.select(
        (~pl.col("mql_timed")).sum().alias("undated"),
        pl.col("decision").is_not_null().sum().alias("decided"),
        (pl.col("decision").is_not_null() & pl.col("decision_timed") & pl.col("mql_timed")).sum().alias("timed"),
    ).collect()
    by_attribute = _per_attribute(t, times, lambda frame, column: sla.time_to_decision_by(frame, by=[column]))
    counted = {k: int(v) for k, v in counts.row(0, named=True).items()}
    return HandoffSpeed(*frames, **counted, by_attribute=by_attribute, clock=now)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner="Timing the hand-off…")
def handoff_view(url: str, filters: Filters, sla_hours: float, today: date) -> HandoffSpeed:
    """The SLA page's figures (cached per filters, SLA and day)."""
    now = datetime.now() if today == date.today() else datetime.combine(today, time())
    t = tables(url)
    return handoff_frames(t, filters, sla_hours=sla_hours, now=data_clock(now, t.facts.last_moment))


RULE_FIELDS = tuple(ScoringRule.__dataclass_fields__)


def live_rules(scoring_models: pl.DataFrame) -> tuple[whatif.LiveRule, ...]:
    """The scoring model versions as rules with the time each was live, oldest first."""
    return tuple(
        whatif.LiveRule(
            version=row["version"],
            rule=ScoringRule(**{k: row[k] for k in RULE_FIELDS}),
            active_from=row["active_from"],
            active_to=row["active_to"],
        )
        for row in scoring_models.sort("version").iter_rows(named=True)
    )


@dataclass(frozen=True)
class WhatIfBase:
    """What does not depend on the proposal: the leads with their scores and estimated probabilities."""

    frame: pl.DataFrame  # whatif.whatif_base with p_accept, p_sql, p_win
    propensities: propensity.Propensities
    models: tuple[whatif.LiveRule, ...]
    junior_capacity: int  # weekly, all junior reps
    senior_capacity: int
    spot_checked: int  # decided leads below the live threshold (the evidence there)
    crm: bool = False  # replayed on the CRM's own score (a threshold on it), not on Handoff's scoring model
    score_top: int = 100  # the highest whole threshold the score reaches (a CRM's score may pass 100)
    crm_threshold: float | None = None  # with crm: the threshold that best reproduces the CRM's own MQLs
    crm_agreement: float | None = None  # and the share of the scored leads it agrees on

    @property
    def active(self) -> whatif.LiveRule | None:
        """The model live now: the newest version."""
        return self.models[-1] if self.models else None

    @property
    def baseline(self) -> ScoringRule:
        """The rule every proposal is compared with: the model live now, or on the CRM's score the threshold that
        reproduces its MQLs best."""
        if self.crm:
            return ScoringRule(mql_threshold=self.crm_threshold if self.crm_threshold is not None else 50.0)
        return self.active.rule if self.active else ScoringRule()


# What the what-if reads of the leads on its first visit: the score inputs, the gate facts, how each qualified.
WHATIF_LEAD_COLUMNS = (
    "id",
    *SCORE_INPUTS,
    "region",
    *ACTIVITY_COUNTS,
    "crm_score",
    "company",
    "has_budget",
    "has_need",
    "is_authority",
    "timeline_months",
    "mql_route",
    "imported_at",
)


def whatif_base_frames(t: Tables, *, now: datetime, maturity_days: int, crm: bool = False) -> WhatIfBase:
    """Score every lead, fit the propensity models on the decided ones and attach the estimates.

    crm: replay on the CRM's own score (imported leads that carry one) instead of Handoff's scoring model."""
    models = live_rules(t.scoring_models)
    journeys = t.journeys.lazy().join(t.external_ids.lazy(), on="lead_id", how="left")
    leads = t.lead_columns(WHATIF_LEAD_COLUMNS).lazy()
    base = whatif.whatif_base(component_scores(leads), journeys, t.latest.lazy(), models).collect()
    top, reproduced = 100, None
    if crm:
        top = max(100, math.ceil(base["crm_score"].max() or 0))
        reproduced = whatif.reproduced_threshold(base.lazy(), top=top).collect()
    # sorted: the held-out split follows row order, and the same data must always give the same fit and intervals
    decided = propensity.step_outcomes(
        base.filter(pl.col("decided")).sort("lead_id"), now=now, horizon_days=maturity_days
    )
    fitted = propensity.fit_propensities(decided, crm=crm)
    # One horizon for every lead, as of now: a lead added by a proposal gets the chance it would have had by now of
    # reaching SQL or a win, as the leads it is counted beside are counted by what they did by now.
    shares = propensity.by_now_shares(base, now=now, horizon_days=maturity_days)
    frame = (
        base.with_columns(**fitted.expressions())
        .with_columns(
            propensity.as_of_now(pl.col("p_sql"), shares["sqls"], now=now).alias("p_sql"),
            propensity.as_of_now(pl.col("p_win"), shares["wins"], now=now).alias("p_win"),
        )
        .with_columns(**fitted.gradient_weights())
        .drop("company_size_band", "revenue_band", "owner_rep_id", strict=False)
    )
    capacity = dict(t.reps.filter(pl.col("active")).group_by("tier").agg(pl.col("weekly_capacity").sum()).iter_rows())
    return WhatIfBase(
        frame=frame,
        propensities=fitted,
        models=models,
        junior_capacity=int(capacity.get("junior", 0)),
        senior_capacity=int(capacity.get("senior", 0)),
        spot_checked=int(decided["spot_check"].sum()),
        crm=crm,
        score_top=top,
        crm_threshold=reproduced["threshold"][0] if reproduced is not None and reproduced.height else None,
        crm_agreement=reproduced["agreement"][0] if reproduced is not None and reproduced.height else None,
    )


@st.cache_resource(ttl=TTL_SECONDS, max_entries=2, show_spinner="Scoring every lead and fitting the estimates…")
def whatif_base_view(url: str, today: date, maturity_days: int, crm: bool = False) -> WhatIfBase:
    """The what-if's base for the database at url (shared by every session; cleared with the tables)."""
    return whatif_base_frames(tables(url), now=datetime.combine(today, time()), maturity_days=maturity_days, crm=crm)


LIST_ROWS = 500
WHATIF_LIST_COLUMNS = ("external_id", "campaign", "channel_label", "created_at", "score", "won", "p_accept", "p_win")


@dataclass(frozen=True)
class WhatIf:
    total: pl.DataFrame  # one row: actual and projected figures with intervals
    weekly: pl.DataFrame  # the same per week the leads were created
    by_campaign: pl.DataFrame
    by_channel: pl.DataFrame
    load: pl.DataFrame  # per week: tier load against capacity
    sweep: pl.DataFrame  # per threshold: MQLs, acceptance rate, wins
    distribution: pl.DataFrame  # decided leads per score band and decision
    quality: pl.DataFrame  # precision and recall, live rules and proposal
    lost: pl.DataFrame  # the first LIST_ROWS accepted leads the proposal excludes
    added: pl.DataFrame  # the first LIST_ROWS leads it adds


def _projected(base: WhatIfBase, filters: Filters, rule: ScoringRule) -> pl.LazyFrame:
    history = whatif.in_period(_filtered(base.frame, filters), start=filters.start, end=filters.end)
    return whatif.project(history, rule, baseline=base.baseline, crm=base.crm)


def whatif_frames(base: WhatIfBase, filters: Filters, rule: ScoringRule) -> WhatIf:
    """The what-if's figures for a proposal over the filtered history (leads created in the period)."""
    # Materialised once: every figure reads it; the sums are taken in one pass and rolled up per view.
    projected = _projected(base, filters, rule).collect().lazy()
    fitted = base.propensities
    sums = whatif.contribution_sums(projected, by=["week", "campaign", "channel_label"], propensities=fitted)
    sums = sums.collect().lazy()
    frames = pl.collect_all(
        [
            whatif.projection_by(sums, by=[], propensities=fitted),
            whatif.projection_by(sums, by=["week"], propensities=fitted).sort("week"),
            whatif.projection_by(sums, by=["campaign", "channel_label"], propensities=fitted),
            whatif.projection_by(sums, by=["channel_label"], propensities=fitted),
            whatif.tier_load(sums, junior_capacity=base.junior_capacity, senior_capacity=base.senior_capacity),
            whatif.threshold_sweep(projected, rule=rule, top=base.score_top),
            whatif.score_distribution(projected),
            whatif.gate_quality(projected),
            whatif.removed_wins_and_acceptances(projected, limit=LIST_ROWS).select(WHATIF_LIST_COLUMNS),
            whatif.added_leads(projected, limit=LIST_ROWS).select(WHATIF_LIST_COLUMNS),
        ]
    )
    return WhatIf(*frames)


def whatif_total(base: WhatIfBase, filters: Filters, rule: ScoringRule) -> pl.DataFrame:
    """The what-if's headline alone (one row): what a slider move shows first, before the charts and tables."""
    sums = whatif.contribution_sums(_projected(base, filters, rule), by=[], propensities=base.propensities)
    return whatif.projection_by(sums, by=[], propensities=base.propensities).collect()


@st.cache_data(ttl=TTL_SECONDS, max_entries=256, show_spinner=False)
def whatif_headline(
    url: str, filters: Filters, rule: ScoringRule, today: date, maturity_days: int, crm: bool = False
) -> pl.DataFrame:
    """The what-if's headline for a proposal (cached per filters and proposal)."""
    return whatif_total(whatif_base_view(url, today, maturity_days, crm), filters, rule)


@st.cache_data(ttl=TTL_SECONDS, max_entries=128, show_spinner=False)
def whatif_view(
    url: str, filters: Filters, rule: ScoringRule, today: date, maturity_days: int, crm: bool = False
) -> WhatIf:
    """The what-if's figures for a proposal (cached per filters and proposal)."""
    return whatif_frames(whatif_base_view(url, today, maturity_days, crm), filters, rule)


def whatif_list(
    url: str, filters: Filters, rule: ScoringRule, today: date, maturity_days: int, *, which: str, crm: bool = False
) -> pl.DataFrame:
    """Every lead the proposal excludes (which="lost") or adds (which="added"), made on demand."""
    projected = _projected(whatif_base_view(url, today, maturity_days, crm), filters, rule)
    pick = whatif.removed_wins_and_acceptances if which == "lost" else whatif.added_leads
    return pick(projected).select(WHATIF_LIST_COLUMNS).collect()


TRACK_RECORD_SCHEMA = {
    "change": pl.String,
    "cutoff": pl.Datetime("us"),
    "fitted_on": pl.Int64,
    "mqls": pl.Int64,
    "decided": pl.Int64,
    "projected_rate": pl.Float64,
    "rate_low": pl.Float64,
    "rate_high": pl.Float64,
    "actual_rate": pl.Float64,
    "rate_held": pl.Boolean,
    "mature": pl.Int64,
    "projected_sqls": pl.Float64,
    "sqls_half_width": pl.Float64,
    "actual_sqls": pl.Int64,
    "sqls_held": pl.Boolean,
    "projected_wins": pl.Float64,
    "wins_half_width": pl.Float64,
    "actual_wins": pl.Int64,
    "wins_held": pl.Boolean,
}


def track_record_frames(
    base: WhatIfBase, *, now: datetime, maturity_days: int, cutoff: datetime | None = None
) -> pl.DataFrame:
    """One row per scoring-model change (or, with cutoff, for that moment alone): the forecast made then from what
    was known then, against what the leads after it did (queries.backtest)."""
    if cutoff is not None:
        later = [m for m in base.models if m.active_from <= cutoff]
        rule = base.baseline if base.crm or not later else later[-1].rule
        moments = [(f"From {cutoff:%d %b %Y}", cutoff, now, rule)]
    else:
        moments = [
            (f"v{before.version} → v{after.version} on {after.active_from:%d %b %Y}", after.active_from,
             after.active_to or now, after.rule)
            for before, after in zip(base.models, base.models[1:], strict=False)
            if after.active_from < now
        ]  # fmt: skip
    rows = []
    for label, moment, until, rule in moments:
        result = backtest.forecast(
            base.frame, cutoff=moment, until=until, rule=rule, now=now, maturity_days=maturity_days, crm=base.crm
        )
        row = {k: getattr(result, k) for k in TRACK_RECORD_SCHEMA if hasattr(result, k)}
        rows.append(row | {"change": label, "cutoff": moment})
    return pl.DataFrame(rows, schema=TRACK_RECORD_SCHEMA)


@st.cache_data(ttl=TTL_SECONDS, max_entries=32, show_spinner="Replaying the forecasts…")
def track_record(
    url: str, today: date, maturity_days: int, crm: bool = False, cutoff: date | None = None
) -> pl.DataFrame:
    """The what-if's track record (cached per day and cut-off)."""
    base = whatif_base_view(url, today, maturity_days, crm)
    moment = datetime.combine(cutoff, time()) if cutoff else None
    return track_record_frames(base, now=datetime.combine(today, time()), maturity_days=maturity_days, cutoff=moment)


def invalidate(*, keep: tuple = ()) -> None:
    """Forget what was read from the database, but the caches in keep (those the write cannot have changed): every
    write calls it, so every page shows the write at once."""
    for cached in (
        tables,
        whatif_base_view,
        filter_options,
        overview,
        acceptance_view,
        rejection_view,
        handoff_view,
        facts,
    ):
        if cached not in keep:
            cached.clear()
    whatif_view.clear()
    whatif_headline.clear()
    track_record.clear()
    if model_history not in keep:
        model_history.clear()


@st.cache_data(ttl=TTL_SECONDS, max_entries=8)
def model_history(url: str) -> pl.DataFrame:
    """Every scoring model version, newest first: when it was live, who made it and why."""
    return tables(url).scoring_models.sort("version", descending=True)

"""Hand-off speed: time from MQL to decision, SLA compliance, breaches, escalation, load and velocity."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from dashboard.domain import MAIN_PATH, STAGE_LABELS, Stage, Tier
from queries.leads import period_bounds


def decision_hours(outcomes: pl.LazyFrame) -> pl.LazyFrame:
    """Decided MQLs with the hours from MQL to decision, sorted by them (nulls last): a group's median and p90 are
    then read off at their rows (time_to_decision_by). Independent of the SLA, so it can be derived once per load."""
    hours = (pl.col("decided_at") - pl.col("mql_at")).dt.total_seconds() / 3600
    return (
        outcomes.filter(pl.col("outcome") != "pending")
        .with_columns(hours.alias("hours"))
        .sort("hours", nulls_last=True, maintain_order=True)
    )


def within_sla(hours: pl.LazyFrame, *, sla_hours: float) -> pl.LazyFrame:
    """decision_hours(...) with whether each decision was inside the SLA."""
    return hours.with_columns((pl.col("hours") <= sla_hours).alias("within_sla"))


def decision_times(outcomes: pl.LazyFrame, *, sla_hours: float) -> pl.LazyFrame:
    """Decided MQLs with the hours from MQL to decision (sorted by them) and whether that was inside the SLA."""
    return within_sla(decision_hours(outcomes), sla_hours=sla_hours)


def quantile_of_sorted(column: str, q: float) -> pl.Expr:
    """The q quantile of a column whose rows are sorted ascending with nulls last, as polars' linear quantile (and
    at q = 0.5 its median) gives it: read off at its position instead of sorting again (null when all are null)."""
    n = pl.col(column).count()
    position = (n - 1).cast(pl.Float64) * q
    low = pl.col(column).get(position.floor().cast(pl.Int64), null_on_oob=True)
    high = pl.col(column).get(position.ceil().cast(pl.Int64), null_on_oob=True)
    value = (low + high) / 2 if q == 0.5 else low + (high - low) * (position - position.floor())
    return pl.when(n > 0).then(value)


def time_to_decision_by(times: pl.LazyFrame, *, by: list[str]) -> pl.LazyFrame:
    """Per group (one row when by is empty): decisions, median and p90 hours, share decided within the SLA.

    times is decision_times(...) (or within_sla(decision_hours(...)) narrowed by a filter): sorted by hours."""
    figures = (
        pl.len().cast(pl.Int64).alias("decisions"),
        quantile_of_sorted("hours", 0.5).alias("median_hours"),
        quantile_of_sorted("hours", 0.9).alias("p90_hours"),
        pl.col("within_sla").mean().alias("sla_compliance"),
    )
    if not by:  # one row for everything
        return times.select(figures)
    return times.group_by(by).agg(figures).sort(["sla_compliance", *by], nulls_last=True)


def weekly_compliance(times: pl.LazyFrame, *, by: list[str]) -> pl.LazyFrame:
    """Per MQL week (Monday) and group: decisions and the share decided within the SLA."""
    week = pl.col("mql_at").dt.truncate("1w").dt.date().alias("week")
    return (
        times.group_by(week, *by)
        .agg(pl.len().cast(pl.Int64).alias("decisions"), pl.col("within_sla").mean().alias("sla_compliance"))
        .sort("week", *by)
    )


def breached_pending(outcomes: pl.LazyFrame, *, now: datetime, sla_hours: float) -> pl.LazyFrame:
    """Pending MQLs already past the SLA, oldest first, with how long they have waited."""
    waited = (pl.lit(now) - pl.col("mql_at")).dt.total_seconds() / 3600
    return (
        outcomes.filter(pl.col("outcome") == "pending")
        .with_columns(waited.alias("hours_waiting"))
        .filter(pl.col("hours_waiting") > sla_hours)
        .sort("mql_at")
    )


def first_stage_times(events: pl.LazyFrame) -> pl.LazyFrame:
    """One row per lead: when it first reached each main-path stage (<stage>_at, null if never)."""
    return events.group_by("lead_id").agg(
        pl.col("occurred_at").filter(pl.col("stage") == stage.value).min().alias(f"{stage.value}_at")
        for stage in MAIN_PATH
    )


def lead_journeys(leads: pl.LazyFrame, events: pl.LazyFrame) -> pl.LazyFrame:
    """leads with when each first reached every main-path stage (<stage>_at); derived once per load."""
    return leads.join(first_stage_times(events), on="lead_id", how="left")


def escalation(journeys: pl.LazyFrame, *, start: date, end: date) -> pl.LazyFrame:
    """Per junior owner: leads accepted in the period, how many reached a senior (SQL), days in the junior tier.

    journeys is lead_journeys(...) of leads that carry their owner (or only those of them that reached SAL).
    """
    lo, hi = period_bounds(start, end)
    days = (pl.col("sql_at") - pl.col("sal_at")).dt.total_seconds() / 86400
    return (
        journeys.filter(pl.col("sal_at").is_between(lo, hi, closed="left"))
        .group_by("owner")
        .agg(
            pl.len().cast(pl.Int64).alias("accepted"),
            pl.col("sql_at").is_not_null().sum().cast(pl.Int64).alias("escalated"),
            days.median().alias("median_days_junior"),
        )
        .with_columns((pl.col("escalated") / pl.col("accepted")).alias("escalation_rate"))
        .sort("owner")
    )


# What counts as work for a rep of each tier: juniors decide MQLs, seniors work SQLs onward.
WORK_STAGES = {
    Tier.JUNIOR: (Stage.SAL, Stage.REJECTED),
    Tier.SENIOR: (Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER, Stage.LOST),
}


def rep_work(reps: pl.LazyFrame, events: pl.LazyFrame) -> pl.LazyFrame:
    """The events that are a rep's work (rep_id, lead_id, occurred_at), each with the rep's previous work on the same
    lead (previous_at, null for the first); derived once per load."""
    work = pl.any_horizontal(
        (pl.col("tier") == tier.value) & pl.col("stage").is_in([s.value for s in stages])
        for tier, stages in WORK_STAGES.items()
    )
    return (
        events.filter(pl.col("rep_id").is_not_null())
        .join(reps.select(pl.col("id").alias("rep_id"), "tier"), on="rep_id", how="inner")
        .filter(work)
        .select("rep_id", "lead_id", "occurred_at")
        .sort("rep_id", "lead_id", "occurred_at")
        .with_columns(pl.col("occurred_at").shift(1).over("rep_id", "lead_id").alias("previous_at"))
    )


def rep_load(reps: pl.LazyFrame, work: pl.LazyFrame, *, start: date, end: date) -> pl.LazyFrame:
    """Per rep: leads worked per week on average in the period against the weekly capacity.

    work is rep_work(reps, events) (without previous_at, each rep's distinct leads are counted as such).
    """
    lo, hi = period_bounds(start, end)
    weeks = max((end - start).days + 1, 1) / 7
    in_period = work.filter(pl.col("occurred_at").is_between(lo, hi, closed="left"))
    if "previous_at" in work.collect_schema().names():
        # a rep's distinct leads of the period: the work on each with none on the same lead earlier in the period
        first = pl.col("previous_at").is_null() | (pl.col("previous_at") < lo)
        worked = in_period.filter(first).group_by("rep_id").agg(pl.len().cast(pl.UInt32).alias("leads"))
    else:
        worked = in_period.group_by("rep_id").agg(pl.col("lead_id").n_unique().alias("leads"))
    return (
        reps.select(pl.col("id").alias("rep_id"), "name", "tier", "team", "weekly_capacity")
        .join(worked, on="rep_id", how="left")
        .with_columns(pl.col("leads").fill_null(0))
        .with_columns((pl.col("leads") / weeks).alias("per_week"))
        .with_columns((pl.col("per_week") / pl.col("weekly_capacity")).alias("utilisation"))
        .sort(["tier", "utilisation"], descending=[False, True])
    )


STEPS = tuple(zip(MAIN_PATH, MAIN_PATH[1:], strict=False))
STEP_LABELS = pl.LazyFrame(
    {
        "order": list(range(len(STEPS))),
        "step": [f"{STAGE_LABELS[earlier]} → {STAGE_LABELS[later]}" for earlier, later in STEPS],
    },
    schema={"order": pl.UInt32, "step": pl.String},
)


def stage_steps(journeys: pl.LazyFrame) -> pl.LazyFrame:
    """One row per lead and main-path step it made: order, entered_at (the later stage) and days the step took,
    sorted by step and days (a period's median is then its middle row).

    journeys is lead_journeys(...); the lead's other columns (the filter columns) are kept. Derived once per load.
    """
    keep = [c for c in journeys.collect_schema().names() if not c.endswith("_at") or c == "created_at"]
    steps = pl.concat(
        [
            journeys.filter(
                pl.col(f"{later.value}_at").is_not_null() & pl.col(f"{earlier.value}_at").is_not_null()
            ).select(
                *keep,
                pl.lit(order, dtype=pl.UInt32).alias("order"),
                pl.col(f"{later.value}_at").alias("entered_at"),
                ((pl.col(f"{later.value}_at") - pl.col(f"{earlier.value}_at")).dt.total_seconds() / 86400).alias(
                    "days"
                ),
            )
            for order, (earlier, later) in enumerate(STEPS)
        ]
    )
    return steps.sort("order", "days")


def stage_velocity(steps: pl.LazyFrame, *, start: date, end: date) -> pl.LazyFrame:
    """Median days between successive main-path stages, for leads that entered the later stage in the period.

    steps is stage_steps(...), sorted by step and days; every step is listed, with 0 leads where none made it.
    """
    lo, hi = period_bounds(start, end)
    # the rows keep their order through the filter and the grouping: the median is read off at its rows
    measured = (
        steps.filter(pl.col("entered_at").is_between(lo, hi, closed="left"))
        .group_by("order")
        .agg(pl.len().cast(pl.Int64).alias("leads"), quantile_of_sorted("days", 0.5).alias("median_days"))
    )
    return (
        STEP_LABELS.join(measured, on="order", how="left")
        .with_columns(pl.col("leads").fill_null(0))
        .select("order", "step", "leads", pl.col("median_days").cast(pl.Float64))
        .sort("order")
    )

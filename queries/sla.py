"""Hand-off speed: time from MQL to decision, SLA compliance, breaches, escalation, load and velocity."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from dashboard.domain import MAIN_PATH, STAGE_LABELS, Stage, Tier
from queries.leads import period_bounds

HOURS = pl.duration(hours=1)


def decision_times(outcomes: pl.LazyFrame, *, sla_hours: float) -> pl.LazyFrame:
    """Decided MQLs with the hours from MQL to decision and whether that was inside the SLA."""
    hours = (pl.col("decided_at") - pl.col("mql_at")).dt.total_seconds() / 3600
    return (
        outcomes.filter(pl.col("outcome") != "pending")
        .with_columns(hours.alias("hours"))
        .with_columns((pl.col("hours") <= sla_hours).alias("within_sla"))
    )


def time_to_decision_by(times: pl.LazyFrame, *, by: list[str]) -> pl.LazyFrame:
    """Per group: decisions, median and p90 hours to decide, and the share decided within the SLA."""
    return (
        times.group_by(by)
        .agg(
            pl.len().cast(pl.Int64).alias("decisions"),
            pl.col("hours").median().alias("median_hours"),
            pl.col("hours").quantile(0.9, interpolation="linear").alias("p90_hours"),
            pl.col("within_sla").mean().alias("sla_compliance"),
        )
        .sort(["sla_compliance", *by], nulls_last=True)
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


def escalation(leads: pl.LazyFrame, times: pl.LazyFrame, *, start: date, end: date) -> pl.LazyFrame:
    """Per junior owner: leads accepted in the period, how many reached a senior (SQL), days in the junior tier.

    times is first_stage_times(events).
    """
    lo, hi = period_bounds(start, end)
    days = (pl.col("sql_at") - pl.col("sal_at")).dt.total_seconds() / 86400
    return (
        leads.select("lead_id", "owner")
        .join(times.filter(pl.col("sal_at").is_between(lo, hi, closed="left")), on="lead_id", how="inner")
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


def rep_load(reps: pl.LazyFrame, events: pl.LazyFrame, *, start: date, end: date) -> pl.LazyFrame:
    """Per rep: leads worked per week on average in the period against the weekly capacity."""
    lo, hi = period_bounds(start, end)
    weeks = max((end - start).days + 1, 1) / 7
    work = pl.any_horizontal(
        (pl.col("tier") == tier.value) & pl.col("stage").is_in([s.value for s in stages])
        for tier, stages in WORK_STAGES.items()
    )
    worked = (
        events.filter(pl.col("occurred_at").is_between(lo, hi, closed="left") & pl.col("rep_id").is_not_null())
        .join(reps.select(pl.col("id").alias("rep_id"), "tier"), on="rep_id", how="inner")
        .filter(work)
        .group_by("rep_id")
        .agg(pl.col("lead_id").n_unique().alias("leads"))
    )
    return (
        reps.select(pl.col("id").alias("rep_id"), "name", "tier", "team", "weekly_capacity")
        .join(worked, on="rep_id", how="left")
        .with_columns(pl.col("leads").fill_null(0))
        .with_columns((pl.col("leads") / weeks).alias("per_week"))
        .with_columns((pl.col("per_week") / pl.col("weekly_capacity")).alias("utilisation"))
        .sort(["tier", "utilisation"], descending=[False, True])
    )


def stage_velocity(leads: pl.LazyFrame, times: pl.LazyFrame, *, start: date, end: date) -> pl.LazyFrame:
    """Median days between successive main-path stages, for leads that entered the later stage in the period.

    times is first_stage_times(events).
    """
    lo, hi = period_bounds(start, end)
    mine = times.join(leads.select("lead_id"), on="lead_id", how="semi")
    steps = list(zip(MAIN_PATH, MAIN_PATH[1:], strict=False))
    aggregates = []
    for order, (earlier, later) in enumerate(steps):
        inside = (
            pl.col(f"{later.value}_at").is_between(lo, hi, closed="left") & pl.col(f"{earlier.value}_at").is_not_null()
        )
        days = (pl.col(f"{later.value}_at") - pl.col(f"{earlier.value}_at")).dt.total_seconds() / 86400
        aggregates += [
            inside.sum().cast(pl.Int64).alias(f"leads_{order}"),
            days.filter(inside).median().alias(f"days_{order}"),
        ]
    wide = mine.select(aggregates)
    return pl.concat(
        [
            wide.select(
                pl.lit(order, dtype=pl.UInt32).alias("order"),
                pl.lit(f"{STAGE_LABELS[earlier]} → {STAGE_LABELS[later]}").alias("step"),
                pl.col(f"leads_{order}").alias("leads"),
                pl.col(f"days_{order}").cast(pl.Float64).alias("median_days"),
            )
            for order, (earlier, later) in enumerate(steps)
        ]
    )

"""The funnel counted from the stage events themselves, lead by lead: the plain reference queries.funnel's per-lead
frames (lead_reach, stage_entries) are held to. Not used by the app: it counts from the per-lead frames."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from dashboard.domain import CountingMode
from queries.funnel import STAGE_RANK, _complete, _every_week, _reached_at_least, _wide_by_stage
from queries.leads import period_bounds


def _main_path_events(leads: pl.LazyFrame, events: pl.LazyFrame) -> pl.LazyFrame:
    """Events of leads on the main path, with the stage's order (detours dropped)."""
    return (
        events.join(leads.select("lead_id"), on="lead_id", how="semi")
        .with_columns(
            pl.col("stage").replace_strict(STAGE_RANK, default=None, return_dtype=pl.Int64).alias("stage_order")
        )
        .drop_nulls("stage_order")
    )


def furthest_stage(leads: pl.LazyFrame, events: pl.LazyFrame, *, keep: tuple[str, ...] = ()) -> pl.LazyFrame:
    """lead_id, created_at (and the columns in keep) with the order of the furthest main-path stage each lead
    reached (0 = inquiry)."""
    reached = _main_path_events(leads, events).group_by("lead_id").agg(pl.col("stage_order").max().alias("furthest"))
    return (
        leads.select("lead_id", "created_at", *keep)
        .join(reached, on="lead_id", how="left")
        .with_columns(pl.col("furthest").fill_null(0))
    )


def recorded_before(events: pl.LazyFrame, moment: datetime) -> pl.LazyFrame:
    """The stage changes a lead had made before moment: the ones dated earlier, and the ones the data does not date
    (reached, but when is unknown, so they cannot be set aside by age)."""
    return events.filter((pl.col("occurred_at") < moment) | ~pl.col("timed"))


def cohort_stage_counts(leads: pl.LazyFrame, events: pl.LazyFrame, *, start: date, end: date) -> pl.LazyFrame:
    """Leads created in the period counted at every stage they reached, wherever they got since."""
    lo, hi = period_bounds(start, end)
    cohort = leads.filter(pl.col("created_at").is_between(lo, hi, closed="left"))
    counts = _reached_at_least(furthest_stage(cohort, events), by=[])
    return _complete(counts.select("stage", "count"))


def in_period_stage_counts(leads: pl.LazyFrame, events: pl.LazyFrame, *, start: date, end: date) -> pl.LazyFrame:
    """Distinct leads that entered each stage in the period, whenever they were created."""
    lo, hi = period_bounds(start, end)
    moved = _main_path_events(leads, events).filter(pl.col("occurred_at").is_between(lo, hi, closed="left"))
    return _complete(moved.group_by("stage").agg(pl.col("lead_id").n_unique().cast(pl.Int64).alias("count")))


STAGE_COUNTS = {
    CountingMode.COHORT: cohort_stage_counts,
    CountingMode.IN_PERIOD: in_period_stage_counts,
}


def stage_counts(
    leads: pl.LazyFrame, events: pl.LazyFrame, *, start: date, end: date, mode: CountingMode
) -> pl.LazyFrame:
    """Stage counts for the period in the chosen counting mode."""
    return STAGE_COUNTS[mode](leads, events, start=start, end=end)


def stage_counts_by(
    leads: pl.LazyFrame, events: pl.LazyFrame, *, start: date, end: date, mode: CountingMode, by: str
) -> pl.LazyFrame:
    """One row per value of the column by (largest first): its count at every main-path stage (one column per
    stage, named by the stage) in the chosen counting mode, and in the cohort mode the share of its leads won."""
    lo, hi = period_bounds(start, end)
    if mode is CountingMode.COHORT:
        cohort = leads.filter(pl.col("created_at").is_between(lo, hi, closed="left"))
        counted = _reached_at_least(furthest_stage(cohort, events, keep=(by,)), by=[by]).select(by, "stage", "count")
    else:
        counted = (
            _main_path_events(leads, events)
            .filter(pl.col("occurred_at").is_between(lo, hi, closed="left"))
            .join(leads.select("lead_id", by), on="lead_id", how="inner")
            .group_by(by, "stage")
            .agg(pl.col("lead_id").n_unique().cast(pl.Int64).alias("count"))
        )
    return _wide_by_stage(counted, by=by, mode=mode)


def weekly_stage_counts(
    leads: pl.LazyFrame, events: pl.LazyFrame, *, start: date, end: date, mode: CountingMode
) -> pl.LazyFrame:
    """week (Monday), stage and count: cohorts by creation week, or stage entries by the week they happened."""
    lo, hi = period_bounds(start, end)
    if mode is CountingMode.COHORT:
        cohort = leads.filter(pl.col("created_at").is_between(lo, hi, closed="left"))
        weekly = furthest_stage(cohort, events).with_columns(
            pl.col("created_at").dt.truncate("1w").dt.date().alias("week")
        )
        counted = _reached_at_least(weekly, by=["week"]).select("week", "stage", "count")
    else:
        counted = (
            _main_path_events(leads, events)
            .filter(pl.col("occurred_at").is_between(lo, hi, closed="left"))
            .group_by(pl.col("occurred_at").dt.truncate("1w").dt.date().alias("week"), "stage")
            .agg(pl.col("lead_id").n_unique().cast(pl.Int64).alias("count"))
        )
    return _every_week(counted, start=start, end=end)

"""The demand waterfall: stage counts in both counting modes, conversions and weekly trends."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl

from dashboard.domain import MAIN_PATH, STAGE_LABELS, CountingMode
from queries.leads import period_bounds

STAGE_ORDER = pl.DataFrame(
    {
        "stage": [s.value for s in MAIN_PATH],
        "stage_order": list(range(len(MAIN_PATH))),
        "stage_label": [STAGE_LABELS[s] for s in MAIN_PATH],
    },
    schema={"stage": pl.String, "stage_order": pl.Int64, "stage_label": pl.String},
)


STAGE_RANK = {s.value: i for i, s in enumerate(MAIN_PATH)}


def _main_path_events(leads: pl.LazyFrame, events: pl.LazyFrame) -> pl.LazyFrame:
    """Events of leads on the main path, with the stage's order (detours dropped)."""
    return (
        events.join(leads.select("lead_id"), on="lead_id", how="semi")
        .with_columns(
            pl.col("stage").replace_strict(STAGE_RANK, default=None, return_dtype=pl.Int64).alias("stage_order")
        )
        .drop_nulls("stage_order")
    )


def _complete(counts: pl.LazyFrame) -> pl.LazyFrame:
    """Every main-path stage once, in order, with 0 where nothing reached it."""
    return (
        STAGE_ORDER.lazy()
        .join(counts, on="stage", how="left")
        .with_columns(pl.col("count").fill_null(0).cast(pl.Int64))
        .sort("stage_order")
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


def _reached_at_least(furthest: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    """Per group, the leads whose furthest stage is at or beyond each stage (a reverse cumulative sum)."""
    exact = furthest.group_by(*by, "furthest").agg(pl.len().cast(pl.Int64).alias("exact"))
    groups = furthest.select(by).unique() if by else pl.LazyFrame({"_all": [0]})
    grid = groups.join(STAGE_ORDER.lazy(), how="cross")
    return (
        grid.join(exact, left_on=[*by, "stage_order"], right_on=[*by, "furthest"], how="left")
        .with_columns(pl.col("exact").fill_null(0))
        .sort(*by, "stage_order", descending=[False] * len(by) + [True])
        .with_columns((pl.col("exact").cum_sum().over(by) if by else pl.col("exact").cum_sum()).alias("count"))
        .drop("exact", "_all", strict=False)
    )


def recorded_before(events: pl.LazyFrame, moment: datetime) -> pl.LazyFrame:
    """The stage changes a lead had made before moment: the ones dated earlier, and the ones the data does not date
    (reached, but when is unknown, so they cannot be set aside by age)."""
    return events.filter((pl.col("occurred_at") < moment) | ~pl.col("timed"))


def equal_age_moment(clock: datetime, period_days: int) -> datetime:
    """The moment the previous period's cohorts were as old as this period's are at clock: each lead of the
    previous period was created period_days earlier than its counterpart, so it is counted as it stood then."""
    return clock - timedelta(days=period_days)


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
    stages = [s.value for s in MAIN_PATH]
    wide = (
        counted.group_by(by)
        .agg(pl.col("count").filter(pl.col("stage") == stage).sum().cast(pl.Int64).alias(stage) for stage in stages)
        .sort(stages[0], by, descending=[True, False])
    )
    if mode is CountingMode.COHORT:
        first, last = pl.col(stages[0]), pl.col(stages[-1])
        wide = wide.with_columns(pl.when(first > 0).then(last / first).alias("won_share"))
    return wide


def funnel_conversion(counts: pl.LazyFrame) -> pl.LazyFrame:
    """counts with both conversion forms: % of the previous stage and % of the first stage (null when 0/0)."""
    previous = pl.col("count").shift(1)
    first = pl.col("count").first()
    return counts.sort("stage_order").with_columns(
        pl.when(previous > 0).then(pl.col("count") / previous).alias("pct_of_previous"),
        pl.when(first > 0).then(pl.col("count") / first).alias("pct_of_first"),
    )


def kpi_comparison(current: pl.LazyFrame, previous: pl.LazyFrame) -> pl.LazyFrame:
    """Stage counts of this period beside the previous one: change and relative change."""
    return (
        current.select("stage", "stage_order", "stage_label", "count")
        .join(previous.select("stage", pl.col("count").alias("previous")), on="stage", how="left")
        .with_columns(
            (pl.col("count") - pl.col("previous")).alias("change"),
            pl.when(pl.col("previous") > 0).then(pl.col("count") / pl.col("previous") - 1).alias("relative_change"),
        )
        .sort("stage_order")
    )


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
    weeks = pl.LazyFrame({"week": pl.date_range(start - timedelta(days=start.weekday()), end, "1w", eager=True)})
    return (
        weeks.join(STAGE_ORDER.lazy(), how="cross")
        .join(counted, on=["week", "stage"], how="left")
        .with_columns(pl.col("count").fill_null(0))
        .sort("week", "stage_order")
    )


def immature_since(now: datetime, maturity_days: int) -> datetime:
    """Cohorts created after this moment have not had time to reach their later stages."""
    return now - timedelta(days=maturity_days)


def immature_share(leads: pl.LazyFrame, *, start: date, end: date, since: datetime) -> pl.LazyFrame:
    """One row: leads in the cohort and the share of them created after `since` (still settling)."""
    lo, hi = period_bounds(start, end)
    cohort = leads.filter(pl.col("created_at").is_between(lo, hi, closed="left"))
    return cohort.select(
        pl.len().cast(pl.Int64).alias("leads"),
        pl.when(pl.len() > 0)
        .then((pl.col("created_at") >= since).sum() / pl.len())
        .otherwise(0.0)
        .alias("immature_share"),
    )


def undated_leads(leads: pl.LazyFrame, *, start: date, end: date) -> pl.LazyFrame:
    """One row: leads of the period's cohort that were imported from a file without dates (column undated)."""
    lo, hi = period_bounds(start, end)
    cohort = leads.filter(pl.col("created_at").is_between(lo, hi, closed="left"))
    return cohort.select(pl.col("undated").sum().cast(pl.Int64).alias("undated"))

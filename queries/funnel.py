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


def _complete(counts: pl.LazyFrame) -> pl.LazyFrame:
    """Every main-path stage once, in order, with 0 where nothing reached it."""
    return (
        STAGE_ORDER.lazy()
        .join(counts, on="stage", how="left")
        .with_columns(pl.col("count").fill_null(0).cast(pl.Int64))
        .sort("stage_order")
    )


def _reached_at_least(furthest: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    """Per group, the leads whose furthest stage is at or beyond each stage (a reverse cumulative sum)."""
    exact = furthest.group_by(*by, pl.col("furthest").cast(pl.Int64)).agg(pl.len().cast(pl.Int64).alias("exact"))
    groups = furthest.select(by).unique() if by else pl.LazyFrame({"_all": [0]})
    grid = groups.join(STAGE_ORDER.lazy(), how="cross")
    return (
        grid.join(exact, left_on=[*by, "stage_order"], right_on=[*by, "furthest"], how="left")
        .with_columns(pl.col("exact").fill_null(0))
        .sort(*by, "stage_order", descending=[False] * len(by) + [True])
        .with_columns((pl.col("exact").cum_sum().over(by) if by else pl.col("exact").cum_sum()).alias("count"))
        .drop("exact", "_all", strict=False)
    )


# Per-lead reach and per-entry frames, derived once per load: a page's funnel is then a filter and a group-by on one
# frame, never a join of the events. They give exactly the figures of the event-based functions above.


def lead_reach(events: pl.LazyFrame, *, dated_times: bool = False) -> pl.LazyFrame:
    """One row per lead with a main-path event: the furthest stage it reached (furthest, 0 = inquiry) and the furthest
    of the stages the data does not date (furthest_undated: reached, but when is unknown); derived once per load.

    dated_times: also when it first reached each stage at a known time (<stage>_at, as sla.first_stage_times of the
    dated events), in the same pass."""
    timed = pl.col("timed") if "timed" in events.collect_schema().names() else pl.lit(True)
    order = pl.col("stage_order")
    times = (
        pl.col("occurred_at").filter((order == i) & timed).min().alias(f"{s.value}_at") for i, s in enumerate(MAIN_PATH)
    )
    return (
        events.with_columns(
            pl.col("stage").replace_strict(STAGE_RANK, default=None, return_dtype=pl.Int8).alias("stage_order")
        )
        .drop_nulls("stage_order")
        .group_by("lead_id")
        .agg(
            order.max().alias("furthest"),
            order.filter(~timed).max().fill_null(0).alias("furthest_undated"),
            *(times if dated_times else ()),
        )
    )


def with_reach(leads: pl.LazyFrame, reach: pl.LazyFrame) -> pl.LazyFrame:
    """leads with their reach columns (lead_reach), 0 (inquiry) for a lead without any main-path event."""
    return leads.join(reach, on="lead_id", how="left").with_columns(pl.col("furthest", "furthest_undated").fill_null(0))


def furthest_by(as_of: datetime | None) -> pl.Expr:
    """The furthest main-path stage a lead had reached by as_of (every stage when None): the dated stages first
    reached before as_of (<stage>_at, from the dated events) and the ones the data does not date (furthest_undated)."""
    if as_of is None:
        return pl.col("furthest")
    dated = (pl.when(pl.col(f"{s.value}_at") < as_of).then(pl.lit(i, pl.Int8)) for i, s in enumerate(MAIN_PATH))
    return pl.max_horizontal(pl.col("furthest_undated"), *dated)


def stage_entries(leads: pl.LazyFrame, events: pl.LazyFrame) -> pl.LazyFrame:
    """One row per dated main-path stage change: the lead's columns, stage_order, entered_at, and previous_at, the
    lead's previous change into the same stage (null for the first). Derived once per load; a period's distinct leads
    per stage are then its rows whose previous_at falls before the period, without counting distinct ids."""
    dated = events.filter(pl.col("timed")) if "timed" in events.collect_schema().names() else events
    same = (pl.col("lead_id") == pl.col("lead_id").shift(1)) & (pl.col("stage_order") == pl.col("stage_order").shift(1))
    return (
        dated.select(
            "lead_id",
            pl.col("stage").replace_strict(STAGE_RANK, default=None, return_dtype=pl.Int8).alias("stage_order"),
            pl.col("occurred_at").alias("entered_at"),
        )
        .drop_nulls("stage_order")
        .sort("lead_id", "stage_order", "entered_at")
        .with_columns(pl.when(same).then(pl.col("entered_at").shift(1)).alias("previous_at"))
        .join(leads, on="lead_id", how="inner")
    )


STAGE_NAMES = STAGE_ORDER.select(pl.col("stage_order").cast(pl.Int8), "stage")


def _named(counted: pl.LazyFrame) -> pl.LazyFrame:
    """counted (by stage_order) with the stage's name instead."""
    return counted.join(STAGE_NAMES.lazy(), on="stage_order", how="inner").drop("stage_order")


def _entered(entries: pl.LazyFrame, *, start: date, end: date, weekly: bool = False) -> pl.LazyFrame:
    """The entries of the period, each lead once per stage (and per week when weekly): its first entry there."""
    lo, hi = period_bounds(start, end)
    since = pl.lit(lo)
    if weekly:
        since = pl.max_horizontal(since, pl.col("entered_at").dt.truncate("1w"))
    first = pl.col("previous_at").is_null() | (pl.col("previous_at") < since)
    return entries.filter(pl.col("entered_at").is_between(lo, hi, closed="left") & first)


def reached_stage_counts(
    journeys: pl.LazyFrame, *, start: date, end: date, as_of: datetime | None = None
) -> pl.LazyFrame:
    """cohort_stage_counts from the per-lead frame: journeys carries the reach columns (with_reach) and the dated
    first stage times; as_of counts the leads as they stood then (the previous period at equal age)."""
    lo, hi = period_bounds(start, end)
    cohort = journeys.filter(pl.col("created_at").is_between(lo, hi, closed="left"))
    counts = _reached_at_least(cohort.select(furthest_by(as_of).alias("furthest")), by=[])
    return _complete(counts.select("stage", "count"))


def entered_stage_counts(entries: pl.LazyFrame, *, start: date, end: date) -> pl.LazyFrame:
    """in_period_stage_counts from the entries frame (stage_entries)."""
    counted = (
        _entered(entries, start=start, end=end).group_by("stage_order").agg(pl.len().cast(pl.Int64).alias("count"))
    )
    return _complete(_named(counted))


def lead_stage_counts(
    journeys: pl.LazyFrame,
    entries: pl.LazyFrame | None,
    *,
    start: date,
    end: date,
    mode: CountingMode,
    as_of: datetime | None = None,
) -> pl.LazyFrame:
    """stage_counts from the per-lead frames: journeys (cohort mode, as of as_of) or entries (in-period mode; None in
    the cohort mode, which does not read it)."""
    if mode is CountingMode.COHORT:
        return reached_stage_counts(journeys, start=start, end=end, as_of=as_of)
    return entered_stage_counts(entries, start=start, end=end)


def lead_stage_counts_by(
    journeys: pl.LazyFrame, entries: pl.LazyFrame | None, *, start: date, end: date, mode: CountingMode, by: str
) -> pl.LazyFrame:
    """stage_counts_by from the per-lead frames (journeys with reach columns, entries)."""
    if mode is CountingMode.COHORT:
        lo, hi = period_bounds(start, end)
        cohort = journeys.filter(pl.col("created_at").is_between(lo, hi, closed="left")).select(by, "furthest")
        counted = _reached_at_least(cohort, by=[by]).select(by, "stage", "count")
    else:
        entered = _entered(entries, start=start, end=end)
        counted = _named(entered.group_by(by, "stage_order").agg(pl.len().cast(pl.Int64).alias("count")))
    return _wide_by_stage(counted, by=by, mode=mode)


def lead_weekly_stage_counts(
    journeys: pl.LazyFrame, entries: pl.LazyFrame | None, *, start: date, end: date, mode: CountingMode
) -> pl.LazyFrame:
    """weekly_stage_counts from the per-lead frames (journeys with reach columns, entries)."""
    if mode is CountingMode.COHORT:
        lo, hi = period_bounds(start, end)
        weekly = journeys.filter(pl.col("created_at").is_between(lo, hi, closed="left")).select(
            pl.col("created_at").dt.truncate("1w").dt.date().alias("week"), "furthest"
        )
        counted = _reached_at_least(weekly, by=["week"]).select("week", "stage", "count")
    else:
        counted = _named(
            _entered(entries, start=start, end=end, weekly=True)
            .group_by(pl.col("entered_at").dt.truncate("1w").dt.date().alias("week"), "stage_order")
            .agg(pl.len().cast(pl.Int64).alias("count"))
        )
    return _every_week(counted, start=start, end=end)


def equal_age_moment(clock: datetime, period_days: int) -> datetime:
    """The moment the previous period's cohorts were as old as this period's are at clock: each lead of the
    previous period was created period_days earlier than its counterpart, so it is counted as it stood then."""
    return clock - timedelta(days=period_days)


def _wide_by_stage(counted: pl.LazyFrame, *, by: str, mode: CountingMode) -> pl.LazyFrame:
    """by, stage, count as one row per value of by with a column per stage (and the share won in the cohort mode)."""
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


def _every_week(counted: pl.LazyFrame, *, start: date, end: date) -> pl.LazyFrame:
    """week, stage, count with every week of the period and every main-path stage, 0 where nothing was counted."""
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

"""Acceptance at the SAL gate: rates with Wilson intervals by channel, campaign and week."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

import polars as pl

from dashboard.domain import Decision, Stage
from queries.leads import period_bounds

Z_95 = 1.959963984540054
# Below this many decisions a rate is shown with its interval and marked as a small sample.
SMALL_SAMPLE = 30


def wilson_bounds(successes: pl.Expr, trials: pl.Expr, z: float = Z_95) -> tuple[pl.Expr, pl.Expr]:
    """The Wilson score interval of successes / trials (null where trials is 0)."""
    n = trials.cast(pl.Float64)
    p = successes.cast(pl.Float64) / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * ((p * (1 - p) / n + z**2 / (4 * n**2)).sqrt()) / (1 + z**2 / n)
    valid = trials > 0
    # At p = 0 (or 1) the bound is exactly 0 (or 1); floating point would land a hair off it.
    low = pl.when(successes == 0).then(0.0).otherwise((centre - half).clip(0, 1))
    high = pl.when(successes == trials).then(1.0).otherwise((centre + half).clip(0, 1))
    return pl.when(valid).then(low), pl.when(valid).then(high)


DECISION_COLUMNS = ("decision", "decided_at", "reason", "reason_kind", "comment", "decided_by", "decision_timed")
FAR_FUTURE = datetime(9999, 1, 1)


def timed(frame: pl.LazyFrame) -> pl.Expr:
    """Whether a row's time is known (an export may say a stage was reached or decided, but not when)."""
    return pl.col("timed") if "timed" in frame.collect_schema().names() else pl.lit(True)


def _decision_columns(decisions: pl.LazyFrame) -> pl.LazyFrame:
    return decisions.select(
        "lead_id",
        "decision",
        "decided_at",
        "reason",
        "reason_kind",
        "comment",
        pl.col("rep_id").alias("decided_by"),
        timed(decisions).alias("decision_timed"),
    )


def latest_decisions(decisions: pl.LazyFrame) -> pl.LazyFrame:
    """One row per decided lead: its latest decision, the one that stands."""
    ordered = (
        decisions.sort("decided_at", "id")
        if "id" in decisions.collect_schema().names()
        else decisions.sort("decided_at")
    )
    return _decision_columns(ordered).group_by("lead_id").agg(pl.col(DECISION_COLUMNS).last())


def mql_journeys(leads: pl.LazyFrame, events: pl.LazyFrame, decisions: pl.LazyFrame) -> pl.LazyFrame:
    """One row per MQL event (a hand-off to sales), in time order: the lead's columns, mql_at, and the decision
    of that hand-off (the latest one before the lead's next MQL, if any) with its outcome.

    A lead routed to the wrong rep is rejected for routing and handed off again: each hand-off keeps its own
    decision. None of this depends on the period, so it is derived once per load.
    """
    mqls = (
        events.filter(pl.col("stage") == Stage.MQL.value)
        .select("lead_id", pl.col("occurred_at").alias("mql_at"), timed(events).alias("mql_timed"))
        .sort("mql_at")
        .with_columns(
            (pl.col("mql_at").shift(-1).over("lead_id") - pl.duration(microseconds=1))
            .fill_null(FAR_FUTURE)
            .alias("until")
        )
    )
    by_time = _decision_columns(decisions).sort("decided_at").with_columns(pl.col("decided_at").alias("at"))
    matched = (
        mqls.sort("until")
        .join_asof(by_time, left_on="until", right_on="at", by="lead_id", strategy="backward", check_sortedness=False)
        .with_columns(
            # a decision from before this hand-off belongs to an earlier one
            pl.when(pl.col("decided_at") >= pl.col("mql_at")).then(pl.col(c)).alias(c)
            for c in DECISION_COLUMNS
        )
        .drop("until", "at")
    )
    return (
        leads.join(matched, on="lead_id", how="inner")
        .with_columns(pl.col("decision").fill_null("pending").alias("outcome"))
        .sort("mql_at")
    )


def mql_outcomes(journeys: pl.LazyFrame, *, start: date, end: date) -> pl.LazyFrame:
    """The hand-offs to sales (MQL events) of the period, each with its outcome: accepted, rejected or pending.

    journeys is mql_journeys(...).
    """
    lo, hi = period_bounds(start, end)
    return journeys.filter(pl.col("mql_at").is_between(lo, hi, closed="left"))


def acceptance_rates(outcomes: pl.LazyFrame, *, by: list[str]) -> pl.LazyFrame:
    """accepted, rejected, pending, decided, rate = accepted / decided and its Wilson interval, per group."""
    counted = outcomes.group_by(by).agg(
        (pl.col("outcome") == Decision.ACCEPTED.value).sum().cast(pl.Int64).alias("accepted"),
        (pl.col("outcome") == Decision.REJECTED.value).sum().cast(pl.Int64).alias("rejected"),
        (pl.col("outcome") == "pending").sum().cast(pl.Int64).alias("pending"),
    )
    decided = pl.col("accepted") + pl.col("rejected")
    low, high = wilson_bounds(pl.col("accepted"), decided)
    return counted.with_columns(
        decided.alias("decided"),
        pl.when(decided > 0).then(pl.col("accepted") / decided).alias("rate"),
        low.alias("rate_low"),
        high.alias("rate_high"),
        (decided < SMALL_SAMPLE).alias("small_sample"),
    )


def acceptance_by(outcomes: pl.LazyFrame, *, by: list[str], order: str = "worst_first") -> pl.LazyFrame:
    """acceptance_rates per group, sorted for a meeting: worst rate first, or largest volume first."""
    rates = acceptance_rates(outcomes, by=by)
    if order == "largest_first":
        return rates.sort(["decided", *by], descending=[True] + [False] * len(by))
    return rates.sort(["rate", "decided", *by], descending=[False, True] + [False] * len(by), nulls_last=True)


def weekly_acceptance(outcomes: pl.LazyFrame, *, by: list[str]) -> pl.LazyFrame:
    """acceptance_rates per MQL week (Monday) and group."""
    weekly = outcomes.with_columns(pl.col("mql_at").dt.truncate("1w").dt.date().alias("week"))
    return acceptance_rates(weekly, by=["week", *by]).sort("week", *by)


def leads_behind(outcomes: pl.LazyFrame, *selections: Sequence[Mapping[str, object]]) -> pl.LazyFrame:
    """The MQLs behind the selected bars and cells, newest first.

    Each selection is one chart's picked points, a point being its columns' values (a bar: {"channel_label": "Email"};
    a cell: {"campaign": ..., "channel_label": ...}). Every chart's selection counts: a lead is behind them when, for
    each chart with a selection, it matches one of its points.
    """
    conditions = [
        pl.any_horizontal(pl.all_horizontal(pl.col(c) == v for c, v in point.items()) for point in points)
        for points in selections
        if points
    ]
    rows = outcomes.filter(*conditions) if conditions else outcomes
    return rows.sort("mql_at", descending=True)

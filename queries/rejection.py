"""Why sales rejects: Pareto of reasons, reason kinds, reasons by campaign and channel, weekly change."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from dashboard.domain import DISQUALIFICATION_REASONS, REJECTION_REASONS, Decision
from queries.leads import period_bounds

REASONS = pl.LazyFrame(
    {
        "reason": [r.key for r in REJECTION_REASONS],
        "reason_label": [r.label for r in REJECTION_REASONS],
        "reason_kind": [r.kind.value for r in REJECTION_REASONS],
    }
)


def _decided(outcomes: pl.LazyFrame) -> pl.LazyFrame:
    return outcomes.filter(pl.col("outcome") != "pending")


def _rejected(outcomes: pl.LazyFrame) -> pl.LazyFrame:
    return outcomes.filter(pl.col("outcome") == Decision.REJECTED.value)


def rejection_pareto(outcomes: pl.LazyFrame) -> pl.LazyFrame:
    """Every rejection reason with its count, share of rejections and cumulative share, largest first."""
    counted = _rejected(outcomes).group_by("reason").agg(pl.len().cast(pl.Int64).alias("count"))
    total = pl.col("count").sum()
    return (
        REASONS.join(counted, on="reason", how="left")
        .with_columns(pl.col("count").fill_null(0))
        .sort(["count", "reason"], descending=[True, False])
        .with_columns(
            pl.when(total > 0).then(pl.col("count") / total).alias("share"),
            pl.when(total > 0).then(pl.col("count").cum_sum() / total).alias("cumulative_share"),
        )
    )


def rejection_by(outcomes: pl.LazyFrame, *, by: list[str], column: str = "reason_kind") -> pl.LazyFrame:
    """Rejections per group and reason kind (or reason): count and rate among the group's decided MQLs."""
    decided = _decided(outcomes).group_by(by).agg(pl.len().cast(pl.Int64).alias("decided"))
    rejected = _rejected(outcomes).group_by(*by, column).agg(pl.len().cast(pl.Int64).alias("count"))
    return (
        rejected.join(decided, on=by, how="left")
        .with_columns((pl.col("count") / pl.col("decided")).alias("rate"))
        .sort([*by, column])
    )


def weekly_rejections(outcomes: pl.LazyFrame, *, start: date, end: date, column: str = "reason_kind") -> pl.LazyFrame:
    """Rejections per decision week and reason kind (or reason), with the change against the week before."""
    lo, hi = period_bounds(start, end)
    rejected = _rejected(outcomes).filter(pl.col("decided_at").is_between(lo, hi, closed="left"))
    counted = rejected.group_by(pl.col("decided_at").dt.truncate("1w").dt.date().alias("week"), column).agg(
        pl.len().cast(pl.Int64).alias("count")
    )
    weeks = pl.LazyFrame({"week": pl.date_range(start - timedelta(days=start.weekday()), end, "1w", eager=True)})
    return (
        weeks.join(REASONS.select(column).unique(), how="cross")
        .join(counted, on=["week", column], how="left")
        .with_columns(pl.col("count").fill_null(0))
        .sort(column, "week")
        .with_columns((pl.col("count") - pl.col("count").shift(1).over(column)).alias("change"))
        .sort("week", column)
    )


def rejection_comments(outcomes: pl.LazyFrame, *, search: str = "") -> pl.LazyFrame:
    """Rejections that carry a comment, newest first; search matches comment, reason, campaign or rep (plain text)."""
    rows = _rejected(outcomes).filter(pl.col("comment").is_not_null())
    needle = search.strip().lower()
    if needle:
        haystack = pl.concat_str(
            [pl.col(c).fill_null("") for c in ("comment", "reason", "campaign", "decided_by_name")], separator=" "
        ).str.to_lowercase()
        rows = rows.filter(haystack.str.contains(needle, literal=True))
    return rows.sort("decided_at", descending=True)


DISQUALIFICATIONS = pl.LazyFrame(
    {"reason": [r.key for r in DISQUALIFICATION_REASONS], "reason_label": [r.label for r in DISQUALIFICATION_REASONS]}
)


def disqualification_reasons(disqualifications: pl.LazyFrame, *, start: date, end: date) -> pl.LazyFrame:
    """Disqualifications after contact (the SQL gate) in the period, per reason: never mixed with rejections."""
    lo, hi = period_bounds(start, end)
    counted = (
        disqualifications.filter(pl.col("disqualified_at").is_between(lo, hi, closed="left"))
        .group_by("reason")
        .agg(pl.len().cast(pl.Int64).alias("count"))
    )
    return (
        DISQUALIFICATIONS.join(counted, on="reason", how="left")
        .with_columns(pl.col("count").fill_null(0))
        .sort(["count", "reason"], descending=[True, False])
    )

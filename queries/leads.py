"""Leads with their dimensions (channel, campaign, owner tier), narrowed by the shared filters."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import polars as pl


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00): both dates count in full."""
    return datetime.combine(start, time()), datetime.combine(end + timedelta(days=1), time())


def lead_dimensions(
    leads: pl.LazyFrame, campaigns: pl.LazyFrame, channels: pl.LazyFrame, reps: pl.LazyFrame
) -> pl.LazyFrame:
    """One row per lead: id, created_at, campaign (id and name), channel (key and label), owner tier, and
    whether its stage times are real (dated: false for leads imported without them)."""
    campaign_channel = campaigns.join(
        channels.select(
            pl.col("id").alias("channel_id"), pl.col("key").alias("channel"), pl.col("label").alias("channel_label")
        ),
        on="channel_id",
        how="left",
    ).select(pl.col("id").alias("campaign_id"), pl.col("name").alias("campaign"), "channel", "channel_label")
    return (
        leads.select(
            pl.col("id").alias("lead_id"),
            "created_at",
            "campaign_id",
            "owner_rep_id",
            "dated",
            # Imported from a file without dates: the importer dates such a lead by the import itself.
            (pl.col("imported_at") == pl.col("created_at")).fill_null(False).alias("undated"),
        )
        .join(campaign_channel, on="campaign_id", how="left")
        .join(reps.select(pl.col("id").alias("owner_rep_id"), pl.col("tier")), on="owner_rep_id", how="left")
    )


def filter_dimensions(
    dims: pl.LazyFrame, *, channels: tuple[str, ...] = (), campaigns: tuple[int, ...] = (), tiers: tuple[str, ...] = ()
) -> pl.LazyFrame:
    """dims narrowed to the chosen channels, campaigns and owner tiers; an empty choice means all."""
    conditions = [
        pl.col(column).is_in(list(values))
        for column, values in (("channel", channels), ("campaign_id", campaigns), ("tier", tiers))
        if values
    ]
    return dims.filter(*conditions) if conditions else dims

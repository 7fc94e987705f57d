"""Leads with their dimensions (channel, campaign, owner tier), narrowed by the shared filters."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import polars as pl

ATTRIBUTE = "attr:"  # prefix of the lead-attribute columns (segment, lead type...) the derived frames carry
NOT_SET = "(not set)"  # what a breakdown calls the leads an attribute has no value for


def attribute_breakdown(frame: pl.LazyFrame, name: str) -> pl.LazyFrame:
    """frame with the attribute column of name as text, "(not set)" where a lead has no value: ready to group by."""
    column = ATTRIBUTE + name
    return frame.with_columns(pl.col(column).cast(pl.String).fill_null(NOT_SET))


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00): both dates count in full."""
    return datetime.combine(start, time()), datetime.combine(end + timedelta(days=1), time())


def lead_dimensions(
    leads: pl.LazyFrame, campaigns: pl.LazyFrame, channels: pl.LazyFrame, reps: pl.LazyFrame
) -> pl.LazyFrame:
    """One row per lead: id, created_at, campaign (id and name), channel (key and label), owner tier, and
    whether its stage times are real (dated: false for leads imported without them).

    The channel is the lead's own; a lead without one (demo data, older databases) takes its campaign's."""
    labels = channels.select(
        pl.col("id").alias("channel_id"), pl.col("key").alias("channel"), pl.col("label").alias("channel_label")
    )
    campaign_names = campaigns.select(
        pl.col("id").alias("campaign_id"), pl.col("name").alias("campaign"), pl.col("channel_id").alias("_campaign_ch")
    )
    return (
        leads.select(
            pl.col("id").alias("lead_id"),
            "created_at",
            "campaign_id",
            "channel_id",
            "owner_rep_id",
            "dated",
            # Imported from a file without dates: the importer dates such a lead by the import itself.
            (pl.col("imported_at") == pl.col("created_at")).fill_null(False).alias("undated"),
        )
        .join(campaign_names, on="campaign_id", how="left")
        .with_columns(pl.coalesce("channel_id", "_campaign_ch").alias("channel_id"))
        .join(labels, on="channel_id", how="left")
        .drop("_campaign_ch", "channel_id")
        .join(reps.select(pl.col("id").alias("owner_rep_id"), pl.col("tier")), on="owner_rep_id", how="left")
    )


def filter_dimensions(
    dims: pl.LazyFrame,
    *,
    channels: tuple[str, ...] = (),
    campaigns: tuple[int, ...] = (),
    tiers: tuple[str, ...] = (),
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = (),
) -> pl.LazyFrame:
    """dims narrowed to the chosen channels, campaigns, owner tiers and attribute values; an empty choice means all."""
    chosen = (("channel", channels), ("campaign_id", campaigns), ("tier", tiers))
    chosen += tuple((ATTRIBUTE + name, values) for name, values in attributes)
    conditions = [pl.col(column).is_in(list(values)) for column, values in chosen if values]
    return dims.filter(*conditions) if conditions else dims

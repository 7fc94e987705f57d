"""SLA alerts' questions: which pending MQLs are past the SLA or near it, and who is told about which."""

from __future__ import annotations

import polars as pl

from dashboard.auth import Role


def sla_alerts(pending: pl.LazyFrame, *, near_hours: float) -> pl.LazyFrame:
    """The pending MQLs past the SLA or within near_hours of it, most overdue first, each marked breached or not.

    pending has hours_left (the SLA's hours left: negative once breached), as store.queue.pending_queue gives it.
    """
    return (
        pending.filter(pl.col("hours_left") <= near_hours)
        .with_columns((pl.col("hours_left") < 0).alias("breached"))
        .sort(["hours_left", "lead_id"])
    )


def rep_addresses(reps: pl.LazyFrame, users: pl.LazyFrame) -> pl.LazyFrame:
    """Per rep (rep_id, rep, team): the addresses of the active users linked to its rep record, sorted (an empty
    list when none is: the rep cannot be mailed)."""
    linked = (
        users.filter(pl.col("active") & pl.col("rep_id").is_not_null())
        .group_by("rep_id")
        .agg(pl.col("email").sort().alias("emails"))
    )
    return (
        reps.select(pl.col("id").alias("rep_id"), pl.col("name").alias("rep"), "team")
        .join(linked, on="rep_id", how="left")
        .with_columns(pl.col("emails").fill_null(pl.lit([], dtype=pl.List(pl.String))))
        .sort("rep", "rep_id")
    )


def team_managers(users: pl.LazyFrame) -> pl.LazyFrame:
    """The active sales managers who have a team (email, name, team), by team then name."""
    return (
        users.filter(
            pl.col("active") & (pl.col("role") == Role.SALES_MANAGER.value) & (pl.col("team").fill_null("") != "")
        )
        .select(
            "email", pl.when(pl.col("name") != "").then(pl.col("name")).otherwise(pl.col("email")).alias("name"), "team"
        )
        .sort("team", "name")
    )

"""The SLA alerts' boundary: every active rep's pending MQLs, the users who can be told, read live (a scheduled
job: no Streamlit caches) and run through queries.alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from dashboard.store import db, queue, users
from queries import alerts

USER_SCHEMA = {
    "email": pl.String,
    "name": pl.String,
    "role": pl.String,
    "rep_id": pl.Int64,
    "team": pl.String,
    "active": pl.Boolean,
}


@dataclass(frozen=True)
class Due:
    """What the alerts tell and whom: the MQLs past or near the SLA, the reps with their addresses, the managers."""

    mqls: pl.DataFrame  # rep_id, rep, team, lead_id, external_id, campaign, channel_label, mql_at, hours_left, breached
    reps: pl.DataFrame  # rep_id, rep, team, emails (the linked active users' addresses; empty: cannot be mailed)
    managers: pl.DataFrame  # email, name, team


def due(url: str, *, now: datetime, sla_hours: float, near_hours: float) -> Due:
    """Every active rep's pending MQLs past the SLA or within near_hours of it (as their queue counts them), and who
    is told: the rep, and the sales managers of the rep's team."""
    with db.transaction(url) as session:
        reps = queue.reps(session=session)
        pending = [
            queue.pending_queue(session=session, rep_id=rep_id, now=now, sla_hours=sla_hours).with_columns(
                pl.lit(rep_id, dtype=pl.Int64).alias("rep_id")
            )
            for rep_id in reps["id"]
        ]
        people = pl.DataFrame(
            [
                {
                    "email": u.email,
                    "name": u.name,
                    "role": u.role,
                    "rep_id": u.rep_id,
                    "team": u.team,
                    "active": u.active,
                }
                for u in users.users(session=session)
            ],
            schema=USER_SCHEMA,
        )
    addresses = alerts.rep_addresses(reps.lazy(), people.lazy())
    every = pl.concat(pending).lazy() if pending else _no_pending()
    mqls = (
        alerts.sla_alerts(every, near_hours=near_hours)
        .join(addresses.select("rep_id", "rep", "team"), on="rep_id", how="inner")
        .select("rep_id", "rep", "team", pl.exclude("rep_id", "rep", "team"))
        .sort("rep", "rep_id", "hours_left", "lead_id")
    )
    return Due(
        mqls=mqls.collect(),
        reps=addresses.collect(),
        managers=alerts.team_managers(people.lazy()).collect(),
    )


def _no_pending() -> pl.LazyFrame:
    """pending_queue's columns, with no row (no active rep at all)."""
    return pl.LazyFrame(
        schema=queue.QUEUE_SCHEMA | {"hours_left": pl.Float64, "breached": pl.Boolean, "rep_id": pl.Int64}
    )

"""Writing: the prepared rows shaped as the tables they are staged in, handed to the import's repository
(dashboard.store.imports), which upserts them with the audit line in one transaction."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from dashboard.auth import Actor
from dashboard.ingest.mapping import ImportRefused
from dashboard.ingest.validate import Prepared
from dashboard.store import imports
from dashboard.store.audit import described
from queries.scoring import ScoringRule, component_scores, score_expr


@dataclass(frozen=True)
class Summary:
    """What an import did."""

    rows_read: int
    inserted: int
    updated: int
    rejected: int
    events_added: int
    decisions_added: int
    disqualifications_added: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


# The kill tests' hook: HANDOFF_TEST_PAUSE_AT=<stage>=<marker file> makes the import write the marker file when it
# reaches that stage (before, staged, written, committed) and stop itself (SIGSTOP), so that a test can kill it
# exactly there, or let it go on (SIGCONT) and kill it a moment later. Unset, it does nothing.
PAUSE_AT = "HANDOFF_TEST_PAUSE_AT"
PAUSE_STAGES = ("before", "staged", "written", "committed")


def _pause_at(stage: str) -> None:
    wanted, _, marker = os.environ.get(PAUSE_AT, "").partition("=")
    if wanted == stage and marker:
        Path(marker).write_text(stage)
        os.kill(os.getpid(), signal.SIGSTOP)


def write(
    *,
    prepared: Prepared,
    url: str,
    now: datetime,
    progress: Callable[[float, str], None] | None = None,
    actor: Actor | None = None,
) -> Summary:
    """Upsert the prepared rows, and the audit line saying who imported them, in ONE transaction: on any error (or
    a crash) nothing is written.

    actor: who imports (None: local mode, every right); refused before anything is written without the right.
    """
    leads = prepared.leads
    # A campaign's channel is the one most of its leads come through; each lead keeps its own channel.
    campaigns = (
        leads.group_by("campaign", "channel")
        .agg(pl.len().alias("n"))
        .sort("n", "channel", descending=[True, False])
        .unique("campaign", keep="first")
        .select(pl.col("campaign").alias("name"), "channel")
        .with_columns(pl.lit(now.date()).alias("start_date"))
    )
    lead_rows = leads.with_columns(
        pl.col("campaign").alias("campaign_name"),
        pl.col("owner").alias("owner_name"),
        pl.col("closer").alias("closer_name"),
        pl.col("channel").alias("channel_key"),
    ).select(*imports.LEAD_COLUMNS, "campaign_name", "owner_name", "closer_name", "channel_key")
    # Owners decide MQLs (junior tier), closers qualify and close (senior tier); a rep named only by the events
    # file's rep column is taken for a junior.
    reps = (
        pl.concat(
            [
                leads.select(pl.col("closer").alias("name"), pl.lit("senior").alias("tier")),
                leads.select(pl.col("owner").alias("name"), pl.lit("junior").alias("tier")),
                prepared.events.select(pl.col("rep").alias("name"), pl.lit("junior").alias("tier")),
            ]
        )
        .drop_nulls("name")
        .unique("name", keep="first", maintain_order=True)
    )
    decided_at = pl.lit(now).cast(pl.Datetime("us"))
    decisions = prepared.decisions.with_columns(decided_at.alias("fallback_at"))
    disqualifications = prepared.disqualifications.with_columns(decided_at.alias("fallback_at"))
    model = pl.DataFrame({"created": [now]}).with_columns(pl.col("created").cast(pl.Datetime("us")))
    staged = imports.Staged(
        channels=prepared.channels,
        campaigns=campaigns,
        reps=reps,
        leads=lead_rows,
        events=prepared.events,
        decisions=decisions,
        disqualifications=disqualifications,
        attributes=prepared.attributes,
        model=model,
        rule=first_model(prepared.leads),
        dated=prepared.dated,
    )
    _pause_at("before")
    try:
        written = imports.upsert(
            url=url,
            actor=actor,
            staged=staged,
            now=now,
            describe=lambda inserted, updated: described(
                leads=prepared.leads.height, rows=prepared.rows_read, inserted=inserted, updated=updated
            ),
            progress=progress,
            pause=_pause_at,
        )
    except imports.ImportFailed as exc:
        raise ImportRefused(str(exc)) from exc
    if progress:
        progress(1.0, "Done.")
    return Summary(
        rows_read=prepared.rows_read,
        inserted=written.inserted,
        updated=written.updated,
        rejected=prepared.rejected_rows,
        events_added=written.events_added,
        decisions_added=written.decisions_added,
        disqualifications_added=written.disqualifications_added,
    )


def first_model(leads: pl.DataFrame) -> ScoringRule:
    """The model a database gets with its first import: default weights, and the threshold at which it would
    have qualified as many of these leads as the CRM did, so that the what-if starts from a comparable rule."""
    scores = component_scores(leads.lazy()).select(score_expr(ScoringRule())).collect().to_series()
    share = leads["mql_route"].is_not_null().mean() if leads.height else 0.0
    if not scores.len() or not 0 < share < 1:
        return ScoringRule()
    threshold = float(scores.quantile(1 - share, interpolation="lower"))
    return ScoringRule(mql_threshold=float(int(threshold)))

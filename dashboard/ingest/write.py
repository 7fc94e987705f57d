"""Writing: the valid rows, a batch at a time, shaped as the tables they are staged in and handed to the import's
repository (dashboard.store.imports), which upserts them with the audit line in one transaction."""

from __future__ import annotations

import os
import queue
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from dashboard.auth import Actor
from dashboard.ingest.mapping import ImportRefused
from dashboard.ingest.validate import Prepared, Rows
from dashboard.store import db, imports
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


class Writing:
    """An import written a batch at a time in ONE transaction (dashboard.store.imports.Upsert), opened with the first
    batch: on any error (or a crash) nothing is written. What only the whole import decides (a new campaign's channel,
    a new rep's tier, the first model) is gathered here in compact form and settled by finish().

    actor: who imports (None: local mode, every right); refused before anything is written without the right.
    """

    def __init__(
        self,
        *,
        url: str,
        now: datetime,
        dated: bool,
        actor: Actor | None = None,
        progress: Callable[[float, str], None] | None = None,
        create_schema: bool = False,
    ):
        self.url, self.now, self.dated, self.actor, self.progress = url, now, dated, actor, progress
        self.create_schema = create_schema  # the tables are made with the first batch (a new database's import)
        self.upsert: imports.Upsert | None = None
        self.scores: list[pl.Series] = []  # each lead's score under the default model, for the first model
        self.handed = 0  # leads the CRM handed to sales
        self.campaigns: list[pl.DataFrame] = []  # campaign, channel, n
        self.reps: list[pl.DataFrame] = []  # name, tier

    def add(self, rows: Rows) -> None:
        """Stage and upsert a batch of valid leads with their events, decisions and attributes."""
        if self.upsert is None:
            if self.create_schema:
                db.create_schema(self.url)
            _pause_at("before")
            self.upsert = imports.Upsert(url=self.url, actor=self.actor, dated=self.dated, pause=_pause_at)
        leads = rows.leads
        counts = leads.group_by("campaign", "channel").agg(pl.len().alias("n"))
        batch = _batch(rows, counts, self.now)
        try:
            self.upsert.add(batch)
        except imports.ImportFailed as exc:
            raise ImportRefused(str(exc)) from exc
        self.scores.append(_scores(leads))
        self.handed += leads["mql_route"].is_not_null().sum()
        self.campaigns.append(counts)
        self.reps.append(batch.reps)

    def finish(self, prepared: Prepared) -> Summary:
        """Settle what the whole import decides, write its audit line and commit; prepared: the whole file's
        problems and counts."""
        if self.upsert is None:
            raise ImportRefused("There is no lead to import.")
        scores = pl.concat(self.scores)
        campaigns = _majority(pl.concat(self.campaigns))
        # A name that closes anywhere in the import is a senior rep; one that only owns or moves leads, a junior.
        reps = (
            pl.concat(self.reps)
            .group_by("name")
            .agg(
                pl.when((pl.col("tier") == "senior").any())
                .then(pl.lit("senior"))
                .otherwise(pl.lit("junior"))
                .alias("tier")
            )
        )
        model = pl.DataFrame({"created": [self.now]}).with_columns(pl.col("created").cast(pl.Datetime("us")))
        if self.progress:
            self.progress(0.95, "Writing the import's audit line…")
        try:
            written = self.upsert.finish(
                campaigns=campaigns,
                reps=reps,
                model=model,
                rule=_first_model(scores, self.handed / scores.len() if scores.len() else 0.0),
                describe=lambda inserted, updated: described(
                    leads=prepared.valid_leads, rows=prepared.rows_read, inserted=inserted, updated=updated
                ),
                now=self.now,
            )
        except imports.ImportFailed as exc:
            raise ImportRefused(str(exc)) from exc
        if self.progress:
            self.progress(1.0, "Done.")
        return Summary(
            rows_read=prepared.rows_read,
            inserted=written.inserted,
            updated=written.updated,
            rejected=prepared.rejected_rows,
            events_added=written.events_added,
            decisions_added=written.decisions_added,
            disqualifications_added=written.disqualifications_added,
        )

    def close(self) -> None:
        """Roll back whatever finish() did not commit."""
        if self.upsert is not None:
            self.upsert.close()


class BatchWriter:
    """A Writing fed from a thread of its own: the database writes one batch while the next is read and checked
    (polars and SQLite both release the GIL, so the two take both cores). At most one batch waits in between."""

    def __init__(self, writing: Writing):
        self.writing = writing
        self.waiting: queue.Queue[Rows | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.cancelled = False
        self.thread: threading.Thread | None = None

    def add(self, rows: Rows) -> None:
        """Hand a batch to the writing thread (started with the first); the thread's error, if it had one."""
        self._raise()
        if self.thread is None:
            self.thread = threading.Thread(target=self._write, name="import-writer", daemon=True)
            self.thread.start()
        self.waiting.put(rows)

    def wait(self) -> None:
        """Every batch handed over written (or the writing's error raised)."""
        self._stop()
        self._raise()

    def cancel(self) -> None:
        """Stop writing: the batches still waiting are dropped (the caller rolls the transaction back)."""
        self.cancelled = True
        self._stop()

    def _write(self) -> None:
        while (rows := self.waiting.get()) is not None:
            if self.error is None and not self.cancelled:
                try:
                    self.writing.add(rows)
                except BaseException as exc:  # handed to the reading thread, which raises it
                    self.error = exc

    def _stop(self) -> None:
        if self.thread is not None:
            self.waiting.put(None)
            self.thread.join()
            self.thread = None

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error


def _batch(rows: Rows, counts: pl.DataFrame, now: datetime) -> imports.Batch:
    """A batch of valid leads shaped as the tables they are staged in."""
    leads = rows.leads
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
                rows.events.select(pl.col("rep").alias("name"), pl.lit("junior").alias("tier")),
            ]
        )
        .drop_nulls("name")
        .unique("name", keep="first", maintain_order=True)
    )
    # In the leads' order: each lead's events are then written side by side, where the database looks them up.
    order = leads.select("external_id").with_row_index("position")
    events = rows.events.join(order, on="external_id", how="left").sort("position", maintain_order=True)
    decided_at = pl.lit(now).cast(pl.Datetime("us"))
    return imports.Batch(
        channels=rows.channels,
        campaigns=_majority(counts).with_columns(pl.lit(now.date()).alias("start_date")),
        reps=reps,
        leads=lead_rows,
        events=events.drop("position"),
        decisions=rows.decisions.with_columns(decided_at.alias("fallback_at")),
        disqualifications=rows.disqualifications.with_columns(decided_at.alias("fallback_at")),
        attributes=rows.attributes,
    )


def _majority(counts: pl.DataFrame) -> pl.DataFrame:
    """A campaign's channel: the one most of its leads come through (each lead keeps its own channel)."""
    return (
        counts.group_by("campaign", "channel")
        .agg(pl.col("n").sum())
        .sort("n", "channel", descending=[True, False])
        .unique("campaign", keep="first")
        .select(pl.col("campaign").alias("name"), "channel")
    )


def write(
    *,
    prepared: Prepared,
    url: str,
    now: datetime,
    progress: Callable[[float, str], None] | None = None,
    actor: Actor | None = None,
) -> Summary:
    """Upsert the prepared rows (a file checked whole), and the audit line saying who imported them, in ONE
    transaction: on any error (or a crash) nothing is written.

    actor: who imports (None: local mode, every right); refused before anything is written without the right.
    """
    writing = Writing(url=url, now=now, dated=prepared.dated, actor=actor, progress=progress)
    try:
        if progress:
            progress(0.0, f"Writing {prepared.leads.height:,} leads…")
        writing.add(
            Rows(
                leads=prepared.leads,
                events=prepared.events,
                decisions=prepared.decisions,
                disqualifications=prepared.disqualifications,
                attributes=prepared.attributes,
                channels=prepared.channels,
            )
        )
        return writing.finish(prepared)
    finally:
        writing.close()


def _scores(leads: pl.DataFrame) -> pl.Series:
    return component_scores(leads.lazy()).select(score_expr(ScoringRule())).collect().to_series()


def first_model(leads: pl.DataFrame) -> ScoringRule:
    """The model a database gets with its first import: default weights, and the threshold at which it would
    have qualified as many of these leads as the CRM did, so that the what-if starts from a comparable rule."""
    share = leads["mql_route"].is_not_null().mean() if leads.height else 0.0
    return _first_model(_scores(leads), share)


def _first_model(scores: pl.Series, share: float) -> ScoringRule:
    """first_model from the leads' scores under the default model and the share the CRM handed to sales."""
    if scores.drop_nulls().is_empty() or share <= 0:
        return ScoringRule()
    # every lead handed over (an export of MQLs only): the threshold that qualifies them all
    threshold = float(scores.min()) if share >= 1 else float(scores.quantile(1 - share, interpolation="lower"))
    return ScoringRule(mql_threshold=float(int(threshold)))

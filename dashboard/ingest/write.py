"""Writing: the prepared rows and the import's audit line upserted in one transaction through staged tables; no
value is ever in SQL text."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import adbc_driver_manager
import polars as pl

from dashboard.auth import Actor
from dashboard.ingest.mapping import COUNTERS, ImportRefused
from dashboard.ingest.validate import Prepared
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


BATCH_ROWS = 100_000
LEAD_COLUMNS = (
    "external_id", "created_at", "role", "seniority", "country", "region", "company", "industry",
    "company_size_band", "revenue_band", *COUNTERS, "has_budget", "is_authority", "has_need", "timeline_months",
    "stage", "mql_route", "crm_score", "imported_at", "dated",
)  # fmt: skip
# Updated when they differ; created_at only when the file has dates (an undated lead keeps its first date).
COMPARED = tuple(c for c in LEAD_COLUMNS if c not in ("external_id", "created_at", "imported_at"))


def _stage(conn, name: str, frame: pl.DataFrame, *, sqlite: bool, progress: Callable[[int], None] | None = None):
    """Load frame into a temporary table in batches (one transaction: nothing is visible until the commit)."""
    if sqlite:
        frame = db.sqlite_text(frame)
    with conn.cursor() as cursor:
        for offset in range(0, max(frame.height, 1), BATCH_ROWS):
            part = frame.slice(offset, BATCH_ROWS).to_arrow()
            cursor.adbc_ingest(name, part, mode="create" if offset == 0 else "append", temporary=True)
            if progress:
                progress(min(offset + BATCH_ROWS, frame.height))


def _execute(conn, sql: str) -> None:
    with conn.cursor() as cursor:
        cursor.execute(sql)  # no values: every value comes from the staged tables


def _count(conn, sql: str) -> int:
    # Counted rather than read from rowcount, which not every ADBC driver reports.
    with conn.cursor() as cursor:
        cursor.execute(sql)
        return int(cursor.fetchone()[0])


def _added(conn, table: str, sql: str) -> int:
    before = _count(conn, f"SELECT COUNT(*) FROM {table}")
    _execute(conn, sql)
    return _count(conn, f"SELECT COUNT(*) FROM {table}") - before


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
    sqlite = url.startswith("sqlite")
    total = max(prepared.leads.height, 1)

    def staged(done: int) -> None:
        if progress:
            progress(0.8 * done / total, f"Loading {done:,} of {prepared.leads.height:,} leads…")

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
    ).select(*LEAD_COLUMNS, "campaign_name", "owner_name", "closer_name", "channel_key")
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
    true = "1" if sqlite else "TRUE"
    _pause_at("before")
    conn = imports.connect(url=url, actor=actor)
    try:
        _stage(conn, "import_channel", prepared.channels, sqlite=sqlite)
        _stage(conn, "import_campaign", campaigns, sqlite=sqlite)
        _stage(conn, "import_rep", reps, sqlite=sqlite)
        _stage(conn, "import_lead", lead_rows, sqlite=sqlite, progress=staged)
        _stage(conn, "import_event", prepared.events, sqlite=sqlite)
        _stage(conn, "import_decision", decisions, sqlite=sqlite)
        _stage(conn, "import_disqualification", disqualifications, sqlite=sqlite)
        _stage(conn, "import_attribute", prepared.attributes, sqlite=sqlite)
        _stage(conn, "import_model", model, sqlite=sqlite)
        _pause_at("staged")
        if progress:
            progress(0.85, "Writing leads…")
        _execute(
            conn,
            "INSERT INTO channel (key, label, view_through) SELECT t.key, t.label, t.view_through "
            "FROM import_channel t WHERE NOT EXISTS (SELECT 1 FROM channel c WHERE c.key = t.key)",
        )
        _execute(
            conn,
            "INSERT INTO campaign (name, channel_id, start_date, spend) SELECT t.name, c.id, t.start_date, 0 "
            "FROM import_campaign t JOIN channel c ON c.key = t.channel "
            "WHERE NOT EXISTS (SELECT 1 FROM campaign x WHERE x.name = t.name)",
        )
        _execute(
            conn,
            "INSERT INTO rep (name, tier, team, weekly_capacity, active) "
            f"SELECT t.name, t.tier, 'Imported', 50, {true} FROM import_rep t "
            "WHERE NOT EXISTS (SELECT 1 FROM rep r WHERE r.name = t.name)",
        )
        campaign_id = "(SELECT MIN(c.id) FROM campaign c WHERE c.name = t.campaign_name)"
        owner_id = "(SELECT MIN(r.id) FROM rep r WHERE r.name = t.owner_name)"
        closer_id = "(SELECT MIN(r.id) FROM rep r WHERE r.name = t.closer_name)"
        channel_id = "(SELECT MIN(c.id) FROM channel c WHERE c.key = t.channel_key)"
        # An undated file's leads keep the date of their first import; a dated file's dates are updated.
        compared = (*COMPARED, "created_at") if prepared.dated else COMPARED
        changed = " OR ".join(f"lead.{c} IS DISTINCT FROM t.{c}" for c in compared)
        assignments = ", ".join(f"{c} = t.{c}" for c in compared)
        where = (
            f"WHERE lead.external_id = t.external_id AND ({changed} OR lead.campaign_id IS DISTINCT FROM {campaign_id} "
            f"OR lead.channel_id IS DISTINCT FROM {channel_id})"
        )
        updated = _count(conn, f"SELECT COUNT(*) FROM lead, import_lead t {where}")
        _execute(
            conn,
            f"UPDATE lead SET {assignments}, imported_at = t.imported_at, campaign_id = {campaign_id}, "
            f"channel_id = {channel_id}, owner_rep_id = COALESCE({owner_id}, lead.owner_rep_id), "
            f"senior_rep_id = COALESCE({closer_id}, lead.senior_rep_id) FROM import_lead t {where}",
        )
        names = ", ".join(LEAD_COLUMNS)
        inserted = _added(
            conn,
            "lead",
            f"INSERT INTO lead ({names}, campaign_id, channel_id, owner_rep_id, senior_rep_id) "
            f"SELECT {', '.join(f't.{c}' for c in LEAD_COLUMNS)}, {campaign_id}, {channel_id}, {owner_id}, "
            f"{closer_id} FROM import_lead t "
            "WHERE NOT EXISTS (SELECT 1 FROM lead l WHERE l.external_id = t.external_id)",
        )
        if progress:
            progress(0.92, "Writing stage events and sales feedback…")
        events_added = _added(
            conn,
            "stage_event",
            "INSERT INTO stage_event (lead_id, stage, occurred_at, actor, rep_id, timed) "
            "SELECT l.id, e.stage, COALESCE(e.occurred_at, l.created_at), COALESCE(e.rep, 'import'), "
            "(SELECT MIN(r.id) FROM rep r WHERE r.name = e.rep), e.timed "
            "FROM import_event e JOIN lead l ON l.external_id = e.external_id "
            "WHERE NOT EXISTS (SELECT 1 FROM stage_event s WHERE s.lead_id = l.id AND s.stage = e.stage "
            "AND (e.occurred_at IS NULL OR s.occurred_at = e.occurred_at))",
        )
        # A decision another import already recorded, changed since, happened at an unknown time before this one.
        earlier = "EXISTS (SELECT 1 FROM sales_decision x WHERE x.lead_id = l.id)"
        decisions_added = _added(
            conn,
            "sales_decision",
            "INSERT INTO sales_decision (lead_id, decision, reason, reason_kind, comment, rep_id, decided_at, timed) "
            "SELECT l.id, d.decision, d.reason, d.reason_kind, d.comment, "
            "(SELECT MIN(r.id) FROM rep r WHERE r.name = d.rep), "
            f"CASE WHEN {earlier} AND NOT d.timed THEN d.fallback_at ELSE COALESCE(d.decided_at, l.created_at) END, "
            "d.timed FROM import_decision d JOIN lead l ON l.external_id = d.external_id "
            "WHERE NOT EXISTS (SELECT 1 FROM sales_decision x WHERE x.lead_id = l.id "
            "AND x.decided_at = (SELECT MAX(y.decided_at) FROM sales_decision y WHERE y.lead_id = l.id) "
            "AND x.decision = d.decision AND x.reason IS NOT DISTINCT FROM d.reason)",
        )
        disqualifications_added = _added(
            conn,
            "disqualification",
            "INSERT INTO disqualification (lead_id, reason, comment, rep_id, disqualified_at) "
            "SELECT l.id, q.reason, q.comment, NULL, COALESCE(q.disqualified_at, l.created_at) "
            "FROM import_disqualification q JOIN lead l ON l.external_id = q.external_id "
            "WHERE NOT EXISTS (SELECT 1 FROM disqualification x WHERE x.lead_id = l.id AND x.reason = q.reason)",
        )
        # A newer export replaces a lead's attributes of the same name.
        _execute(
            conn,
            "DELETE FROM lead_attribute WHERE EXISTS (SELECT 1 FROM import_attribute a JOIN lead l "
            "ON l.external_id = a.external_id WHERE l.id = lead_attribute.lead_id AND a.name = lead_attribute.name)",
        )
        _execute(
            conn,
            "INSERT INTO lead_attribute (lead_id, name, value) SELECT l.id, a.name, a.value "
            "FROM import_attribute a JOIN lead l ON l.external_id = a.external_id",
        )
        rule = first_model(prepared.leads)
        _execute(
            conn,
            "INSERT INTO scoring_model (version, w_demographic, w_firmographic, w_behavioural, w_engagement, "
            "mql_threshold, gate_known_company, gate_budget, gate_authority, active_from, author, note) "
            f"SELECT 1, {rule.w_demographic}, {rule.w_firmographic}, {rule.w_behavioural}, {rule.w_engagement}, "
            f"{rule.mql_threshold}, {false(sqlite)}, {false(sqlite)}, {false(sqlite)}, "
            "(SELECT MIN(created_at) FROM lead), 'Handoff', 'Default model, created by the first import' "
            "FROM import_model WHERE NOT EXISTS (SELECT 1 FROM scoring_model)",
        )
        target = described(leads=prepared.leads.height, rows=prepared.rows_read, inserted=inserted, updated=updated)
        imports.record(conn, url=url, actor=actor, target=target, now=now)
        _pause_at("written")
        conn.commit()
        _pause_at("committed")
    except adbc_driver_manager.Error as exc:
        _rollback(conn)
        raise ImportRefused(_refusal(exc)) from exc
    except BaseException:
        _rollback(conn)
        raise
    finally:
        conn.close()
    if progress:
        progress(1.0, "Done.")
    return Summary(
        rows_read=prepared.rows_read,
        inserted=inserted,
        updated=updated,
        rejected=prepared.rejected_rows,
        events_added=events_added,
        decisions_added=decisions_added,
        disqualifications_added=disqualifications_added,
    )


def _refusal(exc: Exception) -> str:
    """The database's own reason for refusing the import (not the statement), and the fix when it is known."""
    text = str(exc).strip()
    reason = text.rpartition("ERROR:")[2].strip() if "ERROR:" in text else text
    reason = re.sub(r"^[A-Z_]+: ", "", reason.splitlines()[0] if reason else type(exc).__name__).rstrip(".")
    sentence = f"The database refused the import: {reason}. Nothing was written."
    key = re.search(r'unique constraint "(\w+)_pkey"', reason)
    if key:
        table = key.group(1)
        sentence += (
            f" The {table} table's id sequence is behind its rows (a database filled with explicit ids is left so): "
            f"move it on with SELECT setval('{table}_id_seq', (SELECT MAX(id) FROM {table})); and import again."
        )
    return sentence


def _rollback(conn) -> None:
    # A connection the error broke cannot roll back; closing it ends the transaction all the same.
    try:
        conn.rollback()
    except adbc_driver_manager.Error:
        pass


def first_model(leads: pl.DataFrame) -> ScoringRule:
    """The model a database gets with its first import: default weights, and the threshold at which it would
    have qualified as many of these leads as the CRM did, so that the what-if starts from a comparable rule."""
    scores = component_scores(leads.lazy()).select(score_expr(ScoringRule())).collect().to_series()
    share = leads["mql_route"].is_not_null().mean() if leads.height else 0.0
    if not scores.len() or not 0 < share < 1:
        return ScoringRule()
    threshold = float(scores.quantile(1 - share, interpolation="lower"))
    return ScoringRule(mql_threshold=float(int(threshold)))


def false(sqlite: bool) -> str:
    return "0" if sqlite else "FALSE"

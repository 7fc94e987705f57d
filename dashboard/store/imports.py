"""The import's repository: its rights check before connecting, the staged rows upserted and its audit line, all in
the one ADBC transaction (an import and its line are committed together or not at all); no value is in SQL text."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import adbc_driver_manager
import polars as pl
from sqlalchemy.engine import make_url

from dashboard.auth import LOCAL, Action, Actor, check
from dashboard.domain import ACTIVITY_COUNTS
from dashboard.store import audit, db
from queries.scoring import ScoringRule

AUDIT_COLUMNS = ("at", "actor", "actor_name", "role", "action", "target")
BATCH_ROWS = 100_000
LEAD_COLUMNS = (
    "external_id", "created_at", "role", "seniority", "country", "region", "company", "industry",
    "company_size_band", "revenue_band", *ACTIVITY_COUNTS, "has_budget", "is_authority", "has_need", "timeline_months",
    "stage", "mql_route", "crm_score", "imported_at", "dated",
)  # fmt: skip
# Updated when they differ; created_at only when the file has dates (an undated lead keeps its first date).
COMPARED = tuple(c for c in LEAD_COLUMNS if c not in ("external_id", "created_at", "imported_at"))


class ImportFailed(RuntimeError):
    """The database refused the import; the message is the sentence for the user (nothing was written)."""


@dataclass(frozen=True)
class Staged:
    """An import's rows as the tables they are staged in: the channel, campaign and rep rows it may add, the lead
    rows (LEAD_COLUMNS and the names the ids are looked up by), events, decisions, disqualifications, attributes."""

    channels: pl.DataFrame
    campaigns: pl.DataFrame
    reps: pl.DataFrame
    leads: pl.DataFrame
    events: pl.DataFrame
    decisions: pl.DataFrame
    disqualifications: pl.DataFrame
    attributes: pl.DataFrame
    model: pl.DataFrame  # one row: when the import ran (a first model is created only in an empty database)
    rule: ScoringRule  # the first model's rule
    dated: bool  # the file had dates of its own: they replace a lead's earlier ones


@dataclass(frozen=True)
class Written:
    inserted: int
    updated: int
    events_added: int
    decisions_added: int
    disqualifications_added: int


def connect(*, url: str, actor: Actor | None):
    """A connection (not autocommitting) for an import by actor; refused before connecting without the right."""
    check(actor or LOCAL, Action.IMPORT)
    return db.adbc_connect(url)


def record(conn, *, url: str, actor: Actor | None, target: str, now: datetime) -> None:
    """The import's audit line, written in the import's transaction (the caller commits or rolls back)."""
    line = audit.entry(actor=actor or LOCAL, action=Action.IMPORT, target=target, now=now)
    frame = pl.DataFrame([{c: getattr(line, c) for c in AUDIT_COLUMNS}]).with_columns(
        pl.col("at").cast(pl.Datetime("us"))
    )
    if make_url(url).get_backend_name() == "sqlite":
        frame = db.sqlite_text(frame)
    columns = ", ".join(AUDIT_COLUMNS)
    with conn.cursor() as cursor:
        cursor.adbc_ingest("import_audit", frame.to_arrow(), mode="create", temporary=True)
        # No value is in the SQL text: the line comes from the staged table.
        cursor.execute(f"INSERT INTO audit_entry ({columns}) SELECT {columns} FROM import_audit")


def upsert(
    *,
    url: str,
    actor: Actor | None,
    staged: Staged,
    now: datetime,
    describe: Callable[[int, int], str],
    progress: Callable[[float, str], None] | None = None,
    pause: Callable[[str], None] = lambda stage: None,
) -> Written:
    """Stage the rows, upsert them and write the audit line (describe(inserted, updated) is its target) in ONE
    transaction: on any error (or a crash) nothing is written. pause(stage) is called at "staged", "written" and
    "committed" (the kill tests' hook)."""
    sqlite = url.startswith("sqlite")
    total = max(staged.leads.height, 1)
    true = "1" if sqlite else "TRUE"

    def loaded(done: int) -> None:
        if progress:
            progress(0.8 * done / total, f"Loading {done:,} of {staged.leads.height:,} leads…")

    conn = connect(url=url, actor=actor)
    try:
        _stage(conn, "import_channel", staged.channels, sqlite=sqlite)
        _stage(conn, "import_campaign", staged.campaigns, sqlite=sqlite)
        _stage(conn, "import_rep", staged.reps, sqlite=sqlite)
        _stage(conn, "import_lead", staged.leads, sqlite=sqlite, progress=loaded)
        _stage(conn, "import_event", staged.events, sqlite=sqlite)
        _stage(conn, "import_decision", staged.decisions, sqlite=sqlite)
        _stage(conn, "import_disqualification", staged.disqualifications, sqlite=sqlite)
        _stage(conn, "import_attribute", staged.attributes, sqlite=sqlite)
        _stage(conn, "import_model", staged.model, sqlite=sqlite)
        pause("staged")
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
        compared = (*COMPARED, "created_at") if staged.dated else COMPARED
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
        rule = staged.rule
        _execute(
            conn,
            "INSERT INTO scoring_model (version, w_demographic, w_firmographic, w_behavioural, w_engagement, "
            "mql_threshold, gate_known_company, gate_budget, gate_authority, active_from, author, note) "
            f"SELECT 1, {rule.w_demographic}, {rule.w_firmographic}, {rule.w_behavioural}, {rule.w_engagement}, "
            f"{rule.mql_threshold}, {false(sqlite)}, {false(sqlite)}, {false(sqlite)}, "
            "(SELECT MIN(created_at) FROM lead), 'Handoff', 'Default model, created by the first import' "
            "FROM import_model WHERE NOT EXISTS (SELECT 1 FROM scoring_model)",
        )
        record(conn, url=url, actor=actor, target=describe(inserted, updated), now=now)
        pause("written")
        conn.commit()
        pause("committed")
    except adbc_driver_manager.Error as exc:
        _rollback(conn)
        raise ImportFailed(_refusal(exc)) from exc
    except BaseException:
        _rollback(conn)
        raise
    finally:
        conn.close()
    return Written(inserted, updated, events_added, decisions_added, disqualifications_added)


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


def false(sqlite: bool) -> str:
    return "0" if sqlite else "FALSE"

"""The import's repository: its rights check before connecting, the staged rows upserted and its audit line, all in
the one ADBC transaction (an import and its line are committed together or not at all); no value is in SQL text."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import astuple, dataclass
from datetime import datetime

import adbc_driver_manager
import polars as pl
from sqlalchemy.engine import make_url

from dashboard.auth import LOCAL, Action, Actor, check
from dashboard.domain import ACTIVITY_COUNTS
from dashboard.store import audit, db
from queries.scoring import ScoringRule

AUDIT_COLUMNS = ("at", "actor", "actor_name", "role", "action", "target")
SQLITE_CACHE_KB = 64 * 1024  # the page cache of an import's SQLite connection
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
class Batch:
    """A batch of an import's rows as the tables they are staged in: the channel, campaign and rep rows it may add,
    the lead rows (LEAD_COLUMNS and the names the ids are looked up by), events, decisions, disqualifications and
    attributes. Every lead of the import is in one batch only, with its events, decisions and attributes."""

    channels: pl.DataFrame
    campaigns: pl.DataFrame  # name, channel (the one most of the batch's leads of it come through), start_date
    reps: pl.DataFrame  # name, tier
    leads: pl.DataFrame
    events: pl.DataFrame
    decisions: pl.DataFrame
    disqualifications: pl.DataFrame
    attributes: pl.DataFrame


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


class Upsert:
    """One import's transaction: its batches staged and upserted as they come (add), then what only the whole import
    decides (a new campaign's channel, a new rep's tier, the first model) and its audit line (finish), committed
    together; close() without finish() rolls everything back. Nothing is visible to others before the commit.

    pause(stage) is called at "staged" (every batch in), "written" (and the audit line) and "committed" (the kill
    tests' hook)."""

    def __init__(self, *, url: str, actor: Actor | None, dated: bool, pause: Callable[[str], None] = lambda s: None):
        self.url, self.actor, self.dated, self.pause = url, actor, dated, pause
        self.sqlite = url.startswith("sqlite")
        self.written = Written(0, 0, 0, 0, 0)
        self.conn = connect(url=url, actor=actor)
        try:
            if self.sqlite:
                # The indexes of a large import's tables stay in memory instead of being read back a page at a time.
                _execute(self.conn, f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
            # The campaigns and reps this import adds come after these: finish() settles them.
            _execute(
                self.conn,
                "CREATE TEMP TABLE import_before AS SELECT (SELECT COALESCE(MAX(id), 0) FROM campaign) AS campaign, "
                "(SELECT COALESCE(MAX(id), 0) FROM rep) AS rep",
            )
        except BaseException:
            self.close()
            raise

    def add(self, batch: Batch) -> None:
        """Stage a batch and upsert it (its leads, their events, decisions, disqualifications and attributes)."""
        conn, sqlite = self.conn, self.sqlite
        true = "1" if sqlite else "TRUE"
        try:
            _stage(conn, "import_channel", batch.channels, sqlite=sqlite)
            _stage(conn, "import_campaign", batch.campaigns, sqlite=sqlite)
            _stage(conn, "import_rep", batch.reps, sqlite=sqlite)
            _stage(conn, "import_lead", batch.leads, sqlite=sqlite)
            _stage(conn, "import_event", batch.events, sqlite=sqlite)
            _stage(conn, "import_decision", batch.decisions, sqlite=sqlite)
            _stage(conn, "import_disqualification", batch.disqualifications, sqlite=sqlite)
            _stage(conn, "import_attribute", batch.attributes, sqlite=sqlite)
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
            self.written = Written(*(a + b for a, b in zip(astuple(self.written), self._upsert(), strict=True)))
        except adbc_driver_manager.Error as exc:
            self.close()
            raise ImportFailed(_refusal(exc)) from exc
        except BaseException:
            self.close()
            raise

    def _upsert(self) -> tuple[int, ...]:
        conn = self.conn
        campaign_id = "(SELECT MIN(c.id) FROM campaign c WHERE c.name = t.campaign_name)"
        owner_id = "(SELECT MIN(r.id) FROM rep r WHERE r.name = t.owner_name)"
        closer_id = "(SELECT MIN(r.id) FROM rep r WHERE r.name = t.closer_name)"
        channel_id = "(SELECT MIN(c.id) FROM channel c WHERE c.key = t.channel_key)"
        # An undated file's leads keep the date of their first import; a dated file's dates are updated.
        compared = (*COMPARED, "created_at") if self.dated else COMPARED
        changed = " OR ".join(f"lead.{c} IS DISTINCT FROM t.{c}" for c in compared)
        assignments = ", ".join(f"{c} = t.{c}" for c in compared)
        where = (
            f"WHERE lead.external_id = t.external_id AND ({changed} OR lead.campaign_id IS DISTINCT FROM {campaign_id} "
            f"OR lead.channel_id IS DISTINCT FROM {channel_id})"
        )
        updated = _count(conn, f"SELECT COUNT(*) FROM lead, import_lead t {where}")
        if updated:
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
        # A lead this batch added has nothing recorded yet: on SQLite, which lets one import write at a time, the
        # ids past the mark are this batch's own, and their events, decisions and disqualifications need no lookup.
        new_lead = "l.id > (SELECT id FROM import_mark WHERE name = 'lead') OR " if self.sqlite else ""
        # "s.stage || ''": the lead's own events are found by its id; SQLite, without statistics, would otherwise
        # look them up by stage, among every lead's.
        events_added = _added(
            conn,
            "stage_event",
            "INSERT INTO stage_event (lead_id, stage, occurred_at, actor, rep_id, timed) "
            "SELECT l.id, e.stage, COALESCE(e.occurred_at, l.created_at), COALESCE(e.rep, 'import'), "
            "(SELECT MIN(r.id) FROM rep r WHERE r.name = e.rep), e.timed "
            "FROM import_event e JOIN lead l ON l.external_id = e.external_id "
            f"WHERE {new_lead}NOT EXISTS (SELECT 1 FROM stage_event s WHERE s.lead_id = l.id "
            "AND s.stage || '' = e.stage AND (e.occurred_at IS NULL OR s.occurred_at = e.occurred_at))",
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
            f"WHERE {new_lead}NOT EXISTS (SELECT 1 FROM sales_decision x WHERE x.lead_id = l.id "
            "AND x.decided_at = (SELECT MAX(y.decided_at) FROM sales_decision y WHERE y.lead_id = l.id) "
            "AND x.decision = d.decision AND x.reason IS NOT DISTINCT FROM d.reason)",
        )
        disqualifications_added = _added(
            conn,
            "disqualification",
            "INSERT INTO disqualification (lead_id, reason, comment, rep_id, disqualified_at) "
            "SELECT l.id, q.reason, q.comment, NULL, COALESCE(q.disqualified_at, l.created_at) "
            "FROM import_disqualification q JOIN lead l ON l.external_id = q.external_id "
            f"WHERE {new_lead}NOT EXISTS (SELECT 1 FROM disqualification x WHERE x.lead_id = l.id "
            "AND x.reason = q.reason)",
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
        return inserted, updated, events_added, decisions_added, disqualifications_added

    def finish(
        self,
        *,
        campaigns: pl.DataFrame,
        reps: pl.DataFrame,
        model: pl.DataFrame,
        rule: ScoringRule,
        describe: Callable[[int, int], str],
        now: datetime,
    ) -> Written:
        """What only the whole import decides, its audit line (describe(inserted, updated) is its target), and the
        commit. campaigns: name, channel (the one most of the import's leads of each campaign come through); reps:
        name, tier (senior for a name that closes anywhere in the import); model: one row, when the import ran."""
        conn, sqlite = self.conn, self.sqlite
        try:
            _stage(conn, "import_campaign", campaigns.select("name", "channel"), sqlite=sqlite)
            _stage(conn, "import_rep", reps.select("name", "tier"), sqlite=sqlite)
            _stage(conn, "import_model", model, sqlite=sqlite)
            self.pause("staged")
            # A campaign this import added takes the channel most of its leads come through, over the whole file;
            # a rep it added who closes anywhere in it is senior. A batch saw only its own part of either.
            _execute(
                conn,
                "UPDATE campaign SET channel_id = (SELECT c.id FROM import_campaign t JOIN channel c "
                "ON c.key = t.channel WHERE t.name = campaign.name) "
                "WHERE id > (SELECT campaign FROM import_before) AND name IN (SELECT name FROM import_campaign)",
            )
            _execute(
                conn,
                "UPDATE rep SET tier = (SELECT t.tier FROM import_rep t WHERE t.name = rep.name) "
                "WHERE id > (SELECT rep FROM import_before) AND name IN (SELECT name FROM import_rep)",
            )
            _execute(
                conn,
                "INSERT INTO scoring_model (version, w_demographic, w_firmographic, w_behavioural, w_engagement, "
                "mql_threshold, gate_known_company, gate_budget, gate_authority, active_from, author, note) "
                f"SELECT 1, {rule.w_demographic}, {rule.w_firmographic}, {rule.w_behavioural}, {rule.w_engagement}, "
                f"{rule.mql_threshold}, {false(sqlite)}, {false(sqlite)}, {false(sqlite)}, "
                "(SELECT MIN(created_at) FROM lead), 'Handoff', 'Default model, created by the first import' "
                "FROM import_model WHERE NOT EXISTS (SELECT 1 FROM scoring_model)",
            )
            written = self.written
            record(conn, url=self.url, actor=self.actor, target=describe(written.inserted, written.updated), now=now)
            self.pause("written")
            conn.commit()
            self.pause("committed")
        except adbc_driver_manager.Error as exc:
            self.close()
            raise ImportFailed(_refusal(exc)) from exc
        finally:
            self.close()
        return written

    def close(self) -> None:
        """Roll back what is not committed, and close the connection."""
        if self.conn is None:
            return
        _rollback(self.conn)
        self.conn.close()
        self.conn = None


def _stage(conn, name: str, frame: pl.DataFrame, *, sqlite: bool) -> None:
    """Load frame into a temporary table, in place of the previous batch's (one transaction: nothing is visible
    until the commit)."""
    if sqlite:
        frame = db.sqlite_text(frame)
    with conn.cursor() as cursor:
        cursor.adbc_ingest(name, frame.to_arrow(), mode="replace", temporary=True)


def _execute(conn, sql: str) -> None:
    with conn.cursor() as cursor:
        cursor.execute(sql)  # no values: every value comes from the staged tables


def _count(conn, sql: str) -> int:
    # Counted rather than read from rowcount, which not every ADBC driver reports.
    with conn.cursor() as cursor:
        cursor.execute(sql)
        return int(cursor.fetchone()[0])


def _added(conn, table: str, sql: str) -> int:
    """Run sql, an insert into table; the rows it added: those after the largest id before (a short range to count,
    where counting the whole table before and after would read it twice)."""
    _execute(conn, "CREATE TEMP TABLE IF NOT EXISTS import_mark (name VARCHAR, id BIGINT)")
    _execute(conn, f"DELETE FROM import_mark WHERE name = '{table}'")
    _execute(conn, f"INSERT INTO import_mark SELECT '{table}', COALESCE(MAX(id), 0) FROM {table}")
    _execute(conn, sql)
    return _count(conn, f"SELECT COUNT(*) FROM {table} WHERE id > (SELECT id FROM import_mark WHERE name = '{table}')")


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

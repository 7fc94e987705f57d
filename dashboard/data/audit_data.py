"""Reading the audit log for its page."""

from __future__ import annotations

from datetime import date, datetime, time

import polars as pl

from dashboard.models import AuditEntry
from dashboard.store import db


def audit_log(url: str, *, since: date, actions: tuple[str, ...] = (), who: str = "") -> pl.DataFrame:
    """Audit entries since a day, newest first, narrowed to some actions and to actors whose email contains who."""
    log = db.read_table(AuditEntry, url=url).filter(pl.col("at") >= datetime.combine(since, time()))
    if actions:
        log = log.filter(pl.col("action").is_in(list(actions)))
    if who.strip():
        log = log.filter(pl.col("actor").str.to_lowercase().str.contains(who.strip().lower(), literal=True))
    return log.sort("at", "id", descending=True).select("at", "actor", "actor_name", "role", "action", "target")

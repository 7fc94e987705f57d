"""The import's repository: its rights check before connecting, and its audit line inside the one ADBC transaction
that writes the rows (dashboard.ingest.write), so that an import and its line are committed together or not at all."""

from __future__ import annotations

from datetime import datetime

import polars as pl
from sqlalchemy.engine import make_url

from dashboard.auth import LOCAL, Action, Actor, check
from dashboard.store import audit, db

AUDIT_COLUMNS = ("at", "actor", "actor_name", "role", "action", "target")


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

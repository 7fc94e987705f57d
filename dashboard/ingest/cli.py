"""The command line and the one call the page makes: read, validate, then write when nothing is wrong."""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from dashboard.auth import Actor
from dashboard.ingest.mapping import ImportRefused, Mapping
from dashboard.ingest.read import read_file
from dashboard.ingest.validate import Prepared, prepare
from dashboard.ingest.write import Summary, write
from dashboard.store import db


def import_files(
    *,
    leads: Path,
    mapping: Mapping,
    url: str,
    events: Path | None = None,
    valid_rows_only: bool = False,
    now: datetime | None = None,
    progress: Callable[[float, str], None] | None = None,
    actor: Actor | None = None,
) -> tuple[Summary | None, Prepared]:
    """Read, validate and (when there is no problem, or valid_rows_only) write; returns what was done."""
    now = now or datetime.now().replace(microsecond=0)
    raw = read_file(leads, mapping=mapping)
    event_frame = read_file(events, mapping=mapping).frame if events else None
    prepared = prepare(raw.frame, mapping, now=now, events=event_frame)
    if prepared.problems.height and not valid_rows_only:
        return None, prepared
    if prepared.leads.is_empty():
        raise ImportRefused("No row of the file can be imported: see the problems listed.")
    db.create_schema(url)
    return write(prepared=prepared, url=url, now=now, progress=progress, actor=actor), prepared


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--leads", required=True, type=Path, help="the leads file (CSV or Excel)")
    parser.add_argument("--events", type=Path, help="a file of stage events keyed by the lead id")
    parser.add_argument("--mapping", required=True, type=Path, help="the mapping (TOML)")
    parser.add_argument("--db", help="database URL (default: DATABASE_URL or the embedded SQLite file)")
    parser.add_argument("--valid-rows-only", action="store_true", help="import the valid rows, skip the rest")
    args = parser.parse_args(argv)
    from dashboard.config import load_settings

    url = args.db or load_settings().database_url
    try:
        mapping = Mapping.from_toml(args.mapping.read_text(encoding="utf-8"))
        summary, prepared = import_files(
            leads=args.leads, events=args.events, mapping=mapping, url=url, valid_rows_only=args.valid_rows_only
        )
    except (ImportRefused, OSError, db.DatabaseUnavailable) as exc:
        print(json.dumps({"error": str(exc)}), file=sys.stderr)
        return 1
    if summary is None:
        report = prepared.problems
        message = f"{report.height:,} problems in {prepared.rejected_rows:,} rows; nothing was written"
        print(json.dumps({"error": message}), file=sys.stderr)
        buffer = io.StringIO()
        report.write_csv(buffer)
        print(buffer.getvalue(), file=sys.stderr, end="")
        return 1
    print(json.dumps({**summary.as_dict(), "notes": prepared.notes}))
    return 0

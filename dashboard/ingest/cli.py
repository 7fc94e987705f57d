"""The command line and the one call the page makes: read, validate, then write when nothing is wrong."""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from dashboard.auth import Actor
from dashboard.config import load_settings
from dashboard.ingest.mapping import ImportRefused, Mapping
from dashboard.ingest.read import RawFile, read_batches, read_file
from dashboard.ingest.validate import Checker, Prepared
from dashboard.ingest.write import BatchWriter, Summary, Writing
from dashboard.store import db


def file_names(leads: Path, events: Path | None) -> dict[str, str]:
    """How messages call the files: their names, or their paths when the two share a name."""
    if events is not None and events.name == leads.name:
        return {"leads": str(leads), "events": str(events)}
    return {"leads": leads.name} | ({"events": events.name} if events is not None else {})


def read_notes(raw: RawFile, name: str) -> list[str]:
    """What the reading found that a person should know: the sheet read, an encoding other than UTF-8."""
    if raw.sheet is not None:
        return [f"Read the sheet “{raw.sheet}” of {name}."]
    if raw.encoding.lower().replace("_", "-") not in ("utf-8", "utf8", "ascii"):
        return [f"{name} is not in UTF-8: it was read as {raw.encoding}. Check that its accents look right."]
    return []


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
    batch_rows: int | None = None,
) -> tuple[Summary | None, Prepared]:
    """Read, validate and (when there is no problem, or valid_rows_only) write; returns what was done.

    The leads file is read, checked and written batch_rows rows at a time (default: the import_batch_rows setting),
    all in one transaction that commits only when the whole file has been checked: a refusal or a problem anywhere
    leaves the database as it was. What the write needs of the whole file comes from a first pass over its id and
    date columns (repeated ids, the date order). The events file is held whole.

    None instead of a summary: nothing was written, and the prepared problems say why (the prepared rows themselves
    went to the database batch by batch: only their count is kept).
    """
    now = now or datetime.now().replace(microsecond=0)
    batch_rows = batch_rows or load_settings().import_batch_rows
    names = file_names(Path(leads), Path(events) if events else None)
    with read_batches(leads, mapping=mapping, name=names["leads"], batch_rows=batch_rows) as source:
        event_raw = read_file(events, mapping=mapping, name=names["events"]) if events else None
        checker = Checker(source.columns, mapping, now=now, events=event_raw.frame if event_raw else None, names=names)
        with source.reading():
            checker.learn(source.rows)
        writing = Writing(url=url, now=now, dated=checker.dated, actor=actor, progress=progress, create_schema=True)
        writer = BatchWriter(writing)
        try:
            for batch in source:
                rows = checker.batch(batch)
                # Once a row has a problem, the import is refused unless valid_rows_only: the rest is only checked.
                if (valid_rows_only or not checker.has_problems) and rows.leads.height:
                    writer.add(rows)
                if progress:  # the file's length in rows is not known before its end: the bar slows as it fills
                    read = checker.rows_read
                    progress(0.9 * read / (read + batch_rows), f"{read:,} rows checked…")
            writer.wait()
            prepared = checker.prepared()
            prepared.notes[:0] = read_notes(source.raw, names["leads"]) + (
                read_notes(event_raw, names["events"]) if event_raw else []
            )
            if prepared.problems.height and (not valid_rows_only or not prepared.valid_leads):
                return None, prepared
            if not prepared.valid_leads:
                raise ImportRefused(f"{names['leads']} has no lead to import.")
            return writing.finish(prepared), prepared
        finally:
            writer.cancel()
            writing.close()


def _mapping(path: Path) -> Mapping:
    """The mapping file, or a refusal that names it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ImportRefused(f"There is no mapping file {path}: check the path given to --mapping.") from exc
    except UnicodeDecodeError as exc:
        raise ImportRefused(f"{path.name} is not UTF-8 text: save the mapping as UTF-8 and try again.") from exc
    try:
        return Mapping.from_toml(text)
    except ImportRefused as exc:
        raise ImportRefused(f"{path.name}: {exc}") from exc


def _refused(message: str) -> int:
    print(json.dumps({"error": message}), file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--leads", required=True, type=Path, help="the leads file (CSV or Excel)")
    parser.add_argument("--events", type=Path, help="a file of stage events keyed by the lead id")
    parser.add_argument("--mapping", required=True, type=Path, help="the mapping (TOML)")
    parser.add_argument("--db", help="database URL (default: DATABASE_URL or the embedded SQLite file)")
    parser.add_argument("--valid-rows-only", action="store_true", help="import the valid rows, skip the rest")
    args = parser.parse_args(argv)
    url = args.db or load_settings().database_url
    try:
        mapping = _mapping(args.mapping)
        summary, prepared = import_files(
            leads=args.leads, events=args.events, mapping=mapping, url=url, valid_rows_only=args.valid_rows_only
        )
    except (ImportRefused, db.DatabaseUnavailable) as exc:
        return _refused(str(exc))
    except OSError as exc:
        return _refused(f"{exc.strerror or exc}: {exc.filename or ''}. Nothing was written.")
    except sa.exc.SQLAlchemyError as exc:
        return _refused(f"The database refused the import: {str(exc).splitlines()[0]}. Nothing was written.")
    if summary is None:
        report = prepared.problems
        fix = f"Fix {'it' if report.height == 1 else 'them'} in the file (the list follows)"
        if prepared.valid_leads:
            fix += ", or import the other rows with --valid-rows-only"
        rows = f"{prepared.rejected_rows:,} row{'s' if prepared.rejected_rows != 1 else ''}"
        problems = f"{report.height:,} problem{'s' if report.height != 1 else ''}"
        _refused(f"{problems} in {rows}; nothing was written. {fix}.")
        buffer = io.StringIO()
        report.write_csv(buffer)
        print(buffer.getvalue(), file=sys.stderr, end="")
        return 1
    print(json.dumps({**summary.as_dict(), "notes": prepared.notes}))
    return 0

"""Command line: python -m seed --leads N --weeks W [--db URL] [--seed S]."""

from __future__ import annotations

import argparse
import json
import sys
import time

from dashboard.config import load_settings
from dashboard.store.db import DatabaseUnavailable
from seed import populate
from seed.generator import today_plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m seed", description="Fill an empty Handoff database with demo data."
    )
    parser.add_argument("--leads", type=int, default=25_000, help="number of leads (default 25,000)")
    parser.add_argument("--weeks", type=int, default=26, help="weeks of history ending this week (default 26)")
    parser.add_argument("--db", help="database URL (default: DATABASE_URL or the embedded SQLite file)")
    parser.add_argument("--seed", type=int, default=7, help="random seed; the same seed gives the same data")
    args = parser.parse_args(argv)
    if args.leads < 1 or args.weeks < 1:
        parser.error("--leads and --weeks must be at least 1")
    url = args.db or load_settings().database_url
    started = time.perf_counter()
    try:
        written = populate(url, today_plan(args.leads, args.weeks, args.seed))
    except (ValueError, DatabaseUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"leads": written, "weeks": args.weeks, "seconds": round(time.perf_counter() - started, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

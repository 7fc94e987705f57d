"""Benchmark: python -m dashboard.bench [--leads N]; prints one JSON object per line."""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from dashboard.data import acceptance_frames, handoff_frames, overview_frames, read_tables, rejection_frames
from dashboard.domain import CountingMode
from dashboard.filters import Filters
from seed import populate
from seed.generator import today_plan

WEEKS = 26


def _timed(name: str, n: int, runs: int, work: Callable[[], object]) -> object:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append((time.perf_counter() - started) * 1000)
    print(json.dumps({"name": name, "n": n, "median_ms": round(statistics.median(times), 1), "runs": runs}), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.bench")
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5, help="runs of each query benchmark")
    args = parser.parse_args(argv)
    now = datetime.now().replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="handoff-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        plan = today_plan(args.leads, WEEKS, seed=11, now=now)
        _timed("seed", args.leads, 1, lambda: populate(url, plan))
        tables = _timed("load", args.leads, 3, lambda: read_tables(url))
        end = now.date()
        for mode in CountingMode:
            filters = Filters(start=end - timedelta(weeks=WEEKS) + timedelta(days=1), end=end, mode=mode)
            _timed(
                f"funnel_{mode.value}",
                args.leads,
                args.runs,
                lambda f=filters: overview_frames(tables, f, now=now, maturity_days=56),
            )
        period = Filters(start=end - timedelta(weeks=WEEKS) + timedelta(days=1), end=end)
        pages = {
            "acceptance_page": lambda: acceptance_frames(tables, period, order="worst_first"),
            "rejection_page": lambda: rejection_frames(tables, period, search=""),
            "sla_page": lambda: handoff_frames(tables, period, sla_hours=24, now=now),
        }
        for name, work in pages.items():
            _timed(name, args.leads, args.runs, work)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"name": "peak_rss", "n": args.leads, "peak_rss_mb": round(peak_mb, 1)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: python -m dashboard.bench [--leads N] [--db FILE] [--only GROUPS] [--browser]; one JSON object per line.

--browser times the what-if in Chromium instead (dashboard/browser_bench.py): first paint and slider moves."""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from dashboard.apptest import app_test
from dashboard.data.data import (
    _projected,
    acceptance_frames,
    handoff_frames,
    overview_frames,
    read_tables,
    rejection_frames,
    whatif_base_frames,
    whatif_frames,
)
from dashboard.domain import CHANNELS, CountingMode
from dashboard.filters import Filters
from queries import propensity, whatif
from queries.acceptance import Z_95
from queries.leads import period_bounds
from queries.scoring import gates_expr, score_expr
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


def _timed_in_turn(n: int, runs: int, works: dict[str, Callable[[int], object]]) -> None:
    """Time each work once per run, in turn, on the run's own input (work(run)): the machine's noise slows them alike,
    and each does the same work as the others. Prints each one's median."""
    times = {name: [] for name in works}
    for run in range(runs):
        for name, work in works.items():
            started = time.perf_counter()
            work(run)
            times[name].append((time.perf_counter() - started) * 1000)
    for name, measured in times.items():
        figures = {"name": name, "n": n, "median_ms": round(statistics.median(measured), 1), "runs": runs}
        print(json.dumps(figures), flush=True)


def reference_headline(
    frame: pl.DataFrame, period: Filters, rule, baseline, fitted: propensity.Propensities
) -> dict[str, float]:
    """One proposal's headline written plainly in polars, as a yardstick for the what-if's own recompute: the same
    inputs (the scored leads with their estimates, the fitted models) and the same outputs (MQLs, accepted, decided,
    SQLs and wins under the proposal and under the live rule, and the 95% half-widths of the estimated accepted,
    SQLs and wins), no shared code beyond the scoring expression and the models' inputs."""
    lo, hi = period_bounds(period.start, period.end)
    mql = pl.col("mql")
    sides = {"projected": rule, "baseline": baseline}
    leads = (
        frame.lazy()
        .filter(pl.col("created_at").is_between(lo, hi, closed="left"))
        .with_columns(
            (
                (mql & pl.col("spot_check"))
                | ((score_expr(r) >= r.mql_threshold) & gates_expr(r) & (mql | ~pl.col("live_qualifies")))
            ).alias(side)
            for side, r in sides.items()
        )
    )
    own_chance = {"accepted": "p_accept", "sqls": "p_sql", "wins": "p_win"}
    # the chain each figure's chance is the product of: (step model, the step's own chance per lead)
    chains = {
        "accepted": [(fitted.accept, "p_accept")],
        "sqls": [(fitted.accept, "p_accept"), (fitted.sql, "q_sql")],
        "wins": [(fitted.accept, "p_accept"), (fitted.sql, "q_sql"), (fitted.win, "q_win")],
    }
    queries = []
    for side in sides:
        seen = pl.col(side) & mql
        queries.append(
            leads.select(
                pl.col(side).sum().alias(f"{side}_mqls"),
                (seen & pl.col("accepted")).sum().alias(f"{side} seen accepted"),
                (seen & pl.col("decided")).sum().alias(f"{side} seen decided"),
                (seen & pl.col("sql")).sum().alias(f"{side} seen sqls"),
                (seen & pl.col("won")).sum().alias(f"{side} seen wins"),
            )
        )
        unseen = [pl.len().alias(f"{side} unseen decided")]
        for figure, column in own_chance.items():
            p = pl.col(column)
            unseen += [p.sum().alias(f"{side} unseen {figure}"), (p * (1 - p)).sum().alias(f"{side} {figure} own")]
            for step, (model, q) in enumerate(chains[figure]):
                if model is None:
                    continue
                inputs = [pl.lit(1.0)] + [pl.col(name) for name in model.features]
                unseen += [
                    (p * (1 - pl.col(q)) * x).sum().alias(f"{side} {figure} {step} {i}") for i, x in enumerate(inputs)
                ]
        queries.append(leads.filter(pl.col(side) & ~mql).select(unseen))
    sums = {name: value for part in pl.collect_all(queries) for name, value in part.row(0, named=True).items()}
    headline = {}
    for side in sides:
        headline[f"{side}_mqls"] = sums[f"{side}_mqls"]
        for figure in ("accepted", "decided", "sqls", "wins"):
            headline[f"{side}_{figure}"] = sums[f"{side} seen {figure}"] + sums[f"{side} unseen {figure}"]
    for side, suffix in (("projected", ""), ("baseline", "_baseline")):
        for figure in own_chance:
            variance = sums[f"{side} {figure} own"]
            for step, (model, _) in enumerate(chains[figure]):
                if model is None:
                    continue
                g = np.array([sums[f"{side} {figure} {step} {i}"] for i in range(len(model.covariance))])
                variance += g @ np.array(model.covariance) @ g
            headline[f"{figure}_half_width{suffix}"] = Z_95 * math.sqrt(variance)
    return headline


def _whatif(url: str, tables, period: Filters, now: datetime, args) -> None:
    """The what-if: its once-per-load base, one proposal's recompute, the page's figures, and a page rerun."""
    base = _timed("whatif_base", args.leads, 1, lambda: whatif_base_frames(tables, now=now, maturity_days=56))
    proposals = iter([replace(base.active.rule, mql_threshold=t) for t in range(20, 20 + 10 * args.runs, 2)] * 10)
    fitted = base.propensities
    rule = replace(base.active.rule, mql_threshold=33)
    ours = whatif_frames(base, period, rule).total.row(0, named=True)
    theirs = reference_headline(base.frame, period, rule, base.baseline, fitted)
    for name, value in theirs.items():  # the yardstick must give the same figures, or the comparison means nothing
        if abs(float(ours[name]) - float(value)) > 1e-6 * max(1.0, abs(float(value))):
            raise SystemExit(f"the reference differs on {name}: {ours[name]} against {value}")
    moves = [replace(base.active.rule, mql_threshold=t) for t in range(20, 20 + 2 * args.runs, 2)]

    def recompute(run: int) -> pl.DataFrame:
        sums = whatif.contribution_sums(_projected(base, period, moves[run]), by=[], propensities=fitted)
        return whatif.projection_by(sums, by=[], propensities=fitted).collect()

    def reference(run: int) -> dict[str, float]:
        return reference_headline(base.frame, period, moves[run], base.baseline, fitted)

    _timed_in_turn(args.leads, args.runs, {"whatif_recompute": recompute, "whatif_recompute_reference": reference})
    _timed("whatif_page_figures", args.leads, args.runs, lambda: whatif_frames(base, period, next(proposals)))
    os.environ.update(DATABASE_URL=url, HANDOFF_SEED_DEMO="0")
    at = app_test(timeout=600)
    at.query_params.update(start=period.start.isoformat(), end=period.end.isoformat())
    at.run()
    at.switch_page("pages/whatif.py").run()
    thresholds = iter(range(30, 30 + 2 * args.runs))
    _timed(
        "whatif_page_rerun",
        args.leads,
        args.runs,
        lambda: at.slider(key="whatif_threshold").set_value(float(next(thresholds))).run(),
    )
    if at.exception:
        raise SystemExit(f"the what-if page failed: {at.exception[0].message}")


# The import in a child process that reports its own peak memory (VmHWM, in kB) on its last stderr line. A child's
# ru_maxrss would include what it inherited from this large process before exec.
IMPORT_MEASURED = """
import re, sys
from dashboard.ingest import main
code = main(sys.argv[1:])
print(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1), file=sys.stderr)
sys.exit(code)
"""


def _import(folder: Path, leads: int, now: datetime) -> None:
    """Import a generated CSV of `leads` rows into an empty database, in a child process: time and its peak RSS."""
    rng = np.random.default_rng(3)
    channels = np.array([c.key for c in CHANNELS])
    stages = np.array(["inquiry", "inquiry", "mql", "sal", "sql", "customer", "rejected"])
    seconds = rng.integers(0, 26 * 7 * 86400, size=leads).astype("timedelta64[s]")
    created = (np.datetime64(now, "s") - seconds).astype("datetime64[us]")
    frame = pl.DataFrame(
        {
            "id": [f"CRM-{i:07d}" for i in range(leads)],
            "created_at": pl.Series(created).dt.strftime("%Y-%m-%d %H:%M:%S"),
            "channel": channels[rng.integers(0, len(channels), size=leads)],
            "campaign": [f"Campaign {i}" for i in rng.integers(0, 60, size=leads)],
            "stage": stages[rng.integers(0, len(stages), size=leads)],
            "company": [f"Company {i}" for i in rng.integers(0, 50_000, size=leads)],
            "country": "India",
        }
    )
    csv = folder / "crm_export.csv"
    frame.write_csv(csv)
    mapping = folder / "mapping.toml"
    mapping.write_text((Path(__file__).parent / "presets" / "generic.toml").read_text())
    target = f"sqlite:///{folder / 'import.db'}"
    args = ["--leads", str(csv), "--mapping", str(mapping), "--db", target]
    command = [sys.executable, "-c", IMPORT_MEASURED, *args]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise SystemExit(f"the import failed: {done.stderr[:2000]}")
    peak = int(done.stderr.strip().splitlines()[-1]) / 1024
    summary = json.loads(done.stdout)
    figures = {"name": "import_csv", "n": leads, "median_ms": round(elapsed, 1), "runs": 1}
    figures |= {
        "peak_rss_mb": round(peak, 1),
        "inserted": summary["inserted"],
        "file_mb": round(csv.stat().st_size / 1e6),
    }
    print(json.dumps(figures), flush=True)


def _whatif_at_live_rule(tables, period: Filters, now: datetime):
    base = whatif_base_frames(tables, now=now, maturity_days=56)
    return whatif_frames(base, period, base.baseline)


def visit_every_page(url: str, now: datetime) -> dict[str, float]:
    """What a serving process holds after every page was opened once on the default period: the cold load, then
    each page's figures (the frames they derive on their first visit included); returns the milliseconds of each."""
    from dashboard.data import review_data

    end = now.date()
    period = Filters(start=end - timedelta(weeks=WEEKS) + timedelta(days=1), end=end)
    timings, started = {}, time.perf_counter()
    tables = read_tables(url)
    steps = {
        "overview": lambda: (tables.facts, overview_frames(tables, period, now=now, maturity_days=56)),
        "overview_in_period": lambda: overview_frames(
            tables, replace(period, mode=CountingMode.IN_PERIOD), now=now, maturity_days=56
        ),
        "acceptance_page": lambda: acceptance_frames(tables, period, order="worst_first"),
        "rejection_page": lambda: rejection_frames(tables, period, search=""),
        "sla_page": lambda: handoff_frames(tables, period, sla_hours=24, now=now),
        "whatif_page": lambda: _whatif_at_live_rule(tables, period, now),
        "review_page": lambda: review_data.review_frames(
            tables, review_data.default_week(tables, review_data.week_choices(tables, end), end), sla_hours=24, now=now
        ),
    }
    timings["cold_load"] = (time.perf_counter() - started) * 1000
    for name, step in steps.items():
        started = time.perf_counter()
        step()
        timings[f"first_{name}"] = (time.perf_counter() - started) * 1000
    return timings


# A serving process of its own (no seed, no benchmark loops in it): it loads the data and opens every page once, then
# reports the milliseconds of each step and its peak memory (VmHWM, in kB) as JSON on its last line.
SERVE_MEASURED = """
import json, re, sys
from datetime import datetime
from dashboard.bench import visit_every_page
timings = visit_every_page(sys.argv[1], datetime.fromisoformat(sys.argv[2]))
peak = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps(timings | {"peak_kb": peak}))
"""


def _serve(url: str, leads: int, now: datetime) -> None:
    """Every page's first visit in a serving process of its own: its timings and its peak RSS (serve_rss_mb)."""
    command = [sys.executable, "-c", SERVE_MEASURED, url, now.isoformat()]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the serving process failed: {done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    peak = figures.pop("peak_kb") / 1024
    for name, ms in figures.items():
        print(json.dumps({"name": name, "n": leads, "median_ms": round(ms, 1), "runs": 1}), flush=True)
    print(json.dumps({"name": "serve_rss", "n": leads, "serve_rss_mb": round(peak, 1)}), flush=True)


GROUPS = ("load", "funnel", "pages", "whatif", "serve", "import")


def _database(args, folder: Path, now: datetime) -> str:
    """The database the figures are measured on: --db when it exists (reused as it is), else seeded (and kept
    there when --db names it, so the next run reuses it)."""
    path = Path(args.db) if args.db else folder / "bench.db"
    url = f"sqlite:///{path}"
    if args.db and path.exists():
        print(json.dumps({"name": "seed", "n": args.leads, "reused": str(path)}), flush=True)
        return url
    plan = today_plan(args.leads, WEEKS, seed=11, now=now)
    _timed("seed", args.leads, 1, lambda: populate(url, plan))
    return url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.bench")
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5, help="runs of each query benchmark")
    parser.add_argument("--browser", action="store_true", help="time the what-if in Chromium, as a person sees it")
    parser.add_argument(
        "--db", help="a SQLite file to measure on: seeded with --leads if it does not exist, else reused"
    )
    parser.add_argument(
        "--only",
        default=",".join(GROUPS),
        help=f"the figures to measure, of {','.join(GROUPS)} (import alone seeds no database)",
    )
    args = parser.parse_args(argv)
    if args.browser:
        from dashboard import browser_bench

        return browser_bench.run(args.leads, args.runs)
    only = set(args.only.split(","))
    now = datetime.now().replace(microsecond=0)
    if only == {"import"}:
        with tempfile.TemporaryDirectory(prefix="handoff-bench-") as folder:
            _import(Path(folder), args.leads, now)
        return 0
    with tempfile.TemporaryDirectory(prefix="handoff-bench-") as folder:
        url = _database(args, Path(folder), now)
        if "serve" in only:
            _serve(url, args.leads, now)
        runs = args.runs if "load" in only else 1
        tables = _timed("cold_load", args.leads, min(runs, 3), lambda: read_tables(url))
        end = now.date()
        if "funnel" in only:
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
        if "pages" in only:
            for name, work in pages.items():
                _timed(name, args.leads, args.runs, work)
        if "whatif" in only:
            _whatif(url, tables, period, now, args)
        if "import" in only:
            _import(Path(folder), args.leads, now)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"name": "peak_rss", "n": args.leads, "peak_rss_mb": round(peak_mb, 1)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

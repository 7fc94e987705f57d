"""Browser benchmark of the what-if, as a person sees it: python -m dashboard.bench --browser [--leads N] [--runs K].

Serves the app on a generated database and drives Debian's Chromium with Playwright. Prints one JSON line per
figure: the page's first paint (navigation to the headline drawn, the first visit after the server started and
then fresh tabs), and a threshold slider move to the changed headline. Medians of --runs.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from seed import populate
from seed.generator import today_plan

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MAIN = '[data-testid="stMain"]'
HEADLINE = f'{MAIN} [data-testid="stMetricValue"]'
# The first metric's value drawn: the headline a person reads (the charts below may still be coming).
HEADLINE_DRAWN = """() => {
    const v = document.querySelector('[data-testid="stMain"] [data-testid="stMetricValue"]');
    return v && v.innerText.trim().length > 0;
}"""
PAGE_DONE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
HEADLINE_CHANGED = """(before) => {
    const v = document.querySelector('[data-testid="stMain"] [data-testid="stMetricValue"]');
    return v && v.innerText.trim() !== before;
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the app did not start on port {port} within {timeout:.0f} s")


def _print(name: str, leads: int, times: list[float], **extra) -> None:
    figures = {"name": name, "n": leads, "median_ms": round(statistics.median(times), 1), "runs": len(times)}
    figures |= {"min_ms": round(min(times), 1), "max_ms": round(max(times), 1), **extra}
    print(json.dumps(figures), flush=True)


def _first_paint(context, url: str) -> tuple[float, float]:
    """Navigation to the headline drawn, and to the whole page done (ms)."""
    page = context.new_page()
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_function(HEADLINE_DRAWN, timeout=600_000, polling="raf")
    headline = (time.perf_counter() - started) * 1000
    page.wait_for_function(PAGE_DONE, timeout=600_000, polling="raf")
    done = (time.perf_counter() - started) * 1000
    page.close()
    return headline, done


def _slider_moves(context, url: str, runs: int) -> list[float]:
    page = context.new_page()
    page.goto(url)
    page.wait_for_function(HEADLINE_DRAWN, timeout=600_000, polling="raf")
    page.wait_for_function(PAGE_DONE, timeout=600_000)
    handle = page.locator(f'{MAIN} [data-testid="stSlider"]').filter(has_text="MQL threshold")
    handle = handle.locator("input[type=range]")
    times = []
    for run in range(runs):
        before = page.locator(HEADLINE).first.inner_text().strip()
        handle.focus()
        started = time.perf_counter()
        handle.press("ArrowLeft" if run % 2 == 0 else "ArrowRight")
        page.wait_for_function(HEADLINE_CHANGED, arg=before, timeout=600_000, polling="raf")
        times.append((time.perf_counter() - started) * 1000)
        # let the rest of the page finish before the next move, as a person reading the headline would
        page.wait_for_function(PAGE_DONE, timeout=600_000)
        page.wait_for_timeout(300)
    page.close()
    return times


def run(leads: int, runs: int) -> int:
    """Seed leads, serve the app, and print the what-if's first paint and slider-move times in Chromium."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="handoff-browser-bench-") as folder:
        db = f"sqlite:///{Path(folder) / 'bench.db'}"
        populate(db, today_plan(leads, 26, seed=11, now=datetime.now().replace(microsecond=0)))
        port = _free_port()
        env = {**os.environ, "DATABASE_URL": db, "HANDOFF_SEED_DEMO": "0"}
        command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py")]
        command += ["--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true"]
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for_port(port, 120)
            url = f"http://127.0.0.1:{port}/whatif"
            with sync_playwright() as playwright:
                context = playwright.chromium.launch_persistent_context(
                    str(Path(folder) / "chromium"),
                    executable_path=CHROMIUM,
                    args=CHROMIUM_ARGS,
                    viewport={"width": 1400, "height": 1000},
                )
                cold = _first_paint(context, url)
                _print("browser_first_paint_cold", leads, [cold[0]], page_done_ms=round(cold[1], 1))
                warm = [_first_paint(context, url) for _ in range(runs)]
                done = statistics.median(d for _, d in warm)
                _print("browser_first_paint", leads, [h for h, _ in warm], page_done_median_ms=round(done, 1))
                _print("browser_slider_to_headline", leads, _slider_moves(context, url, runs))
                context.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0

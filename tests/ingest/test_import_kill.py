"""kill -9 during an import, on SQLite and PostgreSQL, leaves the whole import with its audit line, or nothing.

The import runs as `python -m dashboard.ingest` in a child process. HANDOFF_TEST_PAUSE_AT (dashboard/ingest/write.py)
stops it at a named stage of the write (before it, with every row staged, with every row and the audit line written
but not committed, after the commit), where it is killed; or the child is let go on from the start of the write and
killed after a random delay within the time the write takes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dashboard import ingest
from dashboard.ingest.write import PAUSE_AT, PAUSE_STAGES
from dashboard.models import AuditEntry
from dashboard.store import db
from tests.ingest.import_databases import databases, fingerprint

ROOT = Path(__file__).resolve().parent.parent.parent
LEADS = 5_000
MAPPING = """
[columns]
external_id = "id"
created_at = "created_at"
channel = "channel"
campaign = "campaign"
stage = "stage"
feedback = ["feedback"]
company = "company"
web_visits = "web_visits"
"""


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> tuple[Path, Path]:
    """A leads file of LEADS rows (every stage, sales' feedback) and its mapping."""
    folder = tmp_path_factory.mktemp("export")
    rng = np.random.default_rng(9)
    stages = np.array(["inquiry", "mql", "mql", "sal", "sql", "customer", "rejected"])
    feedback = np.array(["", "", "accepted", "not_target_market", "bad_timing"])
    frame = pl.DataFrame(
        {
            "id": [f"K-{i:06d}" for i in range(LEADS)],
            "created_at": [f"2026-{1 + i % 10:02d}-{1 + i % 28:02d} 10:00" for i in range(LEADS)],
            "channel": np.array(["email", "paid_search", "webinar", "Trade fair"])[rng.integers(0, 4, LEADS)],
            "campaign": [f"Campaign {i}" for i in rng.integers(0, 40, LEADS)],
            "stage": stages[rng.integers(0, len(stages), LEADS)],
            "feedback": feedback[rng.integers(0, len(feedback), LEADS)],
            "company": [f"Company {i}" for i in rng.integers(0, 5_000, LEADS)],
            "web_visits": rng.integers(0, 40, LEADS),
        }
    )
    leads = folder / "leads.csv"
    frame.write_csv(leads)
    mapping = folder / "mapping.toml"
    mapping.write_text(MAPPING)
    return leads, mapping


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request, tmp_path_factory):
    """A database that already holds an import, and its copies: one per kill."""
    folder = tmp_path_factory.mktemp(f"kill-{request.param}")

    def fill(url: str) -> None:
        db.create_schema(url)
        path = folder / "earlier.csv"
        path.write_text("id,created_at,channel,stage\nE-1,2026-09-01 08:00,email,mql\nE-2,2026-09-02 08:00,email,sal\n")
        ingest.import_files(leads=path, mapping=ingest.Mapping.from_toml(MAPPING), url=url)

    server = request.getfixturevalue("postgres_server") if request.param == "postgres" else None
    with databases(request.param, folder, fill, server) as made:
        yield made


def _start(export: tuple[Path, Path], url: str, folder: Path, stage: str) -> subprocess.Popen:
    """The import in a child process that stops itself at stage, once folder/paused exists."""
    leads, mapping = export
    folder.mkdir(exist_ok=True)
    env = {**os.environ, PAUSE_AT: f"{stage}={folder / 'paused'}"}
    command = [sys.executable, "-m", "dashboard.ingest", "--leads", str(leads), "--mapping", str(mapping), "--db", url]
    with (folder / "out").open("w") as out, (folder / "err").open("w") as err:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)


def _wait_until_stopped(child: subprocess.Popen, folder: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, status = os.waitpid(child.pid, os.WNOHANG | os.WUNTRACED)
        if pid and os.WIFSTOPPED(status):
            assert (folder / "paused").exists()
            return
        if pid:
            raise AssertionError(f"the import ended before its pause: {(folder / 'err').read_text()}")
        time.sleep(0.02)
    child.kill()
    raise TimeoutError(f"the import did not reach its pause in {timeout} s")


def _kill(child: subprocess.Popen) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait()


@dataclass(frozen=True)
class Whole:
    """What the uninterrupted import leaves: every table's row count, and how long its write takes."""

    counts: dict[str, int]
    write_seconds: float


@pytest.fixture(scope="module")
def whole(database, export, tmp_path_factory) -> Whole:
    url = database.clone()
    folder = tmp_path_factory.mktemp("whole")
    child = _start(export, url, folder, "before")
    _wait_until_stopped(child, folder)
    started = time.monotonic()
    os.kill(child.pid, signal.SIGCONT)
    assert child.wait(timeout=300) == 0, (folder / "err").read_text()
    took = time.monotonic() - started
    assert json.loads((folder / "out").read_text())["inserted"] == LEADS
    return Whole({table: n for table, (n, _) in fingerprint(url).items()}, took)


def _assert_all_or_nothing(database, url: str, before: dict, whole: Whole, when: str) -> str:
    """The database holds the whole import and its audit line, or is exactly as before; says which."""
    database.settle(url)
    after = fingerprint(url)
    if after == before:
        return "nothing"
    counts = {table: n for table, (n, _) in after.items()}
    assert counts == whole.counts, f"killed {when}: part of the import was kept"
    last = db.read_table(AuditEntry, url=url).sort("id").row(-1, named=True)
    assert last["action"] == "import" and json.loads(last["target"])["inserted"] == LEADS, f"killed {when}"
    return "all"


@pytest.mark.parametrize("stage", PAUSE_STAGES)
def test_a_kill_at_each_stage_of_the_write_keeps_all_or_nothing(database, export, whole, stage, tmp_path):
    url = database.clone()
    before = fingerprint(url)
    child = _start(export, url, tmp_path, stage)
    _wait_until_stopped(child, tmp_path)
    _kill(child)
    kept = _assert_all_or_nothing(database, url, before, whole, f"at {stage}")
    assert kept == ("all" if stage == "committed" else "nothing")


@pytest.mark.parametrize("attempt", range(5))
def test_a_kill_at_a_random_moment_keeps_all_or_nothing(database, export, whole, attempt, tmp_path):
    url = database.clone()
    before = fingerprint(url)
    child = _start(export, url, tmp_path, "before")
    _wait_until_stopped(child, tmp_path)
    delay = random.uniform(0, whole.write_seconds * 1.2)
    os.kill(child.pid, signal.SIGCONT)
    time.sleep(delay)
    _kill(child)
    _assert_all_or_nothing(database, url, before, whole, f"{delay:.3f} s into a {whole.write_seconds:.3f} s write")

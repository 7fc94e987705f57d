"""The demo seed writes explicit ids; on PostgreSQL it leaves every id sequence past them, so that an import and
every write that follows insert without colliding."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from dashboard.data.data import read_tables
from dashboard.store import queue, review, scoring, users
from queries.review import IsoWeek
from queries.scoring import ScoringRule
from tests.conftest import in_transaction

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.postgres
def test_after_the_seed_an_import_and_every_write_insert_on_postgres(postgres_url):
    seeded = _run("seed", "--db", postgres_url, "--leads", "600", "--weeks", "6")
    assert seeded.returncode == 0, seeded.stderr
    imported = _run(
        "dashboard.ingest",
        "--leads",
        str(FIXTURES / "xeducation_sample.csv"),
        "--mapping",
        str(FIXTURES / "xeducation_mapping.toml"),
        "--db",
        postgres_url,
    )
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["inserted"] == 300
    # A queue decision (a decision, a stage event, an audit line) and one write into each other table.
    now = datetime.now().replace(microsecond=0)
    reps = in_transaction(postgres_url, queue.reps)
    rep = reps.filter((pl.col("tier") == "junior") & (pl.col("pending") > 0)).row(0, named=True)
    pending = in_transaction(postgres_url, queue.pending_queue, rep_id=rep["id"], now=now, sla_hours=24)
    decided = in_transaction(postgres_url, queue.accept, lead_id=pending["lead_id"][0], rep_id=rep["id"], now=now)
    assert decided.stage == "sal"
    rule = ScoringRule(mql_threshold=55)
    in_transaction(postgres_url, scoring.save_scenario, name="After seed", author="x", note="", rule=rule, now=now)
    in_transaction(postgres_url, scoring.apply_rule, rule=rule, author="x", reason="after the seed", now=now)
    week = IsoWeek.of(now)
    in_transaction(
        postgres_url, review.add_action_item, title="Check", owner="x", due_date=date.today(), week=week, now=now
    )
    in_transaction(postgres_url, review.save_meeting_note, week=week, text="ok", author="x", now=now)
    in_transaction(postgres_url, users.save_user, email="a@example.com", name="A", role="admin", rep_id=None,
                   team=None, active=True, now=now)  # fmt: skip
    t = read_tables(postgres_url)
    assert t.leads.height == 900 and t.scoring_models["version"].max() == 3

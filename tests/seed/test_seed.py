"""The demo generator: deterministic, internally consistent, and the same on SQLite and PostgreSQL."""

from __future__ import annotations

import polars as pl
import pytest

from dashboard.data.data import read_tables
from dashboard.domain import MAIN_PATH, Stage
from dashboard.models import SalesDecision
from dashboard.store.db import read_table
from seed import populate
from seed.generator import Plan
from tests.conftest import DEMO_PLAN

PLAN = DEMO_PLAN
NOW = PLAN.now


@pytest.fixture
def sqlite_seeded(demo_url) -> str:
    """The session's demo database: the seed's plan written into SQLite."""
    return demo_url


def test_same_seed_gives_the_same_data(sqlite_seeded, tmp_path):
    other = f"sqlite:///{tmp_path / 'b.db'}"
    populate(other, PLAN)
    a, b = read_tables(sqlite_seeded), read_tables(other)
    for name in ("leads", "events", "campaigns", "reps"):
        assert getattr(a, name).equals(getattr(b, name)), name


def test_a_different_seed_gives_different_leads(sqlite_seeded, tmp_path):
    other = f"sqlite:///{tmp_path / 'c.db'}"
    populate(other, Plan(leads=PLAN.leads, weeks=PLAN.weeks, seed=PLAN.seed + 1, now=NOW))
    assert not read_tables(sqlite_seeded).leads.equals(read_tables(other).leads)


def test_seeding_a_database_twice_is_refused(sqlite_seeded):
    with pytest.raises(ValueError, match="already holds data"):
        populate(sqlite_seeded, PLAN)


def test_history_is_consistent(sqlite_seeded):
    t = read_tables(sqlite_seeded)
    events = t.events
    assert t.leads.height == PLAN.leads
    assert events.filter(pl.col("stage") == Stage.INQUIRY)["lead_id"].n_unique() == PLAN.leads
    assert events["occurred_at"].max() <= NOW
    assert t.leads["created_at"].min() >= PLAN.start
    # every main-path stage a lead reached comes after the one before it
    ordered = (
        events.filter(pl.col("stage").is_in([s.value for s in MAIN_PATH]))
        .with_columns(pl.col("stage").replace_strict({s.value: i for i, s in enumerate(MAIN_PATH)}).alias("rank"))
        .sort("lead_id", "rank")
        .with_columns(pl.col("occurred_at").diff().over("lead_id").alias("gap"))
    )
    assert ordered.filter(pl.col("gap") < pl.duration(microseconds=0)).is_empty()
    # only MQLs (by score or a spot check) reach the SAL gate; every decision has a decided MQL behind it
    mql_leads = set(t.leads.filter(pl.col("mql_route").is_not_null())["id"])
    decisions = read_table(SalesDecision, url=sqlite_seeded)
    assert set(decisions["lead_id"]) <= mql_leads
    assert set(events.filter(pl.col("stage") == Stage.MQL)["lead_id"]) == mql_leads
    rejected = decisions.filter(pl.col("decision") == "rejected")
    assert rejected["reason"].null_count() == 0 and rejected["reason_kind"].null_count() == 0
    assert (
        decisions.filter(pl.col("decision") == "accepted")["reason"].null_count()
        == decisions.filter(pl.col("decision") == "accepted").height
    )
    # the current stage is the stage of the latest event
    latest = events.sort("occurred_at").group_by("lead_id").agg(pl.col("stage").last())
    joined = t.leads.join(latest, left_on="id", right_on="lead_id")
    assert (joined["stage"] == joined["stage_right"]).all()


@pytest.mark.postgres
def test_postgres_holds_the_same_data_as_sqlite(sqlite_seeded, demo_postgres):
    # demo_postgres is the same plan written into PostgreSQL by populate
    a, b = read_tables(sqlite_seeded), read_tables(demo_postgres)
    for name, key in (("leads", ["id"]), ("campaigns", ["id"]), ("channels", ["id"]), ("reps", ["id"])):
        left, right = getattr(a, name).sort(key), getattr(b, name).sort(key)
        for column in left.columns:
            assert left[column].equals(right[column]), f"{name}.{column}"
    # event ids are assigned by each database; compare the history itself
    key = ["lead_id", "occurred_at", "stage"]
    assert a.events.drop("id").sort(key).equals(b.events.drop("id").sort(key))

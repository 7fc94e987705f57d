"""Stage velocity and rep load, read off their derived frames (steps sorted by days, work with the rep's previous
work on the lead), against the same figures counted lead by lead in plain Python on random events."""

from __future__ import annotations

import statistics
from datetime import date, datetime, time, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.domain import MAIN_PATH
from queries import sla

STAGES = [s.value for s in MAIN_PATH] + ["rejected", "lost"]
BASE = datetime(2026, 3, 1)
REPS = pl.LazyFrame(
    {
        "id": [10, 11, 12],
        "name": ["Ann", "Bob", "Cy"],
        "tier": ["junior", "junior", "senior"],
        "team": ["NA", "NA", "NA"],
        "weekly_capacity": [5, 5, 5],
    }
)

LEADS = 5
# (lead, stage, hour, rep) over six weeks: few leads with many events, so steps share a period, stages repeat and
# reps work the same lead several times
event_rows = st.lists(
    st.tuples(
        st.integers(0, LEADS - 1),
        st.sampled_from(STAGES),
        st.integers(0, 24 * 42),
        st.sampled_from([None, 10, 11, 12]),
    ),
    min_size=10,
    max_size=80,
)
periods = st.tuples(st.integers(0, 41), st.integers(0, 20))


def events(rows) -> pl.LazyFrame:
    return pl.LazyFrame(
        {
            "lead_id": [r[0] for r in rows],
            "stage": [r[1] for r in rows],
            "occurred_at": [BASE + timedelta(hours=r[2]) for r in rows],
            "rep_id": [r[3] for r in rows],
        },
        schema={"lead_id": pl.Int64, "stage": pl.String, "occurred_at": pl.Datetime("us"), "rep_id": pl.Int64},
    )


def bounds(first: int, length: int) -> tuple[date, date, datetime, datetime]:
    start = BASE.date() + timedelta(days=first)
    end = start + timedelta(days=length)
    return start, end, datetime.combine(start, time()), datetime.combine(end + timedelta(days=1), time())


@settings(max_examples=150, deadline=None)
@given(event_rows, periods)
def test_velocity_is_the_median_of_each_step_entered_in_the_period(rows, period):
    start, end, lo, hi = bounds(*period)
    first: dict[tuple[int, str], datetime] = {}
    for lead, stage, hour, _ in rows:
        moment = BASE + timedelta(hours=hour)
        first[(lead, stage)] = min(first.get((lead, stage), moment), moment)
    expected = []
    for earlier, later in zip(MAIN_PATH, MAIN_PATH[1:], strict=False):
        days = [
            (first[(lead, later.value)] - first[(lead, earlier.value)]).total_seconds() / 86400
            for lead in range(LEADS)
            if (lead, earlier.value) in first and (lead, later.value) in first and lo <= first[(lead, later.value)] < hi
        ]
        expected.append((len(days), statistics.median(days) if days else None))
    leads = pl.LazyFrame({"lead_id": list(range(LEADS))})
    steps = sla.stage_steps(sla.lead_journeys(leads, events(rows)))
    result = sla.stage_velocity(steps, start=start, end=end).collect()
    assert result["leads"].to_list() == [n for n, _ in expected]
    assert result["median_days"].to_list() == [
        None if want is None else pytest.approx(want, abs=1e-9) for _, want in expected
    ]


@settings(max_examples=150, deadline=None)
@given(event_rows, periods)
def test_rep_load_counts_each_rep_s_distinct_leads_worked_in_the_period(rows, period):
    start, end, lo, hi = bounds(*period)
    tiers = {10: "junior", 11: "junior", 12: "senior"}
    worked: dict[int, set[int]] = {10: set(), 11: set(), 12: set()}
    for lead, stage, hour, rep in rows:
        if rep is None or not lo <= BASE + timedelta(hours=hour) < hi:
            continue
        if stage in [s.value for s in sla.WORK_STAGES[sla.Tier(tiers[rep])]]:
            worked[rep].add(lead)
    work = sla.rep_work(REPS, events(rows))
    result = sla.rep_load(REPS, work, start=start, end=end).collect()
    assert dict(zip(result["rep_id"], result["leads"], strict=True)) == {r: len(ls) for r, ls in worked.items()}

"""The funnel counted from per-lead frames (queries.funnel.lead_reach, stage_entries) against the event-based counts,
on random leads whose events repeat stages, skip stages, take detours and are partly undated."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from dashboard.domain import MAIN_PATH, CountingMode
from queries import funnel, sla
from tests.queries import funnel_events

STAGES = [s.value for s in MAIN_PATH] + ["rejected", "recycled"]
BASE = datetime(2026, 1, 1)


def frames(leads_rows, event_rows) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    leads = pl.LazyFrame(
        {
            "lead_id": [i for i, _, _ in leads_rows],
            "created_at": [BASE + timedelta(hours=h) for _, h, _ in leads_rows],
            "segment": [s for _, _, s in leads_rows],
        },
        schema={"lead_id": pl.Int64, "created_at": pl.Datetime("us"), "segment": pl.String},
    )
    events = pl.LazyFrame(
        {
            "lead_id": [e[0] for e in event_rows],
            "stage": [STAGES[e[1]] for e in event_rows],
            "occurred_at": [BASE + timedelta(hours=e[2]) for e in event_rows],
            "timed": [e[3] for e in event_rows],
        },
        schema={"lead_id": pl.Int64, "stage": pl.String, "occurred_at": pl.Datetime("us"), "timed": pl.Boolean},
    )
    return leads, events


def per_lead(leads: pl.LazyFrame, events: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The per-lead frames as the data layer derives them: the dated first times with the reach (in one pass, and
    the same as sla's first stage times of the dated events), and the entries."""
    journeys = funnel.with_reach(leads, funnel.lead_reach(events, dated_times=True)).collect()
    by_sla = funnel.with_reach(sla.lead_journeys(leads, events.filter("timed")), funnel.lead_reach(events))
    assert_frame_equal(journeys, by_sla.collect(), check_column_order=False, check_row_order=False)
    return journeys.lazy(), funnel.stage_entries(leads, events).collect().lazy()


HOURS = 24 * 90  # leads and events over three months; periods cut anywhere in them
lead_rows = st.lists(st.tuples(st.integers(0, HOURS), st.sampled_from(["a", "b"])), min_size=0, max_size=25).map(
    lambda rows: [(i, h, s) for i, (h, s) in enumerate(rows)]
)


@st.composite
def cases(draw):
    leads = draw(lead_rows)
    n = max(len(leads), 1)
    # stage repeated, skipped, detoured; a few events of leads the leads frame does not hold (id n)
    events = draw(
        st.lists(
            st.tuples(st.integers(0, n), st.integers(0, len(STAGES) - 1), st.integers(0, HOURS), st.booleans()),
            max_size=60,
        )
    )
    first, length = draw(st.integers(0, 80)), draw(st.integers(0, 40))
    start = BASE.date() + timedelta(days=first)
    as_of = BASE + timedelta(hours=draw(st.integers(0, HOURS)))
    return leads, events, start, start + timedelta(days=length), as_of


@settings(max_examples=150, deadline=None)
@given(cases())
def test_cohort_counts_from_the_reach_equal_the_event_counts(case):
    lead_rows_, event_rows, start, end, as_of = case
    leads, events = frames(lead_rows_, event_rows)
    journeys, _ = per_lead(leads, events)
    for moment in (None, as_of):
        then = events if moment is None else funnel_events.recorded_before(events, moment)
        expected = funnel_events.cohort_stage_counts(leads, then, start=start, end=end).collect()
        result = funnel.reached_stage_counts(journeys, start=start, end=end, as_of=moment).collect()
        assert_frame_equal(result, expected)


@settings(max_examples=150, deadline=None)
@given(cases())
def test_in_period_counts_from_the_entries_equal_the_event_counts(case):
    lead_rows_, event_rows, start, end, _ = case
    leads, events = frames(lead_rows_, event_rows)
    _, entries = per_lead(leads, events)
    dated = events.filter("timed")
    expected = funnel_events.in_period_stage_counts(leads, dated, start=start, end=end).collect()
    assert_frame_equal(funnel.entered_stage_counts(entries, start=start, end=end).collect(), expected)


@settings(max_examples=100, deadline=None)
@given(cases())
def test_weekly_and_per_value_counts_equal_the_event_counts(case):
    lead_rows_, event_rows, start, end, _ = case
    leads, events = frames(lead_rows_, event_rows)
    journeys, entries = per_lead(leads, events)
    for mode in CountingMode:
        counted = events if mode is CountingMode.COHORT else events.filter("timed")
        period = {"start": start, "end": end, "mode": mode}
        assert_frame_equal(
            funnel.lead_weekly_stage_counts(journeys, entries, **period).collect(),
            funnel_events.weekly_stage_counts(leads, counted, **period).collect(),
        )
        assert_frame_equal(
            funnel.lead_stage_counts_by(journeys, entries, by="segment", **period).collect(),
            funnel_events.stage_counts_by(leads, counted, by="segment", **period).collect(),
        )


def test_a_lead_entering_a_stage_twice_counts_once_in_the_period_and_once_per_week():
    # lead 1 becomes an MQL on Mon 2 Mar, is recycled, and an MQL again on Wed 4 Mar and on Tue 10 Mar
    leads, events = frames(
        [(1, 0, "a")],
        [(1, 1, h, True) for h in (24 * 60 + 9, 24 * 62 + 9, 24 * 68 + 9)] + [(1, 0, 24 * 60, True)],
    )
    _, entries = per_lead(leads, events)
    march = {"start": date(2026, 3, 2), "end": date(2026, 3, 31)}
    assert funnel.entered_stage_counts(entries, **march).collect()["count"].to_list() == [1, 1, 0, 0, 0, 0]
    # from 3 Mar: the MQL of 2 Mar is before the period, the one of 4 Mar is the lead's first in it
    later = {"start": date(2026, 3, 3), "end": date(2026, 3, 31)}
    assert funnel.entered_stage_counts(entries, **later).collect()["count"].to_list() == [0, 1, 0, 0, 0, 0]
    weekly = funnel.lead_weekly_stage_counts(pl.LazyFrame(), entries, mode=CountingMode.IN_PERIOD, **march).collect()
    mqls = weekly.filter(pl.col("stage") == "mql")
    assert dict(zip(mqls["week"], mqls["count"], strict=True)) == {
        date(2026, 3, 2): 1,
        date(2026, 3, 9): 1,
        date(2026, 3, 16): 0,
        date(2026, 3, 23): 0,
        date(2026, 3, 30): 0,
    }

"""Funnel queries against small hand-built frames whose answers are worked out by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from dashboard.domain import MAIN_PATH, CountingMode
from queries import funnel
from queries.leads import filter_dimensions
from tests.queries import funnel_events

STAGES = [s.value for s in MAIN_PATH]


def leads(rows: list[tuple[int, datetime]]) -> pl.LazyFrame:
    return pl.LazyFrame(
        {"lead_id": [r[0] for r in rows], "created_at": [r[1] for r in rows]},
        schema={"lead_id": pl.Int64, "created_at": pl.Datetime("us")},
    )


def events(rows: list[tuple[int, str, datetime]]) -> pl.LazyFrame:
    return pl.LazyFrame(
        {"lead_id": [r[0] for r in rows], "stage": [r[1] for r in rows], "occurred_at": [r[2] for r in rows]},
        schema={"lead_id": pl.Int64, "stage": pl.String, "occurred_at": pl.Datetime("us")},
    )


def counts(frame: pl.LazyFrame) -> list[int]:
    return frame.collect()["count"].to_list()


D = datetime
# Lead 1: created 2 Mar, reached SAL. Lead 2: created 3 Mar, rejected at the gate (a detour after MQL).
# Lead 3: created 10 Mar, has only a SQL event (an import that skipped stages): still counts at every earlier stage.
# Lead 4: created in February, moved to MQL on 4 Mar.
LEADS = leads([(1, D(2026, 3, 2, 9)), (2, D(2026, 3, 3, 9)), (3, D(2026, 3, 10, 9)), (4, D(2026, 2, 20, 9))])
EVENTS = events(
    [
        (1, "inquiry", D(2026, 3, 2, 9)),
        (1, "mql", D(2026, 3, 3, 9)),
        (1, "sal", D(2026, 3, 4, 9)),
        (2, "inquiry", D(2026, 3, 3, 9)),
        (2, "mql", D(2026, 3, 4, 9)),
        (2, "rejected", D(2026, 3, 5, 9)),
        (3, "sql", D(2026, 3, 12, 9)),
        (4, "inquiry", D(2026, 2, 20, 9)),
        (4, "mql", D(2026, 3, 4, 9)),
    ]
)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # leads 1, 2, 3 created in March; furthest stages SAL, MQL, SQL
        (date(2026, 3, 1), date(2026, 3, 31), [3, 3, 2, 1, 0, 0]),
        # only lead 1 and 2 (the end date counts in full: lead 2 was created on 3 Mar)
        (date(2026, 3, 1), date(2026, 3, 3), [2, 2, 1, 0, 0, 0]),
        (date(2026, 1, 1), date(2026, 1, 31), [0, 0, 0, 0, 0, 0]),
    ],
)
def test_cohort_stage_counts(start, end, expected):
    result = funnel_events.cohort_stage_counts(LEADS, EVENTS, start=start, end=end).collect()
    assert result["stage"].to_list() == STAGES
    assert result["count"].to_list() == expected


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # March events: inquiry 1, 2; mql 1, 2, 4; sal 1; sql 3 — lead 4's February inquiry is outside
        (date(2026, 3, 1), date(2026, 3, 31), [2, 3, 1, 1, 0, 0]),
        (date(2026, 3, 4), date(2026, 3, 4), [0, 2, 1, 0, 0, 0]),
        (date(2026, 2, 1), date(2026, 2, 28), [1, 0, 0, 0, 0, 0]),
    ],
)
def test_in_period_stage_counts(start, end, expected):
    assert counts(funnel_events.in_period_stage_counts(LEADS, EVENTS, start=start, end=end)) == expected


def test_a_lead_counts_once_per_stage_in_period_even_with_repeated_events():
    again = pl.concat([EVENTS, events([(1, "mql", D(2026, 3, 20, 9))])])
    assert (
        counts(funnel_events.in_period_stage_counts(LEADS, again, start=date(2026, 3, 1), end=date(2026, 3, 31)))[1]
        == 3
    )


@pytest.mark.parametrize("mode", list(CountingMode))
def test_empty_input_gives_every_stage_with_zero(mode):
    empty = funnel_events.stage_counts(leads([]), events([]), start=date(2026, 3, 1), end=date(2026, 3, 31), mode=mode)
    result = funnel.funnel_conversion(empty).collect()
    assert result["stage"].to_list() == STAGES
    assert result["count"].to_list() == [0] * 6
    assert result["pct_of_previous"].null_count() == 6 and result["pct_of_first"].null_count() == 6


def test_funnel_conversion_both_forms():
    frame = funnel.STAGE_ORDER.lazy().with_columns(pl.Series("count", [200, 100, 50, 0, 0, 0], dtype=pl.Int64))
    result = funnel.funnel_conversion(frame).collect()
    assert result["pct_of_previous"].to_list() == [None, 0.5, 0.5, 0.0, None, None]
    assert result["pct_of_first"].to_list() == [1.0, 0.5, 0.25, 0.0, 0.0, 0.0]


def test_kpi_comparison():
    current = funnel.STAGE_ORDER.lazy().with_columns(pl.Series("count", [120, 60, 30, 10, 5, 0], dtype=pl.Int64))
    previous = funnel.STAGE_ORDER.lazy().with_columns(pl.Series("count", [100, 60, 40, 0, 5, 2], dtype=pl.Int64))
    result = funnel.kpi_comparison(current, previous).collect()
    assert result["change"].to_list() == [20, 0, -10, 10, 0, -2]
    assert result["relative_change"].to_list() == pytest.approx([0.2, 0.0, -0.25, None, 0.0, -1.0], nan_ok=True)
    assert result["relative_change"][3] is None


def test_weekly_cohort_counts_by_creation_week():
    result = funnel_events.weekly_stage_counts(
        LEADS, EVENTS, start=date(2026, 3, 1), end=date(2026, 3, 15), mode=CountingMode.COHORT
    ).collect()
    # weeks start on Monday: 23 Feb (1 Mar is a Sunday), 2 Mar, 9 Mar
    assert result["week"].unique().sort().to_list() == [date(2026, 2, 23), date(2026, 3, 2), date(2026, 3, 9)]
    by_week = {w: g.sort("stage_order")["count"].to_list() for (w,), g in result.group_by("week")}
    assert by_week[date(2026, 2, 23)] == [0] * 6
    assert by_week[date(2026, 3, 2)] == [2, 2, 1, 0, 0, 0]  # leads 1 and 2
    assert by_week[date(2026, 3, 9)] == [1, 1, 1, 1, 0, 0]  # lead 3, furthest SQL


def test_weekly_in_period_counts_by_event_week():
    result = funnel_events.weekly_stage_counts(
        LEADS, EVENTS, start=date(2026, 3, 2), end=date(2026, 3, 15), mode=CountingMode.IN_PERIOD
    ).collect()
    by_week = {w: g.sort("stage_order")["count"].to_list() for (w,), g in result.group_by("week")}
    assert by_week[date(2026, 3, 2)] == [2, 3, 1, 0, 0, 0]
    assert by_week[date(2026, 3, 9)] == [0, 0, 0, 1, 0, 0]


def test_immature_share():
    result = funnel.immature_share(
        LEADS, start=date(2026, 3, 1), end=date(2026, 3, 31), since=datetime(2026, 3, 5)
    ).collect()
    assert_frame_equal(result, pl.DataFrame({"leads": [3], "immature_share": [1 / 3]}))
    empty = funnel.immature_share(leads([]), start=date(2026, 3, 1), end=date(2026, 3, 31), since=datetime(2026, 3, 5))
    assert empty.collect().row(0) == (0, 0.0)


DIMS = pl.LazyFrame(
    {
        "lead_id": [1, 2, 3, 4],
        "channel": ["ctv", "ott", "ctv", "email"],
        "campaign_id": [10, 20, 11, 30],
        "tier": ["junior", "junior", "senior", None],
    }
)


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({}, [1, 2, 3, 4]),
        ({"channels": ("ctv",)}, [1, 3]),
        ({"channels": ("ctv", "email")}, [1, 3, 4]),
        ({"campaigns": (20, 30)}, [2, 4]),
        ({"channels": ("ctv",), "tiers": ("senior",)}, [3]),
        ({"channels": ("ott",), "campaigns": (10,)}, []),
    ],
)
def test_filter_dimensions(choice, expected):
    assert filter_dimensions(DIMS, **choice).collect()["lead_id"].to_list() == expected


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=5), st.integers(min_value=0, max_value=59)),
        min_size=0,
        max_size=40,
    )
)
def test_cohort_counts_never_grow_down_the_funnel(furthest_and_day):
    base = datetime(2026, 1, 1)
    lead_rows, event_rows = [], []
    for lead_id, (furthest, day) in enumerate(furthest_and_day):
        created = datetime.fromordinal(base.toordinal() + day)
        lead_rows.append((lead_id, created))
        # only the furthest stage is recorded: the count must still cover the stages before it
        event_rows.append((lead_id, STAGES[furthest], created))
    result = funnel.funnel_conversion(
        funnel_events.cohort_stage_counts(
            leads(lead_rows), events(event_rows), start=date(2026, 1, 1), end=date(2026, 3, 1)
        )
    ).collect()
    values = result["count"].to_list()
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))
    assert values[0] == len(lead_rows)
    for column in ("pct_of_previous", "pct_of_first"):
        assert all(0 <= v <= 1 for v in result[column].drop_nulls())


# ----- equal-age cohort comparison ------------------------------------------------------------------------------------


def steady_business(days: int, *, now: datetime) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Two periods of days each, ending the day before now, with the same leads: one created every day, each moving
    a stage every 10 days after its creation (inquiry, MQL at 10 days, SAL at 20 ...), dated, up to now. Nothing
    about the business changes; only the second period's leads are younger."""
    lead_rows, event_rows = [], []
    first = now - timedelta(days=2 * days)
    for n in range(2 * days):
        created = first + timedelta(days=n)
        lead_rows.append((n, created))
        for order, stage in enumerate(STAGES):
            moment = created + timedelta(days=10 * order)
            if moment < now:
                event_rows.append((n, stage, moment))
    timed = events(event_rows).with_columns(pl.lit(True).alias("timed"))
    return leads(lead_rows), timed


def test_cohorts_compared_at_equal_age_read_no_change_in_a_steady_business():
    now, days = datetime(2026, 6, 1), 28
    all_leads, all_events = steady_business(days, now=now)
    start, end = (now - timedelta(days=days)).date(), (now - timedelta(days=1)).date()
    prev_start, prev_end = start - timedelta(days=days), start - timedelta(days=1)
    current = counts(funnel_events.cohort_stage_counts(all_leads, all_events, start=start, end=end))
    naive = counts(funnel_events.cohort_stage_counts(all_leads, all_events, start=prev_start, end=prev_end))
    aged = funnel_events.recorded_before(all_events, funnel.equal_age_moment(now, days))
    equal_age = counts(funnel_events.cohort_stage_counts(all_leads, aged, start=prev_start, end=prev_end))
    assert equal_age == current
    # counted to today, the older cohorts look better at every stage after MQL: the decline is only their age
    assert all(old > new for old, new in zip(naive[1:], current[1:], strict=True) if old)
    assert naive[0] == current[0]


def test_recorded_before_keeps_what_the_data_does_not_date():
    moment = D(2026, 3, 4, 9)
    frame = EVENTS.with_columns((pl.col("lead_id") != 4).alias("timed"))  # lead 4's stages are undated
    kept = funnel_events.recorded_before(frame, moment).collect()
    expected = [(r[0], r[1]) for r in frame.collect().iter_rows() if r[2] < moment or r[0] == 4]
    assert sorted(zip(kept["lead_id"], kept["stage"], strict=True)) == sorted(expected)
    assert (4, "mql") in expected and (1, "sal") not in expected

"""The overview's comparison with the previous period, recomputed lead by lead from the demo tables."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

from dashboard.data.data import overview_frames
from dashboard.domain import MAIN_PATH, CountingMode
from dashboard.filters import default_filters

RANK = {stage.value: order for order, stage in enumerate(MAIN_PATH)}


def brute_force_previous(tables, start: date, end: date, as_of: datetime | None) -> list[int]:
    """Leads created start..end at each main-path stage they had reached by as_of (every stage when None), by a
    plain loop over the rows."""
    lo, hi = datetime.combine(start, time()), datetime.combine(end + timedelta(days=1), time())
    cohort = {lead: 0 for lead, created in tables.leads.select("id", "created_at").iter_rows() if lo <= created < hi}
    for lead, stage, at, timed in tables.events.select("lead_id", "stage", "occurred_at", "timed").iter_rows():
        if lead in cohort and stage in RANK and (as_of is None or not timed or at < as_of):
            cohort[lead] = max(cohort[lead], RANK[stage])
    return [sum(1 for furthest in cohort.values() if furthest >= order) for order in range(len(MAIN_PATH))]


def test_cohorts_are_compared_with_the_previous_period_at_the_same_age(demo_tables):
    today = date(2026, 6, 17)
    now = datetime.combine(today, time())
    filters = default_filters(today)
    result = overview_frames(demo_tables, filters, now=now, maturity_days=56)
    previous = filters.previous()
    as_of = now - timedelta(days=filters.days)
    assert result.previous_as_of == as_of
    assert result.kpis["previous"].to_list() == brute_force_previous(demo_tables, previous.start, previous.end, as_of)
    # counted to today instead, the previous period would have had more time at every later stage
    to_today = brute_force_previous(demo_tables, previous.start, previous.end, None)
    assert to_today[-1] > result.kpis["previous"][-1]
    assert result.kpis["count"].to_list() == brute_force_previous(demo_tables, filters.start, filters.end, None)


def test_in_period_counts_are_not_aged(demo_tables):
    today = date(2026, 6, 17)
    filters = replace(default_filters(today), mode=CountingMode.IN_PERIOD)
    result = overview_frames(demo_tables, filters, now=datetime.combine(today, time()), maturity_days=56)
    assert result.previous_as_of is None


def test_stages_no_lead_of_the_data_reached_are_not_recorded(demo_tables):
    from dashboard.data import review_data
    from dashboard.domain import Stage

    furthest = int(demo_tables.dims["furthest"].max())
    assert demo_tables.facts.furthest_reached == furthest == len(MAIN_PATH) - 1  # the demo data has won deals
    assert all(demo_tables.facts.stage_recorded(s) for s in MAIN_PATH)
    assert not {"sqls", "wins"} & set(review_data.unsupported(demo_tables.facts))
    # an export whose furthest stage is SQL holds no opportunity or won deal: no win figure, not "0 wins"
    export = replace(demo_tables.facts, furthest_reached=MAIN_PATH.index(Stage.SQL))
    assert export.stage_recorded(Stage.SQL) and not export.stage_recorded(Stage.CUSTOMER)
    gaps = review_data.unsupported(export)
    assert "wins" in gaps and "sqls" not in gaps

"""The overview counted from the per-lead frames (reach, dated first times, entries) gives exactly the figures of the
event-based queries it replaced, on the demo tables and on imported exports whose stages are partly undated."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dashboard import ingest
from dashboard.data.data import _filtered, _per_attribute, data_clock, overview_frames, read_tables
from dashboard.domain import CountingMode
from dashboard.filters import Filters, default_filters
from queries import funnel
from tests.queries import funnel_events

EXPORTS = Path(__file__).resolve().parent.parent / "fixtures" / "exports"
NOW = datetime(2026, 12, 2, 12, 0)


@dataclass
class EventPath:
    """The overview's counts as the event-based queries give them: the reference the per-lead path must equal."""

    kpis: pl.DataFrame
    funnel: pl.DataFrame
    weekly: pl.DataFrame
    by_attribute: dict[str, pl.DataFrame]


def by_events(t, filters: Filters, now: datetime) -> EventPath:
    dims = _filtered(t.journeys, filters)
    events = t.events.lazy() if filters.mode is CountingMode.COHORT else t.events.lazy().filter("timed")
    period = {"start": filters.start, "end": filters.end, "mode": filters.mode}
    current = funnel_events.stage_counts(dims, events, **period)
    prev = filters.previous()
    if filters.mode is CountingMode.COHORT:
        events_then = funnel_events.recorded_before(
            events, funnel.equal_age_moment(data_clock(now, t.facts.last_moment), filters.days)
        )
    else:
        events_then = events
    previous = funnel_events.stage_counts(dims, events_then, start=prev.start, end=prev.end, mode=filters.mode)
    kpis, conversion, weekly = pl.collect_all(
        [
            funnel.kpi_comparison(current, previous),
            funnel.funnel_conversion(current),
            funnel_events.weekly_stage_counts(dims, events, **period),
        ]
    )
    by_attribute = _per_attribute(
        t, dims, lambda frame, column: funnel_events.stage_counts_by(frame, events, by=column, **period)
    )
    return EventPath(kpis, conversion, weekly, by_attribute)


def assert_same_overview(t, filters: Filters, now: datetime) -> None:
    ours = overview_frames(t, filters, now=now, maturity_days=56)
    theirs = by_events(t, filters, now)
    assert_frame_equal(ours.kpis, theirs.kpis)
    assert_frame_equal(ours.funnel, theirs.funnel)
    assert_frame_equal(ours.weekly, theirs.weekly)
    assert ours.by_attribute.keys() == theirs.by_attribute.keys()
    for name, frame in theirs.by_attribute.items():
        assert_frame_equal(ours.by_attribute[name], frame, check_column_order=False)


def demo_filter_cases(t) -> list[Filters]:
    today = date(2026, 6, 17)
    base = default_filters(today)
    channel = t.channels["key"][0]
    campaign = int(t.campaigns["id"][3])
    cases = [
        base,
        replace(base, start=base.start + timedelta(days=3)),  # a period that starts mid-week
        replace(base, start=today - timedelta(days=20)),
        replace(base, channels=(channel,)),
        replace(base, campaigns=(campaign,), tiers=("junior",)),
    ]
    return [replace(f, mode=mode) for f in cases for mode in CountingMode]


def test_the_demo_overview_is_the_same_by_either_path(demo_tables):
    cases = demo_filter_cases(demo_tables)
    for filters in cases:
        assert_same_overview(demo_tables, filters, datetime.combine(date(2026, 6, 17), time()))
    # the cases are not all alike: the counts differ between them, so a wrong filter would show
    first_counts = {tuple(overview_frames(demo_tables, f, now=NOW, maturity_days=56).funnel["count"]) for f in cases}
    assert len(first_counts) > 4


# name: leads file, events file, mapping (tests/fixtures/exports)
EXPORT_FILES = {
    "hubspot": ("hubspot_contacts.csv", None, "hubspot_mapping.toml"),
    "salesforce": ("salesforce_leads.csv", "salesforce_lead_history.csv", "salesforce_mapping.toml"),
    "funnel": ("funnel_leads.csv", "funnel_won_deals.csv", "funnel_mapping.toml"),
}


@pytest.fixture(scope="module", params=list(EXPORT_FILES))
def exported(request, tmp_path_factory):
    leads, events, mapping = EXPORT_FILES[request.param]
    url = f"sqlite:///{tmp_path_factory.mktemp(request.param) / 'import.db'}"
    args = ["--leads", str(EXPORTS / leads), "--mapping", str(EXPORTS / mapping), "--db", url]
    args += ["--events", str(EXPORTS / events)] if events else []
    with contextlib.redirect_stdout(io.StringIO()):
        assert ingest.main(args) == 0
    return read_tables(url)


def test_an_imported_export_is_the_same_by_either_path(exported):
    t = exported
    first, last = t.facts.first_day, t.facts.last_day
    whole = Filters(start=first, end=last + timedelta(days=365))
    middle = first + (last - first) / 2
    halves = [Filters(start=first, end=middle), Filters(start=middle + timedelta(days=1), end=last)]
    attributes = [(name, values[:1]) for name, values in t.attributes.items()]
    cases = [whole, *halves]
    if attributes:
        cases.append(replace(halves[1], attributes=tuple(attributes[:1])))
    for filters in cases:
        for mode in CountingMode:
            assert_same_overview(t, replace(filters, mode=mode), NOW)


def test_the_hubspot_export_holds_undated_stages(tmp_path):
    """The equality above covers undated stages: the HubSpot export reaches stages the data does not date."""
    url = f"sqlite:///{tmp_path / 'import.db'}"
    args = ["--leads", str(EXPORTS / "hubspot_contacts.csv"), "--mapping", str(EXPORTS / "hubspot_mapping.toml")]
    with contextlib.redirect_stdout(io.StringIO()):
        assert ingest.main([*args, "--db", url]) == 0
    t = read_tables(url)
    assert 0 < t.events["timed"].sum() < t.events.height
    assert t.journeys.filter(pl.col("furthest_undated") > 0).height > 0

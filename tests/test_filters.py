"""URL parameters to filters and back: a table of inputs and what they must give."""

from __future__ import annotations

from datetime import date

import pytest

from dashboard.domain import CountingMode
from dashboard.filters import FilterOptions, Filters, data_today, default_filters, parse_params, to_params

TODAY = date(2026, 11, 24)  # a Tuesday
OPTIONS = FilterOptions(channels=("ctv", "ott", "email"), campaigns=(1, 2, 3), tiers=("junior", "senior"))
DEFAULT = default_filters(TODAY)


@pytest.mark.parametrize(
    ("params", "expected", "notices"),
    [
        ({}, DEFAULT, []),
        (
            {"start": "2026-10-01", "end": "2026-10-31", "channel": "ctv,ott", "campaign": "2", "tier": "senior"},
            Filters(date(2026, 10, 1), date(2026, 10, 31), ("ctv", "ott"), (2,), ("senior",)),
            [],
        ),
        ({"start": "yesterday"}, DEFAULT, ["yesterday"]),
        ({"start": "2026-11-01", "end": "2026-10-01"}, DEFAULT, ["after the end date"]),
        ({"channel": "ctv,radio"}, Filters(DEFAULT.start, DEFAULT.end, channels=("ctv",)), ["radio"]),
        ({"campaign": "x,3,99"}, Filters(DEFAULT.start, DEFAULT.end, campaigns=(3,)), ["“x”", "“99”"]),
        ({"mode": "in_period"}, Filters(DEFAULT.start, DEFAULT.end, mode=CountingMode.IN_PERIOD), []),
        ({"mode": "weekly"}, DEFAULT, ["weekly"]),
        ({"channel": "ctv,ctv,,"}, Filters(DEFAULT.start, DEFAULT.end, channels=("ctv",)), []),
    ],
)
def test_parse_params(params, expected, notices):
    parsed = parse_params(params, OPTIONS, TODAY)
    assert parsed.filters == expected
    assert len(parsed.notices) == len(notices)
    for fragment, notice in zip(notices, parsed.notices, strict=True):
        assert fragment in notice and ("ignored" in notice)


def test_default_period_is_twelve_weeks_ending_today():
    assert DEFAULT.end == TODAY
    assert DEFAULT.start == date(2026, 9, 7)  # the Monday eleven weeks before this week's Monday
    assert DEFAULT.start.weekday() == 0


@pytest.mark.parametrize(
    "filters",
    [
        DEFAULT,
        Filters(date(2026, 1, 5), date(2026, 2, 1), ("ott",), (1, 3), ("junior",), CountingMode.IN_PERIOD),
        Filters(DEFAULT.start, date(2026, 11, 20)),
    ],
)
def test_to_params_round_trips(filters):
    params = to_params(filters, TODAY)
    assert parse_params(params, OPTIONS, TODAY).filters == filters


def test_default_filters_give_a_short_link():
    assert to_params(DEFAULT, TODAY) == {}


@pytest.mark.parametrize(
    ("start", "end", "previous"),
    [
        (date(2026, 3, 1), date(2026, 3, 31), (date(2026, 1, 29), date(2026, 2, 28))),
        (date(2026, 1, 5), date(2026, 1, 11), (date(2025, 12, 29), date(2026, 1, 4))),
        (date(2026, 6, 1), date(2026, 6, 1), (date(2026, 5, 31), date(2026, 5, 31))),
    ],
)
def test_previous_period_has_the_same_length(start, end, previous):
    prior = Filters(start, end, channels=("ctv",)).previous()
    assert (prior.start, prior.end) == previous
    assert prior.days == Filters(start, end).days
    assert prior.channels == ("ctv",)


@pytest.mark.parametrize(
    ("today", "last_day", "expected"),
    [
        (date(2026, 12, 2), None, date(2026, 12, 2)),  # no dated leads: today
        (date(2026, 12, 2), date(2026, 11, 30), date(2026, 12, 2)),  # current data: today
        (date(2026, 12, 2), date(2018, 5, 31), date(2018, 5, 31)),  # an old export: its last day
    ],
)
def test_the_default_window_follows_the_data(today, last_day, expected):
    assert data_today(today, last_day) == expected


def test_attribute_filters_round_trip_through_the_url():
    options = FilterOptions(channels=("email",), campaigns=(1,), tiers=(), attributes=(("Segment", ("a", "b")),))
    parsed = parse_params({"attr.Segment": "b,zz", "attr.Nope": "x"}, options, date(2026, 12, 2))
    assert parsed.filters.attributes == (("Segment", ("b",)),)
    assert len(parsed.notices) == 2  # the unknown value and the unknown attribute
    assert to_params(parsed.filters, date(2026, 12, 2)) == {"attr.Segment": "b"}

"""Acceptance queries: outcomes, rates, Wilson intervals; pending never moves a rate."""

from __future__ import annotations

import math
from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queries import acceptance

D = datetime
LEADS = pl.LazyFrame({"lead_id": [1, 2, 3, 4, 5], "channel": ["ctv", "ctv", "ctv", "email", "email"]})
EVENTS = pl.LazyFrame(
    {
        "lead_id": [1, 2, 3, 4, 5, 5],
        "stage": ["mql", "mql", "mql", "mql", "inquiry", "mql"],
        "occurred_at": [D(2026, 3, 2), D(2026, 3, 3), D(2026, 3, 4), D(2026, 3, 5), D(2026, 2, 1), D(2026, 4, 2)],
    }
)
# lead 1 was rejected, then re-decided and accepted: the latest decision stands. Lead 3 is pending.
DECISIONS = pl.LazyFrame(
    {
        "lead_id": [1, 1, 2, 4],
        "decision": ["rejected", "accepted", "rejected", "accepted"],
        "decided_at": [D(2026, 3, 2, 5), D(2026, 3, 3), D(2026, 3, 3, 5), D(2026, 3, 6)],
        "reason": ["wrong_territory", None, "duplicate", None],
        "reason_kind": ["procedural", None, "procedural", None],
        "comment": ["Wrong region", None, "<b>dup</b>", None],
        "rep_id": [7, 8, 7, 9],
    }
)


def outcomes(start=date(2026, 3, 1), end=date(2026, 3, 31)) -> pl.LazyFrame:
    journeys = acceptance.mql_journeys(LEADS, EVENTS, DECISIONS)
    return acceptance.mql_outcomes(journeys, start=start, end=end)


def test_outcomes_of_the_period():
    result = outcomes().collect().sort("lead_id")
    # lead 5 became an MQL in April: outside the period
    assert result["lead_id"].to_list() == [1, 2, 3, 4]
    assert result["outcome"].to_list() == ["accepted", "rejected", "pending", "accepted"]
    assert result["decided_by"].to_list() == [8, 7, None, 9]
    assert result["comment"].to_list() == [None, "<b>dup</b>", None, None]


def test_each_hand_off_keeps_its_own_decision():
    """Lead 1 is rejected for routing, handed to another rep (a second MQL), then accepted by that rep."""
    events = pl.LazyFrame(
        {
            "lead_id": [1, 1],
            "stage": ["mql", "mql"],
            "occurred_at": [D(2026, 3, 2), D(2026, 3, 5)],
        }
    )
    decisions = pl.LazyFrame(
        {
            "lead_id": [1, 1],
            "decision": ["rejected", "accepted"],
            "decided_at": [D(2026, 3, 4, 23, 59), D(2026, 3, 6)],
            "reason": ["wrong_territory", None],
            "reason_kind": ["procedural", None],
            "comment": [None, None],
            "rep_id": [7, 8],
        }
    )
    journeys = acceptance.mql_journeys(LEADS, events, decisions)
    march = acceptance.mql_outcomes(journeys, start=date(2026, 3, 1), end=date(2026, 3, 31)).collect()
    assert march.select("mql_at", "outcome", "reason", "decided_by").rows() == [
        (D(2026, 3, 2), "rejected", "wrong_territory", 7),
        (D(2026, 3, 5), "accepted", None, 8),
    ]
    # before the new owner decides, the second hand-off is pending, not rejected
    undecided = acceptance.mql_journeys(LEADS, events, decisions.filter(pl.col("decision") == "rejected"))
    assert undecided.collect()["outcome"].to_list() == ["rejected", "pending"]


def test_rates_by_channel_by_hand():
    result = acceptance.acceptance_rates(outcomes(), by=["channel"]).collect().sort("channel")
    ctv, email = result.rows(named=True)
    assert (ctv["accepted"], ctv["rejected"], ctv["pending"], ctv["decided"]) == (1, 1, 1, 2)
    assert ctv["rate"] == 0.5 and ctv["small_sample"]
    assert (email["accepted"], email["decided"], email["rate"]) == (1, 1, 1.0)
    # Wilson 95% for 1 of 2: centre (0.5 + z²/4) / (1 + z²/2) = 0.5, half-width z·sqrt(1/8 + z²/16)/(1 + z²/2)
    z = acceptance.Z_95
    half = z * math.sqrt(0.25 / 2 + z**2 / 16) / (1 + z**2 / 2)
    assert ctv["rate_low"] == pytest.approx(0.5 - half) and ctv["rate_high"] == pytest.approx(0.5 + half)


def test_empty_period():
    result = acceptance.acceptance_rates(outcomes(date(2025, 1, 1), date(2025, 1, 2)), by=["channel"]).collect()
    assert result.is_empty()


def test_a_group_with_only_pending_has_no_rate():
    result = acceptance.acceptance_rates(
        pl.LazyFrame({"g": ["a", "a"], "outcome": ["pending", "pending"]}), by=["g"]
    ).collect()
    assert result.row(0, named=True) | {} == {
        "g": "a",
        "accepted": 0,
        "rejected": 0,
        "pending": 2,
        "decided": 0,
        "rate": None,
        "rate_low": None,
        "rate_high": None,
        "small_sample": True,
    }


@pytest.mark.parametrize(
    ("order", "expected"),
    [("worst_first", ["ctv", "email"]), ("largest_first", ["ctv", "email"])],
)
def test_sort_orders(order, expected):
    assert acceptance.acceptance_by(outcomes(), by=["channel"], order=order).collect()["channel"].to_list() == expected


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.sampled_from(["accepted", "rejected"]), min_size=1, max_size=60),
    st.integers(min_value=0, max_value=30),
)
def test_rates_stay_in_range_and_pending_never_moves_them(decided, pending):
    frame = pl.LazyFrame({"g": ["x"] * (len(decided) + pending), "outcome": decided + ["pending"] * pending})
    with_pending = acceptance.acceptance_rates(frame, by=["g"]).collect().row(0, named=True)
    without = (
        acceptance.acceptance_rates(pl.LazyFrame({"g": ["x"] * len(decided), "outcome": decided}), by=["g"])
        .collect()
        .row(0, named=True)
    )
    assert with_pending["rate"] == without["rate"]
    assert 0 <= with_pending["rate_low"] <= with_pending["rate"] <= with_pending["rate_high"] <= 1


BEHIND = pl.LazyFrame(
    {
        "lead_id": [1, 2, 3, 4],
        "channel_label": ["Email", "Email", "CTV", "CTV"],
        "campaign": ["Spring", "Launch", "Spring", "Launch"],
        "mql_at": [D(2026, 3, 1), D(2026, 3, 2), D(2026, 3, 3), D(2026, 3, 4)],
    }
)


@pytest.mark.parametrize(
    ("selections", "expected"),
    [
        ((), [4, 3, 2, 1]),  # nothing selected: every MQL, newest first
        (([],), [4, 3, 2, 1]),  # a chart without a selection narrows nothing
        (([{"channel_label": "Email"}],), [2, 1]),
        (([{"channel_label": "Email"}, {"channel_label": "CTV"}],), [4, 3, 2, 1]),  # two bars of one chart: either
        (([{"channel_label": "Email"}], [{"campaign": "Spring"}]), [1]),  # bars of two charts: both
        (([{"campaign": "Launch", "channel_label": "CTV"}, {"campaign": "Spring", "channel_label": "Email"}],), [4, 1]),
        (([{"channel_label": "Email"}], [{"campaign": "Launch", "channel_label": "CTV"}]), []),
    ],
)
def test_the_leads_behind_every_chart_selection(selections, expected):
    assert acceptance.leads_behind(BEHIND, *selections).collect()["lead_id"].to_list() == expected

"""Rejection and hand-off speed queries against hand-built frames."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from queries import rejection, sla

D = datetime
OUTCOMES = pl.LazyFrame(
    {
        "lead_id": [1, 2, 3, 4, 5, 6],
        "channel_label": ["CTV", "CTV", "CTV", "Email", "Email", "Email"],
        "campaign": ["A", "A", "B", "C", "C", "C"],
        "owner": ["Ann", "Ann", "Bob", "Bob", "Bob", "Ann"],
        "outcome": ["rejected", "rejected", "accepted", "rejected", "pending", "accepted"],
        "reason": ["wrong_territory", "duplicate", None, "not_target_market", None, None],
        "reason_kind": ["procedural", "procedural", None, "definitional", None, None],
        "comment": ["<script>alert(1)</script>", None, None, "Too <b>small</b>", None, None],
        "decided_by_name": ["Ann", "Ann", "Bob", "Bob", None, "Ann"],
        "mql_at": [
            D(2026, 3, 2, 8),
            D(2026, 3, 2, 8),
            D(2026, 3, 3, 8),
            D(2026, 3, 9, 8),
            D(2026, 3, 9, 8),
            D(2026, 3, 10),
        ],
        "decided_at": [
            D(2026, 3, 2, 10),
            D(2026, 3, 4, 8),
            D(2026, 3, 3, 20),
            D(2026, 3, 10, 9),
            None,
            D(2026, 3, 10, 6),
        ],
    }
)


def test_pareto_counts_shares_and_cumulative_share():
    result = rejection.rejection_pareto(OUTCOMES).collect()
    assert result.height == 7  # every reason of the taxonomy, even those with no rejections
    top = result.head(3)
    assert top["count"].to_list() == [1, 1, 1]
    assert top["cumulative_share"].to_list() == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert result["count"].sum() == 3


def test_rejection_by_kind_and_channel():
    result = rejection.rejection_by(OUTCOMES, by=["channel_label"]).collect()
    # CTV: 3 decided, 2 procedural; Email: 2 decided (pending excluded), 1 definitional
    assert result.rows() == [("CTV", "procedural", 2, 3, 2 / 3), ("Email", "definitional", 1, 2, 0.5)]


def test_weekly_rejections_with_week_over_week_change():
    result = rejection.weekly_rejections(OUTCOMES, start=date(2026, 3, 2), end=date(2026, 3, 15)).collect()
    procedural = result.filter(pl.col("reason_kind") == "procedural")
    assert procedural["count"].to_list() == [2, 0]
    assert procedural["change"].to_list() == [None, -2]
    definitional = result.filter(pl.col("reason_kind") == "definitional")
    assert definitional["count"].to_list() == [0, 1] and definitional["change"].to_list() == [None, 1]


@pytest.mark.parametrize(
    ("search", "leads"), [("", [4, 1]), ("SCRIPT", [1]), ("territory", [1]), ("bob", [4]), ("x", [])]
)
def test_comment_search_is_plain_text(search, leads):
    assert rejection.rejection_comments(OUTCOMES, search=search).collect()["lead_id"].to_list() == leads


def test_comments_are_kept_exactly_as_given():
    rows = rejection.rejection_comments(OUTCOMES).collect()
    assert rows["comment"].to_list() == ["Too <b>small</b>", "<script>alert(1)</script>"]


def test_decision_times_and_sla_by_owner():
    times = sla.decision_times(OUTCOMES, sla_hours=24)
    result = sla.time_to_decision_by(times, by=["decided_by_name"]).collect().sort("decided_by_name")
    ann, bob = result.rows(named=True)
    # Ann: 2 h, 48 h and 6 h -> median 6, one of three late; Bob: 12 h (inside) and 25 h (late)
    assert ann["decisions"] == 3 and ann["median_hours"] == pytest.approx(6.0)
    assert ann["sla_compliance"] == pytest.approx(2 / 3)
    assert bob["median_hours"] == pytest.approx(18.5) and bob["sla_compliance"] == pytest.approx(0.5)
    assert ann["p90_hours"] == pytest.approx(6 + 0.8 * (48 - 6))


def test_weekly_compliance_per_rep():
    times = sla.decision_times(OUTCOMES, sla_hours=24)
    result = sla.weekly_compliance(times, by=["decided_by_name"]).collect()
    # week of 2 March: Ann 2 h and 48 h, Bob 12 h; week of 9 March: Ann 6 h, Bob 25 h
    assert result.rows() == [
        (date(2026, 3, 2), "Ann", 2, 0.5),
        (date(2026, 3, 2), "Bob", 1, 1.0),
        (date(2026, 3, 9), "Ann", 1, 1.0),
        (date(2026, 3, 9), "Bob", 1, 0.0),
    ]


def test_breached_pending_oldest_first():
    result = sla.breached_pending(OUTCOMES, now=D(2026, 3, 10, 7), sla_hours=24).collect()  # 23 h: inside
    assert result["lead_id"].to_list() == []
    later = sla.breached_pending(OUTCOMES, now=D(2026, 3, 11, 9), sla_hours=24).collect()
    assert later["lead_id"].to_list() == [5] and later["hours_waiting"].to_list() == [49.0]


EVENTS = pl.LazyFrame(
    {
        "lead_id": [1, 1, 1, 2, 2, 3],
        "stage": ["inquiry", "mql", "sal", "mql", "sal", "sal"],
        "occurred_at": [D(2026, 3, 1), D(2026, 3, 2), D(2026, 3, 4), D(2026, 3, 1), D(2026, 3, 2), D(2026, 3, 3)],
        "rep_id": [None, None, 10, None, 10, 11],
    }
)


def test_stage_velocity():
    steps = sla.stage_steps(sla.lead_journeys(pl.LazyFrame({"lead_id": [1, 2, 3]}), EVENTS))
    result = sla.stage_velocity(steps, start=date(2026, 3, 1), end=date(2026, 3, 31)).collect()
    # inquiry -> mql: lead 1, 1 day; mql -> sal: lead 1 (2 days) and lead 2 (1 day), median 1.5
    assert result["leads"].to_list()[:3] == [1, 2, 0]
    assert result["median_days"].to_list()[:2] == pytest.approx([1.0, 1.5])


def test_rep_load_against_capacity():
    reps = pl.LazyFrame(
        {
            "id": [10, 11],
            "name": ["Ann", "Bob"],
            "tier": ["junior", "junior"],
            "team": ["NA", "NA"],
            "weekly_capacity": [2, 4],
        }
    )
    work = sla.rep_work(reps, EVENTS)
    result = sla.rep_load(reps, work, start=date(2026, 3, 1), end=date(2026, 3, 14)).collect().sort("name")
    # two weeks: Ann decided 2 leads -> 1 a week of 2; Bob 1 lead -> 0.5 a week of 4
    assert result["per_week"].to_list() == pytest.approx([1.0, 0.5])
    assert result["utilisation"].to_list() == pytest.approx([0.5, 0.125])


def test_escalation_per_junior_owner():
    events = pl.LazyFrame(
        {
            "lead_id": [1, 1, 2, 3, 3],
            "stage": ["sal", "sql", "sal", "sal", "sql"],
            "occurred_at": [D(2026, 3, 2), D(2026, 3, 6), D(2026, 3, 3), D(2026, 2, 20), D(2026, 3, 2)],
        }
    )
    journeys = sla.lead_journeys(pl.LazyFrame({"lead_id": [1, 2, 3], "owner": ["Ann", "Ann", "Bob"]}), events)
    result = sla.escalation(journeys, start=date(2026, 3, 1), end=date(2026, 3, 31)).collect()
    # Ann: leads 1 and 2 accepted in March, lead 1 escalated after 4 days; Bob's lead 3 was accepted in February
    assert result.rows(named=True) == [
        {"owner": "Ann", "accepted": 2, "escalated": 1, "median_days_junior": 4.0, "escalation_rate": 0.5}
    ]


def test_escalation_of_an_empty_period_is_empty():
    journeys = sla.lead_journeys(pl.LazyFrame({"lead_id": [1], "owner": ["Ann"]}), EVENTS)
    assert sla.escalation(journeys, start=date(2025, 1, 1), end=date(2025, 1, 31)).collect().is_empty()


def test_disqualification_reasons_of_the_period_every_reason_listed():
    disqualified = pl.LazyFrame(
        {
            "lead_id": [1, 2, 3],
            "reason": ["no_budget", "no_budget", "bad_timing"],
            "disqualified_at": [D(2026, 3, 2), D(2026, 3, 9), D(2026, 4, 2)],
        }
    )
    result = rejection.disqualification_reasons(disqualified, start=date(2026, 3, 1), end=date(2026, 3, 31)).collect()
    counts = dict(zip(result["reason"], result["count"], strict=True))
    assert result["reason"][0] == "no_budget" and counts["no_budget"] == 2
    assert counts["bad_timing"] == 0  # April: outside the period
    assert sorted(counts) == sorted(r.key for r in rejection.DISQUALIFICATION_REASONS)

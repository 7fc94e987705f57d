"""Scoring: component sub-scores, weighting and gates on a hand-built frame."""

from __future__ import annotations

import polars as pl
import pytest

from queries.scoring import ScoringRule, component_scores, gates_expr, qualifies_expr, score_expr

LEADS = pl.LazyFrame(
    {
        "role": ["it", "student"],
        "seniority": ["director", None],
        "region": ["emea", None],
        "company": ["Acme", None],
        "industry": ["software", "retail"],
        "company_size_band": ["201-1000", None],
        "revenue_band": ["50-250M", "<1M"],
        "web_visits": [5, 40],
        "content_downloads": [1, 0],
        "email_clicks": [2, 0],
        "ctv_completions": [0, 3],
        "event_attendance": [1, 0],
        "sales_engagement": [2, 9],
        "has_budget": [True, None],
        "is_authority": [True, False],
        "timeline_months": [3, None],
    }
)


def test_component_scores_by_hand():
    s = component_scores(LEADS).collect()
    # lead 0: 0.7*75 + 0.3*90 = 79.5; lead 1: a student scores 0 whatever the rest
    assert s["score_demographic"].to_list() == pytest.approx([79.5, 0.0])
    # lead 0: 0.4*100 + 0.35*90 + 0.25*95 = 95.25; lead 1: 0.4*50 + 0.35*20 (missing) + 0.25*10 = 29.5
    assert s["score_firmographic"].to_list() == pytest.approx([95.25, 29.5])
    # lead 0: 4*5 + 12*1 + 5*2 + 0 + 20*1 = 62; lead 1: 160 + 18 capped at 100
    assert s["score_behavioural"].to_list() == pytest.approx([62.0, 100.0])
    # 25 per interaction, capped at 100
    assert s["score_engagement"].to_list() == pytest.approx([50.0, 100.0])


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (ScoringRule(1, 0, 0, 0), [79.5, 0.0]),
        # weights are normalised: (2*79.5 + 2*95.25) / 4
        (ScoringRule(2, 2, 0, 0), [87.375, 14.75]),
        (ScoringRule(0, 0, 0, 0), [0.0, 0.0]),
    ],
)
def test_score_weights(rule, expected):
    assert component_scores(LEADS).select(score_expr(rule)).collect().to_series().to_list() == pytest.approx(expected)


@pytest.mark.parametrize(
    ("gate", "expected"),
    [
        ({}, [True, True]),
        ({"gate_known_company": True}, [True, False]),
        ({"gate_budget": True}, [True, False]),
        ({"gate_authority": True}, [True, False]),
        ({"gate_timeline_months": 3}, [True, False]),
        ({"gate_timeline_months": 1}, [False, False]),
    ],
)
def test_gates(gate, expected):
    assert LEADS.select(gates_expr(ScoringRule(**gate))).collect().to_series().to_list() == expected


def test_a_score_equal_to_the_threshold_qualifies():
    rule = ScoringRule(1, 0, 0, 0, mql_threshold=79.5)
    assert component_scores(LEADS).select(qualifies_expr(rule)).collect().to_series().to_list() == [True, False]

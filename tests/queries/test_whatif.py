"""What-if projections against a hand-built history whose answers are computed by hand."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import polars as pl
import pytest

from queries import propensity, whatif
from queries.acceptance import Z_95
from queries.scoring import ScoringRule


def model(covariance: tuple[tuple[float, ...], ...]) -> propensity.Fit:
    """A step model on the behavioural sub-score alone, as uncertain as covariance says (the chances themselves are
    given per lead in HISTORY)."""
    return propensity.Fit((0.0, 0.0), ("x_behavioural",), 100, 0.5, 0.0, covariance)


FITTED = propensity.Propensities(
    accept=model(((0.04, -0.01), (-0.01, 0.09))),
    sql=model(((0.10, 0.02), (0.02, 0.20))),
    win=model(((0.20, 0.05), (0.05, 0.30))),
)


def rule(threshold: float) -> ScoringRule:
    """Only the behavioural component counts, so a lead's score is its behavioural sub-score."""
    return ScoringRule(w_demographic=0, w_firmographic=0, w_behavioural=1, w_engagement=0, mql_threshold=threshold)


LIVE = rule(40)
# L1-L3 became MQLs by score; L4 never qualified; L5 came through a spot check below the threshold;
# L6 qualified under the live rule but had not become an MQL yet (too recent).
HISTORY = (
    pl.LazyFrame(
        {
            "lead_id": [1, 2, 3, 4, 5, 6],
            "external_id": ["L1", "L2", "L3", "L4", "L5", "L6"],
            "campaign": ["A", "A", "B", "B", "A", "B"],
            "channel_label": ["Email", "Email", "CTV", "CTV", "Email", "CTV"],
            "created_at": [datetime(2026, 3, d) for d in (2, 3, 9, 10, 11, 12)],
            "week": [date(2026, 3, 2)] * 2 + [date(2026, 3, 9)] * 4,
            "score_demographic": [0.0] * 6,
            "score_firmographic": [0.0] * 6,
            "score_behavioural": [80.0, 60.0, 45.0, 30.0, 20.0, 50.0],
            "score_engagement": [0.0] * 6,
            "company": ["Acme", "Beta", None, "Delta", "Echo", "Fox"],
            "has_budget": [True, False, True, None, True, True],
            "is_authority": [True, True, True, True, True, True],
            "timeline_months": [3, 3, 3, 3, 3, 3],
            "spot_check": [False, False, False, False, True, False],
            "live_qualifies": [True, True, True, False, False, True],
            "mql": [True, True, True, False, True, False],
            "decided": [True, True, True, False, True, False],
            "accepted": [True, False, True, False, True, False],
            "sql": [True, False, False, False, False, False],
            "won": [True, False, False, False, False, False],
            "p_accept": [0.9, 0.3, 0.6, 0.5, 0.4, 0.7],
            "p_sql": [0.5, 0.1, 0.3, 0.2, 0.2, 0.4],
            "p_win": [0.2, 0.05, 0.1, 0.1, 0.1, 0.2],
        }
    )
    .with_columns(
        (pl.col("p_sql") / pl.col("p_accept")).alias("q_sql"),
        (pl.col("p_win") / pl.col("p_sql")).alias("q_win"),
        (pl.col("score_behavioural") / 100).alias("x_behavioural"),
    )
    .with_columns(**FITTED.gradient_weights())
)


def total(proposal: ScoringRule, baseline: ScoringRule = LIVE) -> dict:
    projected = whatif.project(HISTORY, proposal, baseline=baseline)
    sums = whatif.contribution_sums(projected, by=["week", "campaign", "channel_label"], propensities=FITTED)
    return whatif.projection_by(sums, by=[], propensities=FITTED).collect().row(0, named=True)


CHANGES = ("mql_change", "rate_change", "sqls_change", "wins_change", "added", "removed", "lost_accepted", "lost_wins")


def test_the_live_rule_reproduces_what_happened():
    t = total(LIVE)
    assert (t["projected_mqls"], t["baseline_mqls"], t["actual_mqls"], t["added"], t["removed"]) == (4, 4, 4, 0, 0)
    assert t["projected_rate"] == t["baseline_rate"] == t["actual_rate"] == pytest.approx(3 / 4)
    assert (t["projected_sqls"], t["projected_wins"]) == (t["actual_sqls"], t["actual_wins"]) == (1, 1)
    assert t["estimated_share"] == 0 and t["accepted_half_width"] == 0
    assert all(t[c] == 0 for c in CHANGES) and t["replay_mql_difference"] == 0


@pytest.mark.parametrize("live", [rule(55), rule(25), rule(101)])
def test_the_live_rule_as_the_proposal_changes_nothing_even_where_history_differs(live):
    """Leads were judged at 40 when they arrived; the rule live today differs. Untouched controls (the proposal
    equal to today's rule) change no figure; the replay's difference from what happened is a figure of its own."""
    t = total(live, baseline=live)
    assert all(t[c] == 0 for c in CHANGES), {c: t[c] for c in CHANGES}
    for figure in ("mqls", "accepted", "decided", "rate", "sqls", "wins", "rate_low", "rate_high"):
        assert t[f"projected_{figure}"] == t[f"baseline_{figure}"], figure
    assert t["replay_mql_difference"] == t["baseline_mqls"] - t["actual_mqls"] != 0


def test_a_change_is_measured_against_todays_rule_not_against_what_happened():
    # today's rule is 55: L3 (45) is out of its replay; a proposal at 40 brings it back, observed (it was an MQL)
    t = total(LIVE, baseline=rule(55))
    assert (t["baseline_mqls"], t["projected_mqls"], t["mql_change"], t["added"], t["removed"]) == (3, 4, 1, 1, 0)
    assert t["projected_estimated"] == 0  # L3 was an MQL: what happened to it is known
    assert t["projected_accepted"] - t["baseline_accepted"] == 1  # L3 was accepted


def test_a_higher_threshold_removes_an_accepted_lead_and_adds_nothing():
    t = total(rule(50))
    # L3 (45) drops out; L6 (50) qualified under the live rule already, so it is not "added"; L5 stays (spot check)
    assert (t["projected_mqls"], t["removed"], t["added"], t["lost_accepted"], t["lost_wins"]) == (3, 1, 0, 1, 0)
    assert t["projected_rate"] == pytest.approx(2 / 3)


def test_a_lower_threshold_adds_an_estimated_lead():
    t = total(rule(25))
    # L4 (30) is added with p_accept 0.5, p_sql 0.2, p_win 0.1
    assert (t["projected_mqls"], t["added"], t["removed"]) == (5, 1, 0)
    assert t["projected_accepted"] == pytest.approx(3.5)
    assert t["projected_rate"] == pytest.approx(3.5 / 5)
    assert t["projected_sqls"] == pytest.approx(1.2)
    assert t["projected_wins"] == pytest.approx(1.1)
    assert t["estimated_share"] == pytest.approx(1 / 5)
    # the half-width: the lead's own chance, p(1-p), and the models' uncertainty, g' cov g per step, where
    # g = d p / d beta = p (1 - q_step) x with x = (1, 0.30) and q_step the step's own chance (0.5, 0.4, 0.5)
    x = np.array([1.0, 0.30])

    def uncertainty(p: float, steps: dict[str, float]) -> float:
        return sum(
            (p * (1 - q) * x) @ np.array(FITTED.fitted[s].covariance) @ (p * (1 - q) * x) for s, q in steps.items()
        )

    accept_var = 0.5 * 0.5 + uncertainty(0.5, {"accept": 0.5})
    sqls_var = 0.2 * 0.8 + uncertainty(0.2, {"accept": 0.5, "sql": 0.4})
    wins_var = 0.1 * 0.9 + uncertainty(0.1, {"accept": 0.5, "sql": 0.4, "win": 0.5})
    assert t["accepted_half_width"] == pytest.approx(Z_95 * accept_var**0.5)
    assert t["sqls_half_width"] == pytest.approx(Z_95 * sqls_var**0.5)
    assert t["wins_half_width"] == pytest.approx(Z_95 * wins_var**0.5)
    assert t["projected_rate_low"] < t["projected_rate"] < t["projected_rate_high"]


@pytest.mark.parametrize(
    ("threshold", "projected", "lost_accepted", "lost_wins", "added"),
    [
        (101, 1, 2, 1, 0),  # above every score: only the spot-checked lead is left
        (0, 5, 0, 0, 1),  # below every score: every lead the live rule did not qualify is added
    ],
)
def test_thresholds_beyond_every_score(threshold, projected, lost_accepted, lost_wins, added):
    t = total(rule(threshold))
    assert (t["projected_mqls"], t["lost_accepted"], t["lost_wins"], t["added"]) == (
        projected,
        lost_accepted,
        lost_wins,
        added,
    )


def test_a_gate_removes_the_leads_that_fail_it():
    t = total(ScoringRule(**{**rule(40).__dict__, "gate_known_company": True}))
    assert t["removed"] == 1 and t["lost_accepted"] == 1  # L3 has no company


@pytest.mark.parametrize("threshold", [0, 25, 40, 50, 100])
def test_the_sweep_agrees_with_the_projection_at_every_threshold(threshold):
    sweep = whatif.threshold_sweep(
        whatif.project(HISTORY, rule(threshold), baseline=LIVE), rule=rule(threshold)
    ).collect()
    point = sweep.filter(pl.col("threshold") == threshold).row(0, named=True)
    t = total(rule(threshold))
    assert point["mqls"] == t["projected_mqls"]
    assert point["acceptance_rate"] == pytest.approx(t["projected_rate"])
    assert point["wins"] == pytest.approx(t["projected_wins"])


def test_figures_per_group_sorted_by_the_size_of_the_change():
    sums = whatif.contribution_sums(
        whatif.project(HISTORY, rule(50), baseline=LIVE), by=["week", "campaign", "channel_label"], propensities=FITTED
    )
    by_campaign = whatif.projection_by(sums, by=["campaign"], propensities=FITTED).collect()
    assert by_campaign.select("campaign", "baseline_mqls", "projected_mqls").rows() == [("B", 1, 0), ("A", 3, 3)]


def test_tier_load_per_week_against_capacity():
    sums = whatif.contribution_sums(whatif.project(HISTORY, rule(25), baseline=LIVE), by=["week"], propensities=FITTED)
    load = whatif.tier_load(sums, junior_capacity=10, senior_capacity=2).collect()
    assert load.select("week", "junior_baseline", "junior_projected").rows() == [
        (date(2026, 3, 2), 2, 2),
        (date(2026, 3, 9), 2, 3),
    ]
    assert load["senior_projected"].to_list() == pytest.approx([1.0, 0.2])
    assert load["junior_capacity"].to_list() == [10, 10]


def test_precision_and_recall_of_the_gate():
    quality = whatif.gate_quality(whatif.project(HISTORY, rule(50), baseline=LIVE)).collect()
    live, proposal = quality.rows(named=True)
    # decided: L1, L2, L3, L5; accepted: L1, L3, L5. Live passes L1-L3; the proposal L1 and L2.
    assert (live["precision"], live["recall"]) == pytest.approx((2 / 3, 2 / 3))
    assert (proposal["precision"], proposal["recall"]) == pytest.approx((1 / 2, 1 / 3))


def test_lists_of_what_it_costs_and_adds():
    lost = whatif.removed_wins_and_acceptances(whatif.project(HISTORY, rule(101), baseline=LIVE)).collect()
    assert lost["external_id"].to_list() == ["L1", "L3"]  # the win first
    added = whatif.added_leads(whatif.project(HISTORY, rule(0), baseline=LIVE)).collect()
    assert added["external_id"].to_list() == ["L4"]


def test_score_distribution_of_decided_leads():
    distribution = whatif.score_distribution(whatif.project(HISTORY, LIVE, baseline=LIVE), width=50).collect()
    # decided: L1 (80, accepted), L2 (60, rejected), L3 (45, accepted), L5 (20, accepted)
    assert distribution.select("score_band", "decision", "leads").rows() == [
        (0, "accepted", 2),
        (50, "accepted", 1),
        (50, "rejected", 1),
    ]


def test_an_empty_history_gives_zeros_not_errors():
    empty = HISTORY.filter(pl.lit(False))
    sums = whatif.contribution_sums(whatif.project(empty, LIVE, baseline=LIVE), by=[], propensities=FITTED)
    t = whatif.projection_by(sums, by=[], propensities=FITTED)
    row = t.collect().row(0, named=True)
    assert row["projected_mqls"] == 0 and row["projected_rate"] is None and row["estimated_share"] == 0


def test_the_live_rule_of_each_lead_follows_the_model_history():
    models = (
        whatif.LiveRule(1, rule(40), datetime(2026, 1, 1), datetime(2026, 3, 10)),
        whatif.LiveRule(2, rule(55), datetime(2026, 3, 10), None),
    )
    live = HISTORY.select(whatif.live_qualifies_expr(models).alias("q")).collect()["q"].to_list()
    # L1-L3 (created before 10 March) judged at 40: 80, 60, 45 pass; from 10 March at 55: 30, 20, 50 fail
    assert live == [True, True, True, False, False, False]


def test_the_first_rows_of_a_list_are_the_first_of_the_whole_sorted_list():
    everything = whatif.added_leads(whatif.project(HISTORY, rule(0), baseline=LIVE)).collect()
    first = whatif.added_leads(whatif.project(HISTORY, rule(0), baseline=LIVE), limit=1).collect()
    assert first.rows() == everything.head(1).rows()

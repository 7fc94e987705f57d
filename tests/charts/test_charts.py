"""Chart builders: trace types, titles, axis labels, and the empty case."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from dashboard.charts import charts
from queries import funnel

FUNNEL = funnel.funnel_conversion(
    funnel.STAGE_ORDER.lazy().with_columns(pl.Series("count", [1000, 400, 200, 120, 60, 20], dtype=pl.Int64))
).collect()
WEEKLY = (
    pl.DataFrame({"week": [date(2026, 3, 2), date(2026, 3, 9)]})
    .join(funnel.STAGE_ORDER, how="cross")
    .with_columns(pl.lit(5, dtype=pl.Int64).alias("count"))
)
RATES = pl.DataFrame(
    {
        "campaign": ["A", "B"],
        "channel_label": ["Email", "Connected TV (CTV)"],
        "accepted": [30, 2],
        "rejected": [10, 3],
        "pending": [1, 0],
        "decided": [40, 5],
        "rate": [0.75, 0.4],
        "rate_low": [0.6, 0.1],
        "rate_high": [0.86, 0.8],
        "small_sample": [False, True],
    }
)


def test_funnel_chart_labels_both_conversions():
    fig = charts.funnel_chart(FUNNEL, title="Funnel")
    assert [t.type for t in fig.data] == ["funnel"]
    assert fig.layout.title.text == "Funnel"
    notes = [a.text for a in fig.layout.annotations]
    assert len(notes) == 6
    assert "40.0% of previous · 40.0% of first" in notes[1]
    assert "50.0% of previous · 20.0% of first" in notes[2]


def test_weekly_trend_has_a_panel_per_stage_and_marks_immature_weeks():
    fig = charts.weekly_trend_chart(WEEKLY, title="Trend", immature_from=date(2026, 3, 9))
    assert [t.type for t in fig.data] == ["scatter"] * 6
    assert {a.text for a in fig.layout.annotations} >= {"Inquiries", "Won", "Shaded: recent cohorts, still settling"}
    assert len(fig.layout.shapes) == 6  # one shaded band per panel
    plain = charts.weekly_trend_chart(WEEKLY, title="Trend")
    assert len(plain.layout.shapes) == 0


@pytest.mark.parametrize(
    "build",
    [
        lambda: charts.funnel_chart(FUNNEL.clear(), title="Funnel"),
        lambda: charts.weekly_trend_chart(WEEKLY.clear(), title="Trend"),
        lambda: charts.acceptance_bars(RATES.clear(), label="campaign", title="By campaign"),
        lambda: charts.acceptance_heatmap(RATES.clear(), title="Matrix"),
    ],
)
def test_empty_frames_give_a_message_not_empty_axes(build):
    fig = build()
    assert len(fig.data) == 0
    assert fig.layout.annotations[0].text.startswith("No ")


def test_acceptance_bars_show_counts_and_mark_small_samples():
    fig = charts.acceptance_bars(RATES, label="campaign", title="By campaign")
    bar = fig.data[0]
    assert bar.type == "bar" and bar.orientation == "h"
    assert any("30/40" in label for label in bar.y)
    assert any("small sample" in label for label in bar.y)
    assert fig.layout.xaxis.title.text.startswith("Acceptance rate")
    assert list(fig.layout.xaxis.range) == [0, 1]


def test_acceptance_heatmap_separates_small_samples():
    fig = charts.acceptance_heatmap(RATES, title="Matrix")
    solid, small = fig.data
    assert solid.type == small.type == "heatmap"
    flat_solid = [v for row in solid.z for v in row if v is not None]
    flat_small = [v for row in small.z for v in row if v is not None]
    assert flat_solid == [0.75] and flat_small == [0.4]


def whatif_view():
    from queries import whatif
    from tests.queries.test_whatif import ERRORS, HISTORY, rule

    projected = whatif.project(HISTORY, rule(25))
    sums = whatif.contribution_sums(projected, by=["week"])
    return (
        whatif.projection_by(sums, by=["week"], errors=ERRORS).sort("week").collect(),
        whatif.tier_load(sums, junior_capacity=3, senior_capacity=1).collect(),
        whatif.threshold_sweep(projected, rule=rule(25)).collect(),
        whatif.score_distribution(projected).collect(),
    )


def test_whatif_weekly_chart_splits_observed_and_estimated():
    weekly, *_ = whatif_view()
    fig = charts.whatif_weekly_chart(weekly, title="MQLs per week")
    assert [t.name for t in fig.data] == [
        "Actual MQLs",
        "Projected: already MQLs (observed)",
        "Projected: added (estimated)",
    ]
    assert list(fig.data[2].y) == [0, 1] and list(fig.data[2].base) == [2, 2]  # stacked on the observed part
    assert fig.layout.yaxis.title.text == "MQLs"


def test_tier_load_chart_draws_the_capacity():
    _, load, *_ = whatif_view()
    fig = charts.tier_load_chart(load, tier="junior", title="Juniors")
    assert [t.name for t in fig.data] == ["Actual", "Projected", "Weekly capacity"]
    assert list(fig.data[2].y) == [3, 3]


def test_tradeoff_chart_marks_both_thresholds_and_hides_rates_of_tiny_samples():
    _, _, sweep, _ = whatif_view()
    fig = charts.tradeoff_chart(sweep, title="Trade-off", current=40, proposed=25)
    assert [s.x0 for s in fig.layout.shapes] == [40, 25]
    assert all(y is None for y in fig.data[0].y)  # six leads: no threshold has 30 decisions
    assert fig.layout.yaxis3.overlaying == "y2" and fig.layout.xaxis.range == (0, 100)
    assert "live 40" in fig.layout.title.text and "proposed 25" in fig.layout.title.text


def test_score_distribution_stacks_accepted_and_rejected():
    *_, distribution = whatif_view()
    fig = charts.score_distribution_chart(distribution, title="Scores", threshold=25)
    assert [t.name for t in fig.data] == ["Accepted", "Rejected"] and fig.layout.barmode == "stack"


@pytest.mark.parametrize(
    "build",
    [
        lambda f: charts.whatif_weekly_chart(f, title="t"),
        lambda f: charts.tier_load_chart(f, tier="junior", title="t"),
        lambda f: charts.score_distribution_chart(f, title="t", threshold=40),
    ],
)
def test_whatif_charts_say_why_they_are_empty(build):
    fig = build(pl.DataFrame())
    assert fig.layout.annotations and not fig.data

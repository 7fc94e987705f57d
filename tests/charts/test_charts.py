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
    from tests.queries.test_whatif import FITTED, HISTORY, LIVE, rule

    projected = whatif.project(HISTORY, rule(25), baseline=LIVE)
    sums = whatif.contribution_sums(projected, by=["week"], propensities=FITTED)
    return (
        whatif.projection_by(sums, by=["week"], propensities=FITTED).sort("week").collect(),
        whatif.tier_load(sums, junior_capacity=3, senior_capacity=1).collect(),
        whatif.threshold_sweep(projected, rule=rule(25)).collect(),
        whatif.score_distribution(projected).collect(),
    )


def test_whatif_weekly_chart_splits_observed_and_estimated():
    weekly, *_ = whatif_view()
    fig = charts.whatif_weekly_chart(weekly, title="MQLs per week")
    assert [t.name for t in fig.data] == [
        "Live rule, replayed",
        "Proposal: observed",
        "Proposal: estimated",
        "What happened",
    ]
    assert list(fig.data[2].y) == [0, 1] and list(fig.data[2].base) == [2, 2]  # stacked on the observed part
    assert list(fig.data[3].y) == [2, 2]  # what actually happened: its own line, not a bar to compare against
    assert fig.layout.yaxis.title.text == "MQLs"


def test_tier_load_chart_draws_the_capacity():
    _, load, *_ = whatif_view()
    fig = charts.tier_load_chart(load, tier="junior", title="Juniors")
    assert [t.name for t in fig.data] == ["Live rule", "Proposal", "Weekly capacity"]
    assert list(fig.data[2].y) == [3, 3]


def test_tier_load_chart_draws_no_capacity_for_a_tier_without_reps():
    _, load, *_ = whatif_view()
    fig = charts.tier_load_chart(load.with_columns(senior_capacity=0), tier="senior", title="Seniors")
    assert [t.name for t in fig.data] == ["Live rule", "Proposal"]
    assert "no active reps of this tier" in fig.layout.title.text


def test_whatif_charts_reach_the_top_of_a_crm_score():
    _, _, sweep, distribution = whatif_view()
    assert charts.tradeoff_chart(sweep, title="T", current=40, proposed=25, top=120).layout.xaxis.range == (0, 120)
    fig = charts.score_distribution_chart(distribution, title="D", threshold=25, top=120)
    assert fig.layout.xaxis.range == (0, 120) and "0-120" in fig.layout.xaxis.title.text


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


def test_partial_weeks_are_drawn_apart_and_said():
    from datetime import date

    weeks = [date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23), date(2026, 11, 30)]
    # the period starts on a Wednesday and ends on a Wednesday: the first and the last weeks are partial
    period = charts.complete_period(date(2026, 11, 4), date(2026, 12, 2), today=date(2026, 12, 3))
    assert charts.partial_weeks(weeks, period) == [True, False, False, False, True]
    frame = pl.DataFrame(
        {"week": weeks, "reason_kind": ["clerical"] * 5, "count": [3, 9, 8, 10, 2], "change": [None] * 5}
    )
    fig = charts.weekly_kind_chart(frame, title="Rejections", period=period)
    solid, dashed = (t for t in fig.data if t.name.startswith("Clerical"))
    assert list(solid.y) == [None, 9, 8, 10, None]  # the complete weeks, solid
    assert list(dashed.y) == [3, 9, None, 10, 2] and dashed.line.dash == "dash"  # each partial week joined dashed
    assert list(dashed.marker.size) == [9, 0, 0, 0, 9] and dashed.marker.symbol == "circle-open"
    assert any("partial weeks" in a.text for a in fig.layout.annotations)
    # a period of whole weeks draws one solid line and says nothing
    whole = charts.weekly_kind_chart(frame, title="R", period=(date(2026, 11, 2), date(2026, 12, 6)))
    assert [t.name for t in whole.data if t.name.startswith("Clerical")] == ["Clerical"]
    assert not any("partial" in a.text for a in whole.layout.annotations)


def test_the_review_trend_marks_a_week_not_over():
    from dashboard.charts import review_charts

    trend = pl.DataFrame(
        {"week": ["2026-W47", "2026-W48", "2026-W49"], "mqls": [40, 42, 12], "rate": [0.5, 0.6, 0.4],
         "accepted": [20, 25, 4], "decided": [40, 42, 10]}
    )  # fmt: skip
    fig = review_charts.trend_chart(trend, week="2026-W49", title="Trend", partial=("2026-W49",))
    assert list(fig.data[0].marker.pattern.shape) == ["", "", "/"]
    assert "not over yet" in fig.layout.title.text and list(fig.data[1].y) == [0.5, 0.6, None]


def test_over_capacity_stands_out_in_colour_and_words():
    from dashboard.charts import review_charts

    load = pl.DataFrame(
        {"tier_label": ["Junior (SDR/BDR)", "Senior (AE)"], "utilisation": [0.67, 2.4], "leads": [476, 360],
         "utilisation_before": [0.62, 2.57], "leads_before": [446, 385], "capacity": [715, 150]}
    )  # fmt: skip
    fig = review_charts.load_chart(load, title="Load")
    this_week = next(t for t in fig.data if t.name == "This week")
    assert this_week.marker.color[1] == review_charts.LATE_COLOR != this_week.marker.color[0]
    assert "Over capacity this week: Senior (AE)" in fig.layout.title.text and "Junior" not in fig.layout.title.text
    assert fig.layout.xaxis.range[1] >= 2.57 * 1.8  # the longest label fits beside the longest bar


def test_spans_above_48_hours_read_in_days():
    from dashboard.ui.components import duration, waited

    assert [duration(h) for h in (None, 3.04, 48.0, 54.8, 1852.1)] == ["–", "3.0 h", "48.0 h", "2.3 days", "77.2 days"]
    shown = waited(pl.DataFrame({"hours_waiting": [3.04, 1852.1]}))["hours_waiting"].to_list()
    assert shown == ["3.0 h", "77.2 days"]


def test_acceptance_heatmap_scale_spans_the_rates_shown_with_counts_in_the_cells():
    rates = pl.concat(
        [
            RATES,
            pl.DataFrame(
                {"campaign": ["C"], "channel_label": ["Email"], "accepted": [50], "rejected": [30], "pending": [0],
                 "decided": [80], "rate": [0.625], "rate_low": [0.5], "rate_high": [0.73], "small_sample": [False]}
            ),
        ],
        how="vertical_relaxed",
    )  # fmt: skip
    solid, _ = charts.acceptance_heatmap(rates, title="Matrix").data
    assert (solid.zmin, solid.zmax) == (0.625, 0.75)  # the solid rates, not 0-100%
    cells = [t for row in solid.text for t in row if t]
    assert "75%<br>30/40" in cells and "62%<br>50/80" in cells

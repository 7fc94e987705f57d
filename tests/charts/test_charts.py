"""Chart builders: trace types, titles, axis labels, and the empty case."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from dashboard.charts import charts
from dashboard.domain import REJECTION_REASONS
from queries import funnel, rejection

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
    # the seniors' SQLs include estimated ones (≈); the juniors' MQLs above are counted
    assert [t.name for t in fig.data] == ["≈ Live rule", "≈ Proposal"]
    assert "no active reps of this tier" in fig.layout.title.text


def test_tier_load_chart_marks_the_weeks_over_capacity_in_colour_and_words():
    weeks = [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16), date(2026, 3, 23)]
    projected, capacity = [8, 12, 10, 15], 10
    load = pl.DataFrame(
        {"week": weeks, "senior_baseline": [9, 9, 9, 9], "senior_projected": projected, "senior_capacity": capacity}
    )
    fig = charts.tier_load_chart(load, tier="senior", title="Seniors")
    over = [(w, p) for w, p in zip(weeks, projected, strict=True) if p > capacity]  # 10 is at capacity, not over
    marked = next(t for t in fig.data if t.name == "Over capacity")
    assert list(zip(marked.x, marked.y, strict=True)) == over
    assert marked.marker.color == charts.LOW_RATE_COLOR
    worst = max(p for _, p in over) / capacity
    words = charts.over_capacity_words(load, tier="senior", who="Senior reps")
    assert f"over their weekly capacity in {len(over)} of {len(weeks)} weeks (up to {worst:.0%}" in words
    roomy = load.with_columns(senior_capacity=20)
    assert "Over capacity" not in [t.name for t in charts.tier_load_chart(roomy, tier="senior", title="S").data]
    assert "within their weekly capacity every week" in charts.over_capacity_words(roomy, tier="senior", who="S")


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


# Weekly acceptance of eight channels over three weeks: (accepted, decided) per week, hand-picked so that the volumes
# differ, two channels tie on volume, and the two largest end on the same rate (their end labels must not overlap).
WEEKS = [date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23)]
CHANNEL_WEEKS = {
    "Email": [(30, 50), (20, 40), (30, 60)],  # 150 decided, ends at 50%
    "Paid search": [(10, 40), (25, 50), (25, 50)],  # 140, ends at 50%
    "Webinar": [(8, 20), (9, 20), (12, 20)],  # 60
    "Events": [(5, 10), (7, 10), (6, 10)],  # 30
    "Direct": [(4, 10), (5, 10), (3, 10)],  # 30: ties with Events, after it by name
    "Partner / referral": [(3, 9), (2, 9), (4, 9)],  # 27
    "Connected TV (CTV)": [(1, 5), (2, 5), (1, 5)],  # 15
    "OTT streaming": [(0, 2), (1, 2), (2, 2)],  # 6
}


def weekly_rates(channels: dict[str, list[tuple[int, int]]], weeks: list[date] = WEEKS) -> pl.DataFrame:
    rows = [
        {"week": week, "channel_label": name, "accepted": a, "decided": d, "rate": a / d}
        for name, counts in channels.items()
        for week, (a, d) in zip(weeks, counts, strict=True)
    ]
    return pl.DataFrame(rows)


def volume_order(channels: dict[str, list[tuple[int, int]]]) -> list[str]:
    """The channels by total decided, largest first, ties by name: worked out apart from the chart's code."""
    totals = {name: sum(d for _, d in counts) for name, counts in channels.items()}
    return sorted(totals, key=lambda name: (-totals[name], name))


def solid_lines(fig) -> dict[str, object]:
    """The traces that draw a group's complete weeks: neither a previous period nor a partial week."""
    return {t.name: t for t in fig.data if not t.name.endswith(("(previous period)", "(partial week)"))}


def test_top_by_volume_ranks_groups_by_their_total_and_breaks_ties_by_name():
    frame = weekly_rates(CHANNEL_WEEKS)
    expected = volume_order(CHANNEL_WEEKS)
    assert charts.top_by_volume(frame, label="channel_label", volume="decided", n=5) == expected[:5]
    assert expected[3:5] == ["Direct", "Events"]  # the tie, broken by name
    assert charts.top_by_volume(frame, label="channel_label", volume="decided", n=20) == expected
    none_decided = frame.with_columns(pl.lit(0).alias("decided"))
    assert charts.top_by_volume(none_decided, label="channel_label", volume="decided", n=5) == []


def test_weekly_acceptance_colours_the_largest_channels_and_still_draws_every_other():
    current = weekly_rates(CHANNEL_WEEKS)
    fig = charts.weekly_acceptance_chart(current, current, title="Weekly acceptance")
    top = volume_order(CHANNEL_WEEKS)[:5]
    lines = solid_lines(fig)
    assert set(lines) == set(CHANNEL_WEEKS)  # every channel is drawn
    coloured = [name for name, t in lines.items() if t.line.color != charts.OTHERS_COLOR]
    assert sorted(coloured) == sorted(top)
    assert len({lines[name].line.color for name in top}) == 5  # five colours, one each
    for name in set(CHANNEL_WEEKS) - set(top):
        assert lines[name].line.color == charts.OTHERS_COLOR and lines[name].line.width < lines[top[0]].line.width
    # the legend is replaced by names at the lines' ends: the five, then the others together
    assert not any(t.showlegend for t in fig.data)
    ends = [a for a in fig.layout.annotations if a.xref == "paper" and a.x > 1]
    assert [a.text for a in ends] == [*top, "3 other channels"]
    # the previous period is dotted for the coloured channels only
    previous = [t.name.removesuffix(" (previous period)") for t in fig.data if t.name.endswith("(previous period)")]
    assert sorted(previous) == sorted(top)
    assert "the 5 channels with the most decided MQLs" in " ".join(a.text for a in fig.layout.annotations)


def test_weekly_acceptance_hover_gives_each_rate_its_counts():
    current = weekly_rates(CHANNEL_WEEKS)
    fig = charts.weekly_acceptance_chart(current, current.clear(), title="Weekly acceptance")
    for name, counts in CHANNEL_WEEKS.items():
        line = solid_lines(fig)[name]
        assert [tuple(c) for c in line.customdata] == counts
        assert list(line.y) == pytest.approx([a / d for a, d in counts])
        assert name in line.hovertemplate and "%{customdata[0]:,} of %{customdata[1]:,} decided" in line.hovertemplate


def test_end_labels_of_lines_ending_together_are_pushed_apart():
    current = weekly_rates(CHANNEL_WEEKS)
    fig = charts.weekly_acceptance_chart(current, current.clear(), title="Weekly acceptance")
    ends = {a.text: a.y for a in fig.layout.annotations if a.xref == "paper" and a.x > 1}
    assert CHANNEL_WEEKS["Email"][-1][0] / CHANNEL_WEEKS["Email"][-1][1] == 0.5 == 25 / 50  # both end at 50%
    plot_px = fig.layout.height - 150
    gaps = sorted(ends.values())
    assert all((b - a) * plot_px >= charts.END_LABEL_PX - 1e-9 for a, b in zip(gaps, gaps[1:], strict=False))
    assert all(0 <= y <= 1 for y in ends.values())
    assert fig.layout.margin.r >= 7 * len("Partner / referral")  # the longest name fits right of the plot


def test_weekly_acceptance_of_few_channels_colours_them_all_and_keeps_partial_weeks_apart():
    few = {name: CHANNEL_WEEKS[name] for name in ("Email", "Webinar", "Direct")}
    period = (WEEKS[0], WEEKS[-1] + timedelta(days=2))  # the last week is not over
    fig = charts.weekly_acceptance_chart(weekly_rates(few), weekly_rates(few).clear(), title="W", period=period)
    lines = solid_lines(fig)
    assert set(lines) == set(few) and charts.OTHERS_COLOR not in {t.line.color for t in lines.values()}
    ends = [a.text for a in fig.layout.annotations if a.xref == "paper" and a.x > 1]
    assert ends == volume_order(few)  # no "other channels" label
    partial = {t.name for t in fig.data if t.name.endswith("(partial week)")}
    assert partial == {f"{name} (partial week)" for name in few}
    for name in few:
        assert list(lines[name].y)[-1] is None  # the partial week is not drawn solid
    notes = " ".join(a.text for a in fig.layout.annotations)
    assert "partial weeks" in notes and "grey" not in notes


def test_weekly_compliance_names_each_worst_rep_in_its_own_colour():
    reps = {"Ann": [0.9, 0.95, 0.92], "Bo": [0.4, 0.5, 0.45], "Cy": [0.99, 0.97, 0.98], "Di": [0.7, 0.8, 0.75]}
    frame = pl.DataFrame(
        [
            {"week": w, "decided_by_name": name, "sla_compliance": v, "decisions": 20}
            for name, values in reps.items()
            for w, v in zip(WEEKS, values, strict=True)
        ]
    )
    fig = charts.weekly_compliance_chart(frame, title="SLA", highlight=["Bo", "Di"])
    lines = solid_lines(fig)
    assert set(lines) == set(reps)
    assert lines["Bo"].line.color != lines["Di"].line.color  # two worst reps: told apart without a legend
    assert lines["Ann"].line.color == lines["Cy"].line.color == charts.OTHERS_COLOR
    assert [a.text for a in fig.layout.annotations if a.xref == "paper" and a.x > 1] == ["Bo", "Di", "2 other reps"]


def rejected_outcomes(counts: dict[str, int]) -> pl.LazyFrame:
    """Rejected MQLs, counts[reason] of each, and as many accepted ones."""
    rows = [{"outcome": "rejected", "reason": reason} for reason, n in counts.items() for _ in range(n)]
    rows += [{"outcome": "accepted", "reason": None}] * sum(counts.values())
    return pl.LazyFrame(rows, schema={"outcome": pl.String, "reason": pl.String})


@pytest.mark.parametrize(
    "counts",
    [
        {"duplicate": 12, "bad_contact": 30, "not_target_market": 7, "low_activity": 30, "wrong_territory": 1},
        {"not_target_market": 50},  # a real export that maps one reason
        {r.key: 10 + i for i, r in enumerate(REJECTION_REASONS)},  # every reason of the taxonomy
    ],
)
def test_pareto_lists_the_given_reasons_in_plain_words_largest_on_top(counts):
    fig = charts.pareto_chart(rejection.rejection_pareto(rejected_outcomes(counts)).collect(), title="Pareto")
    labels = {r.key: r.label for r in REJECTION_REASONS}
    ranked = sorted(counts, key=lambda key: (-counts[key], key))
    bars, line = fig.data[0], fig.data[1]
    assert bars.orientation == "h" and list(bars.y) == [labels[key] for key in ranked]
    assert not set(bars.y) & set(labels)  # never the internal code
    total = sum(counts.values())
    assert list(bars.x) == [counts[key] for key in ranked]
    assert list(bars.text) == [f"{counts[key]:,} ({counts[key] / total:.0%})" for key in ranked]
    running = [sum(counts[k] for k in ranked[: i + 1]) / total for i in range(len(ranked))]
    assert list(line.y) == list(bars.y) and list(line.x) == pytest.approx(running)
    assert list(line.text) == [f"{share:.0%}" for share in running]
    # readable: the first reason on top, names given the room they need, a row's height each
    assert fig.layout.yaxis.autorange == "reversed" and fig.layout.yaxis.automargin
    assert fig.layout.height >= 34 * len(ranked) + 100
    left_out = len(REJECTION_REASONS) - len(counts)
    notes = [a.text for a in fig.layout.annotations if a.text.startswith("Left out")]
    assert notes == ([f"Left out: {left_out} reason{'s' if left_out > 1 else ''} no rejection of this period gives"]
                     if left_out else [])  # fmt: skip
    kinds = {r.key: r.kind.value.capitalize() for r in REJECTION_REASONS}
    assert {t.name for t in fig.data[2:]} == {kinds[key] for key in counts}  # a legend entry per kind drawn


def test_pareto_rows_grow_with_the_number_of_reasons():
    def height(counts: dict[str, int]) -> int:
        pareto = rejection.rejection_pareto(rejected_outcomes(counts)).collect()
        return charts.pareto_chart(pareto, title="P").layout.height

    keys = [r.key for r in REJECTION_REASONS]
    assert height(dict.fromkeys(keys, 5)) - height(dict.fromkeys(keys[:4], 5)) >= 30 * 3  # 30 px or more a row
    assert height({"duplicate": 3}) >= 240  # one reason still gets a readable chart


def test_acceptance_heatmap_of_dozens_of_campaigns_gives_each_a_readable_row():
    campaigns = [f"Campaign {i:02d} - a long landing page name" for i in range(48)]
    channels = ["Email", "Paid search", "Connected TV (CTV)"]
    rows = [
        {"campaign": c, "channel_label": channels[i % 3], "accepted": 10 + i, "rejected": 20, "pending": 0,
         "decided": 30 + i, "rate": (10 + i) / (30 + i), "rate_low": 0.1, "rate_high": 0.9, "small_sample": False}
        for i, c in enumerate(campaigns)
    ]  # fmt: skip
    fig = charts.acceptance_heatmap(pl.DataFrame(rows), title="Matrix")
    solid = fig.data[0]
    assert sorted(solid.y) == sorted(campaigns) and len(solid.y) == len(campaigns)
    assert fig.layout.height >= 30 * len(campaigns)  # a row per campaign, tall enough for the rate and its counts
    assert fig.layout.yaxis.automargin and fig.layout.xaxis.automargin  # names never cut
    assert fig.layout.title.automargin  # the title kept clear of the channels' names above the cells
    note = next(a for a in fig.layout.annotations if a.text.startswith("Colours span"))
    assert note.yanchor == "top" and note.y <= 0 and fig.layout.margin.b >= 30  # under the rows, inside the figure


def test_bars_leave_room_for_their_text():
    frame = pl.DataFrame({"rep": ["A", "B", "C"], "share": [1.95, 0.4, 0.01]})
    text = ["39 of 20 per week · over capacity (195%)", "8 of 20 per week", "a long note beside a tiny bar here"]
    fig = charts.hbar(frame, label="rep", value="share", title="t", x_title="x", text=text, reference=(1.0, "cap"))
    reach = fig.layout.xaxis.range[1]
    for value, label in zip(frame["share"], text, strict=True):
        # where the text ends, in shares of the plot: the bar, then its characters
        ends = value / reach + charts.CHAR_SHARE * len(label)
        assert ends <= 1 + charts.MARGIN_SHARE + 1e-9, (label, ends)
    assert reach < 3 * max(frame["share"])  # and not so far that the bars shrink to nothing


def test_the_weekly_trend_draws_a_panel_only_for_the_stages_it_is_given():
    stages = funnel.STAGE_ORDER["stage"].to_list()[:4]  # an export that records nothing beyond SQLs
    fig = charts.weekly_trend_chart(WEEKLY.filter(pl.col("stage").is_in(stages)), title="t")
    titles = [a.text for a in fig.layout.annotations if a.text in set(WEEKLY["stage_label"])]
    assert titles == WEEKLY.filter(pl.col("stage").is_in(stages))["stage_label"].unique(maintain_order=True).to_list()
    assert len(titles) == 4

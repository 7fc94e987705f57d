"""The weekly review's boundary: figures as people read them, noise notes, and the what-if's estimate per
scoring-model change."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from dashboard.data import review_data
from queries import review
from queries.review import IsoWeek
from tests.queries.test_review import MODEL_MQLS, MODELS

D = datetime
W = IsoWeek.parse


@pytest.mark.parametrize(
    ("value", "unit", "text", "change"),
    [
        (1234.0, "count", "1,234", "+1,234"),
        (96.5, "count", "96.5", "+96.5"),
        (-3.0, "count", "-3", "-3"),
        (0.4583, "rate", "45.8%", "+45.8 pp"),
        (-0.058, "rate", "-5.8%", "-5.8 pp"),
        (4.405, "hours", "4.4 h", "+4.4 h"),
        (None, "rate", "–", None),
    ],
)
def test_figures_read_with_their_unit(value, unit, text, change):
    assert review_data.figure_text(value, unit) == text
    assert review_data.change_text(value, unit) == change


@pytest.mark.parametrize(
    ("row", "note"),
    [
        ({"rate_within_noise": True, "decided": 10, "rate_change": 0.1, "rate": 0.8, "volume_within_noise": True,
          "mql_change": 0}, "acceptance change within noise (10 decided)"),
        ({"rate_within_noise": False, "decided": 3, "rate_change": -1.0, "rate": 0.0, "volume_within_noise": True,
          "mql_change": -1}, "small sample: 3 decided; volume change within noise"),
        ({"rate_within_noise": False, "decided": 40, "rate_change": -0.3, "rate": 0.3, "volume_within_noise": False,
          "mql_change": 30}, ""),
        ({"rate_within_noise": None, "decided": 0, "rate_change": None, "rate": None, "volume_within_noise": True,
          "mql_change": 2}, "volume change within noise; nothing decided this week"),
    ],
)  # fmt: skip
def test_the_noise_note(row, note):
    assert review_data._noise_note(row) == note


def test_each_change_gets_the_what_ifs_estimate_for_the_weeks_before_it():
    from types import SimpleNamespace

    rule = {"w_demographic": 0.15, "w_firmographic": 0.15, "w_behavioural": 0.55, "w_engagement": 0.15}
    rule |= {"mql_threshold": 40.0, "gate_known_company": False, "gate_budget": True, "gate_authority": False}
    rule |= {"gate_timeline_months": None, "author": "Marketing Ops", "note": "More weight on behaviour"}
    changes = review.model_changes(
        MODELS.with_columns(**{k: pl.lit(v) for k, v in rule.items()}), MODEL_MQLS, as_of=D(2026, 3, 9)
    ).collect()
    asked = []

    def project(filters, proposal):
        asked.append((filters.start, filters.end, proposal))
        total = {"projected_mqls": 40, "actual_mqls": 28, "projected_rate": 0.5, "actual_rate": 0.6}
        return SimpleNamespace(total=pl.DataFrame(total | {"estimated_share": 0.1}))

    result = review_data.with_projections(changes, project).sort("version")
    # v2: the four weeks before 2 Feb; v3: the two weeks since v2 began
    assert [(start, end) for start, end, _ in asked] == [
        (date(2026, 2, 2), date(2026, 2, 15)),
        (date(2026, 1, 5), date(2026, 2, 1)),
    ]
    assert all(p.mql_threshold == 40.0 and p.gate_budget and not p.gate_authority for *_, p in asked)
    assert result["projected_mqls_per_week"].to_list() == pytest.approx([40 / 4, 40 / 2])
    assert result["projected_actual_mqls_per_week"].to_list() == pytest.approx([28 / 4, 28 / 2])
    text = review_data.decisions_table(result).row(0, named=True)
    # +3 on 7 per week is +42.9%: one decimal, as the rates in the same table
    assert text["What-if projected for it (estimated)"] == "+3 MQLs per week, +42.9%; acceptance 50.0% (-10.0 pp)"
    assert text["MQLs per week, before → after"] == "0.5 → 1.5 (+1) (first 2 weeks)"
    assert text["By, and why"] == "Marketing Ops: More weight on behaviour"
    assert text["Took effect"] == "2026-W06"
    unprojected = review_data.with_projections(changes, None)
    assert unprojected["projected_mqls_per_week"].to_list() == [None, None]


def _shown(
    rate: float | None, sla: float, median: float, decided: int, accepted: int, pending: int
) -> review_data.Shown:
    """A hand-built top of the page: 40 MQLs, the rates and median given, the counts given."""
    values = {"mqls": 40.0, "acceptance_rate": rate, "sqls": 6.0, "wins": 1.0, "sla_compliance": sla,
              "median_hours": median}  # fmt: skip
    headline = pl.DataFrame(
        [{"figure": k, "this_week": v, "previous_week": None, "four_week_average": None, "change": None,
          "change_vs_average": None} for k, v in values.items()],
        schema={"figure": pl.String} | dict.fromkeys(review_data.SHOWN_COLUMNS, pl.Float64),
    )  # fmt: skip
    counts = {"decided": decided, "accepted": accepted, "rejected": decided - accepted, "pending": pending,
              "sla_breaches": 3}  # fmt: skip
    top = pl.DataFrame({"Campaign": ["CTV - Launch"], "Note": ["small sample: 3 decided"]})
    return review_data.Shown(headline, counts, {"Campaigns": (top, pl.DataFrame())}, ("No rejections are recorded.",))


def _snapshot(shown: review_data.Shown, sla_hours: float = 24.0) -> review_data.Snapshot:
    return review_data.Snapshot(W("2026-W48"), D(2026, 11, 30, 9, 5), "Maria", sla_hours, shown)


def test_the_kept_figures_read_back_as_they_were_written():
    shown = _shown(None, 0.9, 4.25, 30, 20, 10)
    back = review_data.Shown.from_json(shown.to_json())
    assert back.headline.equals(shown.headline) and back.counts == shown.counts and back.notes == shown.notes
    (top, _), (kept_top, kept_noise) = shown.movers["Campaigns"], back.movers["Campaigns"]
    assert kept_top.equals(top) and kept_noise.is_empty()


@pytest.mark.parametrize(
    ("then", "now", "sla_now", "sentence"),
    [
        # 20/30 accepted, then 2 more decisions (1 accepted): 21/32; 27/30 within the SLA, then 27/32. Changes are
        # between the figures as they read (66.7% → 65.6% is -1.1 pp, although 21/32 - 20/30 is -1.04 pp)
        ((2 / 3, 27 / 30, 4.25, 30, 20, 10), (21 / 32, 27 / 32, 4.25, 32, 21, 8), 24.0,
         "Since then: acceptance rate 66.7% → 65.6% (-1.1 pp), SLA compliance 90.0% → 84.4% (-5.6 pp), "
         "2 more decisions (+1 accepted, +1 rejected), pending 10 → 8 (-2)."),
        # a decision undone: one fewer, back to pending; the median moves by less than its last digit shown
        ((2 / 3, 0.9, 4.21, 30, 20, 10), (19 / 29, 0.9, 4.24, 29, 19, 11), 24.0,
         "Since then: acceptance rate 66.7% → 65.5% (-1.2 pp), 1 fewer decision (-1 accepted), pending 10 → 11 (+1)."),
        ((2 / 3, 0.9, 4.25, 30, 20, 10), (2 / 3, 0.8, 4.25, 30, 20, 10), 48.0,
         "Since then: SLA compliance 90.0% → 80.0% (-10.0 pp). The SLA was 24 hours then and is 48 hours now: the "
         "SLA figures differ partly for that reason."),
        ((2 / 3, 0.9, 4.25, 30, 20, 10), (2 / 3, 0.9, 4.25, 30, 20, 10), 24.0, None),
    ],
    ids=["two late decisions", "an undo", "another SLA", "nothing moved"],
)  # fmt: skip
def test_what_changed_since_the_week_was_closed_is_said_in_numbers(then, now, sla_now, sentence):
    assert review_data.since_closed(_snapshot(_shown(*then)), _shown(*now), sla_hours=sla_now) == sentence

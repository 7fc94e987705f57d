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

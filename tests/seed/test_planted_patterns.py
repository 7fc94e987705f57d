"""The patterns the seed plants are found by the product's own queries, on generated data."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from dashboard.data.data import acceptance_frames, handoff_frames, rejection_frames
from dashboard.filters import Filters
from queries.scoring import component_scores
from seed import reference as ref
from tests.conftest import DEMO_PLAN

PLAN = DEMO_PLAN


@pytest.fixture
def tables(demo_tables):
    return demo_tables


def weeks(lo: datetime, hi: datetime) -> Filters:
    return Filters(start=lo.date(), end=(hi - timedelta(days=1)).date())


def test_the_misrouted_campaign_tops_procedural_rejections_in_its_weeks(tables):
    view = rejection_frames(tables, weeks(*PLAN.misroute_weeks), search="")
    procedural = view.by_campaign.filter(pl.col("reason_kind") == "procedural").sort("count", descending=True)
    assert procedural["campaign"][0] == ref.MISROUTED_CAMPAIGN
    # and it is a spike: in the weeks before, the campaign is nowhere near the top
    before = rejection_frames(
        tables, weeks(PLAN.misroute_weeks[0] - timedelta(weeks=4), PLAN.misroute_weeks[0]), search=""
    ).by_campaign.filter((pl.col("reason_kind") == "procedural") & (pl.col("campaign") == ref.MISROUTED_CAMPAIGN))
    assert before["rate"].sum() < procedural["rate"][0] / 3


def test_the_ctv_campaign_has_low_acceptance_and_high_engagement(tables):
    view = acceptance_frames(tables, Filters(start=PLAN.start.date(), end=PLAN.now.date()), order="worst_first")
    solid = view.by_campaign.filter(~pl.col("small_sample"))
    assert solid["campaign"][0] == ref.LOW_FIT_CTV_CAMPAIGN
    scored = component_scores(tables.leads.lazy()).collect()
    ctv_id = tables.campaigns.filter(pl.col("name") == ref.LOW_FIT_CTV_CAMPAIGN)["id"][0]
    ctv = scored.filter(pl.col("campaign_id") == ctv_id)
    assert ctv["score_behavioural"].mean() > 1.3 * scored["score_behavioural"].mean()
    assert ctv["score_firmographic"].mean() < scored["score_firmographic"].mean()


def test_the_slow_rep_has_the_worst_sla_compliance_in_his_stretch(tables):
    view = handoff_frames(tables, weeks(*PLAN.slow_rep_weeks), sla_hours=24, now=PLAN.now)
    assert view.by_rep["decided_by_name"][0] == ref.SLOW_REP
    assert view.by_rep["sla_compliance"][0] < 0.5
    outside = handoff_frames(tables, weeks(PLAN.start, PLAN.slow_rep_weeks[0]), sla_hours=24, now=PLAN.now)
    assert outside.by_rep.filter(pl.col("decided_by_name") == ref.SLOW_REP)["sla_compliance"][0] > 0.8


def test_the_model_change_raised_mql_volume_and_lowered_acceptance(tables):
    change = PLAN.model_change
    before = acceptance_frames(tables, weeks(change - timedelta(weeks=6), change), order="worst_first").total
    after = acceptance_frames(tables, weeks(change, change + timedelta(weeks=6)), order="worst_first").total
    mqls = lambda t: t["decided"][0] + t["pending"][0]  # noqa: E731
    assert mqls(after) > 1.15 * mqls(before)
    assert after["rate"][0] < before["rate"][0] - 0.03

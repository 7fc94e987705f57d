"""The what-if on generated data: the live model reproduces history, and estimates stay within their intervals.

The generator knows each lead's true acceptance probability, so the estimate for the leads a proposal adds
can be checked against the truth rather than against a hard-coded answer.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from dashboard.data.data import whatif_base_frames, whatif_frames
from dashboard.filters import Filters
from queries import whatif
from seed import reference as ref
from seed.generator import MISROUTED_ACCEPTANCE, misrouted_leads, true_propensities
from tests.conftest import DEMO_PLAN

PLAN = DEMO_PLAN
WHOLE = Filters(start=PLAN.start.date(), end=PLAN.now.date())


@pytest.fixture(scope="module")
def seeded(demo_tables):
    return demo_tables, whatif_base_frames(demo_tables, now=PLAN.now, maturity_days=56)


FIGURES = ("projected_mqls", "projected_accepted", "projected_decided", "projected_sqls", "projected_wins")
ACTUAL = ("actual_mqls", "actual_accepted", "actual_decided", "actual_sqls", "actual_wins")


def test_each_version_replayed_over_its_own_weeks_reproduces_the_actual_figures(seeded):
    _, base = seeded
    assert [m.version for m in base.models] == [1, 2]
    for model in base.models:
        since = max(model.active_from, PLAN.start)
        until = model.active_to or PLAN.now + timedelta(days=1)
        period = Filters(start=since.date(), end=(until - timedelta(days=1)).date())
        view = whatif_frames(base, period, model.rule)
        for frame in (view.total, view.weekly, view.by_campaign):
            assert frame["added"].sum() == 0 and frame["removed"].sum() == 0
            for projected, actual in zip(FIGURES, ACTUAL, strict=True):
                assert frame[projected].to_list() == frame[actual].to_list(), (model.version, projected)
        total = view.total.row(0, named=True)
        assert total["actual_mqls"] > 500
        assert total["projected_rate"] == total["actual_rate"]


def true_acceptance(tables) -> pl.DataFrame:
    """Each lead's true chance of acceptance, as the generator drew it (misrouted leads far lower)."""
    truth = true_propensities(tables.leads)
    names = tables.leads.join(
        tables.campaigns.select(pl.col("id").alias("campaign_id"), pl.col("name").alias("campaign_name")),
        on="campaign_id",
        how="left",
    )
    misrouted = misrouted_leads(PLAN, names["campaign_name"].to_numpy(), names["created_at"].to_numpy())
    factor = np.where(misrouted, MISROUTED_ACCEPTANCE, 1.0)
    return pl.DataFrame({"lead_id": truth["id"], "p_true": truth["p_accept"].to_numpy() * factor})


PROPOSALS = {
    "lower threshold": replace(ref.MODEL_V2, mql_threshold=30),
    "much lower threshold": replace(ref.MODEL_V2, mql_threshold=22),
    "fit over behaviour": replace(ref.MODEL_V2, w_firmographic=0.45, w_behavioural=0.25, mql_threshold=35),
    "behaviour only": replace(
        ref.MODEL_V2, w_demographic=0.0, w_firmographic=0.0, w_behavioural=0.9, w_engagement=0.1, mql_threshold=30
    ),
}


@pytest.mark.parametrize("name", list(PROPOSALS))
def test_the_estimate_for_added_leads_stays_within_its_interval(seeded, name):
    tables, base = seeded
    proposal = PROPOSALS[name]
    history = whatif.in_period(base.frame.lazy(), start=WHOLE.start, end=WHOLE.end)
    added = (
        whatif.project(history, proposal).filter(pl.col("added")).collect().join(true_acceptance(tables), on="lead_id")
    )
    assert added.height > 200, "the proposal should add enough leads to test the estimate"
    total = whatif_frames(base, WHOLE, proposal).total.row(0, named=True)
    estimated = total["projected_accepted"] - total["kept_accepted"]
    truth = added["p_true"].sum()
    assert abs(estimated - truth) <= total["accepted_half_width"], (name, estimated, truth)
    # and the interval is a real one, not wide enough to hold anything
    assert total["accepted_half_width"] < 0.25 * truth

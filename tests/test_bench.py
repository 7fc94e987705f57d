"""The bench's yardstick: its plain polars headline must be the what-if's own, or timing one against the other
compares different work."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dashboard.bench import reference_headline
from dashboard.data.data import whatif_base_frames, whatif_total
from dashboard.filters import Filters
from tests.conftest import DEMO_PLAN


@pytest.fixture(scope="module")
def base(demo_tables):
    return whatif_base_frames(demo_tables, now=DEMO_PLAN.now, maturity_days=56)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"mql_threshold": 30}, id="a lower threshold"),
        pytest.param({"mql_threshold": 50}, id="a higher threshold"),
        pytest.param({"w_behavioural": 0.1, "w_firmographic": 0.5, "mql_threshold": 35}, id="other weights"),
        pytest.param({"gate_known_company": True, "mql_threshold": 33}, id="a gate"),
    ],
)
def test_the_reference_gives_the_what_ifs_headline_and_intervals(base, change):
    whole = Filters(start=DEMO_PLAN.start.date(), end=DEMO_PLAN.now.date())
    rule = replace(base.active.rule, **change)
    ours = whatif_total(base, whole, rule).row(0, named=True)
    theirs = reference_headline(base.frame, whole, rule, base.baseline, base.propensities)
    assert {"accepted_half_width", "wins_half_width_baseline", "projected_sqls"} <= theirs.keys()
    assert theirs["accepted_half_width"] > 0 and theirs["projected_mqls"] != theirs["baseline_mqls"]
    assert theirs == pytest.approx({name: ours[name] for name in theirs}, rel=1e-9)

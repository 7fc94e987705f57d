"""Closing a week's review on the demo data: the snapshot keeps the figures the page showed, a later decision moves
the live figures and not the snapshot, and what changed since is said in numbers. The week's counts are recounted
here by brute force from the raw rows, not by the queries under test."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dashboard.data import queue_data
from dashboard.data import review_data as rd
from dashboard.data.data import read_tables
from dashboard.models import Lead, SalesDecision, StageEvent
from dashboard.store import db
from queries.review import IsoWeek
from tests.conftest import DEMO_PLAN

WEEK = IsoWeek.last_complete(DEMO_PLAN.now.date())  # the week the review page opens on
SLA_HOURS = 24.0
CLOSED_AT = datetime(2026, 12, 1, 9, 30)


def review_of(url: str) -> rd.Review:
    return rd.review_frames(read_tables(url), WEEK, sla_hours=SLA_HOURS, now=CLOSED_AT)


def recount(url: str) -> dict[str, int]:
    """The week's hand-offs to sales and their outcome, one by one: a hand-off's decision is the latest one made
    between it and the lead's next hand-off."""
    events = db.read_table(StageEvent, url=url).filter(pl.col("stage") == "mql", pl.col("timed"))
    handoffs = defaultdict(list)
    for lead_id, at in events.select("lead_id", "occurred_at").rows():
        handoffs[lead_id].append(at)
    decisions = defaultdict(list)
    for lead_id, decision, at in (
        db.read_table(SalesDecision, url=url).select("lead_id", "decision", "decided_at").rows()
    ):
        decisions[lead_id].append((at, decision))
    counts = {"mqls": 0, "decided": 0, "accepted": 0}
    for lead_id, times in handoffs.items():
        times.sort()
        for i, at in enumerate(times):
            if not WEEK.start <= at < WEEK.end:
                continue
            until = times[i + 1] if i + 1 < len(times) else datetime.max
            made = sorted(d for d in decisions[lead_id] if at <= d[0] < until)
            counts["mqls"] += 1
            counts["decided"] += bool(made)
            counts["accepted"] += bool(made) and made[-1][1] == "accepted"
    return counts


def pending_of_the_week(url: str, n: int) -> list[dict]:
    """n leads waiting for a decision whose latest hand-off falls in the week, with their owner."""
    latest = (
        db.read_table(StageEvent, url=url)
        .filter(pl.col("stage") == "mql")
        .group_by("lead_id")
        .agg(pl.col("occurred_at").max().alias("mql_at"))
    )
    waiting = db.read_table(Lead, url=url).filter(pl.col("stage") == "mql", pl.col("owner_rep_id").is_not_null())
    chosen = (
        waiting.join(latest, left_on="id", right_on="lead_id")
        .filter(pl.col("mql_at").is_between(WEEK.start, WEEK.end, closed="left"))
        .sort("id")
        .head(n)
    )
    assert chosen.height == n, f"the demo data has fewer than {n} MQLs of {WEEK} still waiting"
    return chosen.select("id", "owner_rep_id", "mql_at").to_dicts()


def decide_late(url: str, lead: dict, decision: str) -> None:
    queue_data.decide_many(
        url=url,
        actor=None,
        lead_ids=[lead["id"]],
        rep_id=lead["owner_rep_id"],
        decision=decision,
        reason="duplicate" if decision == "rejected" else None,
        now=CLOSED_AT + timedelta(days=1),
    )


def rate(row: dict) -> float:
    return row["accepted"] / row["decided"]


def headline_value(shown: rd.Shown, figure: str) -> float | None:
    return shown.headline.filter(pl.col("figure") == figure)["this_week"].item()


@pytest.fixture
def closed(demo_copy):
    """The demo data with WEEK's review closed as the page showed it, and the counts recounted then."""
    url = demo_copy
    before = rd.shown_of(review_of(url))
    rd.close_week(url=url, actor=None, week=WEEK, shown=before, sla_hours=SLA_HOURS, closed_by="Maria", now=CLOSED_AT)
    return url, before, recount(url)


def test_the_snapshot_keeps_the_figures_the_page_showed(closed):
    url, before, counted = closed
    snapshot = rd.week_snapshot(url, WEEK)
    assert (snapshot.closed_by, snapshot.closed_at, snapshot.sla_hours) == ("Maria", CLOSED_AT, SLA_HOURS)
    assert snapshot.as_of() == "As of 01 Dec 2026 at 09:30, closed by Maria"
    assert_frame_equal(snapshot.shown.headline, before.headline)
    assert snapshot.shown.counts == before.counts
    for title in before.movers:
        for kept, shown in zip(snapshot.shown.movers[title], before.movers[title], strict=True):
            assert_frame_equal(kept, shown)
    # the counts kept are the week's, recounted from the raw rows
    kept = snapshot.shown.counts
    assert kept["decided"] + kept["pending"] == counted["mqls"] == headline_value(before, "mqls")
    assert (kept["decided"], kept["accepted"]) == (counted["decided"], counted["accepted"])
    assert kept["rejected"] == counted["decided"] - counted["accepted"]
    assert headline_value(before, "acceptance_rate") == pytest.approx(rate(counted))
    assert rd.since_closed(snapshot, rd.shown_of(review_of(url)), sla_hours=SLA_HOURS) is None  # nothing moved yet


@pytest.mark.parametrize("decision", ["accepted", "rejected"])
def test_a_late_decision_moves_the_live_figures_not_the_snapshot_and_says_what_changed(closed, decision):
    url, before, counted = closed
    (lead,) = pending_of_the_week(url, 1)  # the demo data's one MQL of the week still waiting
    decide_late(url, lead, decision)
    after = recount(url)
    took = int(decision == "accepted")
    assert (after["decided"], after["accepted"]) == (counted["decided"] + 1, counted["accepted"] + took)
    live = rd.shown_of(review_of(url))
    snapshot = rd.week_snapshot(url, WEEK)
    assert_frame_equal(snapshot.shown.headline, before.headline)  # the snapshot is as the meeting saw it
    assert snapshot.shown.counts == before.counts
    assert headline_value(live, "acceptance_rate") == pytest.approx(rate(after))
    assert live.counts["pending"] == before.counts["pending"] - 1
    # Decided a day after the close, past the SLA: the share decided within it falls; a lead already waiting past
    # the SLA at the week's end was a breach then and still is one.
    within = headline_value(before, "sla_compliance") * counted["decided"]
    assert headline_value(live, "sla_compliance") == pytest.approx(within / after["decided"])
    new_breach = lead["mql_at"] + timedelta(hours=SLA_HOURS) >= WEEK.end
    assert live.counts["sla_breaches"] == before.counts["sla_breaches"] + new_breach

    since = rd.since_closed(snapshot, live, sla_hours=SLA_HOURS)
    was, now = rate(counted), rate(after)
    assert since.startswith("Since then: ") and "MQLs" not in since  # the week's MQLs did not change
    assert f"acceptance rate {was:.1%} → {now:.1%} (" in since
    assert f"1 more decision (+1 {decision})" in since
    assert f"pending {before.counts['pending']:,} → {before.counts['pending'] - 1:,}" in since
    table = rd.moved_table(snapshot.shown, live)
    moved = dict(
        zip(table["Figure"], zip(table["When closed"], table["Now"], table["Change"], strict=True), strict=True)
    )
    assert moved["Acceptance rate"][:2] == (f"{was:.1%}", f"{now:.1%}")
    assert moved["Acceptance rate"][2] == f"{(now - was) * 100:+.1f} pp"
    assert moved["Decided"] == (f"{counted['decided']:,}", f"{after['decided']:,}", "+1")
    assert moved["Pending"][2] == "-1" and moved[decision.capitalize()][2] == "+1"
    assert "MQLs" not in moved and ("Rejected" if took else "Accepted") not in moved


def test_a_changed_sla_setting_is_said_beside_the_change(closed):
    url, before, _ = closed
    snapshot = rd.week_snapshot(url, WEEK)
    later = rd.shown_of(rd.review_frames(read_tables(url), WEEK, sla_hours=48.0, now=CLOSED_AT))
    since = rd.since_closed(snapshot, later, sla_hours=48.0)
    if headline_value(later, "sla_compliance") == headline_value(before, "sla_compliance"):
        pytest.fail("a doubled SLA should change the week's SLA compliance on the demo data")
    assert "SLA compliance" in since and "The SLA was 24 hours then and is 48 hours now" in since

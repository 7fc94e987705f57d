"""The queue's boundary: a decision is written in one transaction and clears only the figures it changed."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from dashboard.data import data, queue_data

NOW = datetime.now().replace(microsecond=0)


def test_a_decision_clears_the_figures_it_changed_and_keeps_the_rest(demo_copy, monkeypatch):
    url = demo_copy
    options, history, facts = data.filter_options(url), data.model_history(url), data.facts(url)
    reads = []
    read_tables = data.read_tables
    monkeypatch.setattr(data, "read_tables", lambda u: reads.append(u) or read_tables(u))
    reps = queue_data.reps(url)
    rep = reps.filter((pl.col("tier") == "junior") & (pl.col("pending") > 0)).row(0, named=True)
    lead = queue_data.pending_queue(url, rep_id=rep["id"], now=NOW, sla_hours=24)["lead_id"][0]
    queue_data.decide_many(url=url, actor=None, lead_ids=[lead], rep_id=rep["id"], decision="accepted", now=NOW)
    # Kept: a decision changes no channel, campaign, tier or scoring model.
    assert data.filter_options(url) == options
    assert data.model_history(url).equals(history)
    assert reads == []
    # Cleared: the figures made of leads and decisions count the decision at once.
    assert data.facts(url).decided == facts.decided + 1
    assert reads == [url]

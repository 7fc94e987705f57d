"""Deterministic demo data: populate(url, plan) and the `python -m seed` command.

The demo has about 40 campaigns across every channel (CTV and OTT included), 20 reps in two
tiers and three territory teams, two scoring-model versions, and leads whose acceptance, SQL and
win outcomes follow a hidden propensity driven mostly by fit (firmographic and demographic), so a
model that weights fit more really finds better leads (seed.generator.true_propensities).

Planted patterns, for the dashboard to let a user discover:
- Misrouting: "Paid Search - Brand EMEA" leads created in plan weeks W-11 and W-10 were routed to
  the wrong territory team; most were rejected as "wrong_territory" (a procedural spike).
- Weak-fit CTV: "CTV - Streaming Launch" brings high engagement (ad completions, visits) from
  small, off-profile companies, so its acceptance rate is low.
- Slow rep: Dylan Park (junior, North America) takes about two days per decision on MQLs from
  plan weeks W-7 to W-5, breaching the 24-hour SLA.
- Model change: scoring model v2 (lower threshold, more behavioural weight) took effect at the
  start of plan week W-9: MQL volume rises and acceptance falls from that week on.
- Spot checks: about 2% of below-threshold leads were reviewed by sales anyway (mql_route
  "spot_check"), the evidence the what-if needs for leads the model would not have sent.
(W is the number of weeks; week 0 is the first.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import numpy as np
import polars as pl
import sqlalchemy as sa
from sqlmodel import Session, select

from dashboard.domain import CHANNELS
from dashboard.models import Campaign, ChannelRow, Disqualification, Lead, Rep, SalesDecision, ScoringModel, StageEvent
from dashboard.store import db
from seed import reference as ref
from seed.generator import BATCH_SIZE, Batch, Cast, Plan, batches

Progress = Callable[[int, int], None]


def _reference_rows(session: Session, plan: Plan) -> Cast:
    channels = {c.key: ChannelRow(key=c.key, label=c.label, view_through=c.view_through) for c in CHANNELS}
    session.add_all(channels.values())
    session.flush()
    campaigns = [
        Campaign(
            name=spec.name,
            channel_id=channels[spec.channel].id,
            start_date=(plan.start - timedelta(days=30)).date(),
            spend=spec.spend,
        )
        for spec in ref.CAMPAIGNS
    ]
    reps = [Rep(name=r.name, tier=r.tier.value, team=r.team, weekly_capacity=r.weekly_capacity) for r in ref.REPS]
    models = [
        ScoringModel(
            version=version,
            **{k: getattr(rule, k) for k in ("w_demographic", "w_firmographic", "w_behavioural", "w_engagement")},
            mql_threshold=rule.mql_threshold,
            active_from=active_from,
            active_to=active_to,
            author="Marketing Ops",
            note=note,
        )
        for version, rule, active_from, active_to, note in (
            (1, ref.MODEL_V1, plan.start - timedelta(days=60), plan.model_change, "Initial model"),
            (2, ref.MODEL_V2, plan.model_change, None, "Lower threshold, more weight on behaviour"),
        )
    ]
    session.add_all(campaigns + reps + models)
    session.flush()
    weights = np.array([c.weight for c in ref.CAMPAIGNS])
    return Cast(
        campaign_ids=np.array([c.id for c in campaigns]),
        campaign_channels=np.array([c.channel for c in ref.CAMPAIGNS], dtype=object),
        campaign_weights=weights / weights.sum(),
        campaign_names=np.array([c.name for c in ref.CAMPAIGNS], dtype=object),
        rep_ids=np.array([r.id for r in reps]),
        rep_names=np.array([r.name for r in reps], dtype=object),
        rep_teams=np.array([ref.TEAMS.index(r.team) for r in reps]),
        rep_tiers=np.array([r.tier for r in reps], dtype=object),
        model_ids=(models[0].id, models[1].id),
    )


def _written(url: str, plan: Plan, progress: Progress | None) -> Iterator[Batch]:
    """Create the schema, write the plan's demo data into an empty database, and yield each batch once written."""
    db.create_schema(url)
    with db.transaction(url) as session:
        if session.exec(select(sa.func.count()).select_from(ChannelRow)).one():
            raise ValueError("The database already holds data; the demo seed only fills an empty database.")
        cast = _reference_rows(session, plan)
    written = 0
    for batch in batches(plan, cast):
        db.write_frame(batch.leads, Lead, url=url)
        db.write_frame(batch.events, StageEvent, url=url)
        db.write_frame(batch.decisions, SalesDecision, url=url)
        db.write_frame(batch.disqualifications, Disqualification, url=url)
        written += batch.leads.height
        if progress:
            progress(written, plan.leads)
        yield batch
    db.move_id_sequences(url)  # the batches carry their own ids


def populate(url: str, plan: Plan, *, progress: Progress | None = None) -> int:
    """Create the schema and write the plan's demo data into an empty database; returns the leads written."""
    return sum(batch.leads.height for batch in _written(url, plan, progress))


def populate_with_truth(url: str, plan: Plan) -> pl.DataFrame:
    """populate(url, plan), returning per lead (lead_id) whether it was or would have been accepted, and reached SQL
    and a win by now, had it been handed to sales: the truth the what-if's estimates are checked against."""
    return pl.concat([batch.would_have for batch in _written(url, plan, None)])


__all__ = ["BATCH_SIZE", "Plan", "populate", "populate_with_truth"]

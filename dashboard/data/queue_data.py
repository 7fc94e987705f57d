"""The acceptance queue's boundary: the queue read live for its page, and the decisions written, each in one
transaction with its rights check and audit line, then clearing only the figures a decision changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import polars as pl

from dashboard.auth import Actor
from dashboard.data import data
from dashboard.store import db, queue

T = TypeVar("T")


# The queue is read live, not cached: a rep must not be offered a lead another rep decided a moment ago.
def reps(url: str) -> pl.DataFrame:
    """The active reps (id, name, tier, team) with how many MQLs each has waiting."""
    with db.transaction(url) as session:
        return queue.reps(session=session)


def pending_queue(url: str, *, rep_id: int, now: datetime, sla_hours: float) -> pl.DataFrame:
    """rep's pending MQLs with the SLA hours left, the newest breach first, then the next deadlines."""
    with db.transaction(url) as session:
        return queue.pending_queue(session=session, rep_id=rep_id, now=now, sla_hours=sla_hours)


def lead_detail(url: str, *, lead_id: int) -> queue.LeadDetail:
    """Why a lead qualified: its scores, the model and threshold it passed, its recent history."""
    with db.transaction(url) as session:
        return queue.lead_detail(session=session, lead_id=lead_id)


def accepted_not_escalated(url: str, *, rep_id: int) -> pl.DataFrame:
    """rep's accepted leads that no senior rep has taken over yet."""
    with db.transaction(url) as session:
        return queue.accepted_not_escalated(session=session, rep_id=rep_id)


def _written(url: str, write: Callable[..., T], **kwargs) -> T:
    with db.transaction(url) as session:
        done = write(session=session, **kwargs)
    # A decision moves leads, stage events and decisions: every figure made of them; the channels, campaigns and
    # tiers the filters offer and the scoring model history stay as they were.
    data.invalidate(keep=(data.filter_options, data.model_history))
    return done


def decide_many(
    *,
    url: str,
    actor: Actor | None,
    lead_ids: list[int],
    rep_id: int,
    decision: str,
    reason: str | None = None,
    now: datetime,
    comment: str | None = None,
) -> queue.BulkDecided:
    """Accept or reject the leads, all or none (store.queue.decide_many)."""
    return _written(
        url,
        queue.decide_many,
        actor=actor,
        lead_ids=lead_ids,
        rep_id=rep_id,
        decision=decision,
        reason=reason,
        now=now,
        comment=comment,
    )


def reassign(*, url: str, actor: Actor | None, lead_id: int, rep_id: int, new_owner_rep_id: int, now: datetime):
    """Move a misrouted MQL to another junior rep's queue (store.queue.reassign)."""
    return _written(
        url, queue.reassign, actor=actor, lead_id=lead_id, rep_id=rep_id, new_owner_rep_id=new_owner_rep_id, now=now
    )


def escalate(*, url: str, actor: Actor | None, lead_id: int, rep_id: int, senior_rep_id: int, now: datetime):
    """Hand an accepted lead to a senior rep (store.queue.escalate)."""
    return _written(
        url, queue.escalate, actor=actor, lead_id=lead_id, rep_id=rep_id, senior_rep_id=senior_rep_id, now=now
    )


def undo(*, url: str, actor: Actor | None, decision_id: int, rep_id: int, now: datetime) -> queue.Undone:
    """Take back rep's own recent decision (store.queue.undo)."""
    return _written(url, queue.undo, actor=actor, decision_id=decision_id, rep_id=rep_id, now=now)

"""The acceptance queue's repository: a rep's pending MQLs, and the writes that accept, reject, escalate, reassign
or undo. Each takes the session it runs in; the rights check and the audit line share it (store.audit.guarded)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlmodel import Session

from dashboard.auth import Action
from dashboard.domain import REJECTION_REASONS, Decision, Reason, Stage, Tier
from dashboard.models import Campaign, ChannelRow, Lead, Rep, SalesDecision, ScoringModel, StageEvent
from dashboard.refusals import Refused
from dashboard.store.audit import described, guarded
from queries.scoring import SCORE_COLUMNS, component_scores

UNDO_WINDOW = timedelta(minutes=5)

# A reassignment is recorded as a procedural rejection of the routing, then the lead is an MQL again.
REASSIGN_REASON = "wrong_territory"
REASSIGNED_ACTOR = "reassigned to {name}"
# The new owner's MQL event follows the rejection by one microsecond, so the history sorts in the order it happened.
REASSIGN_GAP = timedelta(microseconds=1)

LEAD = Lead.__table__
EVENT = StageEvent.__table__
DECISION = SalesDecision.__table__
REP = Rep.__table__
REASONS: dict[str, Reason] = {r.key: r for r in REJECTION_REASONS}

# How a lead's current stage reads in a refusal ("Lead DEMO-1 was disqualified").
STAGE_NOW: dict[str, str] = {
    Stage.INQUIRY: "has not become an MQL",
    Stage.MQL: "is waiting for a decision",
    Stage.SAL: "was accepted",
    Stage.SQL: "was escalated to a senior rep",
    Stage.OPPORTUNITY: "is an open opportunity",
    Stage.CUSTOMER: "was won",
    Stage.REJECTED: "was rejected",
    Stage.DISQUALIFIED: "was disqualified",
    Stage.RECYCLED: "was recycled to marketing nurture",
    Stage.LOST: "was lost",
}
# Stages a lead reaches only after a senior rep took it over.
ESCALATED_STAGES = (Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER, Stage.LOST)

NOTHING_CHANGED = "nothing was changed"


class AlreadyDecided(Refused):
    """Someone acted on the lead first; the message says who did what, and when."""


class NotPending(Refused):
    """The lead is not at the step the write needs (not waiting for a decision, or not accepted)."""


class NotYours(Refused):
    """The lead is in another rep's queue."""


class UnknownLead(Refused):
    """No lead has that id."""


@dataclass(frozen=True)
class Decided:
    """One decision written: the sales_decision row, its stage event, and the stage the lead moved to."""

    decision_id: int
    event_id: int
    lead_id: int
    external_id: str
    decision: str
    reason: str | None
    reason_kind: str | None
    comment: str | None
    rep_id: int
    decided_at: datetime
    stage: str


@dataclass(frozen=True)
class BulkDecided:
    """The decisions decide_many wrote, in the order the leads were given."""

    decisions: tuple[Decided, ...]

    @property
    def count(self) -> int:
        return len(self.decisions)


@dataclass(frozen=True)
class Escalated:
    """An accepted lead handed to a senior rep: the SQL stage event written."""

    event_id: int
    lead_id: int
    external_id: str
    rep_id: int
    senior_rep_id: int
    escalated_at: datetime


@dataclass(frozen=True)
class Reassigned:
    """A misrouted MQL moved to another rep's queue: the routing rejection and the new MQL event."""

    decision_id: int
    rejected_event_id: int
    mql_event_id: int
    lead_id: int
    external_id: str
    rep_id: int
    previous_owner_rep_id: int | None
    new_owner_rep_id: int
    reassigned_at: datetime


@dataclass(frozen=True)
class Undone:
    """A decision taken back: the rows deleted and the stage and owner the lead has again."""

    decision_id: int
    deleted_event_ids: tuple[int, ...]
    lead_id: int
    external_id: str
    stage: str
    owner_rep_id: int | None


@dataclass(frozen=True)
class _Problem:
    """Why one lead cannot be written: the refusal's class and a clause naming the lead."""

    kind: type[Refused]
    clause: str

    def refusal(self) -> Refused:
        return self.kind(f"{self.clause}; {NOTHING_CHANGED}.")


@dataclass(frozen=True)
class _Move:
    """The stage events a reassignment wrote, and the owners it moved the lead between."""

    rejected_event_id: int
    mql_event_id: int
    from_rep_id: int | None
    to_rep_id: int | None


# ----- reads inside the write's transaction ------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    # Every stored timestamp is naive UTC; an aware one is converted rather than stored with an offset lost.
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds % 60:
        return f"{seconds} seconds"
    minutes = seconds // 60
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _lead(session: Session, lead_id: int) -> Row | None:
    return session.execute(sa.select(LEAD).where(LEAD.c.id == lead_id)).one_or_none()


def _leads(session: Session, lead_ids: Sequence[int]) -> dict[int, Row]:
    rows = session.execute(sa.select(LEAD).where(LEAD.c.id.in_(lead_ids))).all()
    return {row.id: row for row in rows}


def _rep(session: Session, rep_id: int | None) -> Row | None:
    if rep_id is None:
        return None
    return session.execute(sa.select(REP).where(REP.c.id == rep_id)).one_or_none()


def _name(session: Session, rep_id: int | None) -> str:
    rep = _rep(session, rep_id)
    return rep.name if rep else "an unknown rep"


def _active_rep(session: Session, rep_id: int) -> Row:
    rep = _rep(session, rep_id)
    if rep is None:
        raise Refused(f"There is no rep with id {rep_id}: choose yourself in the rep list and try again.")
    if not rep.active:
        raise Refused(f"{rep.name} is no longer an active rep, so cannot work the queue; {NOTHING_CHANGED}.")
    return rep


def _latest_decision(session: Session, lead_id: int) -> Row | None:
    # The analytics let the latest decision stand; the id breaks a tie between two in the same microsecond.
    query = (
        sa.select(DECISION)
        .where(DECISION.c.lead_id == lead_id)
        .order_by(DECISION.c.decided_at.desc(), DECISION.c.id.desc())
        .limit(1)
    )
    return session.execute(query).one_or_none()


def _events_at(session: Session, lead_id: int, stage: str, at: datetime) -> list[Row]:
    query = sa.select(EVENT).where(EVENT.c.lead_id == lead_id, EVENT.c.stage == stage, EVENT.c.occurred_at == at)
    return list(session.execute(query.order_by(EVENT.c.id)).all())


def _move(session: Session, decision: Row) -> _Move | None:
    """The reassignment this decision recorded, or None when it was a plain accept or reject."""
    if decision.decision != Decision.REJECTED or decision.reason != REASSIGN_REASON:
        return None
    mqls = [
        e
        for e in _events_at(session, decision.lead_id, Stage.MQL.value, decision.decided_at + REASSIGN_GAP)
        if e.actor.startswith(REASSIGNED_ACTOR.format(name=""))
    ]
    rejections = _events_at(session, decision.lead_id, Stage.REJECTED.value, decision.decided_at)
    if len(mqls) != 1 or len(rejections) != 1:
        return None
    return _Move(rejections[0].id, mqls[0].id, rejections[0].rep_id, mqls[0].rep_id)


def _compare_and_set(session: Session, statement: sa.Update) -> int:
    """Run a guarded UPDATE and return how many rows still matched its WHERE.

    This is what makes two reps deciding the same lead safe: PostgreSQL makes the second UPDATE wait for the first
    commit and re-checks the WHERE; SQLite lets one writer at a time in. The loser matches 0 rows and writes nothing.
    """
    return session.execute(statement).rowcount


def _add_events(session: Session, events: Sequence[StageEvent]) -> list[int]:
    """Write the stage events and return their ids."""
    session.add_all(events)
    session.flush()
    return [event.id for event in events]


# ----- why a write cannot be made ---------------------------------------------------------------------------------


def _decided_clause(session: Session, lead: Row, decision: Row, *, since: str = "already") -> str:
    who, when = _name(session, decision.rep_id), _when(decision.decided_at)
    move = _move(session, decision)
    if move is not None:
        what = f"reassigned to {_name(session, move.to_rep_id)}"
    elif decision.decision == Decision.ACCEPTED:
        what = "accepted"
    else:
        reason = REASONS.get(decision.reason or "")
        what = f"rejected as “{reason.label}”" if reason else "rejected"
    return f"Lead {lead.external_id} was {since} {what} by {who} at {when}"


def _not_pending(session: Session, lead: Row) -> _Problem:
    """Why a lead that is not at the MQL stage cannot be decided or reassigned."""
    latest = _latest_decision(session, lead.id)
    if latest is None:
        now = STAGE_NOW.get(lead.stage, f"is at the {lead.stage} stage")
        return _Problem(NotPending, f"Lead {lead.external_id} is not waiting for a decision: it {now}")
    return _Problem(AlreadyDecided, _decided_clause(session, lead, latest))


def _decision_problem(session: Session, lead_id: int, lead: Row | None, rep: Row) -> _Problem | None:
    """Why rep cannot accept or reject this lead now, or None when he can."""
    if lead is None:
        return _Problem(UnknownLead, f"Lead {lead_id} does not exist (it may have been deleted)")
    if lead.stage != Stage.MQL:
        return _not_pending(session, lead)
    if lead.owner_rep_id == rep.id:
        return None
    latest = _latest_decision(session, lead.id)
    move = _move(session, latest) if latest is not None else None
    if move is not None and move.from_rep_id == rep.id:  # it was in his queue until someone reassigned it
        return _Problem(AlreadyDecided, _decided_clause(session, lead, latest))
    return _Problem(
        NotYours,
        f"Lead {lead.external_id} is in {_name(session, lead.owner_rep_id)}'s queue, not yours "
        "(reassign it if it reached the wrong rep)",
    )


def _escalation_problem(session: Session, lead_id: int, lead: Row | None, rep: Row) -> _Problem | None:
    """Why rep cannot escalate this lead now, or None when he can."""
    if lead is None:
        return _Problem(UnknownLead, f"Lead {lead_id} does not exist (it may have been deleted)")
    if lead.owner_rep_id != rep.id:
        return _Problem(NotYours, f"Lead {lead.external_id} is {_name(session, lead.owner_rep_id)}'s, not yours")
    if lead.stage == Stage.SAL:
        return None
    if lead.stage == Stage.MQL:
        return _Problem(NotPending, f"Lead {lead.external_id} has not been accepted yet: accept it before escalating")
    if lead.stage in ESCALATED_STAGES:
        sql = session.execute(
            sa.select(EVENT)
            .where(EVENT.c.lead_id == lead.id, EVENT.c.stage == Stage.SQL.value)
            .order_by(EVENT.c.occurred_at.desc(), EVENT.c.id.desc())
            .limit(1)
        ).one_or_none()
        if sql is not None:
            return _Problem(
                AlreadyDecided,
                f"Lead {lead.external_id} was already escalated to {sql.actor} at {_when(sql.occurred_at)}",
            )
    now = STAGE_NOW.get(lead.stage, f"is at the {lead.stage} stage")
    return _Problem(NotPending, f"Lead {lead.external_id} {now}, so it cannot be escalated; only accepted leads can")


def _refusal(problems: Sequence[_Problem], *, total: int, verb: str) -> Refused:
    if total == 1 and len(problems) == 1:
        return problems[0].refusal()
    kinds = {p.kind for p in problems}
    kind = kinds.pop() if len(kinds) == 1 else Refused
    clauses = "; ".join(p.clause for p in problems)
    return kind(f"{len(problems)} of the {total} selected leads cannot be {verb}, so {NOTHING_CHANGED}: {clauses}.")


def _checked_reason(decision: Decision, reason: str | None) -> Reason | None:
    if decision == Decision.ACCEPTED:
        if reason is not None:
            raise Refused("An acceptance takes no rejection reason: clear the reason, or reject the lead instead.")
        return None
    if reason is None or not reason.strip():
        raise Refused(
            "Choose a rejection reason: sales rejects an MQL only for a procedural, clerical or definitional reason."
        )
    if reason not in REASONS:
        raise Refused(f"“{reason}” is not a rejection reason; choose one of: {', '.join(REASONS)}.")
    return REASONS[reason]


def _checked_decision(decision: str) -> Decision:
    try:
        return Decision(decision)
    except ValueError:
        raise Refused(f"“{decision}” is not a decision; choose accepted or rejected.") from None


# ----- the writes --------------------------------------------------------------------------------------------------


def _decide(
    session: Session,
    *,
    lead_ids: Sequence[int],
    rep: Row,
    decision: Decision,
    reason: Reason | None,
    now: datetime,
    comment: str | None,
) -> tuple[Decided, ...]:
    leads = _leads(session, lead_ids)
    verb = decision.value
    problems = [p for lead_id in lead_ids if (p := _decision_problem(session, lead_id, leads.get(lead_id), rep))]
    if problems:
        raise _refusal(problems, total=len(lead_ids), verb=verb)
    stage = (Stage.SAL if decision == Decision.ACCEPTED else Stage.REJECTED).value
    # One guarded update per lead, in id order: PostgreSQL then locks rows in the same order in every session,
    # so two bulk decisions over overlapping leads wait for each other instead of deadlocking.
    lost = [
        lead_id
        for lead_id in sorted(lead_ids)
        if _compare_and_set(
            session,
            sa.update(LEAD)
            .where(LEAD.c.id == lead_id, LEAD.c.stage == Stage.MQL.value, LEAD.c.owner_rep_id == rep.id)
            .values(stage=stage),
        )
        != 1
    ]
    if lost:
        # Another session changed these leads after the checks above: say who did what; the rollback undoes the rest.
        fresh = _leads(session, lost)
        problems = [
            _decision_problem(session, lead_id, fresh.get(lead_id), rep)
            or _Problem(Refused, f"Lead {leads[lead_id].external_id} changed while saving; try again")
            for lead_id in lost
        ]
        raise _refusal(problems, total=len(lead_ids), verb=verb)
    rows = [
        SalesDecision(
            lead_id=lead_id,
            decision=decision.value,
            reason=reason.key if reason else None,
            reason_kind=reason.kind.value if reason and reason.kind else None,
            comment=comment,
            rep_id=rep.id,
            decided_at=now,
        )
        for lead_id in lead_ids
    ]
    session.add_all(rows)
    session.flush()
    event_ids = _add_events(
        session,
        [
            StageEvent(lead_id=lead_id, stage=stage, occurred_at=now, actor=rep.name, rep_id=rep.id)
            for lead_id in lead_ids
        ],
    )
    return tuple(
        Decided(
            decision_id=row.id,
            event_id=event_id,
            lead_id=row.lead_id,
            external_id=leads[row.lead_id].external_id,
            decision=row.decision,
            reason=row.reason,
            reason_kind=row.reason_kind,
            comment=row.comment,
            rep_id=rep.id,
            decided_at=now,
            stage=stage,
        )
        for row, event_id in zip(rows, event_ids, strict=True)
    )


@guarded(Action.DECIDE, target=lambda k: described(lead=k["lead_id"], decision="accepted", rep=k["rep_id"]))
def accept(*, session: Session, lead_id: int, rep_id: int, now: datetime, comment: str | None = None) -> Decided:
    """Accept a pending MQL in rep's own queue: it becomes a SAL."""
    return _decide_one(session, lead_id, rep_id, Decision.ACCEPTED, None, now, comment)


@guarded(
    Action.DECIDE,
    target=lambda k: described(lead=k["lead_id"], decision="rejected", reason=k["reason"], rep=k["rep_id"]),
)
def reject(
    *, session: Session, lead_id: int, rep_id: int, reason: str, now: datetime, comment: str | None = None
) -> Decided:
    """Reject a pending MQL in rep's own queue for one of the rejection reasons; the reason's kind goes with it."""
    return _decide_one(
        session, lead_id, rep_id, Decision.REJECTED, _checked_reason(Decision.REJECTED, reason), now, comment
    )


def _decide_one(
    session: Session,
    lead_id: int,
    rep_id: int,
    decision: Decision,
    reason: Reason | None,
    now: datetime,
    comment: str | None,
) -> Decided:
    rep = _active_rep(session, rep_id)
    (decided,) = _decide(
        session, lead_ids=[lead_id], rep=rep, decision=decision, reason=reason, now=_utc(now), comment=comment
    )
    return decided


@guarded(
    Action.DECIDE,
    target=lambda k: described(
        leads=list(k["lead_ids"]), decision=k["decision"], reason=k.get("reason"), rep=k["rep_id"]
    ),
)
def decide_many(
    *,
    session: Session,
    lead_ids: Sequence[int],
    rep_id: int,
    decision: str,
    reason: str | None = None,
    now: datetime,
    comment: str | None = None,
) -> BulkDecided:
    """Accept or reject several pending MQLs of rep's at once, all or none; one reason and comment for all."""
    chosen = _checked_decision(decision)
    checked = _checked_reason(chosen, reason)
    unique = list(dict.fromkeys(lead_ids))
    if not unique:
        raise Refused("Select at least one lead to decide.")
    rep = _active_rep(session, rep_id)
    decided = _decide(
        session, lead_ids=unique, rep=rep, decision=chosen, reason=checked, now=_utc(now), comment=comment
    )
    return BulkDecided(decided)


@guarded(Action.ESCALATE, target=lambda k: described(lead=k["lead_id"], senior=k["senior_rep_id"]))
def escalate(*, session: Session, lead_id: int, rep_id: int, senior_rep_id: int, now: datetime) -> Escalated:
    """Hand a lead that rep accepted to a senior rep: it becomes an SQL in the senior's hands."""
    now = _utc(now)
    rep = _active_rep(session, rep_id)
    senior = _rep(session, senior_rep_id)
    if senior is None or senior.tier != Tier.SENIOR or not senior.active:
        who = senior.name if senior else f"Rep {senior_rep_id}"
        raise Refused(f"{who} is not an active senior rep (AE); escalate to a senior rep; {NOTHING_CHANGED}.")
    lead = _lead(session, lead_id)
    if problem := _escalation_problem(session, lead_id, lead, rep):
        raise problem.refusal()
    guarded = (
        sa.update(LEAD)
        .where(LEAD.c.id == lead_id, LEAD.c.stage == Stage.SAL.value, LEAD.c.owner_rep_id == rep.id)
        .values(stage=Stage.SQL.value, senior_rep_id=senior.id)
    )
    if _compare_and_set(session, guarded) != 1:
        problem = _escalation_problem(session, lead_id, _lead(session, lead_id), rep)
        raise (problem or _Problem(Refused, f"Lead {lead_id} changed while saving; try again")).refusal()
    (event_id,) = _add_events(
        session,
        [StageEvent(lead_id=lead_id, stage=Stage.SQL.value, occurred_at=now, actor=senior.name, rep_id=senior.id)],
    )
    return Escalated(event_id, lead_id, lead.external_id, rep.id, senior.id, now)


def _reassign_problem(session: Session, lead_id: int, lead: Row | None, new_owner: Row) -> _Problem | None:
    if lead is None:
        return _Problem(UnknownLead, f"Lead {lead_id} does not exist (it may have been deleted)")
    if lead.stage != Stage.MQL:
        return _not_pending(session, lead)
    if lead.owner_rep_id == new_owner.id:
        return _Problem(
            Refused, f"Lead {lead.external_id} is already in {new_owner.name}'s queue: choose the rep it should go to"
        )
    return None


@guarded(
    Action.REASSIGN,
    target=lambda k: described(lead=k["lead_id"], to=k["new_owner_rep_id"]),
    left=lambda moved: (moved.previous_owner_rep_id,),
)
def reassign(
    *, session: Session, lead_id: int, rep_id: int, new_owner_rep_id: int, now: datetime, comment: str | None = None
) -> Reassigned:
    """Move a misrouted pending MQL to another junior rep's queue, recorded as a wrong-territory rejection made by
    rep; the actor needs the right on rep's queue and on the queue the lead leaves (store.audit.guarded)."""
    now = _utc(now)
    reason = REASONS[REASSIGN_REASON]
    rep = _active_rep(session, rep_id)
    new_owner = _rep(session, new_owner_rep_id)
    if new_owner is None or new_owner.tier != Tier.JUNIOR or not new_owner.active:
        who = new_owner.name if new_owner else f"Rep {new_owner_rep_id}"
        raise Refused(f"{who} is not an active junior rep; MQLs go to an active junior rep's queue; {NOTHING_CHANGED}.")
    lead = _lead(session, lead_id)
    if problem := _reassign_problem(session, lead_id, lead, new_owner):
        raise problem.refusal()
    previous = lead.owner_rep_id
    guarded = (
        sa.update(LEAD)
        .where(
            LEAD.c.id == lead_id,
            LEAD.c.stage == Stage.MQL.value,
            LEAD.c.owner_rep_id.is_not_distinct_from(previous),
        )
        .values(owner_rep_id=new_owner.id)
    )
    if _compare_and_set(session, guarded) != 1:
        fresh = _lead(session, lead_id)
        problem = _reassign_problem(session, lead_id, fresh, new_owner)
        if problem is None and fresh is not None and (latest := _latest_decision(session, lead_id)) is not None:
            problem = _Problem(AlreadyDecided, _decided_clause(session, fresh, latest))
        raise (problem or _Problem(Refused, f"Lead {lead.external_id} changed while saving; try again")).refusal()
    decision = SalesDecision(
        lead_id=lead_id,
        decision=Decision.REJECTED.value,
        reason=reason.key,
        reason_kind=reason.kind.value,
        comment=comment,
        rep_id=rep.id,
        decided_at=now,
    )
    session.add(decision)
    session.flush()
    # The rejection event keeps the owner the lead was routed to (the routing that was wrong): the decision
    # already names who reassigned it, and undo needs the previous owner back.
    rejected_id, mql_id = _add_events(
        session,
        [
            StageEvent(lead_id=lead_id, stage=Stage.REJECTED.value, occurred_at=now, actor=rep.name, rep_id=previous),
            StageEvent(
                lead_id=lead_id,
                stage=Stage.MQL.value,
                occurred_at=now + REASSIGN_GAP,
                actor=REASSIGNED_ACTOR.format(name=new_owner.name),
                rep_id=new_owner.id,
            ),
        ],
    )
    return Reassigned(
        decision_id=decision.id,
        rejected_event_id=rejected_id,
        mql_event_id=mql_id,
        lead_id=lead_id,
        external_id=lead.external_id,
        rep_id=rep.id,
        previous_owner_rep_id=previous,
        new_owner_rep_id=new_owner.id,
        reassigned_at=now,
    )


def _latest_id(session: Session, lead_id: int) -> int | None:
    latest = _latest_decision(session, lead_id)
    return latest.id if latest else None


def _cannot_undo(session: Session, decision: Row) -> Refused:
    """Why a decision that passed the first checks cannot be undone: it is gone, superseded, or the lead moved on."""
    if session.execute(sa.select(DECISION.c.id).where(DECISION.c.id == decision.id)).one_or_none() is None:
        return Refused(f"Decision {decision.id} was undone already; {NOTHING_CHANGED}.")
    lead = _lead(session, decision.lead_id)
    latest = _latest_decision(session, lead.id)
    if latest is not None and latest.id != decision.id:
        clause = _decided_clause(session, lead, latest, since="since")
    else:
        clause = f"Lead {lead.external_id} has moved on since: it {STAGE_NOW.get(lead.stage, lead.stage)}"
    return Refused(f"{clause}, so the decision cannot be undone; {NOTHING_CHANGED}.")


@guarded(Action.DECIDE, target=lambda k: described(undo=k["decision_id"], rep=k["rep_id"]))
def undo(*, session: Session, decision_id: int, rep_id: int, now: datetime, window: timedelta = UNDO_WINDOW) -> Undone:
    """Take back rep's own decision made less than window ago, if nothing happened to the lead since."""
    now = _utc(now)
    rep = _active_rep(session, rep_id)
    decision = session.execute(sa.select(DECISION).where(DECISION.c.id == decision_id)).one_or_none()
    if decision is None:
        raise Refused(f"There is no decision {decision_id} to undo (it may have been undone already).")
    lead = _lead(session, decision.lead_id)
    if decision.rep_id != rep.id:
        raise Refused(
            f"The decision on lead {lead.external_id} was made by {_name(session, decision.rep_id)}; "
            f"only they can undo it; {NOTHING_CHANGED}."
        )
    if now - decision.decided_at >= window:
        raise Refused(
            f"The decision on lead {lead.external_id} was made at {_when(decision.decided_at)}, more than "
            f"{_duration(window)} ago, so it can no longer be undone; {NOTHING_CHANGED}."
        )
    move = _move(session, decision)
    if move is not None:
        stage, owner_before, owner_now = Stage.MQL.value, move.from_rep_id, move.to_rep_id
        event_ids = (move.rejected_event_id, move.mql_event_id)
    else:
        stage = (Stage.SAL if decision.decision == Decision.ACCEPTED else Stage.REJECTED).value
        owner_before = owner_now = lead.owner_rep_id
        written = _events_at(session, lead.id, stage, decision.decided_at)
        if len(written) != 1:
            raise Refused(
                f"The history of lead {lead.external_id} no longer matches this decision, so it cannot be "
                f"undone; {NOTHING_CHANGED}."
            )
        event_ids = (written[0].id,)
    guarded = (
        sa.update(LEAD)
        .where(LEAD.c.id == lead.id, LEAD.c.stage == stage, LEAD.c.owner_rep_id.is_not_distinct_from(owner_now))
        .values(stage=Stage.MQL.value, owner_rep_id=owner_before)
    )
    # The latest-decision check runs with the lead's row updated (locked), so no decision can slip in before
    # the delete.
    if _compare_and_set(session, guarded) != 1 or _latest_id(session, lead.id) != decision.id:
        raise _cannot_undo(session, decision)
    session.execute(sa.delete(EVENT).where(EVENT.c.id.in_(event_ids)))
    session.execute(sa.delete(DECISION).where(DECISION.c.id == decision.id))
    return Undone(decision.id, tuple(event_ids), lead.id, lead.external_id, Stage.MQL.value, owner_before)


# ----- the queue ---------------------------------------------------------------------------------------------------

QUEUE_SCHEMA = {
    "lead_id": pl.Int64,
    "external_id": pl.String,
    "campaign": pl.String,
    "channel_label": pl.String,
    "mql_at": pl.Datetime("us"),
}


def pending_queue(*, session: Session, rep_id: int, now: datetime, sla_hours: float) -> pl.DataFrame:
    """rep's pending MQLs with the SLA hours left (negative: breached): newest breach first, then the deadlines."""
    campaign, channel = Campaign.__table__, ChannelRow.__table__
    # The latest MQL event: a recycled or reassigned lead starts its SLA clock again.
    mql_at = (
        sa.select(sa.func.max(EVENT.c.occurred_at))
        .where(EVENT.c.lead_id == LEAD.c.id, EVENT.c.stage == Stage.MQL.value)
        .scalar_subquery()
    )
    query = (
        sa.select(
            LEAD.c.id.label("lead_id"),
            LEAD.c.external_id,
            campaign.c.name.label("campaign"),
            channel.c.label.label("channel_label"),
            mql_at.label("mql_at"),
        )
        .select_from(LEAD)
        .outerjoin(campaign, campaign.c.id == LEAD.c.campaign_id)
        .outerjoin(channel, channel.c.id == campaign.c.channel_id)
        .where(LEAD.c.owner_rep_id == rep_id, LEAD.c.stage == Stage.MQL.value)
    )
    rows = session.execute(query).all()
    waited = (pl.lit(_utc(now), dtype=pl.Datetime("us")) - pl.col("mql_at")).dt.total_microseconds() / 3.6e9
    return (
        pl.DataFrame([tuple(row) for row in rows], schema=QUEUE_SCHEMA, orient="row")
        .with_columns((sla_hours - waited).alias("hours_left"))
        .with_columns((pl.col("hours_left") < 0).alias("breached"))
        # Newest breach first (still worth saving), older breaches after; then the next deadlines first.
        .sort(
            [
                pl.col("breached"),
                pl.when(pl.col("breached")).then(-pl.col("hours_left")).otherwise(pl.col("hours_left")),
                "lead_id",
            ],
            descending=[True, False, False],
            nulls_last=True,
        )
    )


@dataclass(frozen=True)
class LeadDetail:
    """Why a lead qualified, for a rep to judge it in seconds."""

    lead: dict  # the lead's own columns
    scores: dict[str, float]  # 0-100 per score component
    score: float | None  # the score it had when it became an MQL
    model_version: int | None
    threshold: float | None
    route: str | None  # score, spot_check or import
    history: pl.DataFrame  # its stage events, newest first: stage, occurred_at, actor


def lead_detail(*, session: Session, lead_id: int) -> LeadDetail:
    """A lead's scores by component, the model and threshold it passed, and its recent history."""
    model = ScoringModel.__table__
    lead = session.execute(sa.select(LEAD).where(LEAD.c.id == lead_id)).mappings().first()
    if lead is None:
        raise UnknownLead(f"Lead {lead_id} no longer exists.")
    version = session.execute(
        sa.select(model.c.version, model.c.mql_threshold).where(model.c.id == lead["scoring_model_id"])
    ).first()
    events = session.execute(
        sa.select(EVENT.c.stage, EVENT.c.occurred_at, EVENT.c.actor)
        .where(EVENT.c.lead_id == lead_id)
        .order_by(EVENT.c.occurred_at.desc(), EVENT.c.id.desc())
        .limit(20)
    ).all()
    row = dict(lead)
    # An imported lead may hold nothing in a column: type it as the table does, not as polars' Null.
    frame = pl.DataFrame([row], infer_schema_length=None)
    frame = frame.with_columns(
        pl.col(name).cast(pl.Float64 if isinstance(LEAD.c[name].type, sa.Integer | sa.Float) else pl.String)
        for name, kind in frame.schema.items()
        if kind == pl.Null and name in LEAD.c
    )
    scored = component_scores(frame.lazy()).collect().row(0, named=True)
    history = pl.DataFrame(
        [tuple(e) for e in events],
        schema={"stage": pl.String, "occurred_at": pl.Datetime("us"), "actor": pl.String},
        orient="row",
    )
    return LeadDetail(
        lead=row,
        scores={c.value: float(scored[column]) for c, column in SCORE_COLUMNS.items()},
        score=row["mql_score"],
        model_version=version[0] if version else None,
        threshold=version[1] if version else None,
        route=row["mql_route"],
        history=history,
    )


def reps(*, session: Session) -> pl.DataFrame:
    """The active reps (id, name, tier, team) with how many MQLs each has waiting."""
    pending = (
        sa.select(LEAD.c.owner_rep_id, sa.func.count().label("pending"))
        .where(LEAD.c.stage == Stage.MQL.value)
        .group_by(LEAD.c.owner_rep_id)
        .subquery()
    )
    query = (
        sa.select(REP.c.id, REP.c.name, REP.c.tier, REP.c.team, sa.func.coalesce(pending.c.pending, 0))
        .outerjoin(pending, pending.c.owner_rep_id == REP.c.id)
        .where(REP.c.active.is_(True))
        .order_by(REP.c.name)
    )
    rows = session.execute(query).all()
    schema = {"id": pl.Int64, "name": pl.String, "tier": pl.String, "team": pl.String, "pending": pl.Int64}
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def accepted_not_escalated(*, session: Session, rep_id: int) -> pl.DataFrame:
    """rep's accepted leads that no senior rep has taken over yet (lead_id, external_id, accepted_at)."""
    accepted_at = (
        sa.select(sa.func.max(EVENT.c.occurred_at))
        .where(EVENT.c.lead_id == LEAD.c.id, EVENT.c.stage == Stage.SAL.value)
        .scalar_subquery()
    )
    query = (
        sa.select(LEAD.c.id, LEAD.c.external_id, accepted_at)
        .where(LEAD.c.owner_rep_id == rep_id, LEAD.c.stage == Stage.SAL.value)
        .order_by(accepted_at.desc())
        .limit(500)
    )
    rows = session.execute(query).all()
    schema = {"lead_id": pl.Int64, "external_id": pl.String, "accepted_at": pl.Datetime("us")}
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")

"""The scoring models' repository: saved what-if scenarios and new scoring model versions, each in the session
it is given, with its rights check and audit line."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from dashboard.auth import Action
from dashboard.models import Scenario, ScoringModel
from dashboard.refusals import Refused
from dashboard.store.audit import described, guarded
from queries.scoring import ScoringRule


def _checked(rule: ScoringRule) -> ScoringRule:
    weights = [rule.w_demographic, rule.w_firmographic, rule.w_behavioural, rule.w_engagement]
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise Refused("At least one score component needs a positive weight, and none can be negative.")
    if not 0 <= rule.mql_threshold <= 100:
        raise Refused("The MQL threshold must be between 0 and 100.")
    return rule


def _required(value: str, what: str) -> str:
    if not value.strip():
        raise Refused(f"Please enter {what}.")
    return value.strip()


def rule_of(row: ScoringModel | Scenario) -> ScoringRule:
    """The scoring rule a model version or scenario holds."""
    return ScoringRule(**{name: getattr(row, name) for name in ScoringRule.__dataclass_fields__})


@guarded(Action.SAVE_SCENARIO, target=lambda k: described(scenario=k["name"], threshold=k["rule"].mql_threshold))
def save_scenario(*, session: Session, name: str, author: str, note: str, rule: ScoringRule, now: datetime) -> Scenario:
    """Save rule under a new name; refused when the name is taken or the rule is not valid."""
    scenario = Scenario(
        name=_required(name, "a name for the scenario"),
        author=_required(author, "your name"),
        note=note.strip(),
        created_at=now,
        **asdict(_checked(rule)),
    )
    taken = Refused(f"A scenario called “{scenario.name}” already exists: choose another name.")
    if session.exec(select(Scenario).where(Scenario.name == scenario.name)).first():
        raise taken
    session.add(scenario)
    try:
        session.flush()
    except sa.exc.IntegrityError as exc:  # the same name saved by someone else a moment ago
        raise taken from exc
    session.refresh(scenario)
    session.expunge(scenario)
    return scenario


def scenarios(*, session: Session) -> list[Scenario]:
    """Every saved scenario, newest first."""
    rows = session.exec(select(Scenario).order_by(Scenario.created_at.desc(), Scenario.id.desc())).all()
    for row in rows:
        session.expunge(row)
    return list(rows)


@guarded(Action.APPLY_MODEL, target=lambda k: described(reason=k["reason"], threshold=k["rule"].mql_threshold))
def apply_rule(*, session: Session, rule: ScoringRule, author: str, reason: str, now: datetime) -> ScoringModel:
    """Make rule the active scoring model from now: the live version ends now and a new version begins.

    History stays true: earlier versions keep the time they were live, so every lead is still judged by the rule
    that was live when it arrived.
    """
    _checked(rule)
    author, reason = _required(author, "your name"), _required(reason, "the reason for the change")
    live = session.exec(select(ScoringModel).where(ScoringModel.active_to.is_(None))).all()
    if any(m.active_from > now for m in live):
        raise Refused("A scoring model version starts in the future; check the model history first.")
    newest = session.exec(select(sa.func.max(ScoringModel.version))).one() or 0
    for model in live:
        model.active_to = now
        session.add(model)
    version = ScoringModel(version=newest + 1, active_from=now, author=author, note=reason, **asdict(rule))
    session.add(version)
    session.flush()
    session.refresh(version)
    session.expunge(version)
    return version

"""The scoring models' boundary: the saved scenarios read for the what-if page, and the scenarios and model versions
written, each in one transaction with its rights check and audit line."""

from __future__ import annotations

from datetime import datetime

from dashboard.auth import Actor, signed_name
from dashboard.data import data
from dashboard.models import Scenario, ScoringModel
from dashboard.store import db, scoring
from queries.scoring import ScoringRule


def scenarios(url: str) -> list[Scenario]:
    """Every saved scenario, newest first (read live: another user may have saved one a moment ago)."""
    with db.transaction(url) as session:
        return scoring.scenarios(session=session)


def save_scenario(
    *, url: str, actor: Actor | None, name: str, author: str, note: str, rule: ScoringRule, now: datetime
) -> Scenario:
    """Save rule as a named scenario (store.scoring.save_scenario), its author the signed-in user (local mode: the
    name typed); no cached figure changes."""
    with db.transaction(url) as session:
        return scoring.save_scenario(
            session=session, actor=actor, name=name, author=signed_name(actor, author), note=note, rule=rule, now=now
        )


def apply_rule(
    *, url: str, actor: Actor | None, rule: ScoringRule, author: str, reason: str, now: datetime
) -> ScoringModel:
    """Make rule the active scoring model from now (store.scoring.apply_rule), applied by the signed-in user (local
    mode: the name typed)."""
    with db.transaction(url) as session:
        version = scoring.apply_rule(
            session=session, actor=actor, rule=rule, author=signed_name(actor, author), reason=reason, now=now
        )
    # A new model version changes the scoring model history and every figure made of it; the filters' options stay.
    data.invalidate(keep=(data.filter_options,))
    return version

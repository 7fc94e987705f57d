"""Who may write what: roles, the rights table, and the check every write makes (store.audit.guarded runs it in the
write's own session)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session

from dashboard.models import Rep
from dashboard.refusals import Refused


class Role(StrEnum):
    ADMIN = "admin"
    REVOPS = "revops"
    SALES_MANAGER = "sales_manager"
    REP = "rep"


ROLE_LABELS = {
    Role.ADMIN: "Admin",
    Role.REVOPS: "RevOps / marketing ops",
    Role.SALES_MANAGER: "Sales manager",
    Role.REP: "Rep",
}


class Action(StrEnum):
    DECIDE = "decide"  # accept, reject, bulk decisions, undo
    ESCALATE = "escalate"
    REASSIGN = "reassign"
    SAVE_SCENARIO = "save_scenario"
    APPLY_MODEL = "apply_model"
    IMPORT = "import"
    REVIEW = "review"  # action items and meeting notes
    MANAGE_USERS = "manage_users"


# The rights table. Queue actions are further limited to the actor's own queue (reps) or team (managers).
RIGHTS: dict[Action, frozenset[Role]] = {
    Action.DECIDE: frozenset({Role.ADMIN, Role.SALES_MANAGER, Role.REP}),
    Action.ESCALATE: frozenset({Role.ADMIN, Role.SALES_MANAGER, Role.REP}),
    Action.REASSIGN: frozenset({Role.ADMIN, Role.SALES_MANAGER, Role.REP}),
    Action.SAVE_SCENARIO: frozenset({Role.ADMIN, Role.REVOPS}),
    Action.APPLY_MODEL: frozenset({Role.ADMIN, Role.REVOPS}),
    Action.IMPORT: frozenset({Role.ADMIN, Role.REVOPS}),
    Action.REVIEW: frozenset({Role.ADMIN, Role.REVOPS, Role.SALES_MANAGER, Role.REP}),
    Action.MANAGE_USERS: frozenset({Role.ADMIN}),
}
ACTION_LABELS = {
    Action.DECIDE: "decide leads",
    Action.ESCALATE: "escalate leads",
    Action.REASSIGN: "reassign leads",
    Action.SAVE_SCENARIO: "save scenarios",
    Action.APPLY_MODEL: "apply scoring models",
    Action.IMPORT: "import leads",
    Action.REVIEW: "edit the weekly review",
    Action.MANAGE_USERS: "manage users",
}


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user with a role (and, for reps, their rep record; for managers, a team)."""

    email: str
    name: str
    role: Role
    rep_id: int | None = None
    team: str | None = None

    def may(self, action: Action) -> bool:
        return self.role in RIGHTS[action]


# Without sign-in configured the app runs for one local user (on 127.0.0.1 only) with every right.
LOCAL = Actor(email="local", name="Local user", role=Role.ADMIN)


def _team_of(session: Session | None, rep_id: int | None) -> str | None:
    if rep_id is None or session is None:
        return None
    rep = session.get(Rep, rep_id)
    return rep.team if rep else None


def check(actor: Actor, action: Action, *, session: Session | None = None, rep_id: int | None = None) -> None:
    """Refuse, with a sentence, an action the actor may not take (on leads of rep_id, for queue actions; a sales
    manager's team is read in session, the write's own)."""
    if not actor.may(action):
        raise Refused(
            f"{actor.name} ({ROLE_LABELS[actor.role]}) may not {ACTION_LABELS[action]}; nothing was changed. "
            "Ask an admin for the right role."
        )
    if action not in (Action.DECIDE, Action.ESCALATE, Action.REASSIGN) or actor.role is Role.ADMIN:
        return
    if actor.role is Role.REP and rep_id != actor.rep_id:
        raise Refused(f"{actor.name} may act only on leads in their own queue; nothing was changed.")
    if actor.role is Role.SALES_MANAGER and (actor.team is None or _team_of(session, rep_id) != actor.team):
        raise Refused(f"{actor.name} may act only on leads of their own team ({actor.team}); nothing was changed.")

"""Who may write what: roles, the rights table, the check every write function makes, and the audit log."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import select

from dashboard.models import AppUser, AuditEntry, Rep
from dashboard.refusals import Refused
from dashboard.store import db


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


def _team_of(url: str, rep_id: int | None) -> str | None:
    if rep_id is None:
        return None
    with db.transaction(url) as session:
        rep = session.get(Rep, rep_id)
        return rep.team if rep else None


def check(actor: Actor, action: Action, *, url: str, rep_id: int | None = None) -> None:
    """Refuse, with a sentence, an action the actor may not take (on leads of rep_id, for queue actions)."""
    if not actor.may(action):
        raise Refused(
            f"{actor.name} ({ROLE_LABELS[actor.role]}) may not {ACTION_LABELS[action]}; nothing was changed. "
            "Ask an admin for the right role."
        )
    if action not in (Action.DECIDE, Action.ESCALATE, Action.REASSIGN) or actor.role is Role.ADMIN:
        return
    if actor.role is Role.REP and rep_id != actor.rep_id:
        raise Refused(f"{actor.name} may act only on leads in their own queue; nothing was changed.")
    if actor.role is Role.SALES_MANAGER and (actor.team is None or _team_of(url, rep_id) != actor.team):
        raise Refused(f"{actor.name} may act only on leads of their own team ({actor.team}); nothing was changed.")


def guarded(action: Action, *, target: Callable[[dict], str]) -> Callable:
    """Make a write function check the actor's rights first and record who made it afterwards.

    The function gains a keyword `actor`; None means local mode (no sign-in configured), which has every right.
    """

    def wrap(write: Callable) -> Callable:
        @functools.wraps(write)
        def guarded_write(*, actor: Actor | None = None, **kwargs):
            who = actor or LOCAL
            check(who, action, url=kwargs["url"], rep_id=kwargs.get("rep_id"))
            result = write(**kwargs)
            record(url=kwargs["url"], actor=who, action=action, target=target(kwargs), now=kwargs.get("now"))
            return result

        return guarded_write

    return wrap


def record(*, url: str, actor: Actor, action: Action, target: str, now: datetime | None = None) -> None:
    """Add an entry to the audit log."""
    entry = AuditEntry(
        at=now or datetime.now(),
        actor=actor.email,
        actor_name=actor.name,
        role=actor.role.value,
        action=action.value,
        target=target,
    )
    with db.transaction(url) as session:
        session.add(entry)


def described(**fields) -> str:
    return json.dumps({k: v for k, v in fields.items() if v is not None}, default=str, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------------- users


def user_for(*, url: str, email: str, admins: tuple[str, ...] = ()) -> Actor | None:
    """The actor a signed-in email maps to; None for an unknown or deactivated email (no access yet).

    Emails listed in admins (HANDOFF_ADMINS) are admins even before the users table knows them, so that a new
    installation has someone who can grant access.
    """
    key = email.strip().lower()
    with db.transaction(url) as session:
        user = session.exec(select(AppUser).where(sa.func.lower(AppUser.email) == key)).first()
        if user is not None:
            session.expunge(user)
    if user is not None and user.active:
        return Actor(
            email=user.email, name=user.name or user.email, role=Role(user.role), rep_id=user.rep_id, team=user.team
        )
    if key in {a.strip().lower() for a in admins}:
        return Actor(email=email, name=email, role=Role.ADMIN)
    return None


def users(*, url: str) -> list[AppUser]:
    with db.transaction(url) as session:
        rows = session.exec(select(AppUser).order_by(AppUser.email)).all()
        for row in rows:
            session.expunge(row)
        return list(rows)


def _save_user(
    *, url: str, email: str, name: str, role: str, rep_id: int | None, team: str | None, active: bool, now: datetime
) -> AppUser:
    email = email.strip()
    if "@" not in email:
        raise Refused("Please enter the email address the person signs in with.")
    role = Role(role)
    if role is Role.REP and rep_id is None:
        raise Refused("A rep must be linked to their rep record, so that they see their own queue.")
    if role is Role.SALES_MANAGER and not team:
        raise Refused("A sales manager needs a team: they decide and reassign within it.")
    with db.transaction(url) as session:
        user = session.exec(select(AppUser).where(sa.func.lower(AppUser.email) == email.lower())).first()
        user = user or AppUser(email=email, created_at=now)
        user.name, user.role, user.rep_id, user.team, user.active = name.strip(), role.value, rep_id, team, active
        session.add(user)
        session.flush()
        session.refresh(user)
        session.expunge(user)
        return user


save_user = guarded(
    Action.MANAGE_USERS, target=lambda k: described(user=k["email"], role=k["role"], active=k["active"])
)(_save_user)

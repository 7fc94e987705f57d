"""The users' repository: who may sign in with which role, read and changed in the session it is given."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from dashboard.auth import Action, Actor, Role
from dashboard.models import AppUser
from dashboard.refusals import Refused
from dashboard.store.audit import described, guarded


def user_for(*, session: Session, email: str, admins: tuple[str, ...] = ()) -> Actor | None:
    """The actor a signed-in email maps to; None for an unknown or deactivated email (no access yet).

    Emails listed in admins (HANDOFF_ADMINS) are admins even before the users table knows them, so that a new
    installation has someone who can grant access.
    """
    key = email.strip().lower()
    user = session.exec(select(AppUser).where(sa.func.lower(AppUser.email) == key)).first()
    if user is not None and user.active:
        return Actor(
            email=user.email, name=user.name or user.email, role=Role(user.role), rep_id=user.rep_id, team=user.team
        )
    if key in {a.strip().lower() for a in admins}:
        return Actor(email=email, name=email, role=Role.ADMIN)
    return None


def users(*, session: Session) -> list[AppUser]:
    """Every user, by email."""
    rows = session.exec(select(AppUser).order_by(AppUser.email)).all()
    for row in rows:
        session.expunge(row)
    return list(rows)


@guarded(Action.MANAGE_USERS, target=lambda k: described(user=k["email"], role=k["role"], active=k["active"]))
def save_user(
    *,
    session: Session,
    email: str,
    name: str,
    role: str,
    rep_id: int | None,
    team: str | None,
    active: bool,
    now: datetime,
) -> AppUser:
    """Add a user, or change the one with this email; refused when the role lacks what it needs."""
    email = email.strip()
    if "@" not in email:
        raise Refused("Please enter the email address the person signs in with.")
    role = Role(role)
    if role is Role.REP and rep_id is None:
        raise Refused("A rep must be linked to their rep record, so that they see their own queue.")
    if role is Role.SALES_MANAGER and not team:
        raise Refused("A sales manager needs a team: they decide and reassign within it.")
    user = session.exec(select(AppUser).where(sa.func.lower(AppUser.email) == email.lower())).first()
    user = user or AppUser(email=email, created_at=now)
    user.name, user.role, user.rep_id, user.team, user.active = name.strip(), role.value, rep_id, team, active
    session.add(user)
    session.flush()
    session.refresh(user)
    session.expunge(user)
    return user

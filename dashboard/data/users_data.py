"""The users' boundary: who a signed-in email is, the users table as its page shows it, and the users written,
each change in one transaction with its rights check and audit line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl
import streamlit as st

from dashboard.auth import ROLE_LABELS, Actor, Role
from dashboard.models import AppUser
from dashboard.store import db, queue, users

TTL_SECONDS = 60
USERS_SCHEMA = {
    "email": pl.String,
    "name": pl.String,
    "role": pl.String,
    "rep": pl.String,
    "team": pl.String,
    "active": pl.Boolean,
}


# Looked up once a minute per email rather than on every rerun; saving a user clears it at once.
@st.cache_data(ttl=TTL_SECONDS, max_entries=256, show_spinner=False)
def actor_for(url: str, email: str, admins: tuple[str, ...]) -> Actor | None:
    """The actor a signed-in email maps to; None for an unknown or deactivated email (store.users.user_for)."""
    with db.transaction(url) as session:
        return users.user_for(session=session, email=email, admins=admins)


@dataclass(frozen=True)
class People:
    """The users page's data: the users as a table, and the rep records and teams a user can be linked to."""

    table: pl.DataFrame  # email, name, role (its label), rep (the linked rep's name), team, active
    rep_names: dict[int, str]  # the active reps, by id
    teams: tuple[str, ...]
    admins: tuple[str, ...]  # the emails of the active admins


def people_of(rows: list[AppUser], reps: pl.DataFrame) -> People:
    """The users and the active reps, as the users page shows them."""
    rep_names = dict(zip(reps["id"], reps["name"], strict=True))
    table = pl.DataFrame(
        [
            {
                "email": u.email,
                "name": u.name,
                "role": ROLE_LABELS[Role(u.role)],
                "rep": rep_names.get(u.rep_id, ""),
                "team": u.team or "",
                "active": u.active,
            }
            for u in rows
        ],
        schema=USERS_SCHEMA,
    )
    admins = tuple(u.email for u in rows if u.role == Role.ADMIN and u.active)
    return People(table, rep_names, tuple(sorted(set(reps["team"]))), admins)


@st.cache_data(ttl=TTL_SECONDS, max_entries=8, show_spinner=False)
def people(url: str) -> People:
    """Every user and the reps they can be linked to (cached a minute; saving a user clears it)."""
    with db.transaction(url) as session:
        return people_of(users.users(session=session), queue.reps(session=session))


def names_of(p: People) -> list[str]:
    """The active users' names (their email when they have none) and the active reps' names, once each, sorted."""
    users = p.table.filter(pl.col("active")).select(
        pl.when(pl.col("name").str.strip_chars() != "").then(pl.col("name")).otherwise(pl.col("email"))
    )
    return sorted({*users.to_series().to_list(), *p.rep_names.values()}, key=str.casefold)


def owner_names(url: str) -> list[str]:
    """The people an action item's owner is picked from: the active users and reps (cached with people)."""
    return names_of(people(url))


def forget() -> None:
    """Make the next rerun read the users table again (after a user was added or changed)."""
    actor_for.clear()
    people.clear()


def save_user(
    *,
    url: str,
    actor: Actor | None,
    email: str,
    name: str,
    role: str,
    rep_id: int | None,
    team: str | None,
    active: bool,
    now: datetime,
):
    """Add a user or change one (store.users.save_user); the next rerun sees the change."""
    with db.transaction(url) as session:
        saved = users.save_user(
            session=session,
            actor=actor,
            email=email,
            name=name,
            role=role,
            rep_id=rep_id,
            team=team,
            active=active,
            now=now,
        )
    forget()
    return saved

"""Who may write what: roles, the rights table, and the check every write makes (store.audit.guarded runs it in the
write's own session)."""

from __future__ import annotations

from collections.abc import Iterable
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
    REVIEW = "review"  # action items, meeting notes, closing (and reopening) a week's review
    MANAGE_USERS = "manage_users"


# The rights table. Queue actions are further limited to the queues each role reaches (SCOPES).
RIGHTS: dict[Action, frozenset[Role]] = {
    Action.DECIDE: frozenset({Role.ADMIN, Role.SALES_MANAGER, Role.REP}),
    Action.ESCALATE: frozenset({Role.ADMIN, Role.SALES_MANAGER, Role.REP}),
    Action.REASSIGN: frozenset({Role.ADMIN, Role.REVOPS, Role.SALES_MANAGER, Role.REP}),
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
QUEUE_ACTIONS = frozenset({Action.DECIDE, Action.ESCALATE, Action.REASSIGN})


class Scope(StrEnum):
    """The reps' queues a role's queue actions reach."""

    ANYWHERE = "anywhere"
    TEAM = "within their team"
    OWN_QUEUE = "in their own queue"


SCOPES = {
    Role.ADMIN: Scope.ANYWHERE,
    Role.REVOPS: Scope.ANYWHERE,
    Role.SALES_MANAGER: Scope.TEAM,
    Role.REP: Scope.OWN_QUEUE,
}
# How a refusal names the people of each role, in the order it lists them.
PEOPLE = {
    Role.REP: "a rep",
    Role.SALES_MANAGER: "a sales manager",
    Role.REVOPS: "RevOps / marketing ops",
    Role.ADMIN: "an admin",
}
NOTHING_CHANGED = "nothing was changed"


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

    def reaches(self, rep: Rep | None) -> bool:
        """Whether this actor's queue actions reach rep's queue (None: a lead in no rep's queue)."""
        scope = SCOPES[self.role]
        if scope is Scope.ANYWHERE:
            return True
        if rep is None:
            return False
        if scope is Scope.TEAM:
            return self.team is not None and rep.team == self.team
        return rep.id == self.rep_id


# Without sign-in configured the app runs for one local user (on 127.0.0.1 only) with every right.
LOCAL = Actor(email="local", name="Local user", role=Role.ADMIN)


def signed_name(actor: Actor | None, typed: str) -> str:
    """The name a write is signed with (an author, who closed a review): a signed-in user's own, whatever was typed;
    the name typed only in local mode (actor None or LOCAL), where nobody signed in."""
    return typed if actor is None or actor == LOCAL else actor.name


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _who_may(action: Action) -> str:
    """Everyone the rights table lets take action, each role with the queues it reaches."""
    queue = action in QUEUE_ACTIONS
    return _listed(
        [
            PEOPLE[role] + (f" {SCOPES[role]}" if queue and SCOPES[role] is not Scope.ANYWHERE else "")
            for role in PEOPLE
            if role in RIGHTS[action]
        ]
    )


def _who_may_on(action: Action, rep: Rep | None) -> str:
    """Who may take a queue action on rep's queue: the rep, their team's managers, and the roles that reach anywhere."""
    names = {
        Role.REP: rep.name if rep else None,
        Role.SALES_MANAGER: f"a sales manager of the {rep.team} team" if rep and rep.team else None,
        Role.REVOPS: PEOPLE[Role.REVOPS],
        Role.ADMIN: PEOPLE[Role.ADMIN],
    }
    return _listed([names[role] for role in PEOPLE if role in RIGHTS[action] and names[role]])


def _queue_of(rep: Rep | None, rep_id: int | None) -> str:
    if rep is not None:
        return f"{rep.name}'s queue ({rep.team} team)" if rep.team else f"{rep.name}'s queue"
    return "in no rep's queue" if rep_id is None else f"the queue of rep {rep_id}, who does not exist"


def check(actor: Actor, action: Action, *, session: Session | None = None, queues: Iterable[int | None] = ()) -> None:
    """Refuse, with a sentence naming who may, an action the actor may not take; for queue actions, also on any of
    the reps' queues it touches (queues: their rep ids, None for a lead in no queue, read in session, the write's
    own)."""
    if not actor.may(action):
        raise Refused(
            f"{actor.name} ({ROLE_LABELS[actor.role]}) may not {ACTION_LABELS[action]}: only {_who_may(action)} may; "
            f"{NOTHING_CHANGED}. Ask an admin for another role if you need to."
        )
    if action not in QUEUE_ACTIONS or SCOPES[actor.role] is Scope.ANYWHERE:
        return
    for rep_id in dict.fromkeys(queues):
        rep = session.get(Rep, rep_id) if session is not None and rep_id is not None else None
        if actor.reaches(rep):
            continue
        scope = SCOPES[actor.role]
        mine = f" ({actor.team})" if scope is Scope.TEAM and actor.team else ""
        where = _queue_of(rep, rep_id)
        raise Refused(
            f"{actor.name} ({ROLE_LABELS[actor.role]}) may {ACTION_LABELS[action]} only {scope}{mine}, and this is "
            f"{where}: only {_who_may_on(action, rep)} may; {NOTHING_CHANGED}."
        )

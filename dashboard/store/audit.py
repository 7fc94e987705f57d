"""The audit log's repository: every write checks the actor's rights and records its line in the write's session."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlmodel import Session

from dashboard.auth import LOCAL, Action, Actor, check
from dashboard.models import AuditEntry


def guarded(
    action: Action,
    *,
    target: Callable[[dict], str] | None = None,
    left: Callable[[Any], Iterable[int | None]] | None = None,
    outcome: Callable[[Any], str] | None = None,
) -> Callable:
    """Make a repository write check the actor's rights first and record who made it afterwards, both in the
    session the write runs in: the write and its audit line are committed together, or neither is.

    The write gains a keyword `actor`; None means local mode (no sign-in configured), which has every right. A queue
    write acts on the queue of its `rep_id`; left(result) names the other queues it took leads out of (reassign: the
    lead's owner), checked on what the write's guarded UPDATE found, so a lead moved by someone else a moment before
    is judged where it was really taken from.

    The audit line's target is target(the write's keywords), or outcome(result) for a write whose line must keep
    what it found (a removal records what it removed).
    """

    def wrap(write: Callable) -> Callable:
        @functools.wraps(write)
        def guarded_write(*, session: Session, actor: Actor | None = None, **kwargs):
            who = actor or LOCAL
            check(who, action, session=session, queues=(kwargs.get("rep_id"),))
            result = write(session=session, **kwargs)
            if left is not None:
                check(who, action, session=session, queues=left(result))
            what = outcome(result) if outcome is not None else target(kwargs)
            record(session=session, actor=who, action=action, target=what, now=kwargs.get("now"))
            return result

        return guarded_write

    return wrap


def entry(*, actor: Actor, action: Action, target: str, now: datetime | None = None) -> AuditEntry:
    """The audit line of one write."""
    return AuditEntry(
        at=now or datetime.now(),
        actor=actor.email,
        actor_name=actor.name,
        role=actor.role.value,
        action=action.value,
        target=target,
    )


def record(*, session: Session, actor: Actor, action: Action, target: str, now: datetime | None = None) -> None:
    """Add the write's line to the audit log, in the write's session (flushed, so that a failure shows here)."""
    session.add(entry(actor=actor, action=action, target=target, now=now))
    session.flush()


def described(**fields) -> str:
    """A write's target as the audit log keeps it: its non-empty fields as JSON."""
    return json.dumps({k: v for k, v in fields.items() if v is not None}, default=str, ensure_ascii=False)

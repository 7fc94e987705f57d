"""The weekly review's repository: action items (added, closed), the week's meeting notes and its closing (the
snapshot of its figures, and reopening), each in the session it is given; each checks the actor's right to edit the
review (keyword actor; None: local mode) and goes into the audit log in that session."""

from __future__ import annotations

import json
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from dashboard.auth import Action
from dashboard.models import ActionItem, MeetingNote, ReviewSnapshot
from dashboard.refusals import Refused
from dashboard.store.audit import described, guarded
from queries.review import IsoWeek

TITLE_CHARS, OWNER_CHARS, NOTE_CHARS = 200, 80, 20_000
OPEN, DONE = "open", "done"


def _text(value: str, what: str, limit: int) -> str:
    value = (value or "").strip()
    if not value:
        raise Refused(f"Please enter {what}.")
    if len(value) > limit:
        raise Refused(f"{what[0].upper()}{what[1:]} is too long: at most {limit:,} characters.")
    return value


def _detached(session: Session, row):
    session.flush()
    session.refresh(row)
    session.expunge(row)
    return row


@guarded(Action.REVIEW, target=lambda k: described(action_item=k["title"], owner=k["owner"], week=str(k["week"])))
def add_action_item(
    *, session: Session, title: str, owner: str, due_date: date | None, week: IsoWeek, now: datetime
) -> ActionItem:
    """Record a new open action item agreed in the review of week; refused without a title, owner or a due date
    from today on."""
    item = ActionItem(
        title=_text(title, "what is to be done", TITLE_CHARS),
        owner=_text(owner, "who owns it", OWNER_CHARS),
        due_date=_due(due_date, now),
        status=OPEN,
        created_at=now,
        created_week=str(week),
    )
    session.add(item)
    return _detached(session, item)


def _due(due_date: date | None, now: datetime) -> date:
    if due_date is None:
        raise Refused("Please pick a due date.")
    if due_date < now.date():
        raise Refused(f"The due date {due_date:%d %b %Y} has passed: pick today or a later day.")
    return due_date


@guarded(Action.REVIEW, target=lambda k: described(closed_action_item=k["item_id"]))
def close_action_item(*, session: Session, item_id: int, now: datetime) -> ActionItem:
    """Mark an open action item done now; refused when it does not exist or is already closed."""
    # FOR UPDATE: two people closing the same item at once make one close, not two.
    item = session.exec(select(ActionItem).where(ActionItem.id == item_id).with_for_update()).first()
    if item is None:
        raise Refused("That action item no longer exists: reload the page.")
    if item.status == DONE:
        raise Refused(f"“{item.title}” was already closed on {item.closed_at:%d %b %Y}.")
    item.status, item.closed_at = DONE, now
    session.add(item)
    return _detached(session, item)


@guarded(Action.REVIEW, target=lambda k: described(meeting_note=str(k["week"])))
def save_meeting_note(*, session: Session, week: IsoWeek, text: str, author: str, now: datetime) -> MeetingNote:
    """Save the notes of week's review (replacing the earlier text); refused without an author or when too long."""
    author = _text(author, "your name", OWNER_CHARS)
    text = (text or "").strip()
    if len(text) > NOTE_CHARS:
        raise Refused(f"The notes are too long: at most {NOTE_CHARS:,} characters.")
    note = session.exec(select(MeetingNote).where(MeetingNote.week == str(week)).with_for_update()).first()
    if note is None:
        note = MeetingNote(week=str(week), text=text, author=author, updated_at=now)
    else:
        note.text, note.author, note.updated_at = text, author, now
    session.add(note)
    try:
        session.flush()
    except sa.exc.IntegrityError as exc:  # the same week's first notes saved by someone else a moment ago
        raise Refused(f"Someone else saved the notes of {week} a moment ago: reload the page and try again.") from exc
    return _detached(session, note)


def _closed(closed: ReviewSnapshot) -> str:
    return f"by {closed.closed_by} on {closed.closed_at:%d %b %Y at %H:%M}"


@guarded(Action.REVIEW, target=lambda k: described(closed_review=str(k["week"]), closed_by=k["closed_by"]))
def close_week(
    *, session: Session, week: IsoWeek, figures: str, sla_hours: float, closed_by: str, now: datetime
) -> ReviewSnapshot:
    """Close week's review: keep its figures (JSON, as the page showed them) with who closed it and when; refused
    before the week is over, without a name, or when it is closed already."""
    closed_by = _text(closed_by, "your name", OWNER_CHARS)
    if now < week.end:
        raise Refused(
            f"{week} is not over yet: its review can be closed from {week.end:%A %-d %b %Y}, once every figure of "
            "the week is in."
        )
    earlier = session.exec(select(ReviewSnapshot).where(ReviewSnapshot.week == str(week)).with_for_update()).first()
    if earlier is not None:
        raise Refused(f"The review of {week} was already closed {_closed(earlier)}: its figures are kept as then.")
    snapshot = ReviewSnapshot(week=str(week), closed_at=now, closed_by=closed_by, sla_hours=sla_hours, figures=figures)
    session.add(snapshot)
    try:
        session.flush()
    except sa.exc.IntegrityError as exc:  # the same week closed by someone else a moment ago
        raise Refused(f"Someone else closed the review of {week} a moment ago: reload the page.") from exc
    return _detached(session, snapshot)


def _reopened(snapshot: ReviewSnapshot) -> str:
    """The reopening's audit line keeps the snapshot it removed, figures and all."""
    return described(
        reopened_review=snapshot.week,
        closed_by=snapshot.closed_by,
        closed_at=snapshot.closed_at,
        sla_hours=snapshot.sla_hours,
        figures=json.loads(snapshot.figures),
    )


@guarded(Action.REVIEW, outcome=_reopened)
def reopen_week(*, session: Session, week: IsoWeek, now: datetime) -> ReviewSnapshot:
    """Reopen week's closed review: its snapshot is removed from the review (and kept in the audit line), the page
    shows live figures again; refused when the week is not closed."""
    snapshot = session.exec(select(ReviewSnapshot).where(ReviewSnapshot.week == str(week)).with_for_update()).first()
    if snapshot is None:
        raise Refused(f"The review of {week} is not closed: there is nothing to reopen. Reload the page.")
    session.delete(snapshot)
    session.flush()
    session.expunge(snapshot)
    return snapshot

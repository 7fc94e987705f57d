"""The acceptance queue's writes on SQLite and PostgreSQL: rows written, refusals that write nothing, and races."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal
from sqlmodel import Session

from dashboard.models import Campaign, ChannelRow, Lead, Rep, SalesDecision, StageEvent
from dashboard.store import db, queue
from dashboard.store.queue import AlreadyDecided, NotPending, NotYours, Refused, UnknownLead
from tests.conftest import in_transaction

NOW = datetime(2026, 11, 25, 10, 4, 30)
H = timedelta(hours=1)


@dataclass(frozen=True)
class World:
    """A small hand-made database: who is who, and which lead is which."""

    url: str
    reps: dict[str, int]  # first name -> id
    leads: dict[str, int]  # external id -> id


# Each pending lead: owner, hours since its MQL events (oldest first), campaign.
PENDING = {
    "T-A1": ("Ava", (30,), "CTV - Launch"),
    "T-A2": ("Ava", (2,), "Email - Nurture"),
    "T-A3": ("Ava", (24,), "CTV - Launch"),
    "T-A4": ("Ava", (25.5,), "Email - Nurture"),
    "T-A5": ("Ava", (100, 1), "Email - Nurture"),  # recycled and back: the latest MQL counts
    "T-B1": ("Ben", (5,), "CTV - Launch"),
    "T-B2": ("Ben", (50,), "Email - Nurture"),
    "T-C1": ("Cleo", (3,), "CTV - Launch"),
}
REPS = (
    ("Ava Thompson", "junior", True),
    ("Ben Okafor", "junior", True),
    ("Cleo Martin", "junior", False),
    ("Sam Rivera", "senior", True),
    ("Tess Ward", "senior", False),
)


def _seed(url: str) -> World:
    db.create_schema(url)
    with db.transaction(url) as session:
        channels = {
            "ctv": ChannelRow(key="ctv", label="Connected TV (CTV)", view_through=True),
            "email": ChannelRow(key="email", label="Email"),
        }
        session.add_all(channels.values())
        session.flush()
        campaigns = {
            "CTV - Launch": Campaign(name="CTV - Launch", channel_id=channels["ctv"].id, start_date=date(2026, 1, 1)),
            "Email - Nurture": Campaign(
                name="Email - Nurture", channel_id=channels["email"].id, start_date=date(2026, 1, 1)
            ),
        }
        reps = {n: Rep(name=n, tier=t, team="North America", weekly_capacity=50, active=a) for n, t, a in REPS}
        session.add_all([*campaigns.values(), *reps.values()])
        session.flush()
        rep_ids = {name.split()[0]: rep.id for name, rep in reps.items()}
        leads: dict[str, Lead] = {}
        for external_id, (owner, mql_hours, campaign) in PENDING.items():
            lead = _lead(session, external_id, rep_ids[owner], campaigns[campaign].id, "mql")
            leads[external_id] = lead
            for hours in mql_hours:
                session.add(_event(lead.id, "mql", NOW - hours * H, "scoring model v2"))
        # T-A5 was rejected and recycled before it came back as an MQL.
        a5, ava = leads["T-A5"].id, rep_ids["Ava"]
        session.add(_decision(a5, "rejected", ava, NOW - 99 * H, reason="low_activity", kind="definitional"))
        session.add(_event(a5, "rejected", NOW - 99 * H, "Ava Thompson", ava))
        session.add(_event(a5, "recycled", NOW - 75 * H, "marketing nurture"))
        # Not pending: an inquiry, and a lead Ava accepted ten hours ago.
        leads["T-A6"] = _lead(session, "T-A6", ava, campaigns["CTV - Launch"].id, "inquiry")
        a7 = leads["T-A7"] = _lead(session, "T-A7", ava, campaigns["CTV - Launch"].id, "sal")
        session.add(_event(a7.id, "mql", NOW - 12 * H, "scoring model v2"))
        session.add(_decision(a7.id, "accepted", ava, NOW - 10 * H))
        session.add(_event(a7.id, "sal", NOW - 10 * H, "Ava Thompson", ava))
        return World(url, rep_ids, {k: v.id for k, v in leads.items()})


def _lead(session: Session, external_id: str, owner: int, campaign_id: int, stage: str) -> Lead:
    lead = Lead(external_id=external_id, created_at=NOW - 200 * H, campaign_id=campaign_id, owner_rep_id=owner)
    lead.stage = stage
    session.add(lead)
    session.flush()
    return lead


def _event(lead_id: int, stage: str, at: datetime, actor: str, rep_id: int | None = None) -> StageEvent:
    return StageEvent(lead_id=lead_id, stage=stage, occurred_at=at, actor=actor, rep_id=rep_id)


def _decision(lead_id, decision, rep_id, at, *, reason=None, kind=None, comment=None) -> SalesDecision:
    return SalesDecision(
        lead_id=lead_id,
        decision=decision,
        reason=reason,
        reason_kind=kind,
        comment=comment,
        rep_id=rep_id,
        decided_at=at,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request, tmp_path) -> World:
    url = f"sqlite:///{tmp_path / 'queue.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    return _seed(url)


def _rows(url: str, table: type, **where) -> list[dict]:
    t = table.__table__
    with db.transaction(url) as session:
        query = sa.select(t).where(*(t.c[k] == v for k, v in where.items())).order_by(t.c.id)
        return [dict(row._mapping) for row in session.execute(query)]


def _snapshot(url: str) -> dict[str, list[dict]]:
    """Every row of the tables the queue writes."""
    return {t.__tablename__: _rows(url, t) for t in (Lead, StageEvent, SalesDecision)}


def _history(world: World, external_id: str) -> list[tuple]:
    """The lead's stage events as (stage, occurred_at, actor, rep_id), in time order."""
    events = _rows(world.url, StageEvent, lead_id=world.leads[external_id])
    events = sorted(events, key=lambda e: (e["occurred_at"], e["id"]))
    return [(e["stage"], e["occurred_at"], e["actor"], e["rep_id"]) for e in events]


def _decisions(world: World, external_id: str) -> list[tuple]:
    rows = _rows(world.url, SalesDecision, lead_id=world.leads[external_id])
    return [(d["decision"], d["reason"], d["reason_kind"], d["comment"], d["rep_id"], d["decided_at"]) for d in rows]


def _lead_row(world: World, external_id: str) -> dict:
    (row,) = _rows(world.url, Lead, id=world.leads[external_id])
    return row


def _mql(external_id: str, hours: float) -> tuple:
    return ("mql", NOW - hours * H, "scoring model v2", None)


# ----- the writes ---------------------------------------------------------------------------------------------------


def test_accept_writes_the_decision_the_sal_event_and_the_stage(world):
    ava = world.reps["Ava"]
    done = in_transaction(world.url, queue.accept, lead_id=world.leads["T-A1"], rep_id=ava, now=NOW, comment="good fit")
    assert _decisions(world, "T-A1") == [("accepted", None, None, "good fit", ava, NOW)]
    assert _history(world, "T-A1") == [_mql("T-A1", 30), ("sal", NOW, "Ava Thompson", ava)]
    assert (_lead_row(world, "T-A1")["stage"], _lead_row(world, "T-A1")["owner_rep_id"]) == ("sal", ava)
    assert (done.external_id, done.decision, done.stage, done.decided_at) == ("T-A1", "accepted", "sal", NOW)
    (decision,) = _rows(world.url, SalesDecision, lead_id=world.leads["T-A1"])
    assert done.decision_id == decision["id"]


def test_reject_takes_the_kind_from_the_reason(world):
    ava = world.reps["Ava"]
    in_transaction(world.url, queue.reject, lead_id=world.leads["T-A2"], rep_id=ava, reason="bad_contact", now=NOW)
    assert _decisions(world, "T-A2") == [("rejected", "bad_contact", "clerical", None, ava, NOW)]
    assert _history(world, "T-A2") == [_mql("T-A2", 2), ("rejected", NOW, "Ava Thompson", ava)]
    assert _lead_row(world, "T-A2")["stage"] == "rejected"


def test_a_lead_back_from_nurture_can_be_decided_again(world):
    ava = world.reps["Ava"]
    in_transaction(world.url, queue.accept, lead_id=world.leads["T-A5"], rep_id=ava, now=NOW)
    assert [d[0] for d in _decisions(world, "T-A5")] == ["rejected", "accepted"]
    assert _lead_row(world, "T-A5")["stage"] == "sal"


@pytest.mark.parametrize("comment", ['<script>alert("x")</script>', "<b>bold</b> &amp; ‘quoted’  ", "  ", ""])
def test_comments_are_stored_exactly_as_given(world, comment):
    ava = world.reps["Ava"]
    in_transaction(
        world.url, queue.reject, lead_id=world.leads["T-A1"], rep_id=ava, reason="duplicate", now=NOW, comment=comment
    )
    in_transaction(world.url, queue.accept, lead_id=world.leads["T-A2"], rep_id=ava, now=NOW, comment=comment)
    assert _decisions(world, "T-A1")[0][3] == comment
    assert _decisions(world, "T-A2")[0][3] == comment


def test_bulk_accept_writes_one_decision_and_one_event_per_lead(world):
    ava, ids = world.reps["Ava"], ["T-A3", "T-A1", "T-A4"]
    done = in_transaction(
        world.url, queue.decide_many, lead_ids=[world.leads[i] for i in ids], rep_id=ava, decision="accepted", now=NOW
    )
    assert [d.external_id for d in done.decisions] == ids
    for external_id in ids:
        assert _decisions(world, external_id) == [("accepted", None, None, None, ava, NOW)]
        assert _history(world, external_id)[-1] == ("sal", NOW, "Ava Thompson", ava)
        assert _lead_row(world, external_id)["stage"] == "sal"
    assert _lead_row(world, "T-A2")["stage"] == "mql"  # not selected


def test_bulk_reject_gives_every_lead_the_reason_and_the_comment(world):
    ava = world.reps["Ava"]
    done = in_transaction(
        world.url,
        queue.decide_many,
        lead_ids=[world.leads["T-A2"], world.leads["T-A4"], world.leads["T-A2"]],  # a repeated id counts once
        rep_id=ava,
        decision="rejected",
        reason="not_target_market",
        now=NOW,
        comment="<b>retail</b>",
    )
    assert done.count == 2
    for external_id in ("T-A2", "T-A4"):
        assert _decisions(world, external_id) == [
            ("rejected", "not_target_market", "definitional", "<b>retail</b>", ava, NOW)
        ]
        assert _history(world, external_id)[-1] == ("rejected", NOW, "Ava Thompson", ava)
        assert _lead_row(world, external_id)["stage"] == "rejected"


def test_escalate_hands_an_accepted_lead_to_a_senior(world):
    ava, sam = world.reps["Ava"], world.reps["Sam"]
    done = in_transaction(
        world.url, queue.escalate, lead_id=world.leads["T-A7"], rep_id=ava, senior_rep_id=sam, now=NOW
    )
    assert _history(world, "T-A7")[-1] == ("sql", NOW, "Sam Rivera", sam)
    row = _lead_row(world, "T-A7")
    assert (row["stage"], row["senior_rep_id"], row["owner_rep_id"]) == ("sql", sam, ava)
    assert (done.senior_rep_id, done.escalated_at) == (sam, NOW)
    assert len(_decisions(world, "T-A7")) == 1  # an escalation is not a sales decision


def test_reassign_records_a_routing_rejection_and_a_new_mql_for_the_new_owner(world):
    ava, ben, sam = world.reps["Ava"], world.reps["Ben"], world.reps["Sam"]
    done = in_transaction(
        world.url,
        queue.reassign,
        lead_id=world.leads["T-A1"],
        rep_id=sam,
        new_owner_rep_id=ben,
        now=NOW,
        comment="EMEA lead",
    )
    assert _decisions(world, "T-A1") == [("rejected", "wrong_territory", "procedural", "EMEA lead", sam, NOW)]
    assert _history(world, "T-A1") == [
        _mql("T-A1", 30),
        ("rejected", NOW, "Sam Rivera", ava),
        ("mql", NOW + timedelta(microseconds=1), "reassigned to Ben Okafor", ben),
    ]
    row = _lead_row(world, "T-A1")
    assert (row["stage"], row["owner_rep_id"]) == ("mql", ben)
    assert (done.previous_owner_rep_id, done.new_owner_rep_id, done.rep_id) == (ava, ben, sam)
    # It is now Ben's to decide, with a fresh SLA clock, and no longer Ava's.
    assert (
        world.leads["T-A1"]
        in in_transaction(world.url, queue.pending_queue, rep_id=ben, now=NOW, sla_hours=24)["lead_id"]
    )
    with pytest.raises(AlreadyDecided, match="reassigned to Ben Okafor by Sam Rivera at 2026-11-25 10:04 UTC"):
        in_transaction(world.url, queue.accept, lead_id=world.leads["T-A1"], rep_id=ava, now=NOW + H)
    in_transaction(world.url, queue.accept, lead_id=world.leads["T-A1"], rep_id=ben, now=NOW + H)
    assert _lead_row(world, "T-A1")["stage"] == "sal"


def _accept_a1(world):
    return in_transaction(world.url, queue.accept, lead_id=world.leads["T-A1"], rep_id=world.reps["Ava"], now=NOW)


def _reject_a1(world):
    return in_transaction(
        world.url,
        queue.reject,
        lead_id=world.leads["T-A1"],
        rep_id=world.reps["Ava"],
        reason="student_competitor",
        now=NOW,
    )


def _reassign_a1(world):
    return in_transaction(
        world.url,
        queue.reassign,
        lead_id=world.leads["T-A1"],
        rep_id=world.reps["Sam"],
        new_owner_rep_id=world.reps["Ben"],
        now=NOW,
    )


@pytest.mark.parametrize("decide", [_accept_a1, _reject_a1, _reassign_a1], ids=["accept", "reject", "reassign"])
def test_undo_inside_the_window_leaves_the_database_as_before(world, decide):
    before = _snapshot(world.url)
    done = decide(world)
    assert _snapshot(world.url) != before
    undone = in_transaction(
        world.url,
        queue.undo,
        decision_id=done.decision_id,
        rep_id=done.rep_id,
        now=NOW + timedelta(minutes=4, seconds=59),
    )
    assert _snapshot(world.url) == before
    assert (undone.stage, undone.owner_rep_id) == ("mql", world.reps["Ava"])


# ----- refusals write nothing -----------------------------------------------------------------------------------------


def _nothing(world):
    return None


def _accepted_then_escalated(world):
    done = _accept_a1(world)
    in_transaction(
        world.url,
        queue.escalate,
        lead_id=world.leads["T-A1"],
        rep_id=world.reps["Ava"],
        senior_rep_id=world.reps["Sam"],
        now=NOW,
    )
    return done


def _reassigned_then_decided(world):
    done = _reassign_a1(world)
    in_transaction(
        world.url, queue.accept, lead_id=world.leads["T-A1"], rep_id=world.reps["Ben"], now=NOW + timedelta(minutes=1)
    )
    return done


def _undo(after: timedelta, who: str = "Ava") -> Callable:
    return lambda world, done: in_transaction(
        world.url, queue.undo, decision_id=done.decision_id, rep_id=world.reps[who], now=NOW + after
    )


def _call(name: str, lead: str, rep: str, **kwargs) -> Callable:
    def call(world, _done):
        args = {k: world.reps[v] if k.endswith("rep_id") else v for k, v in kwargs.items()}
        lead_id = world.leads.get(lead, 999_999)
        return in_transaction(
            world.url, getattr(queue, name), lead_id=lead_id, rep_id=world.reps.get(rep, 999), now=NOW, **args
        )

    return call


def _bulk(leads: list[str], rep: str, decision: str, reason: str | None = None) -> Callable:
    return lambda world, _done: in_transaction(
        world.url,
        queue.decide_many,
        lead_ids=[world.leads[x] for x in leads],
        rep_id=world.reps[rep],
        decision=decision,
        reason=reason,
        now=NOW,
    )


# (setup, refused call, exception, words the message must hold)
REFUSALS = {
    "accept an inquiry": (_nothing, _call("accept", "T-A6", "Ava"), NotPending, "T-A6 is not waiting"),
    "accept an accepted lead": (
        _nothing,
        _call("accept", "T-A7", "Ava"),
        AlreadyDecided,
        "Lead T-A7 was already accepted by Ava Thompson at 2026-11-25 00:04 UTC; nothing was changed.",
    ),
    "reject a lead just accepted": (
        _accept_a1,
        _call("reject", "T-A1", "Ava", reason="duplicate"),
        AlreadyDecided,
        "already accepted by Ava Thompson at 2026-11-25 10:04 UTC",
    ),
    "accept another rep's lead": (_nothing, _call("accept", "T-B1", "Ava"), NotYours, "in Ben Okafor's queue"),
    "accept an unknown lead": (_nothing, _call("accept", "nope", "Ava"), UnknownLead, "Lead 999999 does not exist"),
    "unknown rep": (_nothing, _call("accept", "T-A1", "Nobody"), Refused, "no rep with id 999"),
    "inactive rep": (_nothing, _call("accept", "T-C1", "Cleo"), Refused, "Cleo Martin is no longer an active rep"),
    "reject without a reason": (_nothing, _call("reject", "T-A1", "Ava", reason=None), Refused, "Choose a rejection"),
    "reject with a blank reason": (_nothing, _call("reject", "T-A1", "Ava", reason=" "), Refused, "Choose a rejection"),
    "reject with an unknown reason": (
        _nothing,
        _call("reject", "T-A1", "Ava", reason="too_busy"),
        Refused,
        "“too_busy” is not a rejection reason",
    ),
    "escalate to a junior": (
        _nothing,
        _call("escalate", "T-A7", "Ava", senior_rep_id="Ben"),
        Refused,
        "Ben Okafor is not an active senior rep",
    ),
    "escalate to an inactive senior": (
        _nothing,
        _call("escalate", "T-A7", "Ava", senior_rep_id="Tess"),
        Refused,
        "Tess Ward is not an active senior rep",
    ),
    "escalate a pending lead": (
        _nothing,
        _call("escalate", "T-A1", "Ava", senior_rep_id="Sam"),
        NotPending,
        "T-A1 has not been accepted yet",
    ),
    "escalate twice": (
        _accepted_then_escalated,
        _call("escalate", "T-A1", "Ava", senior_rep_id="Sam"),
        AlreadyDecided,
        "already escalated to Sam Rivera",
    ),
    "reassign to yourself": (
        _nothing,
        _call("reassign", "T-A1", "Ava", new_owner_rep_id="Ava"),
        Refused,
        "already in Ava Thompson's queue",
    ),
    "reassign to a senior": (
        _nothing,
        _call("reassign", "T-A1", "Ben", new_owner_rep_id="Sam"),
        Refused,
        "Sam Rivera is not an active junior rep",
    ),
    "reassign to an inactive rep": (
        _nothing,
        _call("reassign", "T-A1", "Ben", new_owner_rep_id="Cleo"),
        Refused,
        "Cleo Martin is not an active junior rep",
    ),
    "reassign a decided lead": (
        _nothing,
        _call("reassign", "T-A7", "Ben", new_owner_rep_id="Ben"),
        AlreadyDecided,
        "T-A7 was already accepted by Ava Thompson",
    ),
    "undo at the end of the window": (_accept_a1, _undo(timedelta(minutes=5)), Refused, "more than 5 minutes ago"),
    "undo someone else's decision": (_accept_a1, _undo(timedelta(minutes=1), "Ben"), Refused, "only they can undo"),
    "undo after an escalation": (
        _accepted_then_escalated,
        _undo(timedelta(minutes=1)),
        Refused,
        "Lead T-A1 has moved on since: it was escalated to a senior rep",
    ),
    "undo a reassignment the new owner decided": (
        _reassigned_then_decided,
        _undo(timedelta(minutes=2), "Sam"),
        Refused,
        "Lead T-A1 was since accepted by Ben Okafor at 2026-11-25 10:05 UTC, so the decision cannot be undone",
    ),
    "bulk with one lead of another rep": (
        _nothing,
        _bulk(["T-A1", "T-B1", "T-A2"], "Ava", "accepted"),
        NotYours,
        "1 of the 3 selected leads cannot be accepted, so nothing was changed: Lead T-B1 is in Ben Okafor's queue",
    ),
    "bulk with two bad leads": (
        _accept_a1,
        _bulk(["T-A1", "T-A2", "T-A6"], "Ava", "rejected", "duplicate"),
        Refused,
        "2 of the 3 selected leads cannot be rejected",
    ),
    "bulk reject without a reason": (_nothing, _bulk(["T-A1"], "Ava", "rejected"), Refused, "Choose a rejection"),
    "bulk accept with a reason": (_nothing, _bulk(["T-A1"], "Ava", "accepted", "duplicate"), Refused, "no rejection"),
    "bulk of nothing": (_nothing, _bulk([], "Ava", "accepted"), Refused, "at least one lead"),
    "bulk with an unknown decision": (_nothing, _bulk(["T-A1"], "Ava", "maybe"), Refused, "“maybe” is not a decision"),
}


@pytest.mark.parametrize(("setup", "call", "error", "words"), REFUSALS.values(), ids=REFUSALS.keys())
def test_a_refused_write_changes_nothing(world, setup, call, error, words):
    done = setup(world)
    before = _snapshot(world.url)
    with pytest.raises(error) as refused:
        call(world, done)
    assert words in str(refused.value)
    assert _snapshot(world.url) == before


def test_undo_after_a_later_decision_names_it(world):
    done = _reassign_a1(world)
    again = in_transaction(
        world.url,
        queue.reassign,
        lead_id=world.leads["T-A1"],
        rep_id=world.reps["Ben"],
        new_owner_rep_id=world.reps["Ava"],
        now=NOW + timedelta(minutes=1),
    )
    before = _snapshot(world.url)
    with pytest.raises(Refused, match="T-A1 was since reassigned to Ava Thompson by Ben Okafor at 2026-11-25 10:05"):
        in_transaction(
            world.url,
            queue.undo,
            decision_id=done.decision_id,
            rep_id=world.reps["Sam"],
            now=NOW + 2 * timedelta(minutes=1),
        )
    assert _snapshot(world.url) == before
    # The later one can still be undone, which gives Ben the lead back.
    in_transaction(
        world.url,
        queue.undo,
        decision_id=again.decision_id,
        rep_id=world.reps["Ben"],
        now=NOW + 2 * timedelta(minutes=1),
    )
    assert _lead_row(world, "T-A1")["owner_rep_id"] == world.reps["Ben"]


@pytest.mark.parametrize("write", [_reject_a1, _reassign_a1], ids=["reject", "reassign"])
def test_a_failure_after_the_decision_row_leaves_nothing_half_written(world, monkeypatch, write):
    before = _snapshot(world.url)
    seen = []

    def disk_full(session, events):
        # The decision row is already in the transaction when the events fail.
        seen.append(session.execute(sa.select(sa.func.count()).select_from(SalesDecision.__table__)).scalar_one())
        raise RuntimeError("disk full")

    monkeypatch.setattr(queue, "_add_events", disk_full)
    with pytest.raises(RuntimeError, match="disk full"):
        write(world)
    assert seen == [len(before["sales_decision"]) + 1]
    assert _snapshot(world.url) == before
    assert _lead_row(world, "T-A1")["stage"] == "mql"


def test_an_unreachable_database_is_reported_as_such():
    with pytest.raises(db.DatabaseUnavailable, match="cannot reach its database"):
        in_transaction("postgresql+psycopg://nobody@127.0.0.1:1/none", queue.accept, lead_id=1, rep_id=1, now=NOW)


# ----- races ---------------------------------------------------------------------------------------------------------


def _fresh_lead(world: World, external_id: str) -> int:
    with db.transaction(world.url) as session:
        campaign_id = session.execute(sa.select(Campaign.__table__.c.id)).scalars().first()
        lead = _lead(session, external_id, world.reps["Ava"], campaign_id, "mql")
        session.add(_event(lead.id, "mql", NOW - H, "scoring model v2"))
        session.flush()
        return lead.id


def _race(first: Callable[[], object], second: Callable[[], object], barrier: threading.Barrier) -> list:
    outcomes: list = [None, None]

    def run(index: int, write: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=30)
            outcomes[index] = write()
        except Exception as exc:  # the loser's refusal is the outcome under test
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes


def _at_the_same_moment(monkeypatch, barrier: threading.Barrier) -> None:
    """Make both writers pass every check before either runs its guarded update: the worst interleaving."""
    real = queue._compare_and_set

    def together(session, statement):
        barrier.wait(timeout=30)
        return real(session, statement)

    monkeypatch.setattr(queue, "_compare_and_set", together)


RACES = 10


@pytest.mark.parametrize("interleaving", ["start together", "check together"])
def test_accept_and_reject_racing_on_one_lead_leave_exactly_one_decision(world, monkeypatch, interleaving):
    ava = world.reps["Ava"]
    accepted_at, rejected_at = NOW + timedelta(minutes=1), NOW + timedelta(minutes=2)
    if interleaving == "check together":
        _at_the_same_moment(monkeypatch, threading.Barrier(2))
    winners = set()
    for i in range(RACES):
        lead_id = _fresh_lead(world, f"RACE-{i}")
        outcomes = _race(
            lambda lead_id=lead_id: in_transaction(
                world.url, queue.accept, lead_id=lead_id, rep_id=ava, now=accepted_at
            ),
            lambda lead_id=lead_id: in_transaction(
                world.url, queue.reject, lead_id=lead_id, rep_id=ava, reason="duplicate", now=rejected_at
            ),
            threading.Barrier(2),
        )
        won = [o for o in outcomes if isinstance(o, queue.Decided)]
        lost = [o for o in outcomes if isinstance(o, Exception)]
        assert len(won) == 1 and len(lost) == 1, outcomes
        (winner,), (loser,) = won, lost
        assert isinstance(loser, AlreadyDecided), loser
        verb = "accepted" if winner.decision == "accepted" else "rejected as “Duplicate record”"
        assert f"RACE-{i} was already {verb} by Ava Thompson at {winner.decided_at:%Y-%m-%d %H:%M} UTC" in str(loser)
        decisions = _rows(world.url, SalesDecision, lead_id=lead_id)
        assert [(d["id"], d["decision"]) for d in decisions] == [(winner.decision_id, winner.decision)]
        events = _rows(world.url, StageEvent, lead_id=lead_id)
        assert [e["stage"] for e in events] == ["mql", winner.stage]
        assert _rows(world.url, Lead, id=lead_id)[0]["stage"] == winner.stage
        winners.add(winner.decision)
    assert winners <= {"accepted", "rejected"}


@pytest.mark.parametrize("interleaving", ["start together", "check together"])
def test_reassign_racing_the_owners_accept_leaves_exactly_one_decision(world, monkeypatch, interleaving):
    ava, ben, sam = world.reps["Ava"], world.reps["Ben"], world.reps["Sam"]
    if interleaving == "check together":
        _at_the_same_moment(monkeypatch, threading.Barrier(2))
    for i in range(RACES):
        lead_id = _fresh_lead(world, f"RACE-{i}")
        outcomes = _race(
            lambda lead_id=lead_id: in_transaction(world.url, queue.accept, lead_id=lead_id, rep_id=ava, now=NOW),
            lambda lead_id=lead_id: in_transaction(
                world.url, queue.reassign, lead_id=lead_id, rep_id=sam, new_owner_rep_id=ben, now=NOW
            ),
            threading.Barrier(2),
        )
        accepted, reassigned = outcomes
        decisions = _rows(world.url, SalesDecision, lead_id=lead_id)
        stages = [e["stage"] for e in _rows(world.url, StageEvent, lead_id=lead_id)]
        lead = _rows(world.url, Lead, id=lead_id)[0]
        assert len(decisions) == 1, outcomes
        if isinstance(accepted, queue.Decided):
            assert isinstance(reassigned, AlreadyDecided), outcomes
            assert f"RACE-{i} was already accepted by Ava Thompson at 2026-11-25 10:04 UTC" in str(reassigned)
            assert (decisions[0]["id"], decisions[0]["decision"]) == (accepted.decision_id, "accepted")
            assert stages == ["mql", "sal"]
            assert (lead["stage"], lead["owner_rep_id"]) == ("sal", ava)
        else:
            assert isinstance(reassigned, queue.Reassigned), outcomes
            assert isinstance(accepted, AlreadyDecided), outcomes
            assert f"RACE-{i} was already reassigned to Ben Okafor by Sam Rivera at 2026-11-25 10:04 UTC" in str(
                accepted
            )
            assert (decisions[0]["id"], decisions[0]["reason"]) == (reassigned.decision_id, "wrong_territory")
            assert stages == ["mql", "rejected", "mql"]
            assert (lead["stage"], lead["owner_rep_id"]) == ("mql", ben)


# ----- the queue -----------------------------------------------------------------------------------------------------


def test_pending_queue_lists_the_reps_own_pending_leads_newest_breach_first(world):
    got = in_transaction(world.url, queue.pending_queue, rep_id=world.reps["Ava"], now=NOW, sla_hours=24)
    # hours left = 24 - hours since the latest MQL: T-A1 30 h ago, T-A4 25.5, T-A3 24, T-A2 2, T-A5 1 (and 100).
    expected = pl.DataFrame(
        {
            "lead_id": [world.leads[x] for x in ("T-A4", "T-A1", "T-A3", "T-A2", "T-A5")],
            "external_id": ["T-A4", "T-A1", "T-A3", "T-A2", "T-A5"],
            "campaign": ["Email - Nurture", "CTV - Launch", "CTV - Launch", "Email - Nurture", "Email - Nurture"],
            "channel_label": ["Email", "Connected TV (CTV)", "Connected TV (CTV)", "Email", "Email"],
            "mql_at": [NOW - 25.5 * H, NOW - 30 * H, NOW - 24 * H, NOW - 2 * H, NOW - 1 * H],
            "hours_left": [-1.5, -6.0, 0.0, 22.0, 23.0],
            "breached": [True, True, False, False, False],
        },
        schema_overrides={"mql_at": pl.Datetime("us")},
    )
    assert_frame_equal(got, expected)


def test_pending_queue_follows_the_decisions(world):
    ava, ben = world.reps["Ava"], world.reps["Ben"]
    in_transaction(world.url, queue.accept, lead_id=world.leads["T-A1"], rep_id=ava, now=NOW)
    in_transaction(world.url, queue.reassign, lead_id=world.leads["T-A2"], rep_id=ava, new_owner_rep_id=ben, now=NOW)
    mine = in_transaction(world.url, queue.pending_queue, rep_id=ava, now=NOW, sla_hours=8)
    assert mine["external_id"].to_list() == ["T-A3", "T-A4", "T-A5"]
    assert mine["breached"].to_list() == [True, True, False]
    bens = in_transaction(world.url, queue.pending_queue, rep_id=ben, now=NOW + 9 * H, sla_hours=8)
    # T-B2 waited 59 h, T-B1 14 h, T-A2 (reassigned at NOW) 9 h: all past an 8-hour SLA.
    assert bens["external_id"].to_list() == ["T-A2", "T-B1", "T-B2"]
    assert bens["hours_left"].to_list() == pytest.approx([-1.0, -6.0, -51.0])


def test_pending_queue_of_a_rep_with_nothing_pending_is_empty_with_its_columns(world):
    got = in_transaction(world.url, queue.pending_queue, rep_id=world.reps["Sam"], now=NOW, sla_hours=24)
    assert got.is_empty()
    assert got.columns == ["lead_id", "external_id", "campaign", "channel_label", "mql_at", "hours_left", "breached"]

"""Access: every write function x every role x the queue or team it acts on, reassign included. Allowed calls
succeed with their audit line; refused ones say who may, write nothing and leave no audit line. The expected outcome
of each call comes from the small table below, written out by hand, not from dashboard.auth."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import polars as pl
import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from dashboard import ingest
from dashboard.auth import Actor, Role
from dashboard.models import ActionItem, Campaign, ChannelRow, Lead, Rep, ScoringModel, StageEvent
from dashboard.refusals import Refused
from dashboard.store import db, queue, review, scoring, users
from queries.review import IsoWeek
from queries.scoring import ScoringRule
from tests.conftest import in_transaction

NOW = datetime(2026, 11, 25, 10, 0)
WEEK = IsoWeek.of(NOW)
LAST_WEEK = WEEK.shifted(-1)  # a week over by NOW, whose review can be closed

# ----- the expected outcomes, by hand -------------------------------------------------------------------------------

# The people: a rep (Ann, North team), her teammate Nia, Sol of the South team; the manager manages the North team.
ROLES = ("admin", "revops", "manager", "rep")
ACTORS = {
    "admin": Actor(email="ada@example.com", name="Ada Admin", role=Role.ADMIN),
    "revops": Actor(email="rev@example.com", name="Rev Ops", role=Role.REVOPS),
    "manager": Actor(email="max@example.com", name="Max Manager", role=Role.SALES_MANAGER, team="North"),
    "rep": None,  # Ann, once her rep id is known (the world)
}
ROLE_LABEL = {"admin": "Admin", "revops": "RevOps / marketing ops", "manager": "Sales manager", "rep": "Rep"}
QUEUE_OF = {"own": "Ann", "teammate": "Nia", "other team": "Sol"}  # whose queue each scope is

# Which roles hold each write's right at all.
MAY = {
    "accept": {"admin", "manager", "rep"},
    "reject": {"admin", "manager", "rep"},
    "decide_many": {"admin", "manager", "rep"},
    "escalate": {"admin", "manager", "rep"},
    "undo": {"admin", "manager", "rep"},
    "reassign": {"admin", "revops", "manager", "rep"},
    "save_scenario": {"admin", "revops"},
    "apply_rule": {"admin", "revops"},
    "import": {"admin", "revops"},
    "add_action_item": {"admin", "revops", "manager", "rep"},
    "close_action_item": {"admin", "revops", "manager", "rep"},
    "save_meeting_note": {"admin", "revops", "manager", "rep"},
    "close_week": {"admin", "revops", "manager", "rep"},
    "reopen_week": {"admin", "revops", "manager", "rep"},
    "save_user": {"admin"},
}
# Which queues each role's queue writes reach: a rep her own, a manager the team's, RevOps and admins every one.
REACH = {
    "admin": {"own", "teammate", "other team"},
    "revops": {"own", "teammate", "other team"},
    "manager": {"own", "teammate"},
    "rep": {"own"},
}
QUEUE_WRITES = ("accept", "reject", "decide_many", "escalate", "undo")


@dataclass(frozen=True)
class Case:
    write: str
    role: str
    lead_queue: str | None = None  # the queue the lead is in (queue writes)
    acting_as: str | None = None  # the queue of the rep the call names (rep_id); None: the lead's queue

    @property
    def allowed(self) -> bool:
        if self.role not in MAY[self.write]:
            return False
        queues = {q for q in (self.lead_queue, self.acting_as) if q}
        return queues <= REACH[self.role]

    def __str__(self) -> str:
        where = f"-{self.lead_queue} queue" if self.lead_queue else ""
        return f"{self.write}-{self.role}{where}" + (f"-as {self.acting_as}" if self.acting_as else "")


CASES = [
    *(Case(w, r, q) for w in QUEUE_WRITES for r in ROLES for q in QUEUE_OF),
    # The page reassigns as the queue's rep; a direct call may name another rep, e.g. to move a lead into one's own
    # queue: the lead's queue must be reachable too.
    *(Case("reassign", r, q) for r in ROLES for q in QUEUE_OF),
    *(Case("reassign", r, q, "own") for r in ROLES for q in ("teammate", "other team")),
    *(Case(w, r) for w in MAY if w not in (*QUEUE_WRITES, "reassign") for r in ROLES),
]


def test_the_table_covers_every_write_role_and_scope():
    assert len(CASES) == 5 * 4 * 3 + 4 * 5 + 9 * 4 == 116
    assert {c.write for c in CASES} == set(MAY) and {c.role for c in CASES} == set(ROLES)
    # spot-check the table against the rule in words
    assert Case("reassign", "rep", "other team", "own").allowed is False  # the hole the audit found
    assert Case("reassign", "manager", "teammate", "own").allowed is True
    assert Case("accept", "revops", "own").allowed is False
    assert Case("reassign", "revops", "other team").allowed is True


# ----- the world ------------------------------------------------------------------------------------------------------

REPS = (("Ann", "junior", "North"), ("Nia", "junior", "North"), ("Sol", "junior", "South"), ("Sam", "senior", "North"))


def _populate(url: str) -> None:
    db.create_schema(url)
    with db.transaction(url) as session:
        channel = ChannelRow(key="email", label="Email")
        session.add(channel)
        session.flush()
        campaign = Campaign(name="Email - Nurture", channel_id=channel.id, start_date=date(2026, 1, 1))
        reps = [Rep(name=n, tier=t, team=team, weekly_capacity=50) for n, t, team in REPS]
        model = ScoringModel(version=1, active_from=datetime(2026, 1, 1), author="Marketing Ops", **_rule())
        session.add_all([campaign, *reps, model])
        session.flush()
        for rep in reps[:3]:
            for n in range(3):
                lead = Lead(
                    external_id=f"{rep.name}-{n}",
                    created_at=NOW - timedelta(days=2),
                    campaign_id=campaign.id,
                    owner_rep_id=rep.id,
                )
                lead.stage = "mql"
                session.add(lead)
                session.flush()
                session.add(StageEvent(lead_id=lead.id, stage="mql", occurred_at=NOW - timedelta(hours=3), actor="v1"))
        session.add(ActionItem(title="Fix routing", owner="Rev", due_date=date(2026, 12, 1), created_at=NOW,
                               created_week=str(WEEK)))  # fmt: skip


def _rule() -> dict:
    rule = ScoringRule()
    return {name: getattr(rule, name) for name in ScoringRule.__dataclass_fields__}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("access") / "template.db"
    _populate(f"sqlite:///{path}")
    return str(path)


@dataclass(frozen=True)
class World:
    url: str
    reps: dict[str, int]
    leads: dict[str, int]
    item_id: int

    def actor(self, role: str) -> Actor:
        return ACTORS[role] or Actor(email="ann@example.com", name="Ann", role=Role.REP, rep_id=self.reps["Ann"])


def _world(url: str) -> World:
    with db.transaction(url) as connection:
        reps = dict(connection.execute(sa.select(Rep.__table__.c.name, Rep.__table__.c.id)).all())
        leads = dict(connection.execute(sa.select(Lead.__table__.c.external_id, Lead.__table__.c.id)).all())
        item_id = connection.execute(sa.select(ActionItem.__table__.c.id)).scalar_one()
    return World(url, reps, leads, item_id)


@pytest.fixture
def sqlite_world(template, tmp_path) -> World:
    shutil.copy(template, tmp_path / "access.db")
    return _world(f"sqlite:///{tmp_path / 'access.db'}")


@pytest.fixture
def postgres_world(postgres_url) -> World:
    _populate(postgres_url)
    return _world(postgres_url)


# ----- the writes, as each role calls them ----------------------------------------------------------------------------

NEXT_JUNIOR = {"Ann": "Nia", "Nia": "Sol", "Sol": "Ann"}


def _accepted(w: World, owner: str) -> queue.Decided:
    """A lead of owner's accepted a minute ago by owner (as the local user): the setup of escalate and undo."""
    return in_transaction(
        w.url, queue.accept, lead_id=w.leads[f"{owner}-2"], rep_id=w.reps[owner], now=NOW - timedelta(minutes=1)
    )


def _prepared():
    raw = pl.DataFrame({"id": ["Z1", "Z2"], "created_at": ["2026-10-01", "2026-10-02"], "channel": ["email", "ctv"]})
    return ingest.prepare(raw, ingest.load_preset("generic"), now=NOW)


def call(w: World, case: Case, actor: Actor):
    """Make the case's write as actor: queue writes on a lead of the case's queue, as its rep (or as acting_as)."""
    owner = QUEUE_OF.get(case.lead_queue or "own")
    acting = QUEUE_OF[case.acting_as] if case.acting_as else owner
    lead, rep_id = w.leads[f"{owner}-0"], w.reps[acting]
    writes = {
        "accept": lambda: in_transaction(w.url, queue.accept, lead_id=lead, rep_id=rep_id, now=NOW, actor=actor),
        "reject": lambda: in_transaction(
            w.url, queue.reject, lead_id=lead, rep_id=rep_id, reason="duplicate", now=NOW, actor=actor
        ),
        "decide_many": lambda: in_transaction(
            w.url,
            queue.decide_many,
            lead_ids=[lead, w.leads[f"{owner}-1"]],
            rep_id=rep_id,
            decision="accepted",
            now=NOW,
            actor=actor,
        ),
        "escalate": lambda: in_transaction(
            w.url,
            queue.escalate,
            lead_id=made.lead_id,
            rep_id=rep_id,
            senior_rep_id=w.reps["Sam"],
            now=NOW,
            actor=actor,
        ),
        "undo": lambda: in_transaction(
            w.url, queue.undo, decision_id=made.decision_id, rep_id=rep_id, now=NOW, actor=actor
        ),
        "reassign": lambda: in_transaction(
            w.url,
            queue.reassign,
            lead_id=lead,
            rep_id=rep_id,
            new_owner_rep_id=w.reps[acting if case.acting_as else NEXT_JUNIOR[owner]],
            now=NOW,
            actor=actor,
        ),
        "save_scenario": lambda: in_transaction(
            w.url,
            scoring.save_scenario,
            name="Strict",
            author="x",
            note="",
            rule=ScoringRule(mql_threshold=60),
            now=NOW,
            actor=actor,
        ),  # fmt: skip
        "apply_rule": lambda: in_transaction(
            w.url,
            scoring.apply_rule,
            rule=ScoringRule(mql_threshold=60),
            author="x",
            reason="test",
            now=NOW,
            actor=actor,
        ),  # fmt: skip
        "import": lambda: ingest.write(prepared=_prepared(), url=w.url, now=NOW, actor=actor),
        "add_action_item": lambda: in_transaction(
            w.url,
            review.add_action_item,
            title="Call back",
            owner="Ann",
            due_date=date(2026, 12, 2),
            week=WEEK,
            now=NOW,
            actor=actor,
        ),  # fmt: skip
        "close_action_item": lambda: in_transaction(
            w.url, review.close_action_item, item_id=w.item_id, now=NOW, actor=actor
        ),
        "save_meeting_note": lambda: in_transaction(
            w.url, review.save_meeting_note, week=WEEK, text="Agreed.", author="Ann", now=NOW, actor=actor
        ),
        "close_week": lambda: in_transaction(
            w.url,
            review.close_week,
            week=LAST_WEEK,
            figures="{}",
            sla_hours=24.0,
            closed_by="Ann",
            now=NOW,
            actor=actor,
        ),
        "reopen_week": lambda: in_transaction(w.url, review.reopen_week, week=LAST_WEEK, now=NOW, actor=actor),
        "save_user": lambda: in_transaction(
            w.url,
            users.save_user,
            email="new@example.com",
            name="New",
            role="revops",
            rep_id=None,
            team=None,
            active=True,
            now=NOW,
            actor=actor,
        ),  # fmt: skip
    }
    made = _accepted(w, owner) if case.write in ("escalate", "undo") else None
    if case.write == "reopen_week":  # a closed week to reopen, closed by the local user
        in_transaction(w.url, review.close_week, week=LAST_WEEK, figures="{}", sla_hours=24.0, closed_by="Rev", now=NOW)
    return writes[case.write]


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Every row of every table."""
    with db.transaction(url) as connection:
        return {
            table.name: [tuple(r) for r in connection.execute(sa.select(table).order_by(*table.primary_key.columns))]
            for table in SQLModel.metadata.sorted_tables
        }


def _audit(url: str) -> list[tuple]:
    return snapshot(url)["audit_entry"]


def check_case(w: World, case: Case) -> None:
    actor = w.actor(case.role)
    write = call(w, case, actor)  # runs the case's setup, as the local user
    before = snapshot(w.url)
    if case.allowed:
        write()
        after = snapshot(w.url)
        assert after != before
        new_lines = [line for line in after["audit_entry"] if line not in before["audit_entry"]]
        assert len(new_lines) == 1, new_lines
        assert new_lines[0][2:5] == (actor.email, actor.name, actor.role.value)
    else:
        with pytest.raises(Refused) as refused:
            write()
        message = str(refused.value)
        # the rights' sentence: who was refused, and who may do it instead
        pattern = rf"^{actor.name} \({re.escape(ROLE_LABEL[case.role])}\) may .*: only .*an admin may; nothing was"
        assert re.match(pattern, message), message
        assert snapshot(w.url) == before


@pytest.mark.parametrize("case", CASES, ids=str)
def test_access_on_sqlite(sqlite_world, case):
    check_case(sqlite_world, case)


# A representative part of the table on PostgreSQL: every role on reassign (the hole the audit found), a decision
# inside and outside the team, and one write of each other kind.
ON_POSTGRES = [
    *(c for c in CASES if c.write == "reassign" and c.lead_queue in ("own", "other team")),
    *(c for c in CASES if c.write == "accept" and c.role in ("manager", "rep") and c.lead_queue != "own"),
    *(c for c in CASES if c.write in ("undo", "import", "save_user") and c.role in ("revops", "rep")),
]


@pytest.mark.postgres
@pytest.mark.parametrize("case", ON_POSTGRES, ids=str)
def test_access_on_postgres(postgres_world, case):
    check_case(postgres_world, case)


def test_a_refusal_names_the_queue_and_who_may_act_on_it(sqlite_world):
    w = sqlite_world
    case = Case("reassign", "rep", "other team", "own")
    with pytest.raises(Refused) as refused:
        call(w, case, w.actor("rep"))()
    assert str(refused.value) == (
        "Ann (Rep) may reassign leads only in their own queue, and this is Sol's queue (South team): only Sol, "
        "a sales manager of the South team, RevOps / marketing ops or an admin may; nothing was changed."
    )
    with pytest.raises(Refused) as refused:
        call(w, Case("accept", "revops", "own"), w.actor("revops"))()
    assert str(refused.value) == (
        "Rev Ops (RevOps / marketing ops) may not decide leads: only a rep in their own queue, a sales manager within "
        "their team or an admin may; nothing was changed. Ask an admin for another role if you need to."
    )


def test_a_lead_moved_out_of_reach_between_the_check_and_the_write_is_refused(sqlite_world, monkeypatch):
    """The manager's check passes on Ann's queue; a moment later someone moves the lead to Sol's (South): the
    reassignment is judged on the queue it really takes the lead from, and refused."""
    w = sqlite_world
    lead = w.leads["Ann-0"]
    read = queue._lead

    def moved_meanwhile(session, lead_id):
        with db.transaction(w.url) as other:
            other.execute(
                sa.update(Lead.__table__).where(Lead.__table__.c.id == lead_id).values(owner_rep_id=w.reps["Sol"])
            )
        monkeypatch.setattr(queue, "_lead", read)
        return read(session, lead_id)

    monkeypatch.setattr(queue, "_lead", moved_meanwhile)
    before = snapshot(w.url)
    with pytest.raises(Refused, match="this is Sol's queue"):
        in_transaction(
            w.url, queue.reassign, lead_id=lead, rep_id=w.reps["Ann"], new_owner_rep_id=w.reps["Nia"], now=NOW,
            actor=w.actor("manager"),
        )  # fmt: skip
    after = snapshot(w.url)
    assert after["sales_decision"] == before["sales_decision"] and after["audit_entry"] == before["audit_entry"]


def _queue_panel_as_revops(url: str, rep_id: int, lead_id: int) -> None:
    import polars as pl
    import streamlit as st

    from dashboard.auth import Actor, Role
    from dashboard.data import queue_data
    from dashboard.ui import queue_widgets

    st.session_state["actor"] = Actor(email="rev@example.com", name="Rev Ops", role=Role.REVOPS)
    juniors = queue_data.reps(url).filter(pl.col("tier") == "junior")
    queue_widgets.decision_panel(url, juniors.filter(pl.col("id") == rep_id).row(0, named=True), [lead_id], juniors)


def test_the_queue_offers_revops_the_reassignment_only(sqlite_world):
    from streamlit.testing.v1 import AppTest

    w = sqlite_world
    at = AppTest.from_function(_queue_panel_as_revops, args=(w.url, w.reps["Ann"], w.leads["Ann-0"]))
    at.run()
    assert not at.exception
    keys = {b.key for b in at.button}
    assert "queue_reassign" in keys and not keys & {"queue_accept", "queue_reject"}
    assert any("you may reassign" in c.value for c in at.caption)
    at.selectbox(key="queue_new_owner").set_value(w.reps["Sol"])
    at.button(key="queue_reassign").click().run()
    assert not at.exception
    assert at.session_state["queue_message"][0] == "success"
    assert "queue_last_decision" not in at.session_state  # an undo is a decision: not offered to RevOps
    assert [line[2:6] for line in _audit(w.url)] == [("rev@example.com", "Rev Ops", "revops", "reassign")]

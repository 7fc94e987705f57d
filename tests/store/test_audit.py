"""The rights table over every write function and role: allowed writes succeed and are recorded with who made
them; the rest are refused with a sentence and write nothing. The rights check, the write and its audit line share
one transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest
import sqlalchemy as sa

from dashboard import ingest
from dashboard.auth import Actor, Role
from dashboard.models import AppUser, AuditEntry, Lead, SalesDecision, Scenario, ScoringModel, StageEvent
from dashboard.refusals import Refused
from dashboard.store import db, queue, scoring, users
from queries.scoring import ScoringRule
from tests.conftest import in_transaction

NOW = datetime.now().replace(microsecond=0)
WATCHED = (Lead, StageEvent, SalesDecision, Scenario, ScoringModel, AppUser, AuditEntry)


@pytest.fixture
def world(demo_copy):
    """A demo database of the test's own and, for one junior rep with pending MQLs, the actors of every role."""
    url = demo_copy
    reps = in_transaction(url, queue.reps)
    juniors = reps.filter((pl.col("tier") == "junior") & (pl.col("pending") >= 3)).sort("pending", descending=True)
    owner = juniors.row(0, named=True)
    other_team = reps.filter((pl.col("tier") == "junior") & (pl.col("team") != owner["team"])).row(0, named=True)
    actors = {
        "admin": Actor(email="ada@example.com", name="Ada", role=Role.ADMIN),
        "revops": Actor(email="rev@example.com", name="Rev", role=Role.REVOPS),
        "manager of the team": Actor(email="max@example.com", name="Max", role=Role.SALES_MANAGER, team=owner["team"]),
        "manager of another team": Actor(
            email="mia@example.com", name="Mia", role=Role.SALES_MANAGER, team=other_team["team"]
        ),
        "the rep": Actor(email="rep@example.com", name=owner["name"], role=Role.REP, rep_id=owner["id"]),
        "another rep": Actor(email="ron@example.com", name=other_team["name"], role=Role.REP, rep_id=other_team["id"]),
    }
    pending = in_transaction(url, queue.pending_queue, rep_id=owner["id"], now=NOW, sla_hours=24)["lead_id"].to_list()
    seniors = reps.filter(pl.col("tier") == "senior")["id"].to_list()
    return {"url": url, "owner": owner, "other": other_team, "actors": actors, "pending": pending, "seniors": seniors}


def _accepted_lead(w) -> int:
    return in_transaction(w["url"], queue.accept, lead_id=w["pending"][1], rep_id=w["owner"]["id"], now=NOW).lead_id


def _decision(w) -> int:
    return in_transaction(w["url"], queue.accept, lead_id=w["pending"][2], rep_id=w["owner"]["id"], now=NOW).decision_id


def _prepared():
    raw = pl.DataFrame({"id": ["Z1", "Z2"], "created_at": ["2026-10-01", "2026-10-02"], "channel": ["email", "ctv"]})
    return ingest.prepare(raw, ingest.load_preset("generic"), now=NOW)


# Each write: how to call it as an actor; `made` is what its setup (run first, as the local user) returned.
WRITES = {
    "accept": lambda w, a, made: in_transaction(
        w["url"], queue.accept, lead_id=w["pending"][0], rep_id=w["owner"]["id"], now=NOW, actor=a
    ),
    "reject": lambda w, a, made: in_transaction(
        w["url"], queue.reject, lead_id=w["pending"][0], rep_id=w["owner"]["id"], reason="duplicate", now=NOW, actor=a
    ),
    "decide_many": lambda w, a, made: in_transaction(
        w["url"],
        queue.decide_many,
        lead_ids=w["pending"][:2],
        rep_id=w["owner"]["id"],
        decision="accepted",
        now=NOW,
        actor=a,
    ),
    "reassign": lambda w, a, made: in_transaction(
        w["url"],
        queue.reassign,
        lead_id=w["pending"][0],
        rep_id=w["owner"]["id"],
        new_owner_rep_id=w["other"]["id"],
        now=NOW,
        actor=a,
    ),  # fmt: skip
    "escalate": lambda w, a, made: in_transaction(
        w["url"], queue.escalate, lead_id=made, rep_id=w["owner"]["id"], senior_rep_id=w["seniors"][0], now=NOW, actor=a
    ),
    "undo": lambda w, a, made: in_transaction(
        w["url"], queue.undo, decision_id=made, rep_id=w["owner"]["id"], now=NOW + timedelta(minutes=1), actor=a
    ),
    "save_scenario": lambda w, a, made: in_transaction(
        w["url"],
        scoring.save_scenario,
        name="Strict",
        author="x",
        note="",
        rule=ScoringRule(mql_threshold=60),
        now=NOW,
        actor=a,
    ),
    "apply_rule": lambda w, a, made: in_transaction(
        w["url"], scoring.apply_rule, rule=ScoringRule(mql_threshold=60), author="x", reason="test", now=NOW, actor=a
    ),
    "import": lambda w, a, made: ingest.write(prepared=_prepared(), url=w["url"], now=NOW, actor=a),
    "save_user": lambda w, a, made: in_transaction(
        w["url"],
        users.save_user,
        email="new@example.com",
        name="New",
        role="revops",
        rep_id=None,
        team=None,
        active=True,
        now=NOW,
        actor=a,
    ),  # fmt: skip
}
SETUP = {"escalate": _accepted_lead, "undo": _decision}
QUEUE_WRITES = ("accept", "reject", "decide_many", "reassign", "escalate", "undo")
ALLOWED = {
    **{w: {"admin", "manager of the team", "the rep"} for w in QUEUE_WRITES},
    "reassign": {"admin", "revops", "manager of the team", "the rep"},
    "save_scenario": {"admin", "revops"},
    "apply_rule": {"admin", "revops"},
    "import": {"admin", "revops"},
    "save_user": {"admin"},
}
ROLES = ("admin", "revops", "manager of the team", "manager of another team", "the rep", "another rep")


def snapshot(url: str, tables: tuple = WATCHED) -> dict[str, int]:
    frames = {t.__tablename__: db.read_table(t, url=url) for t in tables}
    return {name: (f.height, int(f.hash_rows(seed=1).sum()) if f.height else 0) for name, f in frames.items()}


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("write", list(WRITES))
def test_the_rights_table(world, write, who):
    actor = world["actors"][who]
    made = SETUP[write](world) if write in SETUP else None

    def call(a):
        return WRITES[write](world, a, made)

    before = snapshot(world["url"])
    if who in ALLOWED[write]:
        call(actor)
        entries = db.read_table(AuditEntry, url=world["url"]).filter(pl.col("actor") == actor.email)
        assert entries.height == 1 and entries["role"][0] == actor.role.value
    else:
        with pytest.raises(Refused) as refused:
            call(actor)
        assert "nothing was changed" in str(refused.value)
        assert actor.name in str(refused.value)
        assert snapshot(world["url"]) == before


# ----- the rights check, the write and its audit line share one transaction ----------------------------------------


def test_the_rights_check_the_write_and_its_audit_line_use_one_connection(world):
    manager = world["actors"]["manager of the team"]  # the check reads the rep's team: a read in the same session
    checkouts = []
    listener = lambda *_: checkouts.append(1)  # noqa: E731
    sa.event.listen(db.engine(world["url"]), "checkout", listener)
    try:
        WRITES["accept"](world, manager, None)
    finally:
        sa.event.remove(db.engine(world["url"]), "checkout", listener)
    assert len(checkouts) == 1
    assert db.read_table(AuditEntry, url=world["url"])["actor"].to_list() == [manager.email]


# Writes the rights table allows but the write itself refuses: its audit line must not be written either.
REFUSED_BY_THE_WRITE = {
    "accept an unknown lead": lambda w, a: in_transaction(
        w["url"], queue.accept, lead_id=999_999, rep_id=w["owner"]["id"], now=NOW, actor=a
    ),
    "reject without a reason": lambda w, a: in_transaction(
        w["url"], queue.reject, lead_id=w["pending"][0], rep_id=w["owner"]["id"], reason=" ", now=NOW, actor=a
    ),
    "scenario without a name": lambda w, a: in_transaction(
        w["url"], scoring.save_scenario, name=" ", author="x", note="", rule=ScoringRule(), now=NOW, actor=a
    ),
    "user without an email": lambda w, a: in_transaction(
        w["url"],
        users.save_user,
        email="nobody",
        name="N",
        role="revops",
        rep_id=None,
        team=None,
        active=True,
        now=NOW,
        actor=a,
    ),  # fmt: skip
}


@pytest.mark.parametrize("write", list(REFUSED_BY_THE_WRITE))
def test_a_refused_write_leaves_no_audit_line(world, write):
    before = snapshot(world["url"])
    with pytest.raises(Refused):
        REFUSED_BY_THE_WRITE[write](world, world["actors"]["admin"])
    assert snapshot(world["url"]) == before
    assert db.read_table(AuditEntry, url=world["url"]).is_empty()


@pytest.mark.parametrize("write", list(WRITES))
def test_an_audit_line_that_cannot_be_written_takes_its_write_back(world, write):
    made = SETUP[write](world) if write in SETUP else None
    with db.transaction(world["url"]) as session:  # the audit log is gone: every audit line fails
        session.execute(sa.text("DROP TABLE audit_entry"))
    before = snapshot(world["url"], WATCHED[:-1])
    with pytest.raises(Exception, match="audit_entry"):
        WRITES[write](world, world["actors"]["admin"], made)
    assert snapshot(world["url"], WATCHED[:-1]) == before


def test_an_unknown_email_has_no_access_and_a_known_one_its_role(world):
    url = world["url"]
    assert in_transaction(url, users.user_for, email="stranger@example.com") is None
    in_transaction(
        url,
        users.save_user,
        email="Rep@Example.com",
        name="Rep",
        role="rep",
        rep_id=world["owner"]["id"],
        team=None,
        active=True,
        now=NOW,
    )
    actor = in_transaction(url, users.user_for, email="rep@example.com")
    assert (actor.role, actor.rep_id) == (Role.REP, world["owner"]["id"])
    in_transaction(
        url,
        users.save_user,
        email="rep@example.com",
        name="Rep",
        role="rep",
        rep_id=world["owner"]["id"],
        team=None,
        active=False,
        now=NOW,
    )
    assert in_transaction(url, users.user_for, email="rep@example.com") is None
    assert (
        in_transaction(url, users.user_for, email="boss@example.com", admins=("boss@example.com",)).role is Role.ADMIN
    )


@pytest.mark.parametrize(
    ("role", "rep", "team", "message"),
    [("rep", None, None, "rep record"), ("sales_manager", None, None, "team")],
)
def test_a_user_needs_what_their_role_needs(world, role, rep, team, message):
    with pytest.raises(Refused, match=message):
        in_transaction(world["url"], users.save_user, email="x@example.com", name="X", role=role, rep_id=rep, team=team,
                       active=True, now=NOW)  # fmt: skip

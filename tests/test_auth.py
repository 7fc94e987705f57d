"""The rights table over every write function and role: allowed writes succeed and are recorded with who made
them; the rest are refused with a sentence and write nothing. And local mode's refusal to listen beyond 127.0.0.1."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from dashboard import auth, ingest
from dashboard.apptest import app_test
from dashboard.auth import Actor, Role
from dashboard.models import AppUser, AuditEntry, Lead, SalesDecision, Scenario, ScoringModel, StageEvent
from dashboard.refusals import Refused
from dashboard.store import db, queue
from dashboard.store import scoring as store
from queries.scoring import ScoringRule
from seed import populate
from seed.generator import today_plan

NOW = datetime.now().replace(microsecond=0)
WATCHED = (Lead, StageEvent, SalesDecision, Scenario, ScoringModel, AppUser, AuditEntry)


@pytest.fixture
def world(tmp_path):
    """A small demo database and, for one junior rep with pending MQLs, the actors of every role."""
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    populate(url, today_plan(3_000, 8, seed=3, now=NOW))  # enough recent MQLs for three pending
    reps = queue.reps(url=url)
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
    pending = queue.pending_queue(url=url, rep_id=owner["id"], now=NOW, sla_hours=24)["lead_id"].to_list()
    seniors = reps.filter(pl.col("tier") == "senior")["id"].to_list()
    return {"url": url, "owner": owner, "other": other_team, "actors": actors, "pending": pending, "seniors": seniors}


def _accepted_lead(w) -> int:
    return queue.accept(url=w["url"], lead_id=w["pending"][1], rep_id=w["owner"]["id"], now=NOW).lead_id


def _decision(w) -> int:
    return queue.accept(url=w["url"], lead_id=w["pending"][2], rep_id=w["owner"]["id"], now=NOW).decision_id


def _prepared():
    raw = pl.DataFrame({"id": ["Z1", "Z2"], "created_at": ["2026-10-01", "2026-10-02"], "channel": ["email", "ctv"]})
    return ingest.prepare(raw, ingest.load_preset("generic"), now=NOW)


# Each write: how to call it as an actor; `made` is what its setup (run first, as the local user) returned.
WRITES = {
    "accept": lambda w, a, made: queue.accept(
        url=w["url"], lead_id=w["pending"][0], rep_id=w["owner"]["id"], now=NOW, actor=a
    ),
    "reject": lambda w, a, made: queue.reject(
        url=w["url"], lead_id=w["pending"][0], rep_id=w["owner"]["id"], reason="duplicate", now=NOW, actor=a
    ),
    "decide_many": lambda w, a, made: queue.decide_many(
        url=w["url"], lead_ids=w["pending"][:2], rep_id=w["owner"]["id"], decision="accepted", now=NOW, actor=a
    ),
    "reassign": lambda w, a, made: queue.reassign(
        url=w["url"],
        lead_id=w["pending"][0],
        rep_id=w["owner"]["id"],
        new_owner_rep_id=w["other"]["id"],
        now=NOW,
        actor=a,
    ),  # fmt: skip
    "escalate": lambda w, a, made: queue.escalate(
        url=w["url"], lead_id=made, rep_id=w["owner"]["id"], senior_rep_id=w["seniors"][0], now=NOW, actor=a
    ),
    "undo": lambda w, a, made: queue.undo(
        url=w["url"], decision_id=made, rep_id=w["owner"]["id"], now=NOW + timedelta(minutes=1), actor=a
    ),
    "save_scenario": lambda w, a, made: store.save_scenario(
        url=w["url"], name="Strict", author="x", note="", rule=ScoringRule(mql_threshold=60), now=NOW, actor=a
    ),
    "apply_rule": lambda w, a, made: store.apply_rule(
        url=w["url"], rule=ScoringRule(mql_threshold=60), author="x", reason="test", now=NOW, actor=a
    ),
    "import": lambda w, a, made: ingest.write(prepared=_prepared(), url=w["url"], now=NOW, actor=a),
    "save_user": lambda w, a, made: auth.save_user(
        url=w["url"],
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
    "save_scenario": {"admin", "revops"},
    "apply_rule": {"admin", "revops"},
    "import": {"admin", "revops"},
    "save_user": {"admin"},
}
ROLES = ("admin", "revops", "manager of the team", "manager of another team", "the rep", "another rep")


def snapshot(url: str) -> dict[str, int]:
    frames = {t.__tablename__: db.read_table(t, url=url) for t in WATCHED}
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


def test_an_unknown_email_has_no_access_and_a_known_one_its_role(world):
    url = world["url"]
    assert auth.user_for(url=url, email="stranger@example.com") is None
    auth.save_user(url=url, email="Rep@Example.com", name="Rep", role="rep", rep_id=world["owner"]["id"], team=None,
                   active=True, now=NOW)  # fmt: skip
    actor = auth.user_for(url=url, email="rep@example.com")
    assert (actor.role, actor.rep_id) == (Role.REP, world["owner"]["id"])
    auth.save_user(url=url, email="rep@example.com", name="Rep", role="rep", rep_id=world["owner"]["id"], team=None,
                   active=False, now=NOW)  # fmt: skip
    assert auth.user_for(url=url, email="rep@example.com") is None
    assert auth.user_for(url=url, email="boss@example.com", admins=("boss@example.com",)).role is Role.ADMIN


@pytest.mark.parametrize(
    ("role", "rep", "team", "message"),
    [("rep", None, None, "rep record"), ("sales_manager", None, None, "team")],
)
def test_a_user_needs_what_their_role_needs(world, role, rep, team, message):
    with pytest.raises(Refused, match=message):
        auth.save_user(url=world["url"], email="x@example.com", name="X", role=role, rep_id=rep, team=team,
                       active=True, now=NOW)  # fmt: skip


def test_local_mode_refuses_to_listen_beyond_this_machine(monkeypatch, tmp_path):
    from streamlit import config

    url = f"sqlite:///{tmp_path / 'local.db'}"
    populate(url, today_plan(300, 4, seed=1, now=NOW))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HANDOFF_SEED_DEMO", "0")
    original = config.get_option("server.address")
    try:
        config.set_option("server.address", "0.0.0.0")
        at = app_test()
        at.run()
        assert not at.exception
        assert any("refuses to start" in e.value and "0.0.0.0" in e.value for e in at.error)
        assert not at.metric and not at.get("plotly_chart")  # no data shown
        config.set_option("server.address", "127.0.0.1")
        at = app_test()
        at.run()
        assert not at.error and at.metric
    finally:
        config.set_option("server.address", original)

"""Who a write is signed by: the signed-in user's own name whatever was typed; the typed name only in local mode.
And the people an action item's owner is picked from."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from dashboard.auth import LOCAL, Actor, Role
from dashboard.data import review_data, scoring_data, users_data
from dashboard.models import ScoringModel
from dashboard.store import db
from queries.review import IsoWeek
from queries.scoring import ScoringRule

NOW = datetime(2026, 12, 1, 10)
ADA = Actor(email="ada@example.com", name="Ada Admin", role=Role.ADMIN)


@pytest.fixture
def url(tmp_path) -> str:
    address = f"sqlite:///{tmp_path / 'authors.db'}"
    db.create_schema(address)
    with db.transaction(address) as session:  # a live model for apply_rule to follow
        rule = ScoringRule()
        session.add(ScoringModel(version=1, active_from=datetime(2026, 1, 1), author="Seed",
                                 **{k: getattr(rule, k) for k in ScoringRule.__dataclass_fields__}))  # fmt: skip
    return address


@pytest.mark.parametrize(("actor", "signed"), [(ADA, "Ada Admin"), (LOCAL, "Typed Name"), (None, "Typed Name")])
def test_notes_scenarios_and_applied_models_are_signed_by_the_signed_in_user(url, actor, signed):
    week = IsoWeek.parse("2026-W48")
    review_data.save_meeting_note(url=url, actor=actor, week=week, text="Agreed.", author="Typed Name", now=NOW)
    strict = ScoringRule(mql_threshold=60)
    scoring_data.save_scenario(url=url, actor=actor, name="Strict", author="Typed Name", note="", rule=strict, now=NOW)
    applied = scoring_data.apply_rule(url=url, actor=actor, rule=strict, author="Typed Name", reason="test", now=NOW)
    assert review_data.meeting_note(url, week)["author"] == signed
    assert [s.author for s in scoring_data.scenarios(url)] == [signed]
    assert applied.author == signed


def test_owners_are_the_active_users_and_reps_once_each():
    users = pl.DataFrame(
        {
            "email": ["ann@example.com", "nameless@example.com", "gone@example.com", "sol@example.com"],
            "name": ["Ann", "  ", "Gone", "Sol Rep"],
            "role": ["Rep", "Admin", "Admin", "Rep"],
            "rep": ["Ann", "", "", "Sol Rep"],
            "team": ["North", "", "", "South"],
            "active": [True, True, False, True],
        },
        schema=users_data.USERS_SCHEMA,
    )
    people = users_data.People(users, {1: "Ann", 2: "Sol Rep", 3: "bea"}, ("North", "South"), ())
    assert users_data.names_of(people) == ["Ann", "bea", "nameless@example.com", "Sol Rep"]

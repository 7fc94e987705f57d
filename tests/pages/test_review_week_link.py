"""The weekly review opens the week a link names (?week=YYYY-Www), as the mailed report and the Slack post link it."""

from __future__ import annotations

from datetime import date

import pytest

from queries.review import IsoWeek
from tests.apps import app_on


@pytest.fixture(scope="module")
def seeded_url(tmp_path_factory) -> str:
    from seed import populate
    from seed.generator import today_plan

    url = f"sqlite:///{tmp_path_factory.mktemp('link') / 'handoff.db'}"
    populate(url, today_plan(600, 8, seed=11))
    return url


def _review(monkeypatch, url: str, **params: str):
    at = app_on(monkeypatch, url)
    at.query_params.update(params)
    at.run()
    at.switch_page("pages/review.py").run()
    assert not at.exception
    return at


def _param(at, name: str) -> str | None:
    value = at.query_params.get(name)
    return value[0] if isinstance(value, list) else value


def test_a_link_with_a_week_opens_that_week_and_keeps_it_in_the_address(monkeypatch, seeded_url):
    linked = IsoWeek.last_complete(date.today()).shifted(-3)
    at = _review(monkeypatch, seeded_url, week=str(linked).lower(), channel="ctv")
    assert at.selectbox(key="review_week").value == str(linked)
    assert _param(at, "week") == str(linked)
    assert _param(at, "channel") == "ctv"  # the shared filters keep theirs beside it
    assert not at.warning

    at.selectbox(key="review_week").set_value(str(linked.shifted(1))).run()
    assert _param(at, "week") == str(linked.shifted(1))


@pytest.mark.parametrize("week", ["2001-W05", "next week"])
def test_a_week_the_data_does_not_have_shows_the_default_and_says_why(monkeypatch, seeded_url, week):
    at = _review(monkeypatch, seeded_url, week=week)
    assert at.selectbox(key="review_week").value == str(IsoWeek.last_complete(date.today()))
    assert any("in the link is not a week of this data" in w.value for w in at.warning)

"""One engine per database URL for the life of the process: running a page again, or deciding on it, makes none."""

from __future__ import annotations

import sqlalchemy as sa

from dashboard.apptest import app_test
from dashboard.store import db
from tests.apps import app_on


def _waiting(at) -> int:
    return int(next(m.value for m in at.metric if m.label == "Waiting for you").replace(",", ""))


def test_the_queue_page_run_twice_and_a_decision_make_one_engine(monkeypatch, demo_copy):
    made: list[str] = []
    create_engine = sa.create_engine

    def counted(url, *args, **kwargs):
        made.append(str(url))
        return create_engine(url, *args, **kwargs)

    monkeypatch.setattr(sa, "create_engine", counted)
    at = app_on(monkeypatch, demo_copy, page="queue")
    assert not at.exception
    rep, waiting = at.selectbox(key="queue_rep").value, _waiting(at)
    at.session_state["queue_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    at.button(key="queue_accept").click().run()  # a write: the rights check, the decision and its audit line
    assert not at.exception
    assert any("Accepted this lead" in s.value for s in at.success)
    again = app_test()  # another session of the same process
    again.run()
    again.switch_page("pages/queue.py").run()
    again.selectbox(key="queue_rep").set_value(rep).run()
    assert not again.exception
    assert _waiting(again) == waiting - 1
    assert made == [demo_copy]
    assert db.engine(demo_copy) is db.engine(demo_copy)

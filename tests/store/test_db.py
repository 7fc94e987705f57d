"""The database: one engine per URL for the process, and one sentence for a database that cannot be reached, whichever
way it is reached (a transaction, a bulk read, an ADBC connection, the schema's creation)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from dashboard.models import Lead
from dashboard.store import db

UNREACHABLE = "postgresql+psycopg://handoff:secret@127.0.0.1:1/none"


def test_one_engine_per_url_for_the_life_of_the_process(tmp_path):
    first, second = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    assert db.engine(first) is db.engine(first)
    assert db.engine(first) is not db.engine(second)
    with ThreadPoolExecutor(8) as pool:  # sessions of a served app ask from many threads at once
        engines = set(pool.map(lambda _: id(db.engine(f"sqlite:///{tmp_path / 'c.db'}")), range(32)))
    assert len(engines) == 1


def _in_a_transaction(url):
    with db.transaction(url) as session:
        session.execute(sa.text("SELECT 1"))


@pytest.mark.parametrize(
    "reach",
    [_in_a_transaction, lambda url: db.read_table(Lead, url=url), db.adbc_connect, db.create_schema],
    ids=["transaction", "read_table", "adbc_connect", "create_schema"],
)
def test_a_database_that_cannot_be_reached_is_one_sentence(reach):
    with pytest.raises(db.DatabaseUnavailable) as failed:
        reach(UNREACHABLE)
    message = str(failed.value)
    assert message.startswith("Handoff cannot reach its database (postgresql+psycopg://handoff:***@127.0.0.1:1/none): ")
    assert message.endswith("Check that the server is running and that DATABASE_URL is right.")
    assert "secret" not in message

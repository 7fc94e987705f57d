"""The bulk read: the columns asked for, and every datetime back exactly as written, whichever way it was written
(the ORM, the bulk writer) and whatever its fraction of a second, also before 1970 and when empty."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dashboard.domain import ACTIVITY_COUNTS
from dashboard.models import ChannelRow, Lead, ScoringModel
from dashboard.store import db

MOMENTS = [
    datetime(2026, 6, 8, 7, 0, 6, 689234),
    datetime(2026, 6, 8, 7, 0, 6),  # no fraction
    datetime(2026, 12, 31, 23, 59, 59, 999999),
    datetime(2026, 1, 1, 0, 0, 0, 1),
    datetime(1969, 7, 20, 20, 17, 40, 500000),  # before 1970: a negative count of microseconds
]


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path / 'read.db'}"
    db.create_schema(url)
    with db.transaction(url) as session:
        session.add(ChannelRow(id=1, key="email", label="Email"))
    return url


def test_datetimes_written_in_bulk_read_back_exactly(url):
    frame = pl.DataFrame(
        {
            "id": list(range(1, len(MOMENTS) + 2)),
            "external_id": [f"L{i}" for i in range(len(MOMENTS) + 1)],
            "created_at": MOMENTS + [MOMENTS[0]],
            "imported_at": [None, *MOMENTS],
            "channel_id": [1] * (len(MOMENTS) + 1),
            **{c: [0] * (len(MOMENTS) + 1) for c in ACTIVITY_COUNTS},
            "stage": ["inquiry"] * (len(MOMENTS) + 1),
            "dated": [True] * (len(MOMENTS) + 1),
        },
        schema_overrides={"imported_at": pl.Datetime("us")},
    )
    db.write_frame(frame, Lead, url=url)
    read = db.read_table(Lead, url=url, columns=("id", "created_at", "imported_at"))
    assert read.columns == ["id", "created_at", "imported_at"]
    assert_frame_equal(read.sort("id"), frame.select("id", "created_at", "imported_at"), check_dtypes=False)
    assert read.schema["created_at"] == pl.Datetime("us")


def test_datetimes_written_by_the_orm_read_back_exactly(url):
    with db.transaction(url) as session:
        for version, moment in enumerate(MOMENTS, start=1):
            session.add(
                ScoringModel(
                    version=version,
                    active_from=moment,
                    active_to=None if version % 2 else moment,
                    author="test",
                    w_demographic=0.25,
                    w_firmographic=0.25,
                    w_behavioural=0.25,
                    w_engagement=0.25,
                    mql_threshold=50,
                )
            )
    read = db.read_table(ScoringModel, url=url).sort("version")
    assert read["active_from"].to_list() == MOMENTS
    assert read["active_to"].to_list() == [None if v % 2 else m for v, m in enumerate(MOMENTS, start=1)]

"""The weekly review: ISO week arithmetic, its queries on hand-built frames, action items and notes on SQLite and
PostgreSQL, the report's command line, and the page under AppTest."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import plotly.graph_objects as go
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from dashboard.apptest import app_test
from dashboard.data import review_data
from dashboard.refusals import Refused
from dashboard.report import report
from dashboard.store import db
from dashboard.store import review as review_store
from dashboard.ui.text import plain
from queries import review
from queries.review import ISO_WEEK_FORMAT, IsoWeek
from tests.conftest import in_transaction

D = datetime
W = IsoWeek.parse

# ------------------------------------------------------------------------------------------------ ISO weeks


@pytest.mark.parametrize(
    ("text", "year", "week", "monday", "sunday"),
    [
        ("2026-W10", 2026, 10, date(2026, 3, 2), date(2026, 3, 8)),
        ("2026-W53", 2026, 53, date(2026, 12, 28), date(2027, 1, 3)),  # 2026 starts on a Thursday: 53 weeks
        ("2027-W01", 2027, 1, date(2027, 1, 4), date(2027, 1, 10)),
        ("2020-W53", 2020, 53, date(2020, 12, 28), date(2021, 1, 3)),  # leap year starting on a Wednesday
        ("2021-W01", 2021, 1, date(2021, 1, 4), date(2021, 1, 10)),
        ("2020-W01", 2020, 1, date(2019, 12, 30), date(2020, 1, 5)),  # ISO year begins in the calendar year before
        (" 2026-w07 ", 2026, 7, date(2026, 2, 9), date(2026, 2, 15)),
    ],
)
def test_parse_an_iso_week(text, year, week, monday, sunday):
    parsed = IsoWeek.parse(text)
    assert (parsed.year, parsed.week, parsed.monday, parsed.sunday) == (year, week, monday, sunday)
    assert parsed.end - parsed.start == timedelta(days=7)
    assert str(parsed) == f"{year}-W{week:02d}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2027-W53", "2027 has no week 53: it has 52 ISO weeks"),
        ("2021-W53", "2021 has no week 53"),
        ("2026-W00", "2026 has no week 0"),
        ("2026-W54", "2026 has no week 54"),
        ("2026W07", "not an ISO week"),
        ("2026-W7", "not an ISO week"),
        ("26-W07", "not an ISO week"),
        ("2026-07", "not an ISO week"),
        ("", "not an ISO week"),
    ],
)
def test_a_bad_week_is_refused_with_a_sentence(text, message):
    with pytest.raises(ValueError, match=message):
        IsoWeek.parse(text)


@pytest.mark.parametrize(
    ("day", "week"),
    [
        (date(2027, 1, 1), "2026-W53"),  # a Friday in week 53 of the year before
        (date(2027, 1, 3), "2026-W53"),
        (date(2027, 1, 4), "2027-W01"),
        (date(2021, 1, 3), "2020-W53"),
        (date(2019, 12, 30), "2020-W01"),
        (date(2026, 12, 31), "2026-W53"),
        (date(2026, 3, 8), "2026-W10"),  # Sunday closes the week
        (date(2026, 3, 9), "2026-W11"),
    ],
)
def test_the_week_of_a_day_in_python_and_in_polars(day, week):
    assert str(IsoWeek.of(day)) == week
    assert str(IsoWeek.of(datetime.combine(day, datetime.max.time()))) == week
    # the queries label weeks with polars' ISO format; both must agree, year boundaries included
    as_text = pl.select(pl.lit(datetime.combine(day, datetime.min.time())).dt.strftime(ISO_WEEK_FORMAT)).item()
    assert as_text == week


@pytest.mark.parametrize(
    ("week", "shift", "expected"),
    [
        ("2026-W53", 1, "2027-W01"),
        ("2027-W01", -1, "2026-W53"),
        ("2020-W53", 1, "2021-W01"),
        ("2021-W01", -2, "2020-W52"),
        ("2026-W10", -4, "2026-W06"),
        ("2027-W02", -4, "2026-W51"),
        ("2026-W10", 0, "2026-W10"),
    ],
)
def test_shifting_weeks_across_year_boundaries(week, shift, expected):
    assert str(W(week).shifted(shift)) == expected


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 3, 9), "2026-W10"),  # Monday: last week has just ended
        (date(2026, 3, 15), "2026-W10"),  # Sunday: this week is still in progress
        (date(2027, 1, 4), "2026-W53"),
        (date(2027, 1, 10), "2026-W53"),
        (date(2027, 1, 11), "2027-W01"),
        (date(2021, 1, 4), "2020-W53"),
    ],
)
def test_the_last_complete_week(today, expected):
    assert str(IsoWeek.last_complete(today)) == expected


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("2026-W52", "2027-W02", ["2026-W52", "2026-W53", "2027-W01", "2027-W02"]),
        ("2020-W53", "2021-W01", ["2020-W53", "2021-W01"]),
        ("2026-W10", "2026-W10", ["2026-W10"]),
        ("2026-W11", "2026-W10", []),
    ],
)
def test_weeks_between(first, last, expected):
    assert [str(w) for w in review.weeks_between(W(first), W(last))] == expected


@pytest.mark.parametrize(
    ("week", "label"),
    [
        ("2026-W53", "2026-W53 (28 Dec – 3 Jan 2027)"),
        ("2026-W10", "2026-W10 (2 Mar – 8 Mar 2026)"),
    ],
)
def test_week_label(week, label):
    assert W(week).label == label


@pytest.mark.parametrize(("year", "weeks"), [(2015, 53), (2020, 53), (2021, 52), (2026, 53), (2027, 52)])
def test_weeks_in_a_year(year, weeks):
    assert review.weeks_in_year(year) == weeks


# ------------------------------------------------------------------------------------------------ the headline


def _mqls(rows: list[tuple]) -> pl.LazyFrame:
    """MQL hand-offs: lead_id, mql_at, outcome, decided_at, and the columns the other queries read."""
    columns = ("lead_id", "mql_at", "outcome", "decided_at", "campaign", "channel_label", "owner", "decided_by_name")
    frame = pl.DataFrame(
        [dict(zip(columns, row + (None,) * (len(columns) - len(row)), strict=True)) for row in rows],
        schema={
            "lead_id": pl.Int64,
            "mql_at": pl.Datetime("us"),
            "outcome": pl.String,
            "decided_at": pl.Datetime("us"),
            "campaign": pl.String,
            "channel_label": pl.String,
            "owner": pl.String,
            "decided_by_name": pl.String,
        },
    )
    return frame.lazy()


HEADLINE_MQLS = _mqls(
    [
        # 2026-W10 (2-8 Mar): four hand-offs, three decided after 2 h, 36 h and 6 h
        (1, D(2026, 3, 2, 8), "accepted", D(2026, 3, 2, 10)),
        (2, D(2026, 3, 3, 8), "rejected", D(2026, 3, 4, 20)),
        (3, D(2026, 3, 8, 23), "pending", None),
        (4, D(2026, 3, 5, 9), "accepted", D(2026, 3, 5, 15)),
        # 2026-W09: 1 h and 2 h (the second decided in W10: it still counts where its MQL was)
        (5, D(2026, 2, 23, 8), "accepted", D(2026, 2, 23, 9)),
        (6, D(2026, 3, 1, 23, 59), "rejected", D(2026, 3, 2, 1, 59)),
        # 2026-W08: exactly 24 h, inside the SLA
        (7, D(2026, 2, 16), "accepted", D(2026, 2, 17)),
        # 2026-W07: nothing; 2026-W06: 72 h and 4 h
        (8, D(2026, 2, 2, 10), "rejected", D(2026, 2, 5, 10)),
        (9, D(2026, 2, 8, 12), "accepted", D(2026, 2, 8, 16)),
        # 2026-W11: one hand-off, not decided; 2026-W05: outside every window
        (10, D(2026, 3, 9), "pending", None),
        (11, D(2026, 1, 30), "accepted", D(2026, 1, 30, 1)),
    ]
)
HEADLINE_EVENTS = pl.LazyFrame(
    {
        "lead_id": [1, 1, 4, 5, 7, 99, 5, 7],
        "stage": ["sql", "sql", "sql", "sql", "sql", "sql", "customer", "customer"],
        "occurred_at": [
            D(2026, 3, 4),
            D(2026, 3, 5),  # the same lead twice in a week counts once
            D(2026, 3, 6),
            D(2026, 2, 25),
            D(2026, 2, 18),
            D(2026, 3, 9),  # next week
            D(2026, 3, 3),
            D(2026, 2, 27),
        ],
    },
    schema={"lead_id": pl.Int64, "stage": pl.String, "occurred_at": pl.Datetime("us")},
)
# A pair of weeks across the year boundary: 2027-W01 against 2026-W53, and 2026-W50 in its 4-week average.
BOUNDARY_MQLS = _mqls(
    [
        (1, D(2027, 1, 5, 9), "accepted", D(2027, 1, 5, 10)),
        (2, D(2026, 12, 31, 9), "rejected", D(2026, 12, 31, 19)),
        (3, D(2026, 12, 10, 9), "accepted", D(2026, 12, 12, 9)),
        (4, D(2026, 12, 1, 9), "accepted", D(2026, 12, 1, 10)),  # 2026-W49: before the four weeks
    ]
)
NO_EVENTS = HEADLINE_EVENTS.clear()


@pytest.mark.parametrize(
    ("mqls", "events", "week", "expected"),
    [
        pytest.param(
            HEADLINE_MQLS,
            HEADLINE_EVENTS,
            "2026-W10",
            {
                # figure: (this week, week before, average of the four weeks before)
                "mqls": (4, 2, (2 + 1 + 0 + 2) / 4),
                "acceptance_rate": (2 / 3, 1 / 2, 3 / 5),
                "sqls": (2, 1, (1 + 1) / 4),
                "wins": (1, 1, 1 / 4),
                "sla_compliance": (2 / 3, 1.0, 4 / 5),
                "median_hours": (6.0, 1.5, 4.0),
            },
            id="a week against the one before and the four before",
        ),
        pytest.param(
            HEADLINE_MQLS,
            HEADLINE_EVENTS,
            "2026-W11",
            {
                "mqls": (1, 4, (4 + 2 + 1 + 0) / 4),
                "acceptance_rate": (None, 2 / 3, 4 / 6),
                "sqls": (1, 2, (2 + 1 + 1) / 4),
                "wins": (0, 1, 2 / 4),
                "sla_compliance": (None, 2 / 3, 5 / 6),
                "median_hours": (None, 6.0, 4.0),
            },
            id="a week with no decisions",
        ),
        pytest.param(
            HEADLINE_MQLS,
            HEADLINE_EVENTS,
            "2025-W40",
            {
                "mqls": (0, 0, 0),
                "acceptance_rate": (None, None, None),
                "sqls": (0, 0, 0),
                "wins": (0, 0, 0),
                "sla_compliance": (None, None, None),
                "median_hours": (None, None, None),
            },
            id="an empty week",
        ),
        pytest.param(
            BOUNDARY_MQLS,
            NO_EVENTS,
            "2027-W01",
            {
                "mqls": (1, 1, 2 / 4),
                "acceptance_rate": (1.0, 0.0, 1 / 2),
                "sqls": (0, 0, 0),
                "wins": (0, 0, 0),
                "sla_compliance": (1.0, 1.0, 1 / 2),
                "median_hours": (1.0, 10.0, (10 + 48) / 2),
            },
            id="across the year boundary",
        ),
    ],
)
def test_headline_figures(mqls, events, week, expected):
    result = review.headline(mqls, events, week=W(week), sla_hours=24).collect()
    assert result["figure"].to_list() == [f.key for f in review.HEADLINE]
    for row in result.iter_rows(named=True):
        this, before, average = expected[row["figure"]]
        change = None if this is None or before is None else this - before
        got = (row["this_week"], row["previous_week"], row["four_week_average"], row["change"])
        for value, want in zip(got, (this, before, average, change), strict=True):
            assert (value is None) if want is None else value == pytest.approx(want), (row["figure"], got)


@pytest.mark.parametrize(
    ("value", "unit", "text", "change"),
    [
        (1234.0, "count", "1,234", "+1,234"),
        (96.5, "count", "96.5", "+96.5"),
        (-3.0, "count", "-3", "-3"),
        (0.4583, "rate", "45.8%", "+45.8 pp"),
        (-0.058, "rate", "-5.8%", "-5.8 pp"),
        (4.405, "hours", "4.4 h", "+4.4 h"),
        (None, "rate", "–", None),
    ],
)
def test_figures_read_with_their_unit(value, unit, text, change):
    assert review_data.figure_text(value, unit) == text
    assert review_data.change_text(value, unit) == change


@pytest.mark.parametrize(
    ("change", "lower_is_better", "css"),
    [
        ("+4", False, "num up"),
        ("-5.8 pp", False, "num down"),
        ("-0.3 h", True, "num up"),  # a faster decision is good news
        ("+1.2 h", True, "num down"),
        ("+0", False, "num"),
        ("-0.0 pp", False, "num"),
        (None, False, "num"),
    ],
)
def test_the_reports_changes_are_coloured_by_good_or_bad_news(change, lower_is_better, css):
    assert report._change_cell(change, lower_is_better).startswith(f'<td class="{css}">')


# ------------------------------------------------------------------------------------------------ movers


def _handoffs(campaign: str, week_monday: date, accepted: int, rejected: int, pending: int = 0) -> list[tuple]:
    at = datetime.combine(week_monday, datetime.min.time()) + timedelta(hours=9)
    outcomes = ["accepted"] * accepted + ["rejected"] * rejected + ["pending"] * pending
    return [
        (100 + i, at + timedelta(hours=i), o, None if o == "pending" else at + timedelta(hours=i + 1), campaign, "Ch")
        for i, o in enumerate(outcomes)
    ]


MOVERS = _mqls(
    _handoffs("A", date(2026, 3, 2), 8, 2)
    + _handoffs("B", date(2026, 3, 2), 0, 3)
    + _handoffs("C", date(2026, 3, 2), 0, 0, pending=2)
    + _handoffs("A", date(2026, 2, 23), 7, 3)
    + _handoffs("B", date(2026, 2, 23), 4, 0)
    + _handoffs("D", date(2026, 2, 23), 0, 5)
    + _handoffs("B", date(2026, 2, 16), 0, 9)  # two weeks back: not compared
)


def test_movers_against_the_week_before_with_noise():
    result = review.movers(MOVERS, week=W("2026-W10"), by="campaign").collect().sort("campaign")
    expected = pl.DataFrame(
        {
            "campaign": ["A", "B", "C", "D"],
            "mqls": [10, 3, 2, 0],
            "mqls_before": [10, 4, 0, 5],
            "mql_change": [0, -1, 2, -5],
            # |change| within 1.96 sqrt(this + before): 0 <= 8.8, 1 <= 5.2, 2 <= 2.8, but 5 > 4.4
            "volume_within_noise": [True, True, True, False],
            "rate": [0.8, 0.0, None, None],
            "rate_before": [0.7, 1.0, None, 0.0],
            "rate_change": [0.1, -1.0, None, None],
            # 0.7 lies inside 8/10's interval; 1.0 lies outside 0/3's
            "rate_within_noise": [True, False, None, None],
        }
    )
    assert_frame_equal(result.select(expected.columns), expected, check_dtypes=False, abs_tol=1e-9)
    # Wilson 95% for 8 of 10 and 0 of 3, computed by hand: (0.490, 0.943) and (0, 0.561)
    a, b = result.row(0, named=True), result.row(1, named=True)
    assert (a["rate_low"], a["rate_high"]) == pytest.approx((0.4902, 0.9433), abs=1e-3)
    assert (b["rate_low"], b["rate_high"]) == pytest.approx((0.0, 0.5615), abs=1e-3)


@pytest.mark.parametrize(
    ("n", "campaigns"),
    [
        (1, ["B", "D"]),  # the largest acceptance change (B) and the largest volume change (D)
        (2, ["B", "A", "D", "C"]),  # acceptance changes first, largest first, then the volume-only movers
    ],
)
def test_top_movers(n, campaigns):
    moved = review.movers(MOVERS, week=W("2026-W10"), by="campaign")
    assert review.top_movers(moved, by="campaign", n=n).collect()["campaign"].to_list() == campaigns


@pytest.mark.parametrize(
    ("row", "note"),
    [
        ({"rate_within_noise": True, "decided": 10, "rate_change": 0.1, "rate": 0.8, "volume_within_noise": True,
          "mql_change": 0}, "acceptance change within noise (10 decided)"),
        ({"rate_within_noise": False, "decided": 3, "rate_change": -1.0, "rate": 0.0, "volume_within_noise": True,
          "mql_change": -1}, "small sample: 3 decided; volume change within noise"),
        ({"rate_within_noise": False, "decided": 40, "rate_change": -0.3, "rate": 0.3, "volume_within_noise": False,
          "mql_change": 30}, ""),
        ({"rate_within_noise": None, "decided": 0, "rate_change": None, "rate": None, "volume_within_noise": True,
          "mql_change": 2}, "volume change within noise; nothing decided this week"),
    ],
)  # fmt: skip
def test_the_noise_note(row, note):
    assert review_data._noise_note(row) == note


# ------------------------------------------------------------------------------------------------ rejections


def _rejections(rows: list[tuple[str, datetime]], accepted: list[datetime] = ()) -> pl.LazyFrame:
    frame = pl.DataFrame(
        {
            "lead_id": list(range(len(rows) + len(accepted))),
            "mql_at": [at - timedelta(days=1) for _, at in rows] + [at - timedelta(days=1) for at in accepted],
            "outcome": ["rejected"] * len(rows) + ["accepted"] * len(accepted),
            "decided_at": [at for _, at in rows] + list(accepted),
            "reason": [r for r, _ in rows] + [None] * len(accepted),
        },
        schema_overrides={"mql_at": pl.Datetime("us"), "decided_at": pl.Datetime("us"), "reason": pl.String},
    )
    return frame.lazy()


REJECTIONS = _rejections(
    [("wrong_territory", D(2026, 3, 3))] * 3
    + [("duplicate", D(2026, 3, 4)), ("bad_contact", D(2026, 3, 2, 0, 30)), ("bad_contact", D(2026, 3, 8, 23))]
    + [("duplicate", D(2026, 2, 24))] * 2
    + [("bad_contact", D(2026, 2, 25)), ("bad_contact", D(2026, 2, 17))]
    + [("duplicate", D(2026, 2, 3))] * 2
    + [("wrong_territory", D(2026, 1, 28))] * 5,  # 2026-W05: before the four weeks
    accepted=[D(2026, 3, 3)] * 4,
)


def test_rejection_trend_marks_new_and_growing_reasons():
    result = review.rejection_trend(REJECTIONS, week=W("2026-W10")).collect()
    rows = {r["reason"]: r for r in result.iter_rows(named=True)}
    got = {
        reason: (r["this_week"], r["previous_week"], r["four_week_average"], r["status"])
        for reason, r in rows.items()
        if r["this_week"] or r["previous_week"] or r["four_week_average"]
    }
    assert got == {
        "wrong_territory": (3, 0, 0.0, "new"),  # none in the four weeks before
        "bad_contact": (2, 1, 0.5, "growing"),  # above last week and the average
        "duplicate": (1, 2, 1.0, None),  # below last week
    }
    assert result.height == 7  # every reason of the taxonomy
    rising = review.rising_rejections(REJECTIONS, week=W("2026-W10")).collect()
    assert rising["reason"].to_list() == ["wrong_territory", "bad_contact"]


# ------------------------------------------------------------------------------------------------ SLA by rep


def test_sla_breaches_by_rep():
    mqls = _mqls(
        [
            (1, D(2026, 3, 2, 8), "accepted", D(2026, 3, 3, 14), "A", "Ch", "Ann", "Ann"),  # 30 h: late
            (2, D(2026, 3, 2, 8), "rejected", D(2026, 3, 2, 10), "A", "Ch", "Ann", "Ann"),  # 2 h
            (3, D(2026, 3, 4, 8), "accepted", D(2026, 3, 5, 9), "A", "Ch", "Ann", "Bob"),  # 25 h, decided by Bob
            (4, D(2026, 3, 3, 8), "pending", None, "A", "Ch", "Bob", None),  # 136 h by the week's end
            (5, D(2026, 3, 8, 12), "pending", None, "A", "Ch", "Cy", None),  # 12 h: inside
            (6, D(2026, 3, 2), "pending", None, "A", "Ch", None, None),  # nobody owns it
            (7, D(2026, 2, 20), "pending", None, "A", "Ch", "Bob", None),  # an earlier week
        ]
    )
    result = review.sla_breaches_by_rep(mqls, week=W("2026-W10"), sla_hours=24, now=D(2026, 3, 9)).collect()
    expected = pl.DataFrame(
        {
            "rep": ["Bob", "Ann", "Unassigned", "Cy"],
            "mqls": [2, 2, 1, 1],
            "decided": [1, 2, 0, 0],
            "decided_late": [1, 1, 0, 0],
            "waiting_late": [1, 0, 1, 0],
            "breaches": [2, 1, 1, 0],
            "sla_compliance": [0.0, 0.5, None, None],
        }
    )
    assert_frame_equal(result, expected, check_dtypes=False)


# ------------------------------------------------------------------------------------------------ tier load


def test_tier_load_against_the_capacity_of_active_reps():
    reps = pl.LazyFrame(
        {
            "id": [1, 2, 3, 4],
            "name": ["J1", "J2", "J3", "S1"],
            "tier": ["junior", "junior", "junior", "senior"],
            "team": ["NA"] * 4,
            "weekly_capacity": [10, 20, 50, 5],
            "active": [True, True, False, True],
        }
    )
    work = pl.LazyFrame(
        {
            "rep_id": [1, 1, 1, 1, 3, 4, 4],
            "lead_id": [1, 1, 2, 3, 4, 5, 6],
            "occurred_at": [D(2026, 3, 2), D(2026, 3, 3), D(2026, 3, 4), D(2026, 3, 8, 23), D(2026, 3, 5)]
            + [D(2026, 2, 24), D(2026, 3, 1, 23)],
        }
    )
    result = review.tier_load(reps, work, week=W("2026-W10")).collect()
    expected = pl.DataFrame(
        {
            "tier": ["junior", "senior"],
            "reps": [2, 1],  # the inactive rep's work counts, their capacity does not
            "capacity": [30, 5],
            "leads": [4, 0],
            "leads_before": [0, 2],
            "utilisation": [4 / 30, 0.0],
            "utilisation_before": [0.0, 2 / 5],
        }
    )
    assert_frame_equal(result, expected, check_dtypes=False)


# ------------------------------------------------------------------------------------------------ decision log

MODELS = pl.LazyFrame(
    {
        "version": [1, 2, 3],
        "active_from": [D(2026, 1, 1), D(2026, 2, 2), D(2026, 2, 16)],
        "active_to": [D(2026, 2, 2), D(2026, 2, 16), None],
    }
)
MODEL_MQLS = _mqls(
    [
        (1, D(2026, 1, 3), "accepted", D(2026, 1, 3, 1)),  # before v2's window of four weeks
        (2, D(2026, 1, 10), "accepted", D(2026, 1, 10, 1)),
        (3, D(2026, 1, 20), "rejected", D(2026, 1, 20, 1)),
        (4, D(2026, 2, 3), "accepted", D(2026, 2, 3, 1)),
        (5, D(2026, 2, 10, 9), "accepted", D(2026, 2, 10, 10)),
        (6, D(2026, 2, 12), "pending", None),
        (7, D(2026, 2, 20), "rejected", D(2026, 2, 20, 1)),
        (8, D(2026, 3, 1), "accepted", D(2026, 3, 1, 1)),
        (9, D(2026, 3, 10), "accepted", D(2026, 3, 10, 1)),  # after the review week
    ]
)


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        pytest.param(
            D(2026, 3, 9),
            [
                # version, week, weeks before/after, MQLs per week before/after, acceptance before/after
                (3, "2026-W08", 2.0, 3.0, 3 / 2, 2 / 3, 1.0, 0.5),  # before: since v2 only; after: up to as_of
                (2, "2026-W06", 4.0, 2.0, 2 / 4, 3 / 2, 0.5, 1.0),  # after: until v3 took over
            ],
            id="two changes",
        ),
        pytest.param(
            D(2026, 2, 10),
            [(2, "2026-W06", 4.0, 8 / 7, 2 / 4, 1 / (8 / 7), 0.5, 1.0)],  # v3 not live yet; 8 days after so far
            id="as of a week in between",
        ),
        pytest.param(D(2026, 1, 20), [], id="before any change"),
    ],
)
def test_model_changes_before_and_after(as_of, expected):
    result = review.model_changes(MODELS, MODEL_MQLS, as_of=as_of).collect()
    got = result.select(
        "version",
        "week",
        "weeks_before",
        "weeks_after",
        "mqls_per_week_before",
        "mqls_per_week_after",
        "rate_before",
        "rate_after",
    ).rows()
    assert len(got) == len(expected)
    for row, want in zip(got, expected, strict=True):
        assert row[:2] == want[:2]
        assert row[2:] == pytest.approx(want[2:])


def test_each_change_gets_the_what_ifs_estimate_for_the_weeks_before_it():
    from types import SimpleNamespace

    rule = {"w_demographic": 0.15, "w_firmographic": 0.15, "w_behavioural": 0.55, "w_engagement": 0.15}
    rule |= {"mql_threshold": 40.0, "gate_known_company": False, "gate_budget": True, "gate_authority": False}
    rule |= {"gate_timeline_months": None, "author": "Marketing Ops", "note": "More weight on behaviour"}
    changes = review.model_changes(
        MODELS.with_columns(**{k: pl.lit(v) for k, v in rule.items()}), MODEL_MQLS, as_of=D(2026, 3, 9)
    ).collect()
    asked = []

    def project(filters, proposal):
        asked.append((filters.start, filters.end, proposal))
        total = {"projected_mqls": 40, "actual_mqls": 28, "projected_rate": 0.5, "actual_rate": 0.6}
        return SimpleNamespace(total=pl.DataFrame(total | {"estimated_share": 0.1}))

    result = review_data.with_projections(changes, project).sort("version")
    # v2: the four weeks before 2 Feb; v3: the two weeks since v2 began
    assert [(start, end) for start, end, _ in asked] == [
        (date(2026, 2, 2), date(2026, 2, 15)),
        (date(2026, 1, 5), date(2026, 2, 1)),
    ]
    assert all(p.mql_threshold == 40.0 and p.gate_budget and not p.gate_authority for *_, p in asked)
    assert result["projected_mqls_per_week"].to_list() == pytest.approx([40 / 4, 40 / 2])
    assert result["projected_actual_mqls_per_week"].to_list() == pytest.approx([28 / 4, 28 / 2])
    text = review_data.decisions_table(result).row(0, named=True)
    assert text["What-if projected for it (estimated)"] == "+3 MQLs per week, +43%; acceptance 50.0% (-10.0 pp)"
    assert text["MQLs per week, before → after"] == "0.5 → 1.5 (+1) (first 2.0 weeks)"
    assert text["By, and why"] == "Marketing Ops: More weight on behaviour"
    assert text["Took effect"] == "2026-W06"
    unprojected = review_data.with_projections(changes, None)
    assert unprojected["projected_mqls_per_week"].to_list() == [None, None]


# ------------------------------------------------------------------------------------------------ action items

ITEMS = pl.LazyFrame(
    {
        "id": [1, 2, 3, 4],
        "title": ["Fix routing", "Brief the SDRs", "New CTV creative", "Year-end clean-up"],
        "owner": ["Ann", "Bob", "Cy", "Dee"],
        "due_date": [date(2026, 2, 27), date(2026, 3, 20), date(2026, 3, 6), date(2027, 1, 8)],
        "status": ["open", "done", "open", "done"],
        "created_at": [D(2026, 2, 16), D(2026, 2, 23), D(2026, 3, 2), D(2026, 12, 29)],
        "closed_at": [None, D(2026, 3, 4), None, D(2027, 1, 6)],
        "created_week": ["2026-W08", "2026-W09", "2026-W10", "2026-W53"],
    }
)


@pytest.mark.parametrize(
    ("week", "today", "expected"),
    [
        # (id, status in that week, overdue, carried over from an earlier week)
        ("2026-W07", date(2026, 3, 12), []),
        ("2026-W09", date(2026, 3, 12), [(1, "open", True, True), (2, "open", False, False)]),
        (
            "2026-W10",
            date(2026, 3, 12),
            [(1, "open", True, True), (3, "open", True, False), (2, "done", False, True)],
        ),
        (  # the week in progress: overdue as of today, not of its Sunday
            "2026-W10",
            date(2026, 3, 5),
            [(1, "open", True, True), (3, "open", False, False), (2, "done", False, True)],
        ),
        ("2026-W11", date(2026, 3, 12), [(1, "open", True, True), (3, "open", True, True)]),
        ("2027-W01", date(2027, 1, 12), [(1, "open", True, True), (3, "open", True, True), (4, "done", False, True)]),
        ("2027-W02", date(2027, 1, 12), [(1, "open", True, True), (3, "open", True, True)]),
    ],
)
def test_action_items_carried_from_week_to_week(week, today, expected):
    result = review.action_items_in_week(ITEMS, week=W(week), today=today).collect()
    assert result.select("id", "status_in_week", "overdue", "carried_over").rows() == expected


# ------------------------------------------------------------------------------------------------ the store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path) -> str:
    """An empty database with the schema."""
    address = (
        f"sqlite:///{tmp_path / 'review.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    )
    db.create_schema(address)
    return address


def _week_items(url: str, week: str, today: date) -> list[tuple]:
    frame = review_data.week_action_items(url, W(week), today)
    return frame.select("title", "status_in_week", "overdue").rows()


def test_action_items_are_created_carried_over_marked_overdue_and_closed(url):
    feb25 = D(2026, 2, 25, 9, 30)
    item = in_transaction(
        url,
        review_store.add_action_item,
        title="  Fix EMEA routing  ",
        owner="Ann",
        due_date=date(2026, 3, 2),
        week=W("2026-W09"),
        now=feb25,
    )
    in_transaction(
        url,
        review_store.add_action_item,
        title="Brief the SDRs",
        owner="Bob",
        due_date=date(2026, 3, 20),
        week=W("2026-W10"),
        now=D(2026, 3, 9),
    )
    stored = review_data.action_items(url).sort("id")
    assert stored.select("title", "owner", "due_date", "status", "created_week", "closed_at").rows()[0] == (
        "Fix EMEA routing",
        "Ann",
        date(2026, 3, 2),
        "open",
        "2026-W09",
        None,
    )
    assert stored["created_at"][0] == feb25
    # shown from its week on; overdue once its due date has passed by the end of a week
    assert _week_items(url, "2026-W08", date(2026, 3, 12)) == []
    assert _week_items(url, "2026-W09", date(2026, 3, 12)) == [("Fix EMEA routing", "open", False)]
    assert _week_items(url, "2026-W10", date(2026, 3, 12)) == [
        ("Fix EMEA routing", "open", True),
        ("Brief the SDRs", "open", False),
    ]
    closed = in_transaction(url, review_store.close_action_item, item_id=item.id, now=D(2026, 3, 18, 10))  # in 2026-W12
    assert (closed.status, closed.closed_at) == ("done", D(2026, 3, 18, 10))
    assert _week_items(url, "2026-W11", date(2026, 3, 20))[0] == ("Fix EMEA routing", "open", True)
    assert ("Fix EMEA routing", "done", False) in _week_items(url, "2026-W12", date(2026, 3, 20))
    assert [t for t, *_ in _week_items(url, "2026-W13", date(2026, 3, 30))] == ["Brief the SDRs"]
    with pytest.raises(Refused, match="already closed on 18 Mar 2026"):
        in_transaction(url, review_store.close_action_item, item_id=item.id, now=D(2026, 3, 19))
    with pytest.raises(Refused, match="no longer exists"):
        in_transaction(url, review_store.close_action_item, item_id=9999, now=D(2026, 3, 19))


@pytest.mark.parametrize(
    ("title", "owner", "due", "message"),
    [
        ("", "Ann", date(2026, 3, 20), "what is to be done"),
        ("   ", "Ann", date(2026, 3, 20), "what is to be done"),
        ("Fix it", "", date(2026, 3, 20), "who owns it"),
        ("Fix it", "Ann", None, "pick a due date"),
        ("Fix it", "Ann", date(2026, 3, 8), "has passed"),
        ("x" * 201, "Ann", date(2026, 3, 20), "at most 200 characters"),
    ],
)
def test_an_action_item_without_what_who_or_when_is_refused_and_nothing_is_written(url, title, owner, due, message):
    with pytest.raises(Refused, match=message):
        in_transaction(
            url,
            review_store.add_action_item,
            title=title,
            owner=owner,
            due_date=due,
            week=W("2026-W10"),
            now=D(2026, 3, 9),
        )
    assert review_data.action_items(url).is_empty()


def test_meeting_notes_are_saved_per_week_and_kept_as_typed(url):
    text = "Agreed: pause CTV - Streaming Launch.\n<script>alert(1)</script> **not bold**"
    in_transaction(
        url, review_store.save_meeting_note, week=W("2026-W10"), text=text, author="Maria", now=D(2026, 3, 9, 10)
    )
    in_transaction(
        url, review_store.save_meeting_note, week=W("2026-W11"), text="Next week", author="Sam", now=D(2026, 3, 16)
    )
    note = review_data.meeting_note(url, W("2026-W10"))
    assert (note["text"], note["author"], note["updated_at"]) == (text, "Maria", D(2026, 3, 9, 10))
    in_transaction(
        url, review_store.save_meeting_note, week=W("2026-W10"), text="Revised", author="Sam", now=D(2026, 3, 9, 11)
    )
    note = review_data.meeting_note(url, W("2026-W10"))
    assert (note["text"], note["author"]) == ("Revised", "Sam")
    assert review_data.meeting_note(url, W("2026-W11"))["text"] == "Next week"
    assert review_data.meeting_note(url, W("2026-W12")) is None
    assert db.read_table(review_data.MeetingNote, url=url).height == 2  # one row per week
    with pytest.raises(Refused, match="your name"):
        in_transaction(
            url, review_store.save_meeting_note, week=W("2026-W10"), text="Lost", author=" ", now=D(2026, 3, 9, 12)
        )
    assert review_data.meeting_note(url, W("2026-W10"))["text"] == "Revised"


# ------------------------------------------------------------------------------------------------ the report


@pytest.fixture(scope="module")
def seeded_url(tmp_path_factory) -> str:
    from seed import populate
    from seed.generator import today_plan

    url = f"sqlite:///{tmp_path_factory.mktemp('review') / 'handoff.db'}"
    populate(url, today_plan(3000, 26, seed=5))
    return url


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--week", "2026-W60"], "2026 has no week 60"),
        (["--week", "last week"], "not an ISO week"),
        (["--week", "2026-W10", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none"], "cannot reach its database"),
        (["--week", "2026-W10", "--db", "sqlite:////nonexistent/handoff.db"], "no database file"),
    ],
)
def test_the_command_line_says_why_it_wrote_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "review.html"
    assert report.main([*args, "--out", str(out)]) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_the_command_line_refuses_an_unknown_file_kind(tmp_path, capsys, seeded_url):
    assert report.main(["--week", "2026-W10", "--db", seeded_url, "--out", str(tmp_path / "review.docx")]) == 1
    assert "must end in .html or .pdf" in capsys.readouterr().err


def test_without_chart_images_the_report_shows_tables_and_says_why(tmp_path, monkeypatch, seeded_url):
    monkeypatch.setattr(report, "chromium_path", lambda: None)
    week = IsoWeek.last_complete(date.today())
    out = tmp_path / "review.html"
    assert report.main(["--week", str(week), "--db", seeded_url, "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "The charts are shown as tables: no Chrome or Chromium is installed" in html
    assert "<img" not in html
    assert f"<td>{week}</td>" in html  # the weekly trend as a table instead


def test_a_failing_renderer_is_described_not_raised(monkeypatch):
    import kaleido

    class Broken:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("Chromium crashed\nwith details")

    monkeypatch.setattr(kaleido, "Kaleido", Broken)
    monkeypatch.setattr(report, "chromium_path", lambda: "/usr/bin/chromium")
    images = report.chart_images({"x": go.Figure(go.Bar(x=["a"], y=[1]))})
    assert images.pngs == {} and images.problem == "the chart renderer failed (Chromium crashed)"


# ------------------------------------------------------------------------------------------------ the page


def _app(monkeypatch, url: str) -> AppTest:
    monkeypatch.setattr(PagesManager, "__init__", PagesManager.__init__)  # restored after the test
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HANDOFF_SEED_DEMO", "0")
    at = app_test()
    at.run()
    at.switch_page("pages/review.py").run()
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_the_review_page_renders_and_another_week_changes_the_figures(monkeypatch, seeded_url):
    at = _app(monkeypatch, seeded_url)
    assert not at.exception
    last = IsoWeek.last_complete(date.today())
    assert at.selectbox(key="review_week").value == str(last)
    before = _metrics(at)
    assert list(before) == [f.label for f in review.HEADLINE]
    assert int(before["MQLs"].replace(",", "")) > 0
    assert before["Acceptance rate"].endswith("%") and before["Median time to decision"].endswith(" h")
    assert len(at.get("plotly_chart")) == 3
    at.selectbox(key="review_week").set_value(str(last.shifted(-3))).run()
    assert not at.exception
    assert _metrics(at) != before


def test_adding_an_action_item_and_notes_on_the_page_shows_them(monkeypatch, tmp_path):
    from seed import populate
    from seed.generator import today_plan

    url = f"sqlite:///{tmp_path / 'write.db'}"
    populate(url, today_plan(1500, 12, seed=3))
    at = _app(monkeypatch, url)
    assert not any("Ask marketing ops" in str(t.value) for t in at.table)
    at.text_input(key="review_item_title").set_value("Ask marketing ops to pause CTV - Streaming Launch")
    at.text_input(key="review_item_owner").set_value("Maria")
    next(b for b in at.button if b.label == "Add action item").click().run()
    assert not at.exception
    items = at.table[-1].value
    assert plain("Ask marketing ops to pause CTV - Streaming Launch") in items.iloc[:, 0].tolist()  # as plain text
    assert review_data.action_items(url)["created_week"].to_list() == [str(IsoWeek.last_complete(date.today()))]
    at.text_area(key="review_note_text").set_value("Decided: pause it.\n**not markdown**")
    at.text_input(key="review_note_author").set_value("Sam")
    next(b for b in at.button if b.label == "Save notes").click().run()
    assert not at.exception
    assert "Decided: pause it.\n**not markdown**" in [t.value for t in at.text]

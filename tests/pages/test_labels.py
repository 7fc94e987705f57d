"""Labels everywhere (issue 17, item 6): every page, on the demo database and on imported CRM exports, shows no
internal code, enum name or "None", no hour figure above 48, no count with a decimal, one percentage format per
table, and download buttons whose labels are never cut; the downloads hold the same titles and labels."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.auth import Role
from dashboard.data.data import read_tables
from dashboard.domain import CHANNELS, REJECTION_REASONS, STAGE_LABELS, Stage
from dashboard.ingest.cli import import_files
from dashboard.ingest.mapping import Mapping
from dashboard.ui import whatif_widgets
from tests.apps import app_on
from tests.pages.screen_text import (
    LABEL,
    TITLE,
    Downloads,
    Shown,
    chart_texts,
    csv_texts,
    cut_labels,
    domain_codes,
    findings,
    frame_texts,
    html_texts,
    screen_texts,
)

# ----- the checker, on planted strings --------------------------------------------------------------------------------

CODES = domain_codes([("trade_show", "Trade show"), ("other", "Other")])


def _found(text: str, kind: str = "prose", table: str | None = None) -> list[str]:
    return findings([Shown("page · element", text, kind, table)], CODES)


def test_the_codes_come_from_the_enums_and_label_maps():
    assert {r.key for r in REJECTION_REASONS} <= CODES.underscored | CODES.bare
    assert {s.value for s in Stage if s.value != STAGE_LABELS[s]} <= CODES.bare
    assert {"not_target_market", "paid_search", "in_period", "manage_users", "trade_show"} <= CODES.underscored
    assert {"mql", "inquiry", "ctv", "junior", "admin", "cohort", "accepted", "email"} <= CODES.bare
    # labels are not codes, nor is a one-word channel key of the data ("other" is also an attribute's value)
    assert not {c.label for c in CHANNELS} & (CODES.bare | CODES.underscored)
    assert "other" not in CODES.bare


@pytest.mark.parametrize(
    ("text", "kind", "bad"),
    [
        # an underscored code anywhere; the label is fine
        ("Reason: wrong_territory", "prose", "'wrong_territory'"),
        ("Routed to the wrong rep or territory", "prose", None),
        ("Mode in_period.", "prose", "'in_period'"),
        # a bare code where a label is expected (case-sensitive), never the English word in a sentence
        ("mql", LABEL, "'mql'"),
        ("mql → sal", LABEL, "'mql'"),
        ("Ava Thompson (junior)", LABEL, "'junior'"),
        ("MQLs", LABEL, None),
        ("Email", LABEL, None),
        ("email", LABEL, "'email'"),
        ("Leads that sales rejected or accepted", "prose", None),
        # "None", "nan" and the like as a shown value
        ("None", LABEL, "'None'"),
        ("Reason: None", "prose", "'None'"),
        ("None: the proposal keeps every lead that sales accepted.", "prose", None),
        ("Score nan", "prose", "'nan'"),
        # hours above 48
        ("Hours waiting 1838.7", "prose", "hours above 48"),
        ("Waited 1838.7 h", "prose", "hours above 48"),
        ("median 47.9 h", "prose", None),
        ("72 business hours is the usual outer limit", "prose", None),
        ("76.6 days", "prose", None),
        # one of a thing in the plural
        ("Median 1.2 h (1 days)", "prose", "'1 days'"),
        ("1 visits · 2 downloads", "prose", "'1 visits'"),
        ("1 of 3 leads (2 days)", "prose", None),
        # counts as integers
        ("57.0 wins beside 56", "prose", "'57.0 wins'"),
        ("57.0", LABEL, "a whole number with a decimal"),
        ("57", LABEL, None),
        ("4.0 days", "prose", None),
        # a column by its internal name
        ("hours_waiting", TITLE, "internal name"),
        ("Waiting", TITLE, None),
    ],
)
def test_each_rule_names_the_element_and_the_text(text, kind, bad):
    found = _found(text, kind)
    if bad is None:
        assert found == []
    else:
        assert len(found) >= 1 and all(f.startswith("page · element: ") and repr(text) in f for f in found)
        assert any(bad in f for f in found), found


def test_one_percentage_format_per_table():
    cells = ["40.22%", "56.1%", "67%"]
    found = findings([Shown(f"t · cell {i}", c, LABEL, table="t") for i, c in enumerate(cells)], CODES)
    assert found == ["t: percentages in 3 formats in one table ('67%', '56.1%', '40.22%')"]
    same = ["40.2%", "56.1%", "acceptance 67.0% (-8.9 pp)", "95%: 1,880–2,034"]  # a confidence level is no figure
    assert findings([Shown("t · cell", c, LABEL, table="t") for c in same], CODES) == []
    other_tables = [Shown("a · cell", "40.22%", LABEL, table="a"), Shown("b · cell", "56.1%", LABEL, table="b")]
    assert findings(other_tables, CODES) == []


def test_a_table_is_read_as_shown_its_titles_formats_and_cells():
    import pandas as pd

    frame = pd.DataFrame(
        {"reason": ["not_target_market", None], "rate": [0.4, 0.5], "wins": [57.0, 56.3], "hours": [1838.7, 2.0]}
    )
    configs = {
        "reason": {"label": "Reason"},
        "rate": {"label": "Rate", "type_config": {"format": "percent"}},
        "wins": {"label": "Wins", "type_config": {"format": "%.1f"}},
        "hours": {"hidden": True},
    }
    shown = list(frame_texts(frame, configs, "p · dataframe 1"))
    assert [s.text for s in shown if s.kind == TITLE] == ["Reason", "Rate", "Wins"]  # hidden column left out
    found = findings([*shown, Shown("p · dataframe 1 cell", "56.1%", LABEL, table="p · dataframe 1")], CODES)
    assert any("'not_target_market'" in f for f in found)
    assert any("'None'" in f for f in found)
    assert any("'57.0'" in f for f in found) and not any("'56.3'" in f for f in found)
    assert any("percentages in 2 formats" in f for f in found)  # "percent" shows two decimals, the cell one
    assert not any("1838.7" in f for f in found)  # hidden


def test_a_chart_is_read_from_its_spec():
    import plotly.graph_objects as go

    figure = go.Figure(go.Bar(y=["junior", "Senior (AE)"], x=[1, 2], text=["1838.7 h", "2 h"], name="tier"))
    figure.update_layout(title="By tier", xaxis_title="Hours", showlegend=True)
    found = findings(chart_texts(figure.to_json(), "p · plotly_chart 1"), CODES)
    assert any("y category" in f and "'junior'" in f for f in found)
    assert any("text" in f and "hours above 48" in f for f in found)
    assert len(found) == 2


def test_the_downloads_are_read_their_titles_and_cells():
    csv = b"external_id,Reason,hours_waiting\r\nL1,not_target_market,1838.7\r\nL2,Duplicate record,3.5\r\n"
    found = findings(csv_texts(csv, "p · download leads.csv"), CODES)
    assert any("internal name 'external_id'" in f for f in found)
    assert any("'not_target_market'" in f for f in found)
    assert any("1838.7" in f and "hours above 48" in f for f in found)
    assert not any("3.5" in f or "Duplicate record" in f for f in found)
    report = (
        "<html><style>td{color:red}</style><body><h1>Weekly review</h1><p>Reason wrong_territory</p>"
        "<table><tr><th>Rate</th></tr><tr><td>40.22%</td></tr><tr><td>56.1%</td></tr></table>"
        "<table><tr><td>67%</td></tr></table></body></html>"
    )
    found = findings(html_texts(report.encode(), "p · download review.html"), CODES)
    assert any("'wrong_territory'" in f for f in found)
    assert ["percentages in 2 formats" in f for f in found].count(True) == 1  # the second table is apart
    assert not any("color" in f for f in found)


# ----- the sweep: every page, on the demo database and on imported exports --------------------------------------------

PAGES = ("overview", "acceptance", "rejections", "sla", "whatif", "review", "queue", "imports", "users", "audit")
EXPORTS = Path(__file__).resolve().parent.parent / "fixtures" / "exports"
EXPORT_FILES = {  # name: leads file, events file, mapping (as tests/ingest/test_real_exports.py imports them)
    "hubspot": ("hubspot_contacts.csv", None, "hubspot_mapping.toml"),
    "salesforce": ("salesforce_leads.csv", "salesforce_lead_history.csv", "salesforce_mapping.toml"),
    "funnel": ("funnel_leads.csv", "funnel_won_deals.csv", "funnel_mapping.toml"),
}


def _imported(name: str, folder: Path) -> str:
    leads, events, mapping = EXPORT_FILES[name]
    url = f"sqlite:///{folder / f'{name}.db'}"
    summary, _ = import_files(
        leads=EXPORTS / leads,
        events=EXPORTS / events if events else None,
        mapping=Mapping.from_toml((EXPORTS / mapping).read_text(encoding="utf-8")),
        url=url,
        now=datetime(2026, 12, 2, 12, 0),
    )
    assert summary is not None and summary.inserted > 0
    return url


@pytest.fixture(params=["demo", *EXPORT_FILES])
def database(request, tmp_path) -> tuple[str, str]:
    """(name, url): a copy of the demo database (the sweep saves a user), or an imported export."""
    if request.param == "demo":
        return "demo", request.getfixturevalue("demo_copy")
    return request.param, _imported(request.param, tmp_path)


_app = app_on


def _states(at: AppTest, page: str):
    """Run page and yield a name for each state worth reading: as it opens, and after the interactions that show
    more (the other counting mode, a selected lead, a lower threshold, a saved user)."""
    at.switch_page(f"pages/{page}.py").run()
    yield page
    if page == "overview":
        at.radio(key="filter_mode").set_value("in_period").run()
        yield f"{page} (in-period)"
        at.radio(key="filter_mode").set_value("cohort").run()
    elif page == "queue" and at.dataframe:
        at.session_state["queue_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
        at.run()
        yield f"{page} (a lead selected)"
    elif page == "whatif":
        if any(s.key == "whatif_threshold" for s in at.slider):
            slider = at.slider(key="whatif_threshold")
            slider.set_value(max(slider.value - 15, 0.0)).run()
            yield f"{page} (threshold lowered)"
        sections = [t.label for t in at.tabs if t.label in whatif_widgets.SECTIONS]
        for section in sections[1:]:  # the first is open from the start
            at.session_state[whatif_widgets.SECTION_KEY] = section
            at.run()
            yield f"{page} ({section})"
        if sections:
            at.session_state[whatif_widgets.SECTION_KEY] = sections[0]
    elif page == "users":
        at.text_input(key="users_email").set_value("ann@example.com")
        at.text_input(key="users_name").set_value("Ann")
        at.selectbox(key="users_role").set_value(Role.SALES_MANAGER)
        next(b for b in at.button if b.label == "Save user").click().run()
        yield f"{page} (a user saved)"


def test_every_page_shows_labels_not_codes(monkeypatch, database):
    name, url = database
    downloads = Downloads().install(monkeypatch)
    tables = read_tables(url)
    codes = domain_codes(zip(tables.channels["key"], tables.channels["label"], strict=True))
    at = _app(monkeypatch, url)
    at.run()
    assert not at.exception
    found, cut, swept = [], [], []
    for page in PAGES:
        for state in _states(at, page):
            assert not at.exception, (name, state, [e.value for e in at.exception])
            shown = screen_texts(at, f"{name}: {state}", downloads)
            assert shown, state
            swept.append(state)
            found += findings(shown, codes)
            cut += [f"{name}: {state}: {label!r}" for label in cut_labels(at)]
    assert {s.split(" (")[0] for s in swept} == set(PAGES) and "users (a user saved)" in swept
    unique = list(dict.fromkeys(found))
    assert not unique, f"{len(unique)} texts break the labels rule:\n" + "\n".join(unique[:60])
    assert not cut, "download buttons whose label can be cut short:\n" + "\n".join(cut)

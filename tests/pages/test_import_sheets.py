"""The Import page on a workbook of several sheets: it asks which sheet holds the leads, reads the one picked, says
so in its notes, names the file in its notes and problems, and imports that sheet (the mapping keeps the choice)."""

from __future__ import annotations

import io

import polars as pl
import xlsxwriter

from dashboard.models import AuditEntry, Lead
from dashboard.store import db
from dashboard.ui.text import plain
from tests.apps import app_on

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _workbook() -> bytes:
    """A cover page first, the leads on the second sheet (one row with a date that is none)."""
    cover = pl.DataFrame({"About this export": ["Leads from the CRM, exported on Monday"]})
    leads = pl.DataFrame(
        {
            "id": ["X1", "X2", "X3", "X4"],
            "created_at": ["2026-10-01", "2026-10-02", "yesterday", "2026-10-03"],
            "channel": ["email", "ctv", "email", "webinar"],
            "Notes": ["a", "b", "c", "d"],
        }
    )
    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer) as workbook:
        cover.write_excel(workbook, worksheet="Cover")
        leads.write_excel(workbook, worksheet="Leads")
    return buffer.getvalue()


def test_a_workbook_of_two_sheets_asks_which_and_imports_the_one_picked(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'sheets.db'}"
    at = app_on(monkeypatch, url, page="imports")
    at.file_uploader(key="import_leads").upload("export.xlsx", _workbook(), XLSX).run()
    assert not at.exception
    picker = at.selectbox(key="import_sheet")
    assert picker.options == ["Cover", "Leads"] and picker.value is None  # nothing read until a sheet is chosen
    assert plain("export.xlsx") in picker.label
    assert any("Choose the sheet" in i.value for i in at.info) and not at.error
    # the cover page first: it has no lead id, and the column pickers follow its columns
    picker.set_value("Cover").run()
    assert not at.exception
    assert any("lead id" in e.value for e in at.error)
    # then the leads: the mapping starts again from the preset, so the pickers find the lead id
    picker = at.selectbox(key="import_sheet")
    picker.set_value("Leads").run()
    assert not at.exception
    notes = " ".join(c.value for c in at.caption)
    assert plain("Read the sheet “Leads” of export.xlsx.") in notes
    assert plain("Columns of export.xlsx that no field maps, so not imported: Notes.") in notes
    problems = next(d.value for d in at.dataframe if "problem" in d.value.columns)
    assert problems[["file", "row", "column", "value"]].values.tolist() == [
        ["export.xlsx", 4, "created_at", "yesterday"]
    ]
    assert 'sheet = "Leads"' in at.session_state["import_mapping"].to_toml()  # saved with the mapping

    at.checkbox(key="import_valid_only").check().run()
    at.button(key="import_run").click().run()
    assert not at.exception
    assert any("3 new leads" in s.value for s in at.success)
    assert db.read_table(AuditEntry, url=url)["action"].to_list() == ["import"]
    assert sorted(db.read_table(Lead, url=url)["external_id"]) == ["X1", "X2", "X4"]

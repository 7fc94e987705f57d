"""Import a CRM export: map its columns and values, check every row, then import it in one transaction."""

from datetime import datetime

import streamlit as st

from dashboard import ingest
from dashboard.ui import import_widgets as widgets
from dashboard.ui import signin
from dashboard.ui.components import page_context
from dashboard.ui.text import plain

settings, _ = page_context()
st.title("Import leads")
st.caption(
    "A CSV (any common delimiter and encoding) or Excel export of your CRM's leads, and optionally a second file "
    "of stage events keyed by the lead id. Importing the same file again changes nothing; a newer export updates "
    "the changed leads, adds the new ones and appends only new stage events."
)
files = st.columns(2)
leads_file = files[0].file_uploader("Leads file", type=["csv", "txt", "xlsx", "xls"], key="import_leads")
events_file = files[1].file_uploader("Stage events file (optional)", type=["csv", "txt", "xlsx"], key="import_events")
mapping = widgets.choose_mapping()
if leads_file is None:
    st.info("Choose a leads file to start.", icon=":material/upload_file:")
    st.stop()

names = {"leads": leads_file.name} | ({"events": events_file.name} if events_file else {})
try:
    raw = widgets.read_upload(leads_file, mapping, key="import_sheet", leads=True)
    event_raw = widgets.read_upload(events_file, mapping, key="import_events_sheet") if events_file else None
except ingest.ImportRefused as exc:
    st.error(plain(exc), icon=":material/error:")
    st.stop()
if raw is None or (events_file and event_raw is None):
    st.info("Choose the sheet that holds the rows.", icon=":material/tab:")
    st.stop()
if raw.sheet is not None:
    mapping.sheet = raw.sheet  # the sheet picked is saved with the mapping
detected = f"{raw.frame.height:,} rows, {raw.frame.width} columns"
if raw.delimiter:
    detected += f"; read as {raw.encoding}, delimiter {raw.delimiter!r}"
st.caption(plain(detected))

st.subheader("Columns")
widgets.column_editor(mapping, raw.frame.columns)
order = st.radio(
    "Dates are written",
    options=list(ingest.DATE_ORDERS),
    format_func={
        "auto": "Detect (ask when unclear)",
        "iso": "ISO (2026-03-04)",
        "day-first": "Day first (04/03/2026)",
        "month-first": "Month first (03/04/2026)",
    }.get,
    index=list(ingest.DATE_ORDERS).index(mapping.date_order),
    horizontal=True,
    key="import_date_order",
)
mapping.date_order = order
now = datetime.now().replace(microsecond=0)
try:
    events = event_raw.frame if event_raw else None
    prepared = ingest.prepare(raw.frame, mapping, now=now, events=events, names=names)
except ingest.ImportRefused as exc:
    st.error(plain(exc), icon=":material/error:")
    st.stop()
read = ingest.read_notes(raw, names["leads"]) + (ingest.read_notes(event_raw, names["events"]) if event_raw else [])

st.subheader("Values")
widgets.value_editor(mapping, prepared.unmapped)
st.download_button(
    "Save this mapping (TOML)",
    data=mapping.to_toml(),
    file_name="handoff-mapping.toml",
    mime="application/toml",
    key="import_save_mapping",
    icon=":material/save:",
)
st.subheader("Preview")
for note in read + prepared.notes:  # they quote the file's names, columns and values: plain text
    st.caption(f":material/info: {plain(note)}")
widgets.preview(prepared)

valid_only = False
if prepared.problems.height:
    widgets.problems(prepared)
    valid_only = st.checkbox(
        f"Import the {prepared.leads.height:,} valid rows and skip the {prepared.rejected_rows:,} with problems",
        key="import_valid_only",
    )
ready = prepared.leads.height > 0 and (valid_only or prepared.problems.is_empty())
if st.button("Import", type="primary", disabled=not ready, key="import_run", icon=":material/database_upload:"):
    widgets.run_import(prepared, url=settings.database_url, now=now, valid_only=valid_only, actor=signin.acting())

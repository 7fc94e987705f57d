"""The import page's widgets: files, the column and value mapping, the preview, the problems, the import itself."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import streamlit as st

from dashboard import ingest
from dashboard.data import data
from dashboard.domain import CHANNELS, DISQUALIFICATION_REASONS, REJECTION_REASONS, STAGE_LABELS, Stage
from dashboard.refusals import Refused
from dashboard.store.db import DatabaseUnavailable
from dashboard.ui import components
from dashboard.ui.text import plain

NOT_IN_FILE = "— not in the file —"
PRESET_LABELS = {"generic": "Generic", "hubspot": "HubSpot contacts export", "salesforce": "Salesforce leads report"}
MAPPING_KEY, MAPPING_SOURCE_KEY = "import_mapping", "import_mapping_source"
# What each value map's targets are called on the page.
TARGET_LABELS: dict[str, dict[str, str]] = {
    "channel": {c.key: c.label for c in CHANNELS},
    "stage": {s.value: STAGE_LABELS[s] for s in Stage},
    "feedback": {
        ingest.ACCEPTED: "Accepted by sales",
        **{r.key: f"Rejected: {r.label}" for r in REJECTION_REASONS},
        **{r.key: f"Disqualified: {r.label}" for r in DISQUALIFICATION_REASONS},
    },
    "region": {"north_america": "North America", "emea": "EMEA", "apac": "APAC", "latam": "LATAM"},
    "activity": {c: c.replace("_", " ").capitalize() for c in ingest.COUNTERS},
}
UNASSIGNED = "— leave unassigned —"
SHOWN_VALUES = 40


@dataclass(frozen=True)
class _Read:
    """An upload read (raw), or the sheets of a workbook to choose from (raw None)."""

    raw: ingest.RawFile | None
    sheets: tuple[str, ...] = ()


# Keyed by the upload's id, not its bytes: hashing a large file on every rerun would cost more than reading it.
@st.cache_resource(max_entries=8, show_spinner="Reading the file…")
def _read(file_id: str, name: str, encoding: str, delimiter: str, sheet: str | None, _content: bytes) -> _Read:
    path = Path(tempfile.gettempdir()) / f"handoff-upload-{file_id}{Path(name).suffix.lower()}"
    path.write_bytes(_content)
    mapping = ingest.Mapping(encoding=encoding, delimiter=delimiter, sheet=sheet)
    try:
        return _Read(ingest.read_file(path, mapping=mapping, name=name))
    except ingest.SheetNeeded as needed:  # kept, so that the picker does not open the workbook on every rerun
        return _Read(None, tuple(needed.sheets))
    finally:
        path.unlink(missing_ok=True)


def read_upload(upload, mapping: ingest.Mapping, *, key: str, leads: bool = False) -> ingest.RawFile | None:
    """An uploaded file read as text columns, once per upload and reading choice. A workbook with several sheets
    offers them in a picker (key), the mapping's sheet chosen when it names one of them; None until one is chosen.

    leads: the leads file, whose columns the mapping is adjusted to: another sheet starts the mapping again.
    """

    def read(sheet: str | None) -> _Read:
        return _read(upload.file_id, upload.name, mapping.encoding, mapping.delimiter, sheet, upload.getvalue())

    first = read(None)
    if first.raw is not None:
        return first.raw
    sheets = list(first.sheets)
    sheet = st.selectbox(
        f"Sheet of {plain(upload.name)} to import",
        options=sheets,
        index=sheets.index(mapping.sheet) if mapping.sheet in sheets else None,
        placeholder="Choose the sheet that holds the rows",
        key=key,
        on_change=_start_mapping_again if leads else None,
        help="The workbook has several sheets: a cover page or notes would not read as leads.",
    )
    return read(sheet).raw if sheet is not None else None


def _start_mapping_again() -> None:
    # The column pickers were set for the other sheet's columns: choose_mapping loads the mapping afresh.
    st.session_state.pop(MAPPING_SOURCE_KEY, None)


def choose_mapping() -> ingest.Mapping:
    """A preset, or a saved mapping file; kept in the session while the user adjusts it."""
    left, right = st.columns(2)
    preset = left.selectbox(
        "Start from a preset",
        options=ingest.preset_names(),
        format_func=PRESET_LABELS.get,
        key="import_preset",
    )
    saved = right.file_uploader("…or a saved mapping (TOML)", type=["toml"], key="import_mapping_file")
    source = ("file", saved.file_id) if saved else ("preset", preset)
    if st.session_state.get(MAPPING_SOURCE_KEY) != source:
        try:
            mapping = (
                ingest.Mapping.from_toml(saved.getvalue().decode("utf-8")) if saved else ingest.load_preset(preset)
            )
        except (ingest.ImportRefused, UnicodeDecodeError) as exc:
            st.error(f"That mapping cannot be used: {plain(exc)}")
            mapping = ingest.load_preset(preset)
        st.session_state[MAPPING_KEY] = mapping
        st.session_state[MAPPING_SOURCE_KEY] = source
        for key in [k for k in st.session_state if str(k).startswith(("import_col_", "import_val_"))]:
            del st.session_state[key]
    return st.session_state[MAPPING_KEY]


def column_editor(mapping: ingest.Mapping, columns: list[str]) -> None:
    """One picker per Handoff field: which column of the file fills it."""
    options = [NOT_IN_FILE, *columns]
    grid = st.columns(3)
    for index, spec in enumerate(ingest.LEAD_FIELDS):
        key = f"import_col_{spec.name}"
        current = [c for c in mapping.column(spec.name) if c in columns]
        target = grid[index % 3]
        if spec.many:
            chosen = target.multiselect(spec.label, options=columns, default=current, key=key)
            mapping.columns[spec.name] = chosen
        else:
            chosen = target.selectbox(
                spec.label + (" *" if spec.required else ""),
                options=options,
                index=options.index(current[0]) if current else 0,
                key=key,
            )
            mapping.columns[spec.name] = "" if chosen == NOT_IN_FILE else chosen


def value_editor(mapping: ingest.Mapping, unmapped: dict[str, list[str]]) -> None:
    """The file's values that no rule assigns yet, with a picker each."""
    pending = {name: values for name, values in unmapped.items() if values}
    if not pending:
        st.caption("Every value of the mapped categorical columns is assigned.")
        return
    for name, values in pending.items():
        labels = TARGET_LABELS[name]
        with st.expander(f"{len(values):,} unassigned {name} values", expanded=name in ("channel", "stage")):
            if name in ("channel", "stage"):
                st.caption("Rows with an unassigned value cannot be imported until it is assigned.")
            else:
                st.caption("Unassigned values are ignored (they say nothing Handoff can use).")
            for index, value in enumerate(values[:SHOWN_VALUES]):
                choice = st.selectbox(
                    plain(value),  # the file's value: a label reads markdown
                    options=[UNASSIGNED, *labels],
                    format_func=lambda k, labels=labels: labels.get(k, k),
                    key=f"import_val_{name}_{index}_{value}",
                )
                if choice != UNASSIGNED:
                    mapping.values.setdefault(name, {})[value] = choice
            if len(values) > SHOWN_VALUES:
                st.caption(f"…and {len(values) - SHOWN_VALUES:,} more: assign them in the mapping file.")


PREVIEW_ROWS = 20


def preview(prepared: ingest.Prepared) -> None:
    """The first rows as they will be imported."""
    shown = prepared.leads.head(PREVIEW_ROWS).drop("imported_at", "dated", strict=False)
    st.dataframe(shown, hide_index=True, width="stretch")


def problems(prepared: ingest.Prepared) -> None:
    """Every problem by row and column, downloadable."""
    report = prepared.problems
    st.error(
        f"{report.height:,} problems in {prepared.rejected_rows:,} rows. By default nothing is imported until they "
        "are fixed; you may instead import the valid rows and download the rejected ones.",
        icon=":material/rule:",
    )
    st.dataframe(report.head(1_000), hide_index=True, width="stretch")
    components.table_downloads(report, file_stem="import_problems", what="the problems")


def run_import(prepared: ingest.Prepared, *, url: str, now: datetime, valid_only: bool, actor) -> None:
    """Write the prepared rows behind a progress bar, then show what was done."""
    bar = st.progress(0.0, text="Importing…")
    try:
        summary = ingest.write(
            prepared=prepared, url=url, now=now, progress=lambda done, text: bar.progress(done, text=text), actor=actor
        )
    except DatabaseUnavailable as exc:
        bar.empty()
        st.error(f"{plain(exc)} Nothing was imported.")
        return
    except Refused as exc:
        bar.empty()
        st.error(plain(exc))
        return
    except Exception as exc:  # the database refused a row: the transaction was rolled back
        bar.empty()
        st.error(f"The import failed and nothing was written: {plain(str(exc).splitlines()[0])}")
        return
    bar.empty()
    data.invalidate()
    skipped = f", {summary.rejected:,} rows skipped (see the problems)" if valid_only and summary.rejected else ""
    st.success(
        f"Imported: {summary.inserted:,} new leads, {summary.updated:,} updated, "
        f"{summary.rows_read - summary.inserted - summary.updated - summary.rejected:,} unchanged{skipped}; "
        f"{summary.events_added:,} stage events, {summary.decisions_added:,} sales decisions and "
        f"{summary.disqualifications_added:,} disqualifications added.",
        icon=":material/check_circle:",
    )

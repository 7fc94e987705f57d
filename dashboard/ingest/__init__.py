"""Import a CRM export: read (files, encodings, Excel sheets) -> mapping (the TOML schema) -> validate (pure polars,
problem frames) -> write (one transaction, bound values) -> cli.

Command line: python -m dashboard.ingest --leads FILE [--events FILE] --mapping MAPPING.toml [--db URL]
"""

from dashboard.ingest.cli import import_files, main, read_notes
from dashboard.ingest.mapping import (
    ACCEPTED,
    COUNTERS,
    DATE_ORDERS,
    EVENT_FIELDS,
    LEAD_FIELDS,
    TARGETS,
    FieldSpec,
    ImportRefused,
    Mapping,
    load_preset,
    preset_names,
)
from dashboard.ingest.read import RawFile, SheetNeeded, detect_delimiter, detect_encoding, read_batches, read_file
from dashboard.ingest.validate import AmbiguousDates, Prepared, channel_of, date_order_of, parse_dates, prepare
from dashboard.ingest.write import Summary, first_model, write

__all__ = [
    "ACCEPTED",
    "COUNTERS",
    "DATE_ORDERS",
    "EVENT_FIELDS",
    "LEAD_FIELDS",
    "TARGETS",
    "AmbiguousDates",
    "FieldSpec",
    "ImportRefused",
    "Mapping",
    "Prepared",
    "RawFile",
    "SheetNeeded",
    "Summary",
    "channel_of",
    "date_order_of",
    "detect_delimiter",
    "detect_encoding",
    "first_model",
    "import_files",
    "load_preset",
    "main",
    "parse_dates",
    "preset_names",
    "prepare",
    "read_batches",
    "read_file",
    "read_notes",
    "write",
]

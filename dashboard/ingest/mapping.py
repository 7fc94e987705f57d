"""The mapping: how a file's columns and values become Handoff's fields (the TOML schema, checked key by key)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from dashboard.domain import ACTIVITY_COUNTS, CHANNELS, DISQUALIFICATION_REASONS, REJECTION_REASONS, Stage

PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"
DEFAULT_EMPTY = ("", "Select", "select", "N/A", "n/a", "NA", "-", "--", "null", "NULL", "None", "none", "(none)")
DATE_ORDERS = ("auto", "iso", "day-first", "month-first")


class ImportRefused(ValueError):
    """The file cannot be imported as it is; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class FieldSpec:
    """One of Handoff's fields an import can fill."""

    name: str
    kind: str  # id, text, int, bool, date, category, number
    label: str
    required: bool = False
    many: bool = False  # may take several columns (the first mapped value wins)


LEAD_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("external_id", "id", "Lead id (unique in the file)", required=True),
    FieldSpec("created_at", "date", "Created"),
    FieldSpec("campaign", "text", "Campaign"),
    FieldSpec("channel", "category", "Channel (lead source)"),
    FieldSpec("owner", "text", "Owner: the SDR/BDR who decides the MQL"),
    FieldSpec("closer", "text", "Closer: the AE who qualifies and closes"),
    FieldSpec("stage", "category", "Status / stage"),
    FieldSpec("feedback", "category", "Sales feedback (tags, quality)", many=True),
    FieldSpec("score", "number", "The CRM's own lead score"),
    FieldSpec("role", "text", "Role"),
    FieldSpec("seniority", "text", "Seniority"),
    FieldSpec("country", "text", "Country"),
    FieldSpec("region", "category", "Region"),
    FieldSpec("company", "text", "Company"),
    FieldSpec("industry", "text", "Industry"),
    FieldSpec("company_size_band", "text", "Company size band"),
    FieldSpec("revenue_band", "text", "Revenue band"),
    FieldSpec("web_visits", "int", "Website visits"),
    FieldSpec("content_downloads", "int", "Content downloads"),
    FieldSpec("email_clicks", "int", "Email clicks"),
    FieldSpec("ctv_completions", "int", "CTV/OTT ad completions"),
    FieldSpec("event_attendance", "int", "Events attended"),
    FieldSpec("sales_engagement", "int", "Replies to sales outreach"),
    FieldSpec("activity", "category", "Last activity (adds one to a behaviour count)"),
    FieldSpec("has_budget", "bool", "Budget confirmed"),
    FieldSpec("is_authority", "bool", "Authority-level role"),
    FieldSpec("has_need", "bool", "Need confirmed"),
    FieldSpec("timeline_months", "int", "Timeline (months)"),
)
EVENT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("external_id", "id", "Lead id", required=True),
    FieldSpec("stage", "category", "Stage"),
    FieldSpec("occurred_at", "date", "When"),
    FieldSpec("rep", "text", "Rep who made the change"),
    FieldSpec("owner", "text", "Owner (SDR/BDR)"),
    FieldSpec("closer", "text", "Closer (AE)"),
)
COUNTERS = ACTIVITY_COUNTS
REGIONS = ("north_america", "emea", "apac", "latam")
STAGES = tuple(s.value for s in Stage)
ACCEPTED = "accepted"
FEEDBACK_TARGETS = (ACCEPTED, *(r.key for r in REJECTION_REASONS), *(r.key for r in DISQUALIFICATION_REASONS))
CHANNEL_KEYS = tuple(c.key for c in CHANNELS)
UNKNOWN_CHANNEL = ("unknown", "Unknown")
# The values each categorical field's value map may point at (None: any value; the channel list is open).
TARGETS: dict[str, tuple[str, ...] | None] = {
    "channel": None,
    "stage": STAGES,
    "feedback": FEEDBACK_TARGETS,
    "activity": COUNTERS,
    "region": REGIONS,
    "event_stage": STAGES,
}

# Every key the TOML may hold, so that a misspelt one is refused instead of silently ignored.
FILE_KEYS = ("preset", "delimiter", "encoding", "date_order", "empty_values", "sheet")
SECTIONS = ("file", "columns", "constants", "stage_dates", "attributes", "values", "events")
EVENT_SECTIONS = ("constants", "stage_dates", "attributes", "where")
LEAD_FIELD_NAMES = tuple(f.name for f in LEAD_FIELDS)
EVENT_FIELD_NAMES = tuple(f.name for f in EVENT_FIELDS)


def _refuse_unknown(where: str, keys, valid) -> None:
    unknown = sorted(set(keys) - set(valid))
    if unknown:
        raise ImportRefused(
            f"The mapping's {where} has {', '.join(repr(k) for k in unknown)}, which Handoff does not know. "
            f"Valid keys there: {', '.join(valid)}."
        )


def slug(text: str) -> str:
    """A channel key for a label: lower case, words joined by underscores."""
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


@dataclass
class Mapping:
    """How a file's columns and values become Handoff's fields; saved as TOML (see the README)."""

    columns: dict[str, str | list[str]] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)  # field = a value for every row of the leads file
    stage_dates: dict[str, str] = field(default_factory=dict)  # stage = the date column saying when it was reached
    attributes: dict[str, str] = field(default_factory=dict)  # label = a column kept as a lead attribute
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    event_columns: dict[str, str] = field(default_factory=dict)
    event_constants: dict[str, str] = field(default_factory=dict)
    event_stage_dates: dict[str, str] = field(default_factory=dict)
    event_attributes: dict[str, str] = field(default_factory=dict)
    event_where: dict[str, list[str]] = field(default_factory=dict)  # column = the values that make a row an event
    empty_values: tuple[str, ...] = DEFAULT_EMPTY
    delimiter: str = "auto"
    encoding: str = "auto"
    date_order: str = "auto"
    preset: str = "generic"
    sheet: str | None = None

    def column(self, name: str) -> list[str]:
        """The file's columns mapped to a field (none, one, or several for a many-column field)."""
        mapped = self.columns.get(name) or []
        return [mapped] if isinstance(mapped, str) else [c for c in mapped if c]

    @property
    def has_events(self) -> bool:
        return bool(self.event_columns or self.event_constants or self.event_stage_dates)

    def to_toml(self) -> str:
        file = {
            "preset": self.preset,
            "delimiter": self.delimiter,
            "encoding": self.encoding,
            "date_order": self.date_order,
            "empty_values": list(self.empty_values),
        }
        if self.sheet:
            file["sheet"] = self.sheet
        document: dict = {"file": file, "columns": {k: v for k, v in self.columns.items() if v}}
        for name in ("constants", "stage_dates", "attributes"):
            if getattr(self, name):
                document[name] = dict(getattr(self, name))
        document["values"] = {k: dict(sorted(v.items())) for k, v in self.values.items() if v}
        events: dict = {k: v for k, v in self.event_columns.items() if v}
        for name in EVENT_SECTIONS:
            if getattr(self, f"event_{name}"):
                events[name] = dict(getattr(self, f"event_{name}"))
        if events:
            document["events"] = events
        return tomli_w.dumps(document)

    @classmethod
    def from_toml(cls, text: str) -> Mapping:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ImportRefused(f"The mapping is not valid TOML: {exc}.") from exc
        _refuse_unknown("top level", document, SECTIONS)
        file = document.get("file", {})
        _refuse_unknown("[file]", file, FILE_KEYS)
        events = dict(document.get("events", {}))
        sections = {name: events.pop(name, {}) for name in EVENT_SECTIONS}
        mapping = cls(
            columns=dict(document.get("columns", {})),
            constants=_strings(document.get("constants", {})),
            stage_dates=_strings(document.get("stage_dates", {})),
            attributes=_strings(document.get("attributes", {})),
            values={k: _strings(v) for k, v in document.get("values", {}).items()},
            event_columns=_strings(events),
            event_constants=_strings(sections["constants"]),
            event_stage_dates=_strings(sections["stage_dates"]),
            event_attributes=_strings(sections["attributes"]),
            event_where={
                str(k): [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in sections["where"].items()
            },
            empty_values=tuple(file.get("empty_values", DEFAULT_EMPTY)),
            delimiter=file.get("delimiter", "auto"),
            encoding=file.get("encoding", "auto"),
            date_order=file.get("date_order", "auto"),
            preset=file.get("preset", "generic"),
            sheet=file.get("sheet"),
        )
        mapping.check()
        return mapping

    def check(self) -> None:
        """Refuse a mapping that names unknown fields or maps values to things Handoff does not know."""
        _refuse_unknown("[columns]", self.columns, LEAD_FIELD_NAMES)
        _refuse_unknown("[constants]", self.constants, LEAD_FIELD_NAMES[1:])
        _refuse_unknown("[stage_dates]", self.stage_dates, STAGES)
        _refuse_unknown("[values]", self.values, tuple(TARGETS))
        _refuse_unknown("[events]", self.event_columns, EVENT_FIELD_NAMES)
        _refuse_unknown("[events.constants]", self.event_constants, EVENT_FIELD_NAMES[1:])
        _refuse_unknown("[events.stage_dates]", self.event_stage_dates, STAGES)
        if not self.column("external_id"):
            raise ImportRefused("The mapping must say which column holds the lead id (columns.external_id).")
        for name, table in self.values.items():
            targets = TARGETS[name]
            wrong = sorted({v for v in table.values() if v and targets is not None and v not in targets})
            if wrong:
                raise ImportRefused(f"In [values.{name}], {', '.join(wrong)} is not one of: {', '.join(targets)}.")
        for section, constants in (("constants", self.constants), ("events.constants", self.event_constants)):
            if constants.get("stage") and constants["stage"] not in STAGES:
                raise ImportRefused(f"[{section}] stage = {constants['stage']!r} is not one of: {', '.join(STAGES)}.")
        if self.date_order not in DATE_ORDERS:
            raise ImportRefused(f"date_order must be one of {', '.join(DATE_ORDERS)}.")
        if self.has_events:
            if not self.event_columns.get("external_id"):
                raise ImportRefused("The mapping must say which events column holds the lead id (events.external_id).")
            if not self.event_stage_dates:
                if not (self.event_columns.get("stage") or self.event_constants.get("stage")):
                    raise ImportRefused(
                        "The events file needs a stage: a column (events.stage), one stage for every row "
                        "([events.constants] stage = ...), or a date column per stage ([events.stage_dates])."
                    )
                if not self.event_columns.get("occurred_at"):
                    raise ImportRefused("The mapping must say which events column holds the date (events.occurred_at).")

    def used_columns(self) -> set[str]:
        """Every leads-file column the mapping reads."""
        return (
            {c for name in self.columns for c in self.column(name)}
            | set(self.stage_dates.values())
            | set(self.attributes.values())
        )

    def used_event_columns(self) -> set[str]:
        """Every events-file column the mapping reads."""
        return (
            {c for c in self.event_columns.values() if c}
            | set(self.event_stage_dates.values())
            | set(self.event_attributes.values())
            | set(self.event_where)
        )


def _strings(table: dict) -> dict[str, str]:
    return {str(a): str(b) for a, b in table.items()}


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))


def load_preset(name: str) -> Mapping:
    """A mapping that ships with Handoff (hubspot, salesforce, generic)."""
    path = PRESETS_DIR / f"{name}.toml"
    if not path.exists():
        raise ImportRefused(f"There is no preset called “{name}”; there are: {', '.join(preset_names())}.")
    return Mapping.from_toml(path.read_text(encoding="utf-8"))

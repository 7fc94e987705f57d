"""The mapping: how a file's columns and values become Handoff's fields (the TOML schema, checked key by key)."""

from __future__ import annotations

import codecs
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from dashboard.domain import ACTIVITY_COUNTS, CHANNELS, DISQUALIFICATION_REASONS, REJECTION_REASONS, Stage

PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"
DEFAULT_EMPTY = ("", "Select", "select", "N/A", "n/a", "NA", "-", "--", "null", "NULL", "None", "none", "(none)")
DATE_ORDERS = ("auto", "iso", "day-first", "month-first")
NAME_CHARS = 200  # ids, names and labels
FREE_TEXT_CHARS = 2_000  # sales' feedback (kept as the comment) and lead attributes
COUNT_LIMITS = (0, 1_000_000)  # a behaviour count beyond a million is a unit or column mix-up
SCORE_RANGE = (0.0, 100.0)  # the CRM score's scale unless the mapping declares its own (file.score_range)


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
    limits: tuple[float, float] | None = None  # numbers: the smallest and largest value that makes sense
    max_chars: int = NAME_CHARS  # text: the longest value kept


LEAD_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("external_id", "id", "Lead id (unique in the file)", required=True),
    FieldSpec("created_at", "date", "Created"),
    FieldSpec("campaign", "text", "Campaign"),
    FieldSpec("channel", "category", "Channel (lead source)"),
    FieldSpec("owner", "text", "Owner: the SDR/BDR who decides the MQL"),
    FieldSpec("closer", "text", "Closer: the AE who qualifies and closes"),
    FieldSpec("stage", "category", "Status / stage"),
    FieldSpec("feedback", "category", "Sales feedback (tags, quality)", many=True, max_chars=FREE_TEXT_CHARS),
    FieldSpec("score", "number", "The CRM's own lead score"),
    FieldSpec("role", "text", "Role"),
    FieldSpec("seniority", "text", "Seniority"),
    FieldSpec("country", "text", "Country"),
    FieldSpec("region", "category", "Region"),
    FieldSpec("company", "text", "Company"),
    FieldSpec("industry", "text", "Industry"),
    FieldSpec("company_size_band", "text", "Company size band"),
    FieldSpec("revenue_band", "text", "Revenue band"),
    FieldSpec("web_visits", "int", "Website visits", limits=COUNT_LIMITS),
    FieldSpec("content_downloads", "int", "Content downloads", limits=COUNT_LIMITS),
    FieldSpec("email_clicks", "int", "Email clicks", limits=COUNT_LIMITS),
    FieldSpec("ctv_completions", "int", "CTV/OTT ad completions", limits=COUNT_LIMITS),
    FieldSpec("event_attendance", "int", "Events attended", limits=COUNT_LIMITS),
    FieldSpec("sales_engagement", "int", "Replies to sales outreach", limits=COUNT_LIMITS),
    FieldSpec("activity", "category", "Last activity (adds one to a behaviour count)"),
    FieldSpec("has_budget", "bool", "Budget confirmed"),
    FieldSpec("is_authority", "bool", "Authority-level role"),
    FieldSpec("has_need", "bool", "Need confirmed"),
    FieldSpec("timeline_months", "int", "Timeline (months)", limits=(0, 120)),
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
FILE_KEYS = ("preset", "delimiter", "encoding", "date_order", "empty_values", "sheet", "score_range")
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
    score_range: tuple[float, float] = SCORE_RANGE

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
        if tuple(self.score_range) != SCORE_RANGE:
            file["score_range"] = list(self.score_range)
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
            raise ImportRefused(f"The mapping is not valid TOML: {exc}. Fix that line and try again.") from exc
        _refuse_unknown("top level", document, SECTIONS)
        file = _table(document, "file")
        _refuse_unknown("[file]", file, FILE_KEYS)
        # Unknown keys first: a misspelt section reads as a wrongly typed key otherwise.
        _refuse_unknown("[columns]", _table(document, "columns"), LEAD_FIELD_NAMES)
        _refuse_unknown("[values]", _table(document, "values"), tuple(TARGETS))
        events = dict(_table(document, "events"))
        _refuse_unknown("[events]", events, (*EVENT_FIELD_NAMES, *EVENT_SECTIONS))
        sections = {name: _table(events, name, "events.") for name in EVENT_SECTIONS}
        for name in EVENT_SECTIONS:
            events.pop(name, None)
        values = _table(document, "values")
        empty_values = file.get("empty_values", DEFAULT_EMPTY)
        if not isinstance(empty_values, list | tuple) or not all(isinstance(v, str) for v in empty_values):
            raise ImportRefused(
                f'The mapping\'s file.empty_values must be a list of texts, such as ["", "N/A"], not {empty_values!r}.'
            )
        mapping = cls(
            columns=_column_names(_table(document, "columns")),
            constants=_strings(_table(document, "constants")),
            stage_dates=_names(_table(document, "stage_dates"), "[stage_dates]"),
            attributes=_names(_table(document, "attributes"), "[attributes]"),
            values={k: _strings(_table(values, k, "values.")) for k in values},
            event_columns=_names(events, "[events]"),
            event_constants=_strings(sections["constants"]),
            event_stage_dates=_names(sections["stage_dates"], "[events.stage_dates]"),
            event_attributes=_names(sections["attributes"], "[events.attributes]"),
            event_where={
                str(k): [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in sections["where"].items()
            },
            empty_values=tuple(empty_values),
            delimiter=file.get("delimiter", "auto"),
            encoding=file.get("encoding", "auto"),
            date_order=file.get("date_order", "auto"),
            preset=file.get("preset", "generic"),
            sheet=file.get("sheet"),
            score_range=_score_range(file.get("score_range", SCORE_RANGE)),
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
        if not isinstance(self.delimiter, str) or (self.delimiter != "auto" and len(self.delimiter) != 1):
            raise ImportRefused(
                f'file.delimiter = {self.delimiter!r} is not a delimiter: use "auto" or one character, such as '
                '",", ";", "\\t" or "|".'
            )
        if not isinstance(self.encoding, str) or not _known_encoding(self.encoding):
            raise ImportRefused(
                f'file.encoding = {self.encoding!r} is not an encoding Handoff knows: use "auto", or a name such as '
                '"utf-8", "cp1252" or "latin-1".'
            )
        if self.sheet is not None and not isinstance(self.sheet, str):
            raise ImportRefused(f"file.sheet = {self.sheet!r} must be a sheet's name, in quotes.")
        several = [name for name in self.columns if len(self.column(name)) > 1 and not _spec(name).many]
        if several:
            raise ImportRefused(
                f"[columns] {several[0]} names several columns; only "
                f"{', '.join(f.name for f in LEAD_FIELDS if f.many)} may take more than one."
            )
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


def _table(document: dict, key: str, prefix: str = "") -> dict:
    """document[key] when it is a TOML table (an empty one when absent); refused otherwise."""
    value = document.get(key, {})
    if not isinstance(value, dict):
        raise ImportRefused(
            f"The mapping's {prefix}{key} must be a section ([{prefix}{key}] followed by key = value lines), "
            f"not {key} = {value!r}."
        )
    return value


def _names(table: dict, where: str) -> dict[str, str]:
    """A table whose values are column names: each must be a text."""
    for key, value in table.items():
        if not isinstance(value, str):
            raise ImportRefused(f"In the mapping's {where}, {key} = {value!r} must be a column name, in quotes.")
    return dict(table)


def _column_names(table: dict) -> dict[str, str | list[str]]:
    """[columns]: each field names a column (or, for a many-column field, a list of them)."""
    for key, value in table.items():
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            continue
        if not isinstance(value, str):
            raise ImportRefused(f"In the mapping's [columns], {key} = {value!r} must be a column name, in quotes.")
    return dict(table)


def _score_range(value) -> tuple[float, float]:
    numbers = isinstance(value, list | tuple) and len(value) == 2
    numbers = numbers and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    if not numbers or not all(math.isfinite(v) for v in value) or value[0] >= value[1]:
        raise ImportRefused(f"file.score_range = {value!r} must be the lowest and highest score, such as [0, 100].")
    return float(value[0]), float(value[1])


def _known_encoding(name: str) -> bool:
    if name == "auto":
        return True
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def _spec(name: str) -> FieldSpec:
    return next(f for f in LEAD_FIELDS if f.name == name)


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))


def load_preset(name: str) -> Mapping:
    """A mapping that ships with Handoff (hubspot, salesforce, generic)."""
    path = PRESETS_DIR / f"{name}.toml"
    if not path.exists():
        raise ImportRefused(f"There is no preset called “{name}”; there are: {', '.join(preset_names())}.")
    return Mapping.from_toml(path.read_text(encoding="utf-8"))

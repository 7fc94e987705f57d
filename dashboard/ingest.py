"""Import a CRM export: read it, map its columns and values, validate every row, then upsert it in one transaction.

Command line: python -m dashboard.ingest --leads FILE [--events FILE] --mapping MAPPING.toml [--db URL]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import charset_normalizer
import polars as pl
import tomli_w

from dashboard import db
from dashboard.auth import Action, Actor, described, guarded
from dashboard.domain import CHANNELS, DISQUALIFICATION_REASONS, MAIN_PATH, REJECTION_REASONS, Decision, Stage
from queries.scoring import ScoringRule, component_scores, score_expr

PRESETS_DIR = Path(__file__).resolve().parent / "presets"
DELIMITERS = ",;\t|"
DEFAULT_EMPTY = ("", "Select", "select", "N/A", "n/a", "NA", "-", "--", "null", "NULL", "None", "none", "(none)")
# A cell a spreadsheet would run as a formula: "=…", or "+", "-", "@" followed by something formula-like.
FORMULA = r"^\s*(=|[+\-@].*[(!|])"
DATE_ORDERS = ("auto", "iso", "day-first", "month-first")


@dataclass(frozen=True)
class FieldSpec:
    """One of Handoff's fields an import can fill."""

    name: str
    kind: str  # id, text, int, bool, date, category
    label: str
    required: bool = False
    many: bool = False  # may take several columns (the first mapped value wins)


LEAD_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("external_id", "id", "Lead id (unique in the file)", required=True),
    FieldSpec("created_at", "date", "Created"),
    FieldSpec("campaign", "text", "Campaign"),
    FieldSpec("channel", "category", "Channel (lead source)"),
    FieldSpec("owner", "text", "Owner (rep name)"),
    FieldSpec("stage", "category", "Status / stage"),
    FieldSpec("feedback", "category", "Sales feedback (tags, quality)", many=True),
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
    FieldSpec("stage", "category", "Stage", required=True),
    FieldSpec("occurred_at", "date", "When", required=True),
    FieldSpec("rep", "text", "Rep"),
)
COUNTERS = (
    "web_visits",
    "content_downloads",
    "email_clicks",
    "ctv_completions",
    "event_attendance",
    "sales_engagement",
)
REGIONS = ("north_america", "emea", "apac", "latam")
STAGES = tuple(s.value for s in Stage)
ACCEPTED = "accepted"
FEEDBACK_TARGETS = (ACCEPTED, *(r.key for r in REJECTION_REASONS), *(r.key for r in DISQUALIFICATION_REASONS))
# The values each categorical field's value map may point at.
TARGETS: dict[str, tuple[str, ...]] = {
    "channel": tuple(c.key for c in CHANNELS),
    "stage": STAGES,
    "feedback": FEEDBACK_TARGETS,
    "activity": COUNTERS,
    "region": REGIONS,
    "event_stage": STAGES,
}
TRUE_WORDS = ("1", "true", "yes", "y", "t")
FALSE_WORDS = ("0", "false", "no", "n", "f")


class ImportRefused(ValueError):
    """The file cannot be imported as it is; the message says what is wrong and what to do."""


# ---------------------------------------------------------------------------------------------------- mapping


@dataclass
class Mapping:
    """How a file's columns and values become Handoff's fields; saved as TOML (see the README)."""

    columns: dict[str, str | list[str]] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    event_columns: dict[str, str] = field(default_factory=dict)
    empty_values: tuple[str, ...] = DEFAULT_EMPTY
    delimiter: str = "auto"
    encoding: str = "auto"
    date_order: str = "auto"
    preset: str = "generic"

    def column(self, name: str) -> list[str]:
        """The file's columns mapped to a field (none, one, or several for a many-column field)."""
        mapped = self.columns.get(name) or []
        return [mapped] if isinstance(mapped, str) else [c for c in mapped if c]

    def to_toml(self) -> str:
        document = {
            "file": {
                "preset": self.preset,
                "delimiter": self.delimiter,
                "encoding": self.encoding,
                "date_order": self.date_order,
                "empty_values": list(self.empty_values),
            },
            "columns": {k: v for k, v in self.columns.items() if v},
            "values": {k: dict(sorted(v.items())) for k, v in self.values.items() if v},
        }
        if self.event_columns:
            document["events"] = {k: v for k, v in self.event_columns.items() if v}
        return tomli_w.dumps(document)

    @classmethod
    def from_toml(cls, text: str) -> Mapping:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ImportRefused(f"The mapping is not valid TOML: {exc}.") from exc
        file = document.get("file", {})
        mapping = cls(
            columns=dict(document.get("columns", {})),
            values={k: {str(a): str(b) for a, b in v.items()} for k, v in document.get("values", {}).items()},
            event_columns=dict(document.get("events", {})),
            empty_values=tuple(file.get("empty_values", DEFAULT_EMPTY)),
            delimiter=file.get("delimiter", "auto"),
            encoding=file.get("encoding", "auto"),
            date_order=file.get("date_order", "auto"),
            preset=file.get("preset", "generic"),
        )
        mapping.check()
        return mapping

    def check(self) -> None:
        """Refuse a mapping that names unknown fields or maps values to things Handoff does not know."""
        known = {f.name for f in LEAD_FIELDS}
        unknown = sorted(set(self.columns) - known)
        if unknown:
            raise ImportRefused(f"The mapping names fields Handoff does not have: {', '.join(unknown)}.")
        if not self.column("external_id"):
            raise ImportRefused("The mapping must say which column holds the lead id (columns.external_id).")
        for name, table in self.values.items():
            if name not in TARGETS:
                raise ImportRefused(f"The mapping has values for “{name}”, which takes no value map.")
            wrong = sorted({v for v in table.values() if v and v not in TARGETS[name]})
            if wrong:
                raise ImportRefused(
                    f"In [values.{name}], {', '.join(wrong)} is not one of: {', '.join(TARGETS[name])}."
                )
        if self.date_order not in DATE_ORDERS:
            raise ImportRefused(f"date_order must be one of {', '.join(DATE_ORDERS)}.")


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))


def load_preset(name: str) -> Mapping:
    """A mapping that ships with Handoff (hubspot, salesforce, generic)."""
    path = PRESETS_DIR / f"{name}.toml"
    if not path.exists():
        raise ImportRefused(f"There is no preset called “{name}”; there are: {', '.join(preset_names())}.")
    return Mapping.from_toml(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------------- reading


def detect_encoding(raw: bytes) -> str:
    """utf-8 when the bytes decode as such, else the most likely single-byte encoding."""
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(raw[:200_000]).best()
    return best.encoding if best else "cp1252"


def detect_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample: the candidate that splits the first lines into the same number of fields."""
    lines = [line for line in sample.splitlines()[:20] if line.strip()]
    if not lines:
        raise ImportRefused("The file is empty.")
    best, best_fields = ",", 1
    for candidate in DELIMITERS:
        counts = {len(next(csv.reader([line], delimiter=candidate))) for line in lines}
        fields = len(next(csv.reader([lines[0]], delimiter=candidate)))
        if len(counts) == 1 and fields > best_fields:
            best, best_fields = candidate, fields
    return best


@dataclass(frozen=True)
class RawFile:
    """A file read as text columns, with what was detected about it."""

    frame: pl.DataFrame
    encoding: str
    delimiter: str | None  # None for Excel


def _ragged_row(text_path: Path, delimiter: str) -> str:
    with text_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, [])
        for number, row in enumerate(reader, start=2):
            if len(row) > len(header):
                return f"line {number} has {len(row)} fields but the header has {len(header)}"
    return "a row does not match the header"


def read_file(path: Path | str, *, mapping: Mapping, name: str | None = None) -> RawFile:
    """Every column of a CSV (any common delimiter and encoding) or Excel file, as text."""
    path = Path(path)
    name = name or path.name
    if path.stat().st_size == 0:
        raise ImportRefused(f"{name} is empty.")
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        try:
            frame = pl.read_excel(path, infer_schema_length=0)
        except Exception as exc:  # the Excel reader raises its own error types
            raise ImportRefused(f"{name} could not be read as an Excel workbook: {exc}.") from exc
        return RawFile(_strings(frame), "xlsx", None)
    with path.open("rb") as handle:
        head = handle.read(1_000_000)
    encoding = mapping.encoding if mapping.encoding != "auto" else detect_encoding(head)
    text_path = path
    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8", "ascii"):
        text_path = _transcoded(path, encoding)
    sample = head.decode(encoding, errors="replace")
    delimiter = mapping.delimiter if mapping.delimiter != "auto" else detect_delimiter(sample)
    try:
        frame = pl.read_csv(text_path, separator=delimiter, infer_schema=False, encoding="utf8")
    except pl.exceptions.ComputeError as exc:
        if "utf-8" in str(exc).lower():
            guess = detect_encoding(head)
            raise ImportRefused(
                f"{name} is not in {encoding}: it looks like {guess}. Set file.encoding in the mapping to {guess} "
                "(or to auto)."
            ) from exc
        if "more fields" in str(exc):
            raise ImportRefused(f"{name}: {_ragged_row(text_path, delimiter)}. Fix that row and try again.") from exc
        raise ImportRefused(f"{name} could not be read as CSV: {str(exc).splitlines()[0]}") from exc
    except pl.exceptions.NoDataError as exc:
        raise ImportRefused(f"{name} is empty.") from exc
    finally:
        if text_path != path:
            text_path.unlink(missing_ok=True)
    return RawFile(_strings(frame), encoding, delimiter)


def _transcoded(path: Path, encoding: str) -> Path:
    # polars reads UTF-8 only: write a UTF-8 copy, a megabyte at a time, so memory stays bounded.
    target = Path(tempfile.mkstemp(prefix="handoff-import-", suffix=".csv")[1])
    try:
        with path.open(encoding=encoding, newline="") as source, target.open("w", encoding="utf-8", newline="") as out:
            while chunk := source.read(1 << 20):
                out.write(chunk)
    except (UnicodeDecodeError, LookupError) as exc:
        raise ImportRefused(f"{path.name} is not in {encoding}: set file.encoding in the mapping.") from exc
    return target


def _strings(frame: pl.DataFrame) -> pl.DataFrame:
    # A trailing delimiter in the header makes a column without a name: give it one a person can read.
    columns = [str(c).strip() or f"(unnamed column {i + 1})" for i, c in enumerate(frame.columns)]
    return frame.rename(dict(zip(frame.columns, columns, strict=True))).select(pl.all().cast(pl.String))


# ---------------------------------------------------------------------------------------------------- validating


@dataclass
class Prepared:
    """A file mapped to Handoff's tables, with every problem found; nothing is written yet."""

    leads: pl.DataFrame  # one row per valid lead, Handoff's columns (+ campaign name, channel key, owner name)
    events: pl.DataFrame  # external_id, stage, occurred_at (null: the lead's created_at), rep
    decisions: pl.DataFrame  # external_id, decision, reason, reason_kind, comment
    disqualifications: pl.DataFrame  # external_id, reason, comment
    problems: pl.DataFrame  # row, column, value, problem
    unmapped: dict[str, list[str]]  # field -> values the mapping does not assign
    rows_read: int
    dated: bool
    notes: list[str]

    @property
    def rejected_rows(self) -> int:
        """Rows of the leads file (and of the events file) that have a problem."""
        return self.problems.select("file", "row").unique().height


PROBLEM_SCHEMA = {"file": pl.String, "row": pl.Int64, "column": pl.String, "value": pl.String, "problem": pl.String}


def _cleaned(frame: pl.DataFrame, empty: tuple[str, ...]) -> pl.DataFrame:
    return frame.with_columns(
        pl.when(pl.col(c).str.strip_chars().is_in(list(empty)))
        .then(None)
        .otherwise(pl.col(c).str.strip_chars())
        .alias(c)
        for c in frame.columns
    )


def _missing_columns(frame: pl.DataFrame, mapping: Mapping) -> list[str]:
    mapped = {c for name in mapping.columns for c in mapping.column(name)}
    return sorted(mapped - set(frame.columns))


SLASHED = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})"
ISO_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
TIME_SUFFIXES = (" %H:%M:%S", " %H:%M", "")


def date_order_of(values: pl.Series) -> str | None:
    """iso, day-first or month-first as the values show; None when every slashed date could be either."""
    text = values.drop_nulls()
    parts = text.str.extract_groups(SLASHED).struct.unnest().drop_nulls()
    if parts.is_empty():
        return "iso"
    first, second = parts[:, 0].cast(pl.Int64), parts[:, 1].cast(pl.Int64)
    day_first, month_first = bool((first > 12).any()), bool((second > 12).any())
    if day_first and month_first:
        return "mixed"
    if day_first:
        return "day-first"
    if month_first:
        return "month-first"
    return None


def parse_dates(column: pl.Expr, order: str) -> pl.Expr:
    """column parsed as datetimes in the given order (ISO dates are always understood); null where it fails."""
    formats = list(ISO_FORMATS)
    if order in ("day-first", "month-first"):
        day, month = ("%d", "%m") if order == "day-first" else ("%m", "%d")
        for separator in ("/", ".", "-"):
            formats += [f"{day}{separator}{month}{separator}%Y{suffix}" for suffix in TIME_SUFFIXES]
    text = column.str.strip_chars()
    return pl.coalesce([text.str.to_datetime(f, strict=False, time_unit="us") for f in formats])


def prepare(raw: pl.DataFrame, mapping: Mapping, *, now: datetime, events: pl.DataFrame | None = None) -> Prepared:
    """Map and validate a leads file (and optionally an events file); nothing is written."""
    mapping.check()
    problems: list[pl.DataFrame] = []
    notes: list[str] = []
    missing = _missing_columns(raw, mapping)
    required = [c for c in mapping.column("external_id") if c in missing]
    if required:
        hint = " It was read as a single column: is the delimiter right?" if raw.width == 1 else ""
        raise ImportRefused(
            f"The file has no column “{required[0]}”, which the mapping names as the lead id. "
            f"Its columns are: {', '.join(raw.columns)}.{hint}"
        )
    if missing:
        notes.append(f"Not in the file, so left empty: {', '.join(missing)}.")
        mapping = replace(
            mapping,
            columns={name: [c for c in mapping.column(name) if c not in missing] for name in mapping.columns},
        )
    frame = _cleaned(raw, mapping.empty_values).with_row_index("row", offset=2)  # row 1 is the header
    id_column = mapping.column("external_id")[0]
    text_columns = [c for c in frame.columns if c != "row"]
    problems += [
        _problems(frame, pl.col(c).str.contains(FORMULA).fill_null(False), c, "starts like a spreadsheet formula; "
                  "remove it or quote it")
        for c in text_columns
    ]  # fmt: skip
    problems.append(_problems(frame, pl.col(id_column).is_null(), id_column, "missing lead id"))
    duplicated = pl.col(id_column).is_not_null() & pl.col(id_column).is_duplicated()
    problems.append(_problems(frame, duplicated, id_column, "this lead id appears more than once in the file"))

    columns: dict[str, pl.Expr] = {}
    unmapped: dict[str, list[str]] = {}
    dated = bool(mapping.column("created_at"))
    for spec in LEAD_FIELDS:
        sources = mapping.column(spec.name)
        if not sources or spec.name == "external_id":
            continue
        source = sources[0]
        if spec.kind == "date":
            parsed = parse_dates(pl.col(source), _date_order(mapping, frame[source], notes))
            problems.append(
                _problems(
                    frame, pl.col(source).is_not_null() & parsed.is_null(), source, "not a date Handoff understands"
                )
            )
            problems.append(_problems(frame, pl.col(source).is_null(), source, "missing date"))
            columns[spec.name] = parsed
        elif spec.kind == "int":
            number = pl.col(source).str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)
            problems.append(_problems(frame, pl.col(source).is_not_null() & number.is_null(), source, "not a number"))
            columns[spec.name] = number.round(0).cast(pl.Int64)
        elif spec.kind == "bool":
            word = pl.col(source).str.to_lowercase()
            parsed = pl.when(word.is_in(TRUE_WORDS)).then(True).when(word.is_in(FALSE_WORDS)).then(False)
            problems.append(_problems(frame, pl.col(source).is_not_null() & parsed.is_null(), source, "not yes or no"))
            columns[spec.name] = parsed
        elif spec.kind == "category":
            table = mapping.values.get(spec.name, {})
            targets = TARGETS[spec.name]
            found = set()
            for source_column in sources:
                values = frame[source_column].drop_nulls().unique().to_list()
                found |= {v for v in values if v not in table and v not in targets}
            unmapped[spec.name] = sorted(found)
            mapped = [
                pl.col(c).replace_strict(table, default=pl.col(c), return_dtype=pl.String).alias(c) for c in sources
            ]
            known = [pl.when(m.is_in(list(targets))).then(m) for m in mapped]
            columns[spec.name] = pl.coalesce(known) if len(known) > 1 else known[0]
            if spec.name in ("channel", "stage"):
                problems += [
                    _problems(
                        frame, pl.col(c).is_not_null() & k.is_null(), c, f"no {spec.label.lower()} is mapped for it"
                    )
                    for c, k in zip(sources, known, strict=True)
                ]
        else:
            columns[spec.name] = pl.col(source)
    if mapping.column("feedback"):
        columns["feedback_text"] = pl.coalesce([pl.col(c) for c in mapping.column("feedback")])
    if not dated:
        notes.append(
            f"The file has no date column: its leads are counted at the date of this import ({now:%Y-%m-%d}); "
            "Handoff does not invent dates."
        )
    if events is None:
        notes.append(
            "Without an events file the stages have no times of their own: these leads are left out of the "
            "SLA and velocity figures."
        )
    mapped = frame.select("row", pl.col(id_column).alias("external_id"), **columns)
    event_rows = _event_rows(events, mapping, problems, notes) if events is not None else None
    problem_frame = pl.concat([pl.DataFrame(schema=PROBLEM_SCHEMA), *problems]).sort(
        "file", "row", "column", descending=[True, False, False]
    )
    bad_rows = problem_frame.filter(pl.col("file") == "leads")["row"].unique()
    valid = mapped.filter(~pl.col("row").is_in(bad_rows.implode()))
    if event_rows is not None:
        valid = _with_event_stage(valid, event_rows)
    leads, derived, decisions, disqualifications = _handoff_rows(valid, now=now, dated=dated)
    if event_rows is not None:
        timed = event_rows.join(leads.select("external_id"), on="external_id", how="semi")
        # Leads whose journey the events file dates: their stage times are real, so time-based figures use them.
        leads = leads.with_columns(pl.col("external_id").is_in(timed["external_id"].implode()).alias("dated"))
        derived = pl.concat(
            [derived.join(timed.select("external_id", "stage"), on=["external_id", "stage"], how="anti"), timed]
        )
    return Prepared(
        leads=leads,
        events=derived,
        decisions=decisions,
        disqualifications=disqualifications,
        problems=problem_frame,
        unmapped=unmapped,
        rows_read=raw.height,
        dated=dated,
        notes=notes,
    )


class AmbiguousDates(ImportRefused):
    """Every date in a column could be day-first or month-first: the user must say which."""

    def __init__(self, column: str, examples: list[str]):
        self.column = column
        shown = ", ".join(examples)
        super().__init__(
            f"“{column}” has dates such as {shown} that read the same day-first or month-first. "
            "Say which it is (date_order in the mapping: day-first or month-first); Handoff does not guess."
        )


def _problems(
    frame: pl.DataFrame, where: pl.Expr, column: str, problem: str, *, value: str | None = None, file: str = "leads"
) -> pl.DataFrame:
    """The rows of frame where `where` holds, as problems of column (the cell's value from `value`, or column)."""
    return frame.filter(where).select(
        pl.lit(file).alias("file"),
        pl.col("row").cast(pl.Int64),
        pl.lit(column).alias("column"),
        pl.col(value or column).cast(pl.String).alias("value"),
        pl.lit(problem).alias("problem"),
    )


def _date_order(mapping: Mapping, values: pl.Series, notes: list[str]) -> str:
    """The mapping's date order, or the one the values show; refuses to guess when every date could be either."""
    if mapping.date_order != "auto":
        return mapping.date_order
    order = date_order_of(values)
    if order is None:
        raise AmbiguousDates(values.name, values.drop_nulls().head(3).to_list())
    if order == "mixed":
        notes.append(f"“{values.name}” mixes day-first and month-first dates; read as day-first.")
        return "day-first"
    return order


def _event_rows(events: pl.DataFrame, mapping: Mapping, problems: list[pl.DataFrame], notes: list[str]) -> pl.DataFrame:
    names = mapping.event_columns
    for spec in EVENT_FIELDS:
        if spec.required and not names.get(spec.name):
            raise ImportRefused(f"The mapping must say which events column holds the {spec.label.lower()}.")
    missing = sorted({c for c in names.values() if c} - set(events.columns))
    if missing:
        raise ImportRefused(f"The events file has no column {', '.join(missing)}; it has {', '.join(events.columns)}.")
    frame = _cleaned(events, mapping.empty_values).with_row_index("row", offset=2)
    order = _date_order(mapping, frame[names["occurred_at"]], notes)
    table = mapping.values.get("event_stage", {})
    stage = pl.col(names["stage"]).replace_strict(table, default=pl.col(names["stage"]), return_dtype=pl.String)
    parsed = frame.select(
        "row",
        pl.col(names["external_id"]).alias("external_id"),
        pl.when(stage.is_in(list(STAGES))).then(stage).alias("stage"),
        pl.col(names["stage"]).alias("stage_text"),
        parse_dates(pl.col(names["occurred_at"]), order).alias("occurred_at"),
        pl.col(names["occurred_at"]).alias("date_text"),
        (pl.col(names["rep"]) if names.get("rep") else pl.lit(None, dtype=pl.String)).alias("rep"),
    )
    checks = (
        ("stage", pl.col("stage").is_null(), "stage_text", "unknown stage"),
        ("occurred_at", pl.col("occurred_at").is_null(), "date_text", "not a date"),
        ("external_id", pl.col("external_id").is_null(), "external_id", "missing lead id"),
    )
    problems += [
        _problems(parsed, where, names[field], problem, value=value, file="events")
        for field, where, value, problem in checks
    ]
    return parsed.drop_nulls(["external_id", "stage", "occurred_at"]).select(
        "external_id", "stage", "occurred_at", "rep"
    )


RANK = {s.value: i for i, s in enumerate(MAIN_PATH)}
REASON_KIND = {r.key: r.kind.value for r in REJECTION_REASONS}
DISQUALIFICATION_KEYS = tuple(r.key for r in DISQUALIFICATION_REASONS)
# The main-path stage each detour implies was reached first.
DETOUR_REACHED = {Stage.REJECTED.value: "mql", Stage.DISQUALIFIED.value: "sal", Stage.LOST.value: "opportunity"}


def _stage_rank(stage: pl.Expr) -> pl.Expr:
    # Detours rank just past the stage they leave from, so "rejected" is further than "mql".
    ranks = {**{k: float(v) for k, v in RANK.items()}, **{k: RANK[v] + 0.5 for k, v in DETOUR_REACHED.items()}}
    return stage.replace_strict(ranks, default=-1.0, return_dtype=pl.Float64)


def _with_event_stage(valid: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """valid with each lead's stage advanced to its latest event's stage where the events file says it got further."""
    latest = events.sort("occurred_at").group_by("external_id").agg(pl.col("stage").last().alias("event_stage"))
    joined = valid.join(latest, on="external_id", how="left")
    status = pl.col("stage") if "stage" in valid.columns else pl.lit(None, dtype=pl.String)
    further = _stage_rank(pl.col("event_stage")) > _stage_rank(status).fill_null(-1.0)
    return joined.with_columns(pl.when(further).then(pl.col("event_stage")).otherwise(status).alias("stage")).drop(
        "event_stage"
    )


KIND_TYPES = {"id": pl.String, "text": pl.String, "category": pl.String, "int": pl.Int64, "bool": pl.Boolean}
FIELD_TYPES = {f.name: KIND_TYPES.get(f.kind, pl.Datetime("us")) for f in LEAD_FIELDS} | {"feedback_text": pl.String}
TEXT_FIELDS = ("campaign", "channel", "owner", "role", "seniority", "country", "region", "company", "industry")


def _handoff_rows(valid: pl.DataFrame, *, now: datetime, dated: bool):
    """Leads, the stage events their status implies, sales decisions and disqualifications."""
    # Fields the mapping leaves out are empty columns, so that everything below reads every field the same way.
    valid = valid.with_columns(
        pl.lit(None, dtype=kind).alias(name) for name, kind in FIELD_TYPES.items() if name not in valid.columns
    )
    feedback, status = pl.col("feedback"), pl.col("stage")
    rejected_reason = pl.when(feedback.is_in(list(REASON_KIND))).then(feedback)
    disqualified_reason = pl.when(feedback.is_in(list(DISQUALIFICATION_KEYS))).then(feedback)
    # How far the lead got: its status, or what sales' feedback implies (feedback means sales saw it).
    reached = pl.max_horizontal(
        status.replace_strict(
            {**RANK, **{k: RANK[v] for k, v in DETOUR_REACHED.items()}}, default=0, return_dtype=pl.Int64
        ),
        pl.when(feedback == ACCEPTED)
        .then(RANK["sal"])
        .when(rejected_reason.is_not_null())
        .then(RANK["mql"])
        .when(disqualified_reason.is_not_null())
        .then(RANK["sal"])
        .otherwise(0),
    )
    detour = (
        pl.when(status.is_in([Stage.REJECTED.value, Stage.DISQUALIFIED.value, Stage.LOST.value, Stage.RECYCLED.value]))
        .then(status)
        .when(rejected_reason.is_not_null() & (reached <= RANK["mql"]))
        .then(pl.lit(Stage.REJECTED.value))
        .when(disqualified_reason.is_not_null() & (reached <= RANK["sal"]))
        .then(pl.lit(Stage.DISQUALIFIED.value))
    )
    base = valid.with_columns(
        reached.alias("reached"),
        detour.alias("detour"),
        rejected_reason.alias("rejected_reason"),
        disqualified_reason.alias("disqualified_reason"),
    )
    main_names = [s.value for s in MAIN_PATH]
    # A last-activity value adds one to the behaviour count it stands for.
    counters = [(pl.col(c).fill_null(0) + (pl.col("activity") == c).fill_null(False).cast(pl.Int64)) for c in COUNTERS]
    leads = base.select(
        "external_id",
        (pl.col("created_at") if dated else pl.lit(now)).cast(pl.Datetime("us")).alias("created_at"),
        *TEXT_FIELDS,
        "company_size_band",
        "revenue_band",
        *[e.cast(pl.Int64).alias(c) for e, c in zip(counters, COUNTERS, strict=True)],
        "has_budget",
        "is_authority",
        "has_need",
        "timeline_months",
        pl.coalesce(pl.col("detour"), pl.col("reached").replace_strict(dict(enumerate(main_names)))).alias("stage"),
        pl.when(pl.col("reached") >= RANK["mql"]).then(pl.lit("import")).alias("mql_route"),
        pl.lit(now).cast(pl.Datetime("us")).alias("imported_at"),
        pl.lit(False).alias("dated"),
    )
    when = pl.col("created_at") if dated else pl.lit(None, dtype=pl.Datetime("us"))
    derived = pl.concat(
        [
            base.filter(pl.col("reached") >= rank).select(
                "external_id", pl.lit(stage).alias("stage"), when.cast(pl.Datetime("us")).alias("occurred_at")
            )
            for stage, rank in RANK.items()
        ]
        + [
            base.filter(pl.col("detour").is_not_null()).select(
                "external_id", pl.col("detour").alias("stage"), when.cast(pl.Datetime("us")).alias("occurred_at")
            )
        ]
    ).with_columns(pl.lit(None, dtype=pl.String).alias("rep"))
    comment = pl.col("feedback_text")
    decisions = base.filter((pl.col("reached") >= RANK["sal"]) | (pl.col("detour") == Stage.REJECTED.value)).select(
        "external_id",
        pl.when(pl.col("reached") >= RANK["sal"])
        .then(pl.lit(Decision.ACCEPTED.value))
        .otherwise(pl.lit(Decision.REJECTED.value))
        .alias("decision"),
        pl.when(pl.col("reached") < RANK["sal"]).then(pl.col("rejected_reason")).alias("reason"),
        pl.when(pl.col("reached") < RANK["sal"])
        .then(pl.col("rejected_reason").replace_strict(REASON_KIND, default=None))
        .alias("reason_kind"),
        pl.when(pl.col("rejected_reason").is_not_null() & (pl.col("reached") < RANK["sal"]))
        .then(comment)
        .alias("comment"),
    )
    disqualifications = base.filter(pl.col("detour") == Stage.DISQUALIFIED.value).select(
        "external_id",
        pl.col("disqualified_reason").fill_null("no_need").alias("reason"),
        comment.alias("comment"),
    )
    return leads, derived, decisions, disqualifications


# ---------------------------------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class Summary:
    """What an import did."""

    rows_read: int
    inserted: int
    updated: int
    rejected: int
    events_added: int
    decisions_added: int
    disqualifications_added: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


BATCH_ROWS = 100_000
LEAD_COLUMNS = (
    "external_id", "created_at", "role", "seniority", "country", "region", "company", "industry",
    "company_size_band", "revenue_band", *COUNTERS, "has_budget", "is_authority", "has_need", "timeline_months",
    "stage", "mql_route", "imported_at", "dated",
)  # fmt: skip
# Updated when they differ; created_at only when the file has dates (an undated lead keeps its first date).
COMPARED = tuple(c for c in LEAD_COLUMNS if c not in ("external_id", "created_at", "imported_at"))


def _stage(conn, name: str, frame: pl.DataFrame, *, sqlite: bool, progress: Callable[[int], None] | None = None):
    """Load frame into a temporary table in batches (one transaction: nothing is visible until the commit)."""
    if sqlite:
        frame = db.sqlite_text(frame)
    with conn.cursor() as cursor:
        for offset in range(0, max(frame.height, 1), BATCH_ROWS):
            part = frame.slice(offset, BATCH_ROWS).to_arrow()
            cursor.adbc_ingest(name, part, mode="create" if offset == 0 else "append", temporary=True)
            if progress:
                progress(min(offset + BATCH_ROWS, frame.height))


def _execute(conn, sql: str) -> None:
    with conn.cursor() as cursor:
        cursor.execute(sql)  # no values: every value comes from the staged tables


def _count(conn, sql: str) -> int:
    # Counted rather than read from rowcount, which not every ADBC driver reports.
    with conn.cursor() as cursor:
        cursor.execute(sql)
        return int(cursor.fetchone()[0])


def _added(conn, table: str, sql: str) -> int:
    before = _count(conn, f"SELECT COUNT(*) FROM {table}")
    _execute(conn, sql)
    return _count(conn, f"SELECT COUNT(*) FROM {table}") - before


@guarded(Action.IMPORT, target=lambda k: described(leads=k["prepared"].leads.height, rows=k["prepared"].rows_read))
def write(
    *, prepared: Prepared, url: str, now: datetime, progress: Callable[[float, str], None] | None = None
) -> Summary:
    """Upsert the prepared rows in ONE transaction: on any error nothing is written."""
    sqlite = url.startswith("sqlite")
    total = max(prepared.leads.height, 1)

    def staged(done: int) -> None:
        if progress:
            progress(0.8 * done / total, f"Loading {done:,} of {prepared.leads.height:,} leads…")

    leads = prepared.leads
    campaigns = (
        leads.filter(pl.col("channel").is_not_null())
        .select(
            pl.coalesce("campaign", pl.col("channel").replace_strict(CHANNEL_LABELS) + " (imported)").alias("name"),
            "channel",
        )
        .unique("name", keep="first")
        .with_columns(pl.lit(now.date()).alias("start_date"))
    )
    lead_rows = leads.with_columns(
        pl.coalesce("campaign", pl.col("channel").replace_strict(CHANNEL_LABELS, default=None) + " (imported)").alias(
            "campaign_name"
        ),
        pl.col("owner").alias("owner_name"),
    ).select(*LEAD_COLUMNS, "campaign_name", "owner_name")
    reps = leads.select(pl.col("owner").alias("name")).drop_nulls().unique()
    channels = pl.DataFrame(
        {
            "key": [c.key for c in CHANNELS],
            "label": [c.label for c in CHANNELS],
            "view_through": [c.view_through for c in CHANNELS],
        }
    )
    decided_at = pl.lit(now).cast(pl.Datetime("us"))
    decisions = prepared.decisions.with_columns(decided_at.alias("fallback_at"))
    disqualifications = prepared.disqualifications.with_columns(decided_at.alias("fallback_at"))
    model = pl.DataFrame({"created": [now]}).with_columns(pl.col("created").cast(pl.Datetime("us")))
    true = "1" if sqlite else "TRUE"
    conn = db.adbc_connect(url)
    try:
        _stage(conn, "import_channel", channels, sqlite=sqlite)
        _stage(conn, "import_campaign", campaigns, sqlite=sqlite)
        _stage(conn, "import_rep", reps, sqlite=sqlite)
        _stage(conn, "import_lead", lead_rows, sqlite=sqlite, progress=staged)
        _stage(conn, "import_event", prepared.events, sqlite=sqlite)
        _stage(conn, "import_decision", decisions, sqlite=sqlite)
        _stage(conn, "import_disqualification", disqualifications, sqlite=sqlite)
        _stage(conn, "import_model", model, sqlite=sqlite)
        if progress:
            progress(0.85, "Writing leads…")
        _execute(
            conn,
            "INSERT INTO channel (key, label, view_through) SELECT t.key, t.label, t.view_through "
            "FROM import_channel t WHERE NOT EXISTS (SELECT 1 FROM channel c WHERE c.key = t.key)",
        )
        _execute(
            conn,
            "INSERT INTO campaign (name, channel_id, start_date, spend) SELECT t.name, c.id, t.start_date, 0 "
            "FROM import_campaign t JOIN channel c ON c.key = t.channel "
            "WHERE NOT EXISTS (SELECT 1 FROM campaign x WHERE x.name = t.name)",
        )
        _execute(
            conn,
            "INSERT INTO rep (name, tier, team, weekly_capacity, active) "
            f"SELECT t.name, 'junior', 'Imported', 50, {true} FROM import_rep t "
            "WHERE NOT EXISTS (SELECT 1 FROM rep r WHERE r.name = t.name)",
        )
        campaign_id = "(SELECT MIN(c.id) FROM campaign c WHERE c.name = t.campaign_name)"
        owner_id = "(SELECT MIN(r.id) FROM rep r WHERE r.name = t.owner_name)"
        # An undated file's leads keep the date of their first import; a dated file's dates are updated.
        compared = (*COMPARED, "created_at") if prepared.dated else COMPARED
        changed = " OR ".join(f"lead.{c} IS DISTINCT FROM t.{c}" for c in compared)
        assignments = ", ".join(f"{c} = t.{c}" for c in compared)
        where = (
            f"WHERE lead.external_id = t.external_id AND ({changed} OR lead.campaign_id IS DISTINCT FROM {campaign_id})"
        )
        updated = _count(conn, f"SELECT COUNT(*) FROM lead, import_lead t {where}")
        _execute(
            conn,
            f"UPDATE lead SET {assignments}, imported_at = t.imported_at, campaign_id = {campaign_id}, "
            f"owner_rep_id = COALESCE({owner_id}, lead.owner_rep_id) FROM import_lead t {where}",
        )
        names = ", ".join(LEAD_COLUMNS)
        inserted = _added(
            conn,
            "lead",
            f"INSERT INTO lead ({names}, campaign_id, owner_rep_id) "
            f"SELECT {', '.join(f't.{c}' for c in LEAD_COLUMNS)}, {campaign_id}, {owner_id} FROM import_lead t "
            "WHERE NOT EXISTS (SELECT 1 FROM lead l WHERE l.external_id = t.external_id)",
        )
        if progress:
            progress(0.92, "Writing stage events and sales feedback…")
        events_added = _added(
            conn,
            "stage_event",
            "INSERT INTO stage_event (lead_id, stage, occurred_at, actor, rep_id) "
            "SELECT l.id, e.stage, COALESCE(e.occurred_at, l.created_at), COALESCE(e.rep, 'import'), "
            "(SELECT MIN(r.id) FROM rep r WHERE r.name = e.rep) "
            "FROM import_event e JOIN lead l ON l.external_id = e.external_id "
            "WHERE NOT EXISTS (SELECT 1 FROM stage_event s WHERE s.lead_id = l.id AND s.stage = e.stage "
            "AND (e.occurred_at IS NULL OR s.occurred_at = e.occurred_at))",
        )
        event_time = "(SELECT MIN(s.occurred_at) FROM stage_event s WHERE s.lead_id = l.id AND s.stage IN ({stages}))"
        decisions_added = _added(
            conn,
            "sales_decision",
            "INSERT INTO sales_decision (lead_id, decision, reason, reason_kind, comment, rep_id, decided_at) "
            "SELECT l.id, d.decision, d.reason, d.reason_kind, d.comment, NULL, "
            "CASE WHEN EXISTS (SELECT 1 FROM sales_decision x WHERE x.lead_id = l.id) THEN d.fallback_at "
            f"ELSE COALESCE({event_time.format(stages=repr_list(['sal', 'rejected']))}, l.created_at) END "
            "FROM import_decision d JOIN lead l ON l.external_id = d.external_id "
            "WHERE NOT EXISTS (SELECT 1 FROM sales_decision x WHERE x.lead_id = l.id "
            "AND x.decided_at = (SELECT MAX(y.decided_at) FROM sales_decision y WHERE y.lead_id = l.id) "
            "AND x.decision = d.decision AND x.reason IS NOT DISTINCT FROM d.reason)",
        )
        disqualifications_added = _added(
            conn,
            "disqualification",
            "INSERT INTO disqualification (lead_id, reason, comment, rep_id, disqualified_at) "
            "SELECT l.id, q.reason, q.comment, NULL, "
            f"COALESCE({event_time.format(stages=repr_list(['disqualified']))}, l.created_at) "
            "FROM import_disqualification q JOIN lead l ON l.external_id = q.external_id "
            "WHERE NOT EXISTS (SELECT 1 FROM disqualification x WHERE x.lead_id = l.id AND x.reason = q.reason)",
        )
        rule = first_model(prepared.leads)
        _execute(
            conn,
            "INSERT INTO scoring_model (version, w_demographic, w_firmographic, w_behavioural, w_engagement, "
            "mql_threshold, gate_known_company, gate_budget, gate_authority, active_from, author, note) "
            f"SELECT 1, {rule.w_demographic}, {rule.w_firmographic}, {rule.w_behavioural}, {rule.w_engagement}, "
            f"{rule.mql_threshold}, {false(sqlite)}, {false(sqlite)}, {false(sqlite)}, "
            "(SELECT MIN(created_at) FROM lead), 'Handoff', 'Default model, created by the first import' "
            "FROM import_model WHERE NOT EXISTS (SELECT 1 FROM scoring_model)",
        )
        conn.commit()
    except Exception:
        conn.rollback()
        raise
    finally:
        conn.close()
    if progress:
        progress(1.0, "Done.")
    return Summary(
        rows_read=prepared.rows_read,
        inserted=inserted,
        updated=updated,
        rejected=prepared.rejected_rows,
        events_added=events_added,
        decisions_added=decisions_added,
        disqualifications_added=disqualifications_added,
    )


CHANNEL_LABELS = {c.key: c.label for c in CHANNELS}


def first_model(leads: pl.DataFrame) -> ScoringRule:
    """The model a database gets with its first import: default weights, and the threshold at which it would
    have qualified as many of these leads as the CRM did, so that the what-if starts from a comparable rule."""
    scores = component_scores(leads.lazy()).select(score_expr(ScoringRule())).collect().to_series()
    share = leads["mql_route"].is_not_null().mean() if leads.height else 0.0
    if not scores.len() or not 0 < share < 1:
        return ScoringRule()
    threshold = float(scores.quantile(1 - share, interpolation="lower"))
    return ScoringRule(mql_threshold=float(int(threshold)))


def repr_list(values: list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)  # constants of this module, never input


def false(sqlite: bool) -> str:
    return "0" if sqlite else "FALSE"


def import_files(
    *,
    leads: Path,
    mapping: Mapping,
    url: str,
    events: Path | None = None,
    valid_rows_only: bool = False,
    now: datetime | None = None,
    progress: Callable[[float, str], None] | None = None,
    actor: Actor | None = None,
) -> tuple[Summary | None, Prepared]:
    """Read, validate and (when there is no problem, or valid_rows_only) write; returns what was done."""
    now = now or datetime.now().replace(microsecond=0)
    raw = read_file(leads, mapping=mapping)
    event_frame = read_file(events, mapping=mapping).frame if events else None
    prepared = prepare(raw.frame, mapping, now=now, events=event_frame)
    if prepared.problems.height and not valid_rows_only:
        return None, prepared
    if prepared.leads.is_empty():
        raise ImportRefused("No row of the file can be imported: see the problems listed.")
    engine = db.make_engine(url)
    try:
        db.create_schema(engine)
    finally:
        # No SQLite connection of another library may stay open while ADBC's SQLite opens and closes the file.
        engine.dispose()
    return write(prepared=prepared, url=url, now=now, progress=progress, actor=actor), prepared


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--leads", required=True, type=Path, help="the leads file (CSV or Excel)")
    parser.add_argument("--events", type=Path, help="a file of stage events keyed by the lead id")
    parser.add_argument("--mapping", required=True, type=Path, help="the mapping (TOML)")
    parser.add_argument("--db", help="database URL (default: DATABASE_URL or the embedded SQLite file)")
    parser.add_argument("--valid-rows-only", action="store_true", help="import the valid rows, skip the rest")
    args = parser.parse_args(argv)
    from dashboard.config import load_settings

    url = args.db or load_settings().database_url
    try:
        mapping = Mapping.from_toml(args.mapping.read_text(encoding="utf-8"))
        summary, prepared = import_files(
            leads=args.leads, events=args.events, mapping=mapping, url=url, valid_rows_only=args.valid_rows_only
        )
    except (ImportRefused, OSError, db.DatabaseUnavailable) as exc:
        print(json.dumps({"error": str(exc)}), file=sys.stderr)
        return 1
    if summary is None:
        report = prepared.problems
        message = f"{report.height:,} problems in {prepared.rejected_rows:,} rows; nothing was written"
        print(json.dumps({"error": message}), file=sys.stderr)
        buffer = io.StringIO()
        report.write_csv(buffer)
        print(buffer.getvalue(), file=sys.stderr, end="")
        return 1
    print(json.dumps({**summary.as_dict(), "notes": prepared.notes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

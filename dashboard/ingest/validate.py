"""Validation: a read file mapped to Handoff's rows, every problem as a frame; pure polars, nothing written."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta

import polars as pl

from dashboard.domain import CHANNELS, DISQUALIFICATION_REASONS, MAIN_PATH, REJECTION_REASONS, Decision, Stage
from dashboard.ingest.mapping import (
    ACCEPTED,
    CHANNEL_KEYS,
    COUNTERS,
    FREE_TEXT_CHARS,
    LEAD_FIELDS,
    NAME_CHARS,
    STAGES,
    TARGETS,
    UNKNOWN_CHANNEL,
    ImportRefused,
    Mapping,
)

# A cell a spreadsheet would run as a formula: "=…", or "+", "-", "@" followed by something formula-like.
FORMULA = r"^\s*(=|[+\-@].*[(!|])"
TRUE_WORDS = ("1", "true", "yes", "y", "t")
FALSE_WORDS = ("0", "false", "no", "n", "f")
PROBLEM_SCHEMA = {"file": pl.String, "row": pl.Int64, "column": pl.String, "value": pl.String, "problem": pl.String}
CHANNEL_LABELS = {c.key: c.label for c in CHANNELS}
VIEW_THROUGH = [c.key for c in CHANNELS if c.view_through]
ATTRIBUTE = "attr:"  # prefix of the attribute columns while they travel with the lead's row
EARLIEST = datetime(1990, 1, 1)  # an earlier date in a CRM export is a placeholder ("1900-01-01"), not a lead's
SHOWN_CHARS = 80  # a problem's value longer than this is shown cut, with its length


@dataclass
class Prepared:
    """A file mapped to Handoff's tables, with every problem found; nothing is written yet."""

    leads: pl.DataFrame  # one row per valid lead, Handoff's columns (+ campaign name, channel key, owner, closer)
    events: pl.DataFrame  # external_id, stage, occurred_at (null: the lead's created_at), rep, timed
    decisions: pl.DataFrame  # external_id, decision, reason, reason_kind, comment, decided_at, timed, rep
    disqualifications: pl.DataFrame  # external_id, reason, comment, disqualified_at, timed
    attributes: pl.DataFrame  # external_id, name, value
    channels: pl.DataFrame  # key, label, view_through: every channel the leads come through
    problems: pl.DataFrame  # file, row, column, value, problem
    unmapped: dict[str, list[str]]  # field -> values the mapping does not assign
    rows_read: int
    dated: bool
    notes: list[str]
    valid_leads: int = 0  # the rows that can be imported (an import read in batches keeps only their count)

    @property
    def rejected_rows(self) -> int:
        """Rows of the leads file (and of the events file) that have a problem."""
        return self.problems.select("file", "row").unique().height


def _cleaned(columns: list[str], empty: tuple[str, ...]) -> list[pl.Expr]:
    """Each column's cells without surrounding blanks, and empty where they hold one of the empty values."""
    return [
        pl.when(pl.col(c).str.strip_chars().is_in(list(empty)))
        .then(None)
        .otherwise(pl.col(c).str.strip_chars())
        .alias(c)
        for c in columns
    ]


SLASHED = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})"
ISO_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
# Exports write times as 14:05, 14:05:09, or on a 12-hour clock (Salesforce: "2:05 PM").
TIME_SUFFIXES = (" %H:%M:%S", " %H:%M", " %I:%M %p", " %I:%M:%S %p", ", %I:%M %p", "")


def _order_evidence(column: str) -> list[pl.Expr]:
    """What a date column's values say of their order, as three aggregates: any slashed date, any whose first
    part cannot be a month, any whose second part cannot be; and the first three values, for a refusal's examples.
    Aggregates, so that a first pass over a large file keeps nothing but them."""
    parts = pl.col(column).str.extract_groups(SLASHED)
    first, second = parts.struct.field("1").cast(pl.Int64), parts.struct.field("2").cast(pl.Int64)
    return [
        first.is_not_null().any().alias("slashed"),
        (first > 12).any().alias("day_first"),
        (second > 12).any().alias("month_first"),
        pl.col(column).drop_nulls().head(3).implode().alias("examples"),
    ]


def date_order_of(values: pl.Series) -> str | None:
    """iso, day-first or month-first as the values show; None when every slashed date could be either."""
    evidence = pl.DataFrame({"values": values}).select(_order_evidence("values")).row(0, named=True)
    return _order_from(evidence)


def _order_from(evidence: dict) -> str | None:
    if not evidence["slashed"]:
        return "iso"
    day_first, month_first = bool(evidence["day_first"]), bool(evidence["month_first"])
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


def _parsed_dates(values: pl.Series, order: str) -> pl.Series:
    """values parsed as parse_dates does, each format tried only on the values no earlier format read."""
    formats = list(ISO_FORMATS)
    if order in ("day-first", "month-first"):
        day, month = ("%d", "%m") if order == "day-first" else ("%m", "%d")
        for separator in ("/", ".", "-"):
            formats += [f"{day}{separator}{month}{separator}%Y{suffix}" for suffix in TIME_SUFFIXES]
    text = values.str.strip_chars()
    parsed = pl.Series(values.name, [None] * values.len(), dtype=pl.Datetime("us"))
    for format in formats:
        todo = (parsed.is_null() & text.is_not_null()).arg_true()
        if todo.is_empty():
            break
        parsed = parsed.scatter(todo, text.gather(todo).str.to_datetime(format, strict=False, time_unit="us"))
    return parsed


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
    frame: pl.DataFrame,
    where: pl.Expr,
    column: str,
    problem: str | pl.Expr,
    *,
    value: str | None = None,
    file: str = "leads",
) -> pl.DataFrame:
    """The rows of frame where `where` holds, as problems of column (the cell's value from `value`, or column)."""
    # A NUL would cut the report short and a megabyte-long cell would drown it: show both so a person can read them.
    cell = pl.col(value or column).cast(pl.String).str.replace_all("\x00", "\\0", literal=True)
    length = cell.str.len_chars()
    shown = (
        pl.when(length > SHOWN_CHARS)
        .then(cell.str.slice(0, SHOWN_CHARS - 20) + pl.lit("… (") + length.cast(pl.String) + pl.lit(" characters)"))
        .otherwise(cell)
    )
    return frame.filter(where.fill_null(False)).select(
        pl.lit(file).alias("file"),
        pl.col("row").cast(pl.Int64),
        pl.lit(column).alias("column"),
        shown.alias("value"),
        (pl.lit(problem) if isinstance(problem, str) else problem).cast(pl.String).alias("problem"),
    )


def _checked_text(frame: pl.DataFrame, column: str, limit: int, problems: list, file: str = "leads") -> None:
    """Problems for cells of a text column that a database cannot store or that are longer than limit."""
    text = pl.col(column).cast(pl.String)
    problems.append(
        _problems(frame, text.str.len_chars() > limit, column, f"longer than {limit:,} characters; shorten it",
                  file=file)
    )  # fmt: skip
    nul = "holds a NUL character (shown as \\0), which a database cannot store; remove it"
    problems.append(_problems(frame, text.str.contains("\x00", literal=True), column, nul, file=file))


def _figure(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,}"


def _number(
    frame: pl.DataFrame, source: str, *, whole: bool, limits: tuple[float, float] | None, problems: list, fix: str = ""
) -> pl.Expr:
    """source parsed as a number (a decimal comma is understood); a problem for what is not one or out of range."""
    number = pl.col(source).str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)
    problems.append(
        _problems(frame, pl.col(source).is_not_null() & (number.is_null() | ~number.is_finite()), source,
                  "not a number")
    )  # fmt: skip
    usable = number.is_not_null() & number.is_finite()
    if whole:
        problems.append(_problems(frame, usable & (number != number.round(0)), source, "not a whole number"))
        usable = usable & (number == number.round(0))
    if limits:
        low, high = limits
        outside = f"outside {_figure(low)} to {_figure(high)}{fix}"
        problems.append(_problems(frame, usable & ~number.is_between(low, high), source, outside))
        usable = usable & number.is_between(low, high)
    kept = pl.when(usable).then(number)
    return kept.round(0).cast(pl.Int64) if whole else kept


def _date_order(mapping: Mapping, column: str, evidence: dict, notes: list[str]) -> str:
    """The mapping's date order, or the one the values show; refuses to guess when every date could be either."""
    if mapping.date_order != "auto":
        return mapping.date_order
    order = _order_from(evidence)
    if order is None:
        raise AmbiguousDates(column, evidence["examples"])
    if order == "mixed":
        notes.append(f"“{column}” mixes day-first and month-first dates; read as day-first.")
        return "day-first"
    return order


def _whole_column_order(mapping: Mapping, values: pl.Series, notes: list[str]) -> str:
    """The date order of a column held whole (the events file's)."""
    if mapping.date_order != "auto":
        return mapping.date_order
    evidence = pl.DataFrame({values.name: values}).select(_order_evidence(values.name)).row(0, named=True)
    return _date_order(mapping, values.name, evidence, notes)


def _dates(frame: pl.DataFrame, column: str, order: str, problems: list, file: str, now: datetime) -> pl.Expr:
    """column parsed as dates, with a problem for every cell that holds something else, or a date that cannot be."""
    # Parsed once, as a series: every check below reads it, and an expression would parse the column each time.
    parsed = pl.lit(_parsed_dates(frame[column], order))
    where = pl.col(column).is_not_null() & parsed.is_null()
    problems.append(_problems(frame, where, column, "not a date Handoff understands", file=file))
    latest = now + timedelta(days=1)
    future = f"later than tomorrow ({latest:%Y-%m-%d}): a date that has not come yet; check the year and the date order"
    problems.append(_problems(frame, parsed > latest, column, future, file=file))
    early = "before 1990: a placeholder rather than a date? Leave it empty, or add it to file.empty_values"
    problems.append(_problems(frame, parsed < EARLIEST, column, early, file=file))
    return pl.when(parsed.is_between(EARLIEST, latest)).then(parsed)


def channel_of(raw: pl.Expr, table: dict[str, str]) -> tuple[pl.Expr, pl.Expr]:
    """The channel key and label of a source value: mapped to one of ours, or a channel of the file's own.

    The list is open: an unmapped value (or a mapped one that is not our key) becomes a channel with that label;
    empty or "unknown" stays Unknown, never folded into another channel.
    """
    mapped = raw.replace_strict(table, default=raw, return_dtype=pl.String) if table else raw
    slugged = mapped.str.to_lowercase().str.replace_all(r"[^0-9a-z]+", "_").str.strip_chars("_")
    key = (
        pl.when(mapped.is_in(list(CHANNEL_KEYS)))
        .then(mapped)
        .when(slugged.is_null() | (slugged == ""))
        .then(pl.lit(UNKNOWN_CHANNEL[0]))
        .otherwise(slugged)
    )
    snake = mapped.str.contains(r"^[a-z0-9_]+$")
    readable = pl.when(snake).then(
        mapped.str.slice(0, 1).str.to_uppercase() + mapped.str.slice(1).str.replace_all("_", " ")
    )
    label = (
        pl.when(key.is_in(list(CHANNEL_KEYS)))
        .then(key.replace_strict(CHANNEL_LABELS, default=None, return_dtype=pl.String))
        .when(key == UNKNOWN_CHANNEL[0])
        .then(pl.lit(UNKNOWN_CHANNEL[1]))
        .otherwise(pl.coalesce(readable, mapped))
    )
    return key, label


def _mapped_category(frame: pl.DataFrame, name: str, sources: list[str], table: dict[str, str]):
    """A categorical field's value (the first source column with a known value) and the values left unmapped."""
    targets = TARGETS[name] or ()
    found = set()
    for source_column in sources:
        values = frame[source_column].drop_nulls().unique().to_list()
        found |= {v for v in values if v not in table and v not in targets}
    mapped = [pl.col(c).replace_strict(table, default=pl.col(c), return_dtype=pl.String).alias(c) for c in sources]
    known = [pl.when(m.is_in(list(targets))).then(m) for m in mapped]
    return (pl.coalesce(known) if len(known) > 1 else known[0]), known, found


def _constant(mapping_constants: dict[str, str], name: str) -> pl.Expr | None:
    value = mapping_constants.get(name)
    return None if value is None else pl.lit(value, dtype=pl.String)


def _lead_columns(
    frame: pl.DataFrame, mapping: Mapping, orders: dict[str, str], problems: list, unmapped: dict, now: datetime
) -> dict:
    """Every lead field the mapping fills, from a column or a constant, as expressions over frame.

    orders: each date column's order (the whole file's); unmapped: field -> the set of values no mapping assigns,
    added to."""
    columns: dict[str, pl.Expr] = {}
    for spec in LEAD_FIELDS:
        sources = mapping.column(spec.name)
        if spec.name == "external_id":
            continue
        if not sources:
            constant = _constant(mapping.constants, spec.name)
            if constant is not None:
                columns[spec.name] = constant
            continue
        source = sources[0]
        if spec.kind == "date":
            problems.append(_problems(frame, pl.col(source).is_null(), source, "missing date"))
            columns[spec.name] = _dates(frame, source, orders[source], problems, "leads", now)
        elif spec.kind in ("int", "number"):
            score = spec.name == "score"
            fix = "; if the CRM scores on another scale, declare it: file.score_range = [low, high]" if score else ""
            limits = mapping.score_range if score else spec.limits
            whole = spec.kind == "int"
            columns[spec.name] = _number(frame, source, whole=whole, limits=limits, problems=problems, fix=fix)
        elif spec.kind == "bool":
            word = pl.col(source).str.to_lowercase()
            parsed = pl.when(word.is_in(TRUE_WORDS)).then(True).when(word.is_in(FALSE_WORDS)).then(False)
            problems.append(_problems(frame, pl.col(source).is_not_null() & parsed.is_null(), source, "not yes or no"))
            columns[spec.name] = parsed
        elif spec.name == "channel":
            table = mapping.values.get("channel", {})
            values = frame[source].drop_nulls().unique().to_list()
            unmapped.setdefault("channel", set()).update(v for v in values if v not in table and v not in CHANNEL_KEYS)
            columns["channel"] = pl.col(source)
        elif spec.kind == "category":
            columns[spec.name], known, found = _mapped_category(
                frame, spec.name, sources, mapping.values.get(spec.name, {})
            )
            unmapped.setdefault(spec.name, set()).update(found)
            if spec.name == "stage":
                problems += [
                    _problems(frame, pl.col(c).is_not_null() & k.is_null(), c, "no status / stage is mapped for it")
                    for c, k in zip(sources, known, strict=True)
                ]
        else:
            columns[spec.name] = pl.col(source)
        if spec.kind in ("text", "category"):
            for column in sources:
                _checked_text(frame, column, spec.max_chars, problems)
    for stage, source in mapping.stage_dates.items():
        columns[f"{stage}_date"] = _dates(frame, source, orders[source], problems, "leads", now)
    for label, source in mapping.attributes.items():
        _checked_text(frame, source, FREE_TEXT_CHARS, problems)
        columns[ATTRIBUTE + label] = pl.col(source)
    if mapping.column("feedback"):
        columns["feedback_text"] = pl.coalesce([pl.col(c) for c in mapping.column("feedback")])
    return columns


def _without_missing(columns: list[str], mapping: Mapping, notes: list[str], called: str) -> Mapping:
    """The mapping without the columns the file does not have (a note says which); the id column is required."""
    missing = sorted(mapping.used_columns() - set(columns))
    required = [c for c in mapping.column("external_id") if c in missing]
    if required:
        hint = " It was read as a single column: is the delimiter (or the sheet) right?" if len(columns) == 1 else ""
        raise ImportRefused(
            f"{_start(called)} has no column “{required[0]}”, which the mapping names as the lead id. "
            f"Its columns are: {', '.join(columns)}.{hint}"
        )
    if not missing:
        return mapping
    notes.append(f"Not in {called}, so left empty: {', '.join(missing)}.")
    return replace(
        mapping,
        columns={name: [c for c in mapping.column(name) if c not in missing] for name in mapping.columns},
        stage_dates={s: c for s, c in mapping.stage_dates.items() if c not in missing},
        attributes={a: c for a, c in mapping.attributes.items() if c not in missing},
    )


def _start(name: str) -> str:
    """A file's name at the start of a sentence: "The leads file", or the file's own name as it is written."""
    return "T" + name[1:] if name.startswith("the ") else name


def _shown(values: pl.Series, most: int = 5) -> str:
    """The first few values, for a note: "A1, A7, B2 and 4 more"."""
    head = ", ".join(str(v) for v in values.head(most).to_list())
    return head + (f" and {values.len() - most:,} more" if values.len() > most else "")


def _ignored(columns: list[str], used: set[str], called: str, notes: list[str]) -> None:
    ignored = [c for c in columns if c not in used and c != "row"]
    if ignored:
        notes.append(
            f"Columns of {called} that no field maps, so not imported: {', '.join(ignored)}. "
            "Map them, or keep them as attributes, to use them."
        )


def _blank(columns: list[str]) -> pl.Expr:
    """A row that is empty: a blank line, or only delimiters."""
    return pl.all_horizontal([pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in columns])


def _blank_rows_note(rows: pl.Series, called: str) -> list[str]:
    return [f"{rows.len():,} empty rows of {called} were skipped (rows {_shown(rows)})."] if rows.len() else []


def _without_blank_rows(frame: pl.DataFrame, columns: list[str], called: str, notes: list[str]) -> pl.DataFrame:
    """frame without its empty rows (a blank line, or only delimiters); a note says which rows were skipped."""
    notes += _blank_rows_note(frame.filter(_blank(columns))["row"], called)
    return frame.filter(~_blank(columns))


def _duplicate_ids(frame: pl.DataFrame, id_column: str) -> pl.DataFrame:
    """A problem for every row whose lead id another row has too, naming the other rows."""
    repeated = frame.filter(pl.col(id_column).is_not_null() & pl.col(id_column).is_duplicated())
    rows = repeated.group_by(id_column).agg(pl.col("row").alias("rows"))
    others = pl.col("rows").list.set_difference(pl.concat_list("row")).list.head(5).cast(pl.List(pl.String))
    problem = pl.lit("this lead id appears more than once in the file (also on row ") + others.list.join(", ") + ")"
    return _problems(repeated.join(rows, on=id_column), pl.lit(True), id_column, problem)


@dataclass(frozen=True)
class WholeFile:
    """What only the whole leads file tells, found in a first pass over its id and date columns, so that its rows can
    then be checked a batch at a time: the rows whose lead id another row has too, and each date column's order."""

    duplicates: pl.DataFrame  # a problem for every row of a repeated id (PROBLEM_SCHEMA)
    orders: dict[str, str]  # date column -> iso, day-first or month-first
    notes: list[str]  # a date column that mixes both orders


def whole_file(rows: pl.LazyFrame, mapping: Mapping) -> WholeFile:
    """The whole-file facts of a leads file's rows (lazy: the id and date columns are all that is read; the repeated
    ids are the only rows kept). rows: the raw cells and their row numbers; mapping: without the missing columns."""
    id_column = mapping.column("external_id")[0]
    dates = list(dict.fromkeys([*mapping.column("created_at")[:1], *mapping.stage_dates.values()]))
    cleaned = rows.select("row", *_cleaned(list(dict.fromkeys([id_column, *dates])), mapping.empty_values))
    repeated = pl.col(id_column).is_not_null() & pl.col(id_column).is_duplicated()
    queries = [cleaned.select("row", id_column).filter(repeated)]
    auto = dates if mapping.date_order == "auto" else []
    queries += [cleaned.select(_order_evidence(c)) for c in auto]
    repeated, *evidence = pl.collect_all(queries)
    notes: list[str] = []
    orders = {c: mapping.date_order for c in dates}
    for column, found in zip(auto, evidence, strict=True):
        orders[column] = _date_order(mapping, column, found.row(0, named=True), notes)
    return WholeFile(_duplicate_ids(repeated, id_column), orders, notes)


@dataclass(frozen=True)
class Rows:
    """A batch of valid leads shaped as Handoff's rows (the frames of Prepared)."""

    leads: pl.DataFrame
    events: pl.DataFrame
    decisions: pl.DataFrame
    disqualifications: pl.DataFrame
    attributes: pl.DataFrame
    channels: pl.DataFrame


class Checker:
    """A leads file (and optionally an events file) checked a batch of rows at a time, so that a large file is never
    held whole: the whole-file facts (repeated ids, date orders) come first from whole_file(); each batch gives its
    valid leads as Handoff's rows; what is said of the whole file (problems, notes, unmapped values) is kept here,
    small, and given by prepared() at the end."""

    def __init__(
        self,
        columns: list[str],
        mapping: Mapping,
        *,
        now: datetime,
        events: pl.DataFrame | None = None,
        names: dict[str, str] | None = None,
    ):
        mapping.check()
        self.names = names or {}
        self.called = {
            "leads": self.names.get("leads", "the leads file"),
            "events": self.names.get("events", "the events file"),
        }
        self.columns, self.now, self.events = [c for c in columns if c != "row"], now, events
        self.header_notes: list[str] = []
        self.mapping = _without_missing(self.columns, mapping, self.header_notes, self.called["leads"])
        self.id_column = self.mapping.column("external_id")[0]
        self.dated = bool(self.mapping.column("created_at"))
        self.whole: WholeFile | None = None
        self.event_rows: pl.DataFrame | None = None
        self.event_notes: list[str] = []
        self.problems: list[pl.DataFrame] = []
        self.unmapped: dict[str, set[str]] = {}
        self.blank_rows: list[pl.Series] = []
        self.rows_read = self.valid_leads = 0
        self.valid_ids: list[pl.Series] = []  # kept only with an events file, whose rows must name a valid lead
        self.own_channels: set[str] = set()
        self.campaign_channels: list[pl.DataFrame] = []  # campaign, channel, n: summed at the end

    @property
    def has_problems(self) -> bool:
        """Whether a row checked so far (or a repeated id anywhere in the file) has a problem."""
        assert self.whole is not None, "learn() comes first"
        return bool(self.whole.duplicates.height) or any(p.height for p in self.problems)

    def learn(self, rows: pl.LazyFrame) -> None:
        """The first pass: the whole-file facts of the leads file's rows, then the events file (held whole)."""
        self.whole = whole_file(rows, self.mapping)
        if self.events is not None:
            self.event_rows = _event_rows(
                self.events, self.mapping, self.problems, self.event_notes, self.now, self.called["events"]
            )

    def batch(self, raw: pl.DataFrame) -> Rows:
        """Check a batch of the leads file (its cells and their row numbers, "row"); its valid leads as rows."""
        assert self.whole is not None, "learn() comes first"
        mapping, id_column, now = self.mapping, self.id_column, self.now
        frame = raw.select("row", *_cleaned(self.columns, mapping.empty_values))
        blank = _blank(self.columns)
        self.blank_rows.append(frame.filter(blank)["row"])
        frame = frame.filter(~blank)
        self.rows_read += frame.height
        problems: list[pl.DataFrame] = [
            _problems(frame, pl.col(c).str.contains(FORMULA).fill_null(False), c, "starts like a spreadsheet formula; "
                      "remove it or quote it")
            for c in self.columns
        ]  # fmt: skip
        problems.append(_problems(frame, pl.col(id_column).is_null(), id_column, "missing lead id"))
        _checked_text(frame, id_column, NAME_CHARS, problems)
        columns = _lead_columns(frame, mapping, self.whole.orders, problems, self.unmapped, now)
        mapped = frame.select("row", pl.col(id_column).alias("external_id"), **columns)
        problems = [p for p in problems if p.height]
        self.problems += problems
        bad_rows = pl.concat([p["row"] for p in problems] + [self.whole.duplicates["row"]])
        valid = mapped.filter(~pl.col("row").is_in(bad_rows.implode()))
        self.valid_leads += valid.height
        event_rows = None
        if self.event_rows is not None:
            self.valid_ids.append(valid["external_id"])
            event_rows = self.event_rows.join(valid.select("external_id"), on="external_id", how="semi")
            valid = _with_event_facts(valid, event_rows)
        valid = self._with_channels(valid)
        rows = _handoff_rows(valid, now=now, dated=self.dated, entry_stage=mapping.constants.get("stage"))
        if event_rows is not None:
            # The events file dates these stages: its times replace the placeholders the status implied.
            timed = event_rows.select("external_id", "stage", "occurred_at", "rep", pl.lit(True).alias("timed"))
            rows["events"] = rows["events"].select(timed.columns)
            rows["events"] = pl.concat(
                [rows["events"].join(timed.select("external_id", "stage"), on=["external_id", "stage"], how="anti"),
                 timed]
            )  # fmt: skip
        rows["decisions"], rows["disqualifications"] = _decision_times(rows)
        channels = (
            valid.select(pl.col("channel").alias("key"), pl.col("channel_label").alias("label"))
            .unique("key", keep="first", maintain_order=True)
            .sort("key")
            .with_columns(pl.col("key").is_in(VIEW_THROUGH).alias("view_through"))
        )
        return Rows(
            leads=rows["leads"],
            events=rows["events"],
            decisions=rows["decisions"],
            disqualifications=rows["disqualifications"],
            attributes=_attributes(valid),
            channels=channels,
        )

    def _with_channels(self, valid: pl.DataFrame) -> pl.DataFrame:
        """valid with each lead's own channel (key and label) and its campaign; what the notes need is kept."""
        raw = pl.col("channel") if "channel" in valid.columns else pl.lit(None, dtype=pl.String)
        key, label = channel_of(raw, self.mapping.values.get("channel", {}))
        valid = valid.with_columns(key.alias("channel"), label.alias("channel_label"))
        self.own_channels.update(valid.filter(~pl.col("channel").is_in(list(CHANNEL_KEYS)))["channel_label"].to_list())
        campaign = pl.col("campaign") if "campaign" in valid.columns else pl.lit(None, dtype=pl.String)
        valid = valid.with_columns(pl.coalesce(campaign, pl.col("channel_label") + " (imported)").alias("campaign"))
        self.campaign_channels.append(valid.group_by("campaign", "channel").agg(pl.len().alias("n")))
        return valid

    def campaigns(self) -> pl.DataFrame:
        """How many valid leads each campaign brought through each channel, over every batch so far."""
        schema = {"campaign": pl.String, "channel": pl.String, "n": pl.UInt32}
        counts = pl.concat([pl.DataFrame(schema=schema), *(c.cast(schema) for c in self.campaign_channels)])
        return counts.group_by("campaign", "channel").agg(pl.col("n").sum())

    def prepared(self, rows: Rows | None = None) -> Prepared:
        """What the whole file says: its problems, notes and unmapped values, with rows (the whole file's, when it
        was checked as one batch; empty frames otherwise, the rows having gone to the database batch by batch)."""
        assert self.whole is not None, "learn() comes first"
        mapping, names, called, now = self.mapping, self.names, self.called, self.now
        notes = [*self.header_notes]
        blank_rows = pl.concat([pl.Series("row", [], dtype=pl.UInt32), *(r.cast(pl.UInt32) for r in self.blank_rows)])
        notes += _blank_rows_note(blank_rows, called["leads"])
        notes += self.whole.notes
        _ignored(self.columns, mapping.used_columns(), called["leads"], notes)
        unmapped = {name: sorted(values) for name, values in self.unmapped.items()}
        for name in ("feedback", "region", "activity"):
            if unmapped.get(name):
                values = pl.Series(unmapped[name])
                columns_of = ", ".join(mapping.column(name))
                notes.append(
                    f"Values of {columns_of} that no mapping assigns, so left empty: {_shown(values)}. "
                    f"Map them in [values.{name}] to use them."
                )
        if not self.dated:
            notes.append(
                f"The file has no date column: its leads are counted at the date of this import ({now:%Y-%m-%d}); "
                "Handoff does not invent dates."
            )
        if self.events is None and not mapping.stage_dates:
            notes.append(
                "Neither an events file nor stage-date columns: the stages have no times of their own, so these "
                "leads are left out of the SLA and velocity figures."
            )
        notes += self.event_notes
        if self.event_rows is not None:
            valid_ids = pl.concat([pl.Series("external_id", [], dtype=pl.String), *self.valid_ids])
            unknown = self.event_rows.filter(~pl.col("external_id").is_in(valid_ids.implode()))
            if unknown.height:
                ids = unknown["external_id"].unique(maintain_order=True)
                notes.append(
                    f"{unknown.height:,} rows of the events file name {ids.len():,} leads that are not among the "
                    f"imported leads ({_shown(ids)}); they were not imported."
                )
        if self.own_channels:
            notes.append(f"Channels of the file's own, kept with their labels: {', '.join(sorted(self.own_channels))}.")
        campaigns = self.campaigns()
        mixed = campaigns.group_by("campaign").agg(pl.len().alias("n")).filter(pl.col("n") > 1)
        if mixed.height:
            notes.append(
                f"{mixed.height:,} of {campaigns['campaign'].n_unique():,} campaigns bring leads through several "
                "channels; each lead keeps its own channel (the campaign × channel matrix shows the mix)."
            )
        problem_frame = (
            pl.concat([pl.DataFrame(schema=PROBLEM_SCHEMA), self.whole.duplicates, *self.problems])
            .unique()  # a column that fills two fields is checked twice
            .sort("file", "row", "column", "problem", descending=[True, False, False, False])
            .with_columns(pl.col("file").replace({t: names.get(t, t) for t in called}))
        )
        rows = rows or Rows(*(pl.DataFrame() for _ in fields(Rows)))
        return Prepared(
            leads=rows.leads,
            events=rows.events,
            decisions=rows.decisions,
            disqualifications=rows.disqualifications,
            attributes=rows.attributes,
            channels=rows.channels,
            problems=problem_frame,
            unmapped=unmapped,
            rows_read=self.rows_read,
            dated=self.dated,
            notes=notes,
            valid_leads=self.valid_leads,
        )


def prepare(
    raw: pl.DataFrame,
    mapping: Mapping,
    *,
    now: datetime,
    events: pl.DataFrame | None = None,
    names: dict[str, str] | None = None,
) -> Prepared:
    """Map and validate a leads file held whole (and optionally an events file), as one batch; nothing is written.

    names: the files' names for the messages and the problems ({"leads": "export.csv", "events": ...}).
    """
    checker = Checker(raw.columns, mapping, now=now, events=events, names=names)
    rows = raw.with_row_index("row", offset=2)  # row 1 is the header
    checker.learn(rows.lazy())
    return checker.prepared(checker.batch(rows))


def _event_rows(
    events: pl.DataFrame, mapping: Mapping, problems: list[pl.DataFrame], notes: list[str], now: datetime, called: str
) -> pl.DataFrame:
    """The events file as rows of external_id, stage, occurred_at, rep, owner, closer and the attribute columns."""
    if not mapping.has_events:
        raise ImportRefused(
            "An events file was given but the mapping has no [events] section: say which column holds the lead id, "
            "and the stage (a column, a constant or stage-date columns)."
        )
    names = mapping.event_columns
    missing = sorted(mapping.used_event_columns() - set(events.columns))
    if missing:
        raise ImportRefused(
            f"{_start(called)} has no column {', '.join(f'“{c}”' for c in missing)}, which the mapping's [events] "
            f"names. Its columns are: {', '.join(events.columns)}."
        )
    _ignored(events.columns, mapping.used_event_columns(), called, notes)
    frame = events.with_columns(_cleaned(events.columns, mapping.empty_values)).with_row_index("row", offset=2)
    frame = _without_blank_rows(frame, events.columns, called, notes)
    for field, column in names.items():
        if column and field != "occurred_at":
            _checked_text(frame, column, NAME_CHARS, problems, file="events")
    for column in mapping.event_attributes.values():
        _checked_text(frame, column, FREE_TEXT_CHARS, problems, file="events")
    if mapping.event_where:
        kept = frame.filter(*(pl.col(c).is_in(v) for c, v in mapping.event_where.items()))
        skipped = frame.height - kept.height
        if skipped:
            shown = "; ".join(f"{c} is {' or '.join(v)}" for c, v in mapping.event_where.items())
            notes.append(f"{skipped:,} rows of the events file are not stage changes ({shown} only) and were skipped.")
        frame = kept

    def column(name: str) -> pl.Expr:
        if names.get(name):
            return pl.col(names[name])
        constant = _constant(mapping.event_constants, name)
        return pl.lit(None, dtype=pl.String) if constant is None else constant

    people = [column(n).cast(pl.String).alias(n) for n in ("rep", "owner", "closer")]
    people += [pl.col(c).alias(ATTRIBUTE + a) for a, c in mapping.event_attributes.items()]
    parts = []
    if names.get("stage") or mapping.event_constants.get("stage"):
        table = mapping.values.get("event_stage", {})
        stage_text = column("stage").cast(pl.String)
        stage = stage_text.replace_strict(table, default=stage_text, return_dtype=pl.String)
        occurred = names["occurred_at"]
        when = _dates(frame, occurred, _whole_column_order(mapping, frame[occurred], notes), problems, "events", now)
        parsed = frame.select(
            "row",
            pl.col(names["external_id"]).alias("external_id"),
            pl.when(stage.is_in(list(STAGES))).then(stage).alias("stage"),
            stage_text.alias("stage_text"),
            when.alias("occurred_at"),
            *people,
        )
        problems.append(
            _problems(parsed, pl.col("stage").is_null(), names.get("stage") or "stage", "unknown stage",
                      value="stage_text", file="events")
        )  # fmt: skip
        parts.append(parsed.drop("stage_text"))
    for stage, source in mapping.event_stage_dates.items():
        when = _dates(frame, source, _whole_column_order(mapping, frame[source], notes), problems, "events", now)
        parts.append(
            frame.select(
                "row",
                pl.col(names["external_id"]).alias("external_id"),
                pl.lit(stage).alias("stage"),
                when.alias("occurred_at"),
                *people,
            ).filter(pl.col("occurred_at").is_not_null())
        )
    rows = pl.concat(parts, how="diagonal_relaxed")
    problems.append(
        _problems(rows, pl.col("external_id").is_null(), names["external_id"], "missing lead id",
                  value="external_id", file="events")
    )  # fmt: skip
    return rows.drop_nulls(["external_id", "stage", "occurred_at"]).drop("row")


def _with_event_facts(valid: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """valid with what the events file says of each lead: a stage further than its status, and its owner, closer
    and attributes where the leads file has none."""
    ordered = events.sort("occurred_at")
    facts = [c for c in events.columns if c in ("owner", "closer") or c.startswith(ATTRIBUTE)]
    latest = ordered.group_by("external_id").agg(
        _furthest(pl.col("stage")).alias("event_stage"), *(pl.col(c).drop_nulls().last().alias(c) for c in facts)
    )
    joined = valid.join(latest, on="external_id", how="left", suffix="_event")
    status = pl.col("stage") if "stage" in valid.columns else pl.lit(None, dtype=pl.String)
    further = _stage_rank(pl.col("event_stage")) > _stage_rank(status).fill_null(-1.0)
    joined = joined.with_columns(pl.when(further).then(pl.col("event_stage")).otherwise(status).alias("stage"))
    for name in facts:
        if f"{name}_event" in joined.columns:
            joined = joined.with_columns(pl.coalesce(name, f"{name}_event").alias(name)).drop(f"{name}_event")
    return joined.drop("event_stage")


RANK = {s.value: i for i, s in enumerate(MAIN_PATH)}
REASON_KIND = {r.key: r.kind.value for r in REJECTION_REASONS}
DISQUALIFICATION_KEYS = tuple(r.key for r in DISQUALIFICATION_REASONS)
# The main-path stage each detour implies was reached first.
DETOUR_REACHED = {Stage.REJECTED.value: "mql", Stage.DISQUALIFIED.value: "sal", Stage.LOST.value: "opportunity"}
DETOUR_STAGES = (Stage.REJECTED.value, Stage.DISQUALIFIED.value, Stage.LOST.value, Stage.RECYCLED.value)


def _stage_rank(stage: pl.Expr) -> pl.Expr:
    # Detours rank just past the stage they leave from, so "rejected" is further than "mql".
    ranks = {**{k: float(v) for k, v in RANK.items()}, **{k: RANK[v] + 0.5 for k, v in DETOUR_REACHED.items()}}
    return stage.replace_strict(ranks, default=-1.0, return_dtype=pl.Float64)


def _furthest(stage: pl.Expr) -> pl.Expr:
    return stage.sort_by(_stage_rank(stage)).last()


KIND_TYPES = {
    "id": pl.String,
    "text": pl.String,
    "category": pl.String,
    "int": pl.Int64,
    "bool": pl.Boolean,
    "number": pl.Float64,
}
FIELD_TYPES = {f.name: KIND_TYPES.get(f.kind, pl.Datetime("us")) for f in LEAD_FIELDS} | {"feedback_text": pl.String}
TEXT_FIELDS = (
    "campaign",
    "channel",
    "owner",
    "closer",
    "role",
    "seniority",
    "country",
    "region",
    "company",
    "industry",
)
DATED_STAGES = (*RANK, *DETOUR_STAGES)


def _handoff_rows(
    valid: pl.DataFrame, *, now: datetime, dated: bool, entry_stage: str | None
) -> dict[str, pl.DataFrame]:
    """Leads, the stage events their status implies, sales decisions and disqualifications."""
    # Fields the mapping leaves out are empty columns, so that everything below reads every field the same way.
    absent = {name: kind for name, kind in FIELD_TYPES.items() if name not in valid.columns}
    absent |= {f"{s}_date": pl.Datetime("us") for s in DATED_STAGES if f"{s}_date" not in valid.columns}
    valid = valid.with_columns(pl.lit(None, dtype=kind).alias(name) for name, kind in absent.items())
    feedback, status = pl.col("feedback"), pl.col("stage")
    rejected_reason = pl.when(feedback.is_in(list(REASON_KIND))).then(feedback)
    disqualified_reason = pl.when(feedback.is_in(list(DISQUALIFICATION_KEYS))).then(feedback)
    detour_ranks = {k: RANK[v] for k, v in DETOUR_REACHED.items()}
    # How far the lead got: its status, a stage it has a date for, or what sales' feedback implies.
    reached = pl.max_horizontal(
        status.replace_strict({**RANK, **detour_ranks}, default=0, return_dtype=pl.Int64),
        *(pl.when(pl.col(f"{s}_date").is_not_null()).then(r).otherwise(0) for s, r in {**RANK, **detour_ranks}.items()),
        pl.when(feedback == ACCEPTED)
        .then(RANK["sal"])
        .when(rejected_reason.is_not_null())
        .then(RANK["mql"])
        .when(disqualified_reason.is_not_null())
        .then(RANK["sal"])
        .otherwise(0),
    )
    was_rejected = rejected_reason.is_not_null() | pl.col("rejected_date").is_not_null()
    was_disqualified = disqualified_reason.is_not_null() | pl.col("disqualified_date").is_not_null()
    detour = (
        pl.when(status.is_in(list(DETOUR_STAGES)))
        .then(status)
        .when(was_rejected & (reached <= RANK["mql"]))
        .then(pl.lit(Stage.REJECTED.value))
        .when(was_disqualified & (reached <= RANK["sal"]))
        .then(pl.lit(Stage.DISQUALIFIED.value))
        .when(pl.col("lost_date").is_not_null() & (reached <= RANK["opportunity"]))
        .then(pl.lit(Stage.LOST.value))
    )  # fmt: skip
    base = valid.with_columns(
        reached.alias("reached"),
        detour.alias("detour"),
        rejected_reason.alias("rejected_reason"),
        disqualified_reason.alias("disqualified_reason"),
    )
    main_names = [s.value for s in MAIN_PATH]
    # A last-activity value adds one to the behaviour count it stands for.
    counters = [(pl.col(c).fill_null(0) + (pl.col("activity") == c).fill_null(False).cast(pl.Int64)) for c in COUNTERS]
    created = (pl.col("created_at") if dated else pl.lit(now)).cast(pl.Datetime("us"))
    leads = base.select(
        "external_id",
        created.alias("created_at"),
        *TEXT_FIELDS,
        "channel_label",
        "company_size_band",
        "revenue_band",
        *[e.cast(pl.Int64).alias(c) for e, c in zip(counters, COUNTERS, strict=True)],
        "has_budget",
        "is_authority",
        "has_need",
        "timeline_months",
        pl.coalesce(pl.col("detour"), pl.col("reached").replace_strict(dict(enumerate(main_names)))).alias("stage"),
        pl.when(pl.col("reached") >= RANK["mql"]).then(pl.lit("import")).alias("mql_route"),
        pl.col("score").alias("crm_score"),
        pl.lit(now).cast(pl.Datetime("us")).alias("imported_at"),
        pl.lit(dated).alias("dated"),
    )

    def event(stage: str, stage_expr: pl.Expr) -> pl.Expr:
        # The time a stage was reached: its own date column; the lead's creation for its entry stage (inquiry, or
        # the stage every row of the file is in); otherwise unknown (timed false, the creation as a placeholder).
        own = pl.col(f"{stage}_date")
        entry = pl.lit(dated) & stage_expr.is_in([Stage.INQUIRY.value, entry_stage or Stage.INQUIRY.value])
        # An unknown time is left empty: the write puts the lead's creation there, and a re-import finds it again.
        return [
            pl.coalesce(own, pl.when(entry).then(pl.col("created_at"))).cast(pl.Datetime("us")).alias("occurred_at"),
            (own.is_not_null() | entry).alias("timed"),
        ]

    main = [
        base.filter(pl.col("reached") >= rank).select(
            "external_id", pl.lit(stage).alias("stage"), *event(stage, pl.lit(stage))
        )
        for stage, rank in RANK.items()
    ]
    detours = [
        base.filter(pl.col("detour") == stage).select(
            "external_id", pl.lit(stage).alias("stage"), *event(stage, pl.lit(stage))
        )
        for stage in DETOUR_STAGES
    ]
    events = pl.concat(main + detours).with_columns(pl.lit(None, dtype=pl.String).alias("rep"))
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
        pl.col("owner"),
    )
    disqualifications = base.filter(pl.col("detour") == Stage.DISQUALIFIED.value).select(
        "external_id",
        pl.col("disqualified_reason").fill_null("no_need").alias("reason"),
        comment.alias("comment"),
    )
    return {"leads": leads, "events": events, "decisions": decisions, "disqualifications": disqualifications}


def _decision_times(rows: dict[str, pl.DataFrame]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Decisions and disqualifications with their time where an event dates them (timed), and who decided."""
    timed = rows["events"].filter(pl.col("timed")).sort("occurred_at")

    def dated(frame: pl.DataFrame, stage: pl.Expr, at: str) -> pl.DataFrame:
        first = (
            timed.join(frame.select("external_id", stage.alias("stage")), on=["external_id", "stage"], how="semi")
            .group_by("external_id")
            .agg(pl.col("occurred_at").first().alias(at), pl.col("rep").first().alias("event_rep"))
        )
        return frame.join(first, on="external_id", how="left").with_columns(pl.col(at).is_not_null().alias("timed"))

    decision_stage = (
        pl.when(pl.col("decision") == Decision.ACCEPTED.value).then(pl.lit("sal")).otherwise(pl.lit("rejected"))
    )
    decisions = dated(rows["decisions"], decision_stage, "decided_at")
    # A decision of unknown time still follows its hand-off: its placeholder is the lead's last MQL time (or its
    # creation), so that it is matched to that hand-off and not read as an earlier one's.
    handed = (
        rows["events"]
        .filter(pl.col("stage") == Stage.MQL.value)
        .join(rows["leads"].select("external_id", "created_at"), on="external_id", how="left")
        .group_by("external_id")
        .agg(pl.coalesce("occurred_at", "created_at").max().alias("handed_at"))
    )
    decisions = (
        decisions.join(handed, on="external_id", how="left")
        .with_columns(pl.coalesce("decided_at", "handed_at").alias("decided_at"))
        .drop("handed_at")
    )
    decisions = decisions.with_columns(pl.coalesce("event_rep", "owner").alias("rep")).drop("event_rep", "owner")
    disqualifications = dated(rows["disqualifications"], pl.lit("disqualified"), "disqualified_at").drop("event_rep")
    return decisions, disqualifications


def _attributes(valid: pl.DataFrame) -> pl.DataFrame:
    """The lead attributes as rows: external_id, name, value (empty values left out)."""
    columns = [c for c in valid.columns if c.startswith(ATTRIBUTE)]
    if not columns:
        return pl.DataFrame(schema={"external_id": pl.String, "name": pl.String, "value": pl.String})
    return (
        valid.select("external_id", *columns)
        .unpivot(index="external_id", variable_name="name", value_name="value")
        .drop_nulls("value")
        .with_columns(pl.col("name").str.strip_prefix(ATTRIBUTE), pl.col("value").cast(pl.String))
    )

"""Every text a page shows a person, read from an AppTest run, and the checker of the labels rule (issue 17, item 6):
no internal code, enum name or "None" on screen, hours above 48 in days, counts as integers, one percentage format
per table."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from html.parser import HTMLParser

import pandas as pd

from dashboard.auth.rights import ACTION_LABELS, ROLE_LABELS, Action, Role
from dashboard.domain import (
    ACTIVITY_COUNTS,
    CHANNELS,
    COUNTING_MODE_LABELS,
    DISQUALIFICATION_REASONS,
    REJECTION_REASONS,
    STAGE_LABELS,
    TIER_LABELS,
    CountingMode,
    Decision,
    ScoreComponent,
    Stage,
    Tier,
)

LABEL, PROSE, TITLE = "label", "prose", "title"  # a value in a label's place (a cell, an option, a tick); a sentence;
# a table's column title (on screen or in a download)


@dataclass(frozen=True)
class Shown:
    """One text on screen: where it is (page and element), the text, and whether it stands in a label's place.
    table: the table it belongs to, for the rule of one percentage format per table."""

    where: str
    text: str
    kind: str = PROSE
    table: str | None = None


# ----- the codes: derived from the enums and their label maps, never listed by hand -----------------------------------


def _pairs() -> Iterator[tuple[str, str]]:
    """Every internal code with the label a person should see instead."""
    labelled: tuple[tuple[type[StrEnum], dict], ...] = (
        (Stage, STAGE_LABELS),
        (Tier, TIER_LABELS),
        (CountingMode, COUNTING_MODE_LABELS),
        (Role, ROLE_LABELS),
        (Action, ACTION_LABELS),
    )
    for enum, labels in labelled:
        yield from ((member.value, labels[member]) for member in enum)
    # enums without a label map are shown capitalised ("Accepted", "Firmographic weight"). The reason kinds are
    # English adjectives the pages use as such ("Duplicate record (procedural)"), not codes.
    for enum in (Decision, ScoreComponent):
        yield from ((member.value, member.value.capitalize()) for member in enum)
    yield from ((c.key, c.label) for c in CHANNELS)
    yield from ((r.key, r.label) for r in (*REJECTION_REASONS, *DISQUALIFICATION_REASONS))
    yield from ((name, name.replace("_", " ").capitalize()) for name in ACTIVITY_COUNTS)


@dataclass(frozen=True)
class Codes:
    """The codes that must not show: those with an underscore (anywhere, as a whole word), and the others that differ
    from their label (only where a label is expected: "mql" as a cell, an option or a tick; never the English word
    "rejected" in a sentence). Case-sensitive: the code "email" is not the label "Email"."""

    underscored: frozenset[str]
    bare: frozenset[str]

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> Codes:
        pairs = [(code, label) for code, label in pairs if code != label]
        return cls(
            underscored=frozenset(c for c, _ in pairs if "_" in c),
            bare=frozenset(c for c, _ in pairs if "_" not in c),
        )


def domain_codes(channels: Iterable[tuple[str, str]] = ()) -> Codes:
    """The codes of the domain's enums and label maps, and the keys of the data's own channels (key, label) that
    read as codes ("trade_show"); a one-word key ("other") is also the file's own word for an attribute's value."""
    return Codes.of([*_pairs(), *((key, label) for key, label in channels if "_" in key)])


# ----- the rules ------------------------------------------------------------------------------------------------------

MISSING = {"None", "none", "nan", "NaN", "NaT", "null", "<NA>"}
MISSING_IN_TEXT = re.compile(r"(?<![\w])(?:nan|NaN|NaT|null|<NA>)(?![\w])|(?<=[\w:=(] )None(?=\s*(?:$|[),;·|]))")
NUMBER = r"\d[\d,]*(?:\.\d+)?"
HOURS = re.compile(rf"(?<![\w.,])({NUMBER})\s?(?:h|hrs?|hours?)(?![\w])")
HOURS_THEN_FIGURE = re.compile(rf"(?i)\bhours?(?: [a-z]+){{0,2}}:? ({NUMBER})(?![\d.,]|\s*%)")
# "1 days", "1 visits": one of a thing in the plural (not "1 is", "1 has", "1 of")
ONE_PLURAL = re.compile(r"(?<![\d.,])1 (?!(?:is|was|has|does|this|its|plus|less|as|us)\b)[A-Za-z]+(?<!ss)s\b")
COUNT_NOUNS = r"(?:leads?|MQLs?|SALs?|SQLs?|wins?|decisions?|rejections?|opportunities|customers|inquiries)"
WHOLE_DECIMAL = re.compile(rf"(?<![\w.,])[+-]?\d[\d,]*\.0 {COUNT_NOUNS}\b")
WHOLE_DECIMAL_VALUE = re.compile(r"[+-]?\d[\d,]*\.0")
# a percentage figure; not a confidence level ("95%: 1,880–2,034", "95% interval")
PERCENT = re.compile(r"(?<![\w.])\d+(?:\.(\d+))?%(?!:|\s*(?:interval|CI)\b)")
IDENTIFIER = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
PARTS = re.compile(r"\s*(?:→|·|\||,|;|×|\(|\))\s*")


def _figure(text: str) -> float:
    return float(text.replace(",", ""))


def problems(item: Shown, codes: Codes) -> list[str]:
    """What is wrong with one text on screen (empty when nothing is)."""
    text = item.text.strip()
    found = []
    for code in sorted(codes.underscored):
        if re.search(rf"(?<![\w]){re.escape(code)}(?![\w])", text):
            found.append(f"internal code {code!r}")
    if item.kind == TITLE and IDENTIFIER.fullmatch(text):
        found.append(f"column named by its internal name {text!r}")
    if item.kind in (LABEL, TITLE):
        parts = {text, *PARTS.split(text)}
        found += [f"internal code {code!r}" for code in sorted(codes.bare & parts)]
        found += [f"missing value shown as {v!r}" for v in sorted(MISSING & parts)]
    found += [f"missing value shown as {m.group(0)!r}" for m in MISSING_IN_TEXT.finditer(text)]
    for pattern in (HOURS, HOURS_THEN_FIGURE):
        found += [f"{m.group(0)!r}: hours above 48 (show days)" for m in pattern.finditer(text) if _figure(m[1]) > 48]
    found += [f"{m.group(0)!r}: singular count with a plural" for m in ONE_PLURAL.finditer(text)]
    found += [f"{m.group(0)!r}: a count with a decimal" for m in WHOLE_DECIMAL.finditer(text)]
    if item.kind == LABEL and WHOLE_DECIMAL_VALUE.fullmatch(text):
        found.append(f"{text!r}: a whole number with a decimal")
    return found


def percent_formats(text: str) -> set[int]:
    """The numbers of decimals of the percentages in text ("40.22% and 56.1%" -> {2, 1})."""
    return {len(m.group(1) or "") for m in PERCENT.finditer(text)}


def findings(shown: Iterable[Shown], codes: Codes) -> list[str]:
    """Every breach of the labels rule, each naming the page, the element and the text."""
    out = []
    formats: dict[str, dict[int, str]] = defaultdict(dict)
    for item in shown:
        out += [f"{item.where}: {problem} in {item.text!r}" for problem in problems(item, codes)]
        if item.table is not None and item.kind != TITLE:
            for decimals in percent_formats(item.text):
                formats[item.table].setdefault(decimals, item.text)
    for table, seen in formats.items():
        if len(seen) > 1:
            examples = ", ".join(repr(text) for _, text in sorted(seen.items()))
            out.append(f"{table}: percentages in {len(seen)} formats in one table ({examples})")
    return out


# ----- reading what a page shows --------------------------------------------------------------------------------------

ICON = re.compile(r":material/[a-z_]+:")
TAG = re.compile(r"<[^>]+>")
TEMPLATE_FIELD = re.compile(r"%\{[^}]*\}")


def unmarked(text: str) -> str:
    """text as the page shows it: markdown escapes, word joiners, icons, bold marks and HTML tags taken out."""
    text = ICON.sub("", text).replace("\u2060", "")
    text = re.sub(r"\\(.)", r"\1", text).replace("**", "")
    return TAG.sub(" ", text)


SHOWN_FIELDS = {"label": LABEL, "body": PROSE, "help": PROSE, "placeholder": PROSE, "delta": PROSE}


def _proto_texts(proto, where: str) -> Iterator[Shown]:
    """The shown text fields of a widget's or element's message: labels, bodies, help, options as displayed."""
    for field, value in proto.ListFields():
        if field.name in SHOWN_FIELDS and isinstance(value, str) and value:
            yield Shown(f"{where} {field.name}", unmarked(value), SHOWN_FIELDS[field.name])
        elif field.name == "options":
            for option in value:
                text = option if isinstance(option, str) else getattr(option, "content", "")
                if text:
                    yield Shown(f"{where} option", unmarked(text), LABEL)


def _percent_format(config: dict) -> str | None:
    """The decimals a numeric column's configured format shows its percentages with ("percent" shows two)."""
    fmt = (config.get("type_config") or {}).get("format")
    if fmt == "percent":
        return "00.00%"
    if isinstance(fmt, str) and fmt.endswith("%%"):
        match = re.search(r"\.(\d+)f", fmt)
        return "0" + ("." + "0" * int(match.group(1)) if match else "") + "%"
    return None


def _printf(fmt: str | None, value: float) -> str:
    """A number as a column's printf format shows it (no format: as Python writes a float, "57.0")."""
    match = re.fullmatch(r"%([+,]*)(?:\.(\d+))?([df])", fmt or "")
    if match is None:
        return str(value) if fmt is None else ""
    flags, decimals, kind = match.groups()
    return f"{value:{flags}.{0 if kind == 'd' else int(decimals or 6)}f}"


def frame_texts(frame: pd.DataFrame, configs: dict, where: str) -> Iterator[Shown]:
    """A table's column titles and text cells as shown (the column_config's labels, hidden columns left out),
    the formats of its percentage columns, and the hour figures of columns about hours."""
    for position, name in enumerate(frame.columns):
        config = configs.get(str(name)) or configs.get(f"_pos:{position}") or {}
        if config.get("hidden"):
            continue
        title = config.get("label") or str(name)
        yield Shown(f"{where} column title", title, TITLE, table=where)
        column = frame[name]
        if (shown := _percent_format(config)) is not None:
            yield Shown(f"{where} column {title!r} format", shown, LABEL, table=where)
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            fmt = (config.get("type_config") or {}).get("format")
            values = column.dropna()
            if "hour" in title.lower():
                words = title.replace("_", " ")
                yield from (Shown(f"{where} column {title!r}", f"{words} {v:g}") for v in values)
            if re.search(rf"\b{COUNT_NOUNS}\b", title, re.IGNORECASE) and pd.api.types.is_float_dtype(column):
                yield from (Shown(f"{where} column {title!r}", _printf(fmt, v), LABEL) for v in values)
            continue
        for value in column:
            if value is None or (isinstance(value, float) and pd.isna(value)):
                yield Shown(f"{where} column {title!r}", "None", LABEL, table=where)
            elif isinstance(value, str):
                yield Shown(f"{where} column {title!r}", unmarked(value), LABEL, table=where)


def _strings(values) -> list[str]:
    """The text values of a plotly array (numeric arrays may be binary-encoded dicts: no text in them)."""
    if isinstance(values, str):
        return [values]
    if isinstance(values, list):
        return [v for v in values if isinstance(v, str)]
    return []


def chart_texts(spec: str, where: str) -> Iterator[Shown]:
    """A plotly figure's titles, axis titles, tick and category labels, legend names, annotations, bar texts and the
    static text of its hover templates."""
    figure = json.loads(spec)
    layout = figure.get("layout", {})

    def title(node) -> str:
        value = node.get("title") if isinstance(node, dict) else None
        return value.get("text", "") if isinstance(value, dict) else value or ""

    if text := title(layout):
        yield Shown(f"{where} title", unmarked(text))
    for name, axis in layout.items():
        if name.startswith(("xaxis", "yaxis")) and isinstance(axis, dict):
            if text := title(axis):
                yield Shown(f"{where} {name} title", unmarked(text), LABEL)
            yield from (Shown(f"{where} {name} tick", unmarked(t), LABEL) for t in _strings(axis.get("ticktext")))
    if text := title(layout.get("legend", {})):
        yield Shown(f"{where} legend title", unmarked(text), LABEL)
    for note in layout.get("annotations", []):
        if note.get("text"):
            yield Shown(f"{where} annotation", unmarked(note["text"]))
    for shape in layout.get("shapes", []):
        if (label := shape.get("label") or {}).get("text"):
            yield Shown(f"{where} line label", unmarked(label["text"]))
    for index, trace in enumerate(figure.get("data", [])):
        trace_where = f"{where} trace {trace.get('name') or index}"
        legend = trace.get("showlegend", trace.get("type") not in ("heatmap", "pie", "funnel", "indicator"))
        if trace.get("name") and legend:
            yield Shown(f"{trace_where} legend name", unmarked(trace["name"]), LABEL)
        for axis in ("x", "y", "labels"):
            yield from (Shown(f"{trace_where} {axis} category", unmarked(v), LABEL) for v in _strings(trace.get(axis)))
        for key in ("text", "texttemplate"):
            texts = (TEMPLATE_FIELD.sub(" ", v) for v in _strings(trace.get(key)))
            yield from (Shown(f"{trace_where} {key}", unmarked(v)) for v in texts if v.strip())
        for template in _strings(trace.get("hovertemplate")):
            static = TEMPLATE_FIELD.sub(" ", re.sub(r"<extra>.*?</extra>", "", template))
            yield Shown(f"{trace_where} hover", unmarked(static))


def csv_texts(data: bytes, where: str) -> Iterator[Shown]:
    """A CSV download's column names and text cells."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    if not rows:
        return
    header, body = rows[0], rows[1:]
    yield from (Shown(f"{where} column name", name, TITLE, table=where) for name in header)
    for row in body:
        for name, value in zip(header, row, strict=False):
            if "hour" in name.lower() and re.fullmatch(NUMBER, value):
                yield Shown(f"{where} column {name!r}", f"{name.replace('_', ' ')} {value}")
            elif value and not re.fullmatch(r"-?[\d.,]+(?:e-?\d+)?", value):
                yield Shown(f"{where} column {name!r}", value, LABEL, table=where)


class _Report(HTMLParser):
    """The texts of an HTML file: table headers as titles, cells as labels (each table its own), the rest as prose."""

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where, self.shown, self.tables = where, [], 0
        self.kind, self.table, self.skip, self.text = PROSE, None, 0, []

    def _flush(self) -> None:
        text = " ".join("".join(self.text).split())
        if text:
            where = self.table or f"{self.where} text"
            self.shown.append(Shown(where, text, self.kind, self.table if self.kind == LABEL else None))
        self.text = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ("style", "script"):
            self.skip += 1
        elif tag == "table":
            self._flush()
            self.tables += 1
            self.table = f"{self.where} table {self.tables}"
        elif tag in ("th", "td", "p", "li", "h1", "h2", "h3", "h4", "caption", "div", "br", "tr"):
            self._flush()
            self.kind = {"th": TITLE, "td": LABEL}.get(tag, PROSE if self.table is None else self.kind)

    def handle_endtag(self, tag) -> None:
        if tag in ("style", "script"):
            self.skip -= 1
        elif tag in ("th", "td", "p", "li", "h1", "h2", "h3", "h4", "caption", "div", "table"):
            self._flush()
            if tag == "table":
                self.table, self.kind = None, PROSE

    def handle_data(self, data) -> None:
        if not self.skip:
            self.text.append(data)


def html_texts(data: bytes, where: str) -> list[Shown]:
    """An HTML download's (the weekly report's) text: headings, paragraphs, table titles and cells."""
    report = _Report(where)
    report.feed(data.decode("utf-8"))
    report.close()
    report._flush()
    return report.shown


# ----- walking an AppTest run -----------------------------------------------------------------------------------------


class Downloads:
    """The files of the deferred downloads, kept as Streamlit registers them: AppTest's runtime, which holds them, is
    gone once a run ends. install() on a pytest monkeypatch, then make(file_id) is what a click would download."""

    def __init__(self) -> None:
        self.deferred: dict[str, tuple[str, Callable]] = {}

    def install(self, monkeypatch) -> Downloads:
        from streamlit.runtime.media_file_manager import MediaFileManager

        original, deferred = MediaFileManager.add_deferred, self.deferred

        def add_deferred(manager, data_callable, mimetype, coordinates, file_name=None, **kwargs):
            file_id = original(manager, data_callable, mimetype, coordinates, file_name, **kwargs)
            deferred[file_id] = (file_name or "", data_callable)
            return file_id

        monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
        return self

    def make(self, file_id: str) -> tuple[str, bytes] | None:
        """The file name and bytes a click on the button with this deferred file would download."""
        if file_id not in self.deferred:
            return None
        name, make = self.deferred[file_id]
        data = make()
        return name, data.encode() if isinstance(data, str) else data


def cut_labels(at) -> list[str]:
    """The download buttons whose label Streamlit may cut short with an ellipsis (in a column or a row, a label
    wraps only when the button asks for it)."""
    return [b.proto.label for b in at.get("download_button") if not (b.proto.HasField("wrap") and b.proto.wrap)]


def screen_texts(at, page: str, downloads: Downloads | None = None) -> list[Shown]:
    """Every text page shows in the AppTest run at (its sidebar included), and what its CSV downloads hold."""
    from streamlit.testing.v1.element_tree import Block

    shown: list[Shown] = []
    counts: dict[str, int] = defaultdict(int)

    def visit(node) -> None:
        kind = getattr(node, "type", type(node).__name__)
        counts[kind] += 1
        where = f"{page} · {kind} {counts[kind]}"
        if isinstance(node, Block):
            if getattr(node, "label", ""):
                shown.append(Shown(f"{where} label", unmarked(node.label), LABEL))
            for child in node.children.values():
                visit(child)
            return
        proto = node.proto
        if kind == "plotly_chart":
            shown.extend(chart_texts(proto.spec, where))
        elif kind in ("dataframe", "table"):
            configs = json.loads(proto.columns) if getattr(proto, "columns", "") else {}
            key = f" {node.key!r}" if getattr(node, "key", None) else ""
            shown.extend(frame_texts(node.value, configs, f"{where}{key}"))
        elif kind == "metric":  # its value stands in a label's place
            shown.extend(s for s in _proto_texts(proto, where) if not s.where.endswith(" body"))
            shown.append(Shown(f"{where} value", unmarked(proto.body), LABEL))
        else:
            shown.extend(_proto_texts(proto, where))
        made = downloads.make(proto.deferred_file_id) if downloads and kind == "download_button" else None
        if made and made[0].endswith(".csv"):
            shown.extend(csv_texts(made[1], f"{where} download {made[0]}"))
        elif made and made[0].endswith(".html"):
            shown.extend(html_texts(made[1], f"{where} download {made[0]}"))

    visit(at._tree)
    return shown

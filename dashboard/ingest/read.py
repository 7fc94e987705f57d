"""Reading: a CSV (any common delimiter and encoding) or an Excel sheet, every column as text."""

from __future__ import annotations

import codecs
import csv
import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import charset_normalizer
import fastexcel
import polars as pl

from dashboard.ingest.mapping import ImportRefused, Mapping

DELIMITERS = ",;\t|"
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
HEAD_BYTES = 1_000_000
# What a file that is not text starts with, so that the message can say what it is.
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image", None),
    (b"\xff\xd8\xff", "a JPEG image", None),
    (b"GIF8", "a GIF image", None),
    (b"%PDF", "a PDF document", None),
    (b"PK\x03\x04", "a ZIP archive, such as an Excel workbook", ".xlsx"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office file, such as an Excel 97-2003 workbook", ".xls"),
    (b"\x1f\x8b", "a gzip archive", None),
)
BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# Bytes no text file holds (tab, line feed, vertical tab, form feed and carriage return are text).
CONTROL = bytes(range(0x00, 0x09)) + bytes(range(0x0E, 0x20))


class SheetNeeded(ImportRefused):
    """An Excel workbook with several sheets, and no sheet chosen: the mapping (or the page) must say which."""

    def __init__(self, name: str, sheets: list[str]):
        self.sheets = sheets
        listed = ", ".join(f"“{s}”" for s in sheets)
        super().__init__(
            f"{name} has {len(sheets)} sheets: {listed}. Say which one holds the leads: "
            f'sheet = "{sheets[0]}" (for example) in the mapping\'s [file] section.'
        )


def detect_encoding(raw: bytes) -> str:
    """utf-8 when the bytes decode as such, else the most likely encoding (cp1252 where it reads the same)."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        # Not final: a character cut by the end of the sample is no reason to doubt the rest.
        codecs.getincrementaldecoder("utf-8")().decode(raw, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    sample = raw[:200_000]
    results = charset_normalizer.from_bytes(sample)
    best = results.best()
    if best is None:
        return "cp1252"
    # Western European text decodes the same in several code pages; call it by the one most exports use.
    western = _decoded(sample, "cp1252")
    if western is not None and any(_decoded(sample, m.encoding) == western for m in results):
        return "cp1252"
    return best.encoding


def _decoded(raw: bytes, encoding: str) -> str | None:
    try:
        return raw.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def detect_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample: the candidate that splits the first lines into the same number of fields."""
    lines = [line for line in sample.splitlines()[:20] if line.strip()]
    if not lines:
        raise ImportRefused("The file is empty.")
    best, best_fields = ",", 1
    with _long_fields():
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
    sheet: str | None = None  # the Excel sheet read


@contextmanager
def _long_fields() -> Iterator[None]:
    # The csv module refuses fields over 128 KB; an oversized field is the validation's to report, not a crash.
    previous = csv.field_size_limit(1 << 30)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _opened(path: Path | str, name: str | None) -> tuple[Path, str, bytes]:
    """The file, the name to call it by and its first bytes; refused when it is missing or empty."""
    path = Path(path)
    name = name or path.name
    if not path.is_file():
        raise ImportRefused(f"There is no file {path}: check the path.")
    if path.stat().st_size == 0:
        raise ImportRefused(f"{name} is empty.")
    with path.open("rb") as handle:
        return path, name, handle.read(HEAD_BYTES)


def read_file(path: Path | str, *, mapping: Mapping, name: str | None = None) -> RawFile:
    """Every column of a CSV (any common delimiter and encoding) or Excel file, as text."""
    path, name, head = _opened(path, name)
    if path.suffix.lower() in EXCEL_SUFFIXES:
        return _read_excel(path, name, mapping, head)
    return _read_csv(path, name, mapping, head)


def _read_csv(path: Path, name: str, mapping: Mapping, head: bytes) -> RawFile:
    with _csv_text(path, name, mapping, head) as text:
        with text.reading():
            frame = pl.read_csv(text.path, separator=text.delimiter, infer_schema=False, encoding="utf8")
        if frame.height == 0:
            raise ImportRefused(f"{name} has a header but no rows: export it again with the leads.")
        text.refuse_short_rows(frame)
    return RawFile(_strings(frame), text.encoding, text.delimiter)


@dataclass
class _CsvText:
    """A CSV file as UTF-8 text (the file itself, or a transcoded copy) and how to read it."""

    path: Path
    name: str
    source: Path  # the file as given
    encoding: str
    delimiter: str
    head: bytes
    short_rows_checked: bool = False

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Polars' reading errors as the sentence that says where the file is wrong and how to fix it."""
        try:
            yield
        except pl.exceptions.ComputeError as exc:
            if "utf-8" in str(exc).lower():
                raise ImportRefused(_not_in(self.source, self.name, self.encoding, self.head)) from exc
            if "more fields" in str(exc):
                raise ImportRefused(
                    f"{self.name}: {_ragged_row(self.path, self.delimiter)}. Fix that row and try again."
                ) from exc
            raise ImportRefused(
                f"{self.name} could not be read as CSV: {_csv_fault(self.path, self.delimiter)}. A quote that opens a "
                "field and never closes it is the usual cause: fix that field and try again."
            ) from exc
        except pl.exceptions.NoDataError as exc:
            raise ImportRefused(f"{self.name} is empty.") from exc

    def refuse_short_rows(self, frame: pl.DataFrame) -> None:
        """Refuse the file when a row has fewer fields than the header (checked once, when a frame of it shows
        empty cells in the last column)."""
        if not self.short_rows_checked and frame.width >= 2 and frame[frame.columns[-1]].null_count():
            _refuse_short_rows(frame, self.path, self.delimiter, self.name)
            self.short_rows_checked = True


@contextmanager
def _csv_text(path: Path, name: str, mapping: Mapping, head: bytes) -> Iterator[_CsvText]:
    """The file's header checked and its text made readable as UTF-8 (a transcoded copy, removed afterwards)."""
    _refuse_binary(head, name)
    encoding = mapping.encoding if mapping.encoding != "auto" else detect_encoding(head)
    sample = head.decode(encoding, errors="replace").lstrip("\ufeff")
    if not sample.strip():
        raise ImportRefused(f"{name} is empty.")
    delimiter = mapping.delimiter if mapping.delimiter != "auto" else detect_delimiter(sample)
    with _long_fields():
        header = next(csv.reader(io.StringIO(sample), delimiter=delimiter), [])
    _refuse_duplicate_names(header, name)
    utf8 = codecs.lookup(encoding).name == "utf-8"
    text_path = path if utf8 else _transcoded(path, encoding, name, head)
    try:
        yield _CsvText(text_path, name, path, encoding, delimiter, head)
    finally:
        if text_path != path:
            text_path.unlink(missing_ok=True)


@dataclass
class Batches:
    """A file read a batch of rows at a time, so that a large one is never held whole: rows is every row, lazily
    (for a first pass over a few columns, inside reading()); iterating gives frames of batch_rows rows. Each frame
    holds the text columns and "row", the row's number as a spreadsheet shows it (the header is row 1)."""

    rows: pl.LazyFrame
    columns: list[str]
    encoding: str
    delimiter: str | None
    sheet: str | None
    batch_rows: int
    csv: _CsvText | None = None

    @property
    def raw(self) -> RawFile:
        """What read_file() says of the file, without its rows (for the notes)."""
        return RawFile(pl.DataFrame(), self.encoding, self.delimiter, self.sheet)

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Reading errors as a refusal that says where the file is wrong."""
        if self.csv is None:
            yield
        else:
            with self.csv.reading():
                yield

    def __iter__(self) -> Iterator[pl.DataFrame]:
        seen = 0
        for frame in self._frames():
            if self.csv is not None:
                self.csv.refuse_short_rows(frame)
            yield frame.with_row_index("row", offset=2 + seen)
            seen += frame.height
        if not seen:
            where = self.csv.name if self.csv is not None else f"The sheet “{self.sheet}”"
            raise ImportRefused(f"{where} has a header but no rows: export it again with the leads.")

    def _frames(self) -> Iterator[pl.DataFrame]:
        if self.csv is None:
            rows = self.rows.drop("row").collect()
            for offset in range(0, rows.height, self.batch_rows):
                yield rows.slice(offset, self.batch_rows)
            return
        # A piece of the file at a time, each read on its own after the header: polars' own batches and slices
        # map or read ahead the whole file, which would hold a large one in memory while it is written.
        header, size = _header_record(self.csv.path), max(1, self.batch_rows * _record_bytes(self.csv.head))
        for piece in _pieces(self.csv.path, len(header), size):
            with self.reading():
                frame = pl.read_csv(
                    io.BytesIO(header + piece), separator=self.csv.delimiter, infer_schema=False, encoding="utf8"
                )
            yield frame.rename(dict(zip(frame.columns, self.columns, strict=True)))


def _record_bytes(head: bytes) -> int:
    """About how many bytes a record of the file takes, from its first megabyte."""
    return max(1, len(head) // max(1, head.count(b"\n")))


def _header_record(path: Path) -> bytes:
    """The file's first record (the header), with its line end: the first line feed outside quotes."""
    with path.open("rb") as handle:
        data = b""
        while block := handle.read(1 << 16):
            data += block
            end = data.find(b"\n")
            while end >= 0 and data.count(b'"', 0, end) % 2:
                end = data.find(b"\n", end + 1)
            if end >= 0:
                return data[: end + 1]
    return data


def _pieces(path: Path, start: int, size: int) -> Iterator[bytes]:
    """The file's bytes after start, in pieces of about size bytes, each ending at the end of a record: a line feed
    outside quotes, between two lines that are not empty (so that a piece read on its own after the header gives the
    rows the whole file gives, blank lines included)."""
    with path.open("rb") as handle:
        handle.seek(start)
        carry = b""
        while block := handle.read(size):
            data = carry + block
            cut = _record_end(data)
            if cut is None:
                carry = data  # no end of a record in it: read on
                continue
            yield data[:cut]
            carry = data[cut:]
        if carry:
            yield carry


def _record_end(data: bytes, tries: int = 64) -> int | None:
    """Where the last record of data that can end a piece ends (after its line feed); None if there is none."""
    end = data.rfind(b"\n", 0, len(data) - 1)  # the byte after it must be there, to be looked at
    for _ in range(tries):
        if end <= 0:
            return None
        before = data[end - 2 : end - 1] if data[end - 1 : end] == b"\r" else data[end - 1 : end]
        blank_around = before == b"\n" or data[end + 1 : end + 2] in (b"\r", b"\n")
        if not blank_around and data.count(b'"', 0, end) % 2 == 0:
            return end + 1
        end = data.rfind(b"\n", 0, end)
    return None


@contextmanager
def read_batches(path: Path | str, *, mapping: Mapping, batch_rows: int, name: str | None = None) -> Iterator[Batches]:
    """A CSV file's rows a batch at a time, read as read_file() reads them (the same refusals, the same text); an
    Excel sheet is read whole, then given in batches."""
    path, name, head = _opened(path, name)
    if path.suffix.lower() in EXCEL_SUFFIXES:
        raw = _read_excel(path, name, mapping, head)
        rows = raw.frame.with_row_index("row", offset=2).lazy()
        yield Batches(rows, raw.frame.columns, raw.encoding, None, raw.sheet, batch_rows)
        return
    with _csv_text(path, name, mapping, head) as text:
        scan = pl.scan_csv(text.path, separator=text.delimiter, infer_schema=False, encoding="utf8")
        with text.reading():
            read = scan.collect_schema().names()
        columns = _names(read)
        rows = scan.rename(dict(zip(read, columns, strict=True))).with_row_index("row", offset=2)
        yield Batches(rows, columns, text.encoding, text.delimiter, None, batch_rows, text)


def _read_excel(path: Path, name: str, mapping: Mapping, head: bytes) -> RawFile:
    try:
        workbook = fastexcel.read_excel(path)
    except fastexcel.FastExcelError as exc:
        if _decoded(head[:65_536], "utf-8") is not None:
            raise ImportRefused(
                f"{name} is not an Excel workbook: it holds text. If it is a CSV export, give it the .csv extension."
            ) from exc
        raise ImportRefused(
            f"{name} could not be read as an Excel workbook ({str(exc).splitlines()[0]}). Open it in Excel, save it "
            "again as .xlsx, and try again; or export CSV."
        ) from exc
    sheets = list(workbook.sheet_names)
    sheet = mapping.sheet
    if sheet is None:
        if len(sheets) > 1:
            raise SheetNeeded(name, sheets)
        sheet = sheets[0]
    elif sheet not in sheets:
        listed = ", ".join(f"“{s}”" for s in sheets)
        raise ImportRefused(f"{name} has no sheet “{sheet}”; its sheets are: {listed}. Set file.sheet to one of them.")
    where = f"The sheet “{sheet}” of {name}"
    try:
        first = workbook.load_sheet(sheet, header_row=None, n_rows=1).to_polars()
        frame = pl.read_excel(path, sheet_name=sheet, infer_schema_length=0)
    except pl.exceptions.NoDataError as exc:
        raise ImportRefused(f"{where} is empty.") from exc
    except (fastexcel.FastExcelError, pl.exceptions.PolarsError) as exc:
        raise ImportRefused(f"{where} could not be read: {str(exc).splitlines()[0]}.") from exc
    if first.height:
        _refuse_duplicate_names(["" if v is None else str(v) for v in first.row(0)], where)
    if frame.height == 0:
        raise ImportRefused(f"{where} has a header but no rows: export it again with the leads.")
    return RawFile(_strings(frame), "xlsx", None, sheet)


def _refuse_binary(head: bytes, name: str) -> None:
    """Refuse, saying what it is, a file that is not text (an image, an archive, a workbook named .csv)."""
    for signature, what, suffix in SIGNATURES:
        if head.startswith(signature):
            fix = f"If it is a workbook, give it the {suffix} extension." if suffix else "Export the leads as CSV."
            raise ImportRefused(f"{name} is {what}, not a CSV file. {fix}")
    if head.startswith(BOMS):
        return
    sample = head[:65_536]
    # A NUL in a cell is a problem of that cell; a file full of control bytes is not text at all.
    if len(sample) - len(sample.translate(None, CONTROL)) > len(sample) / 100:
        raise ImportRefused(
            f"{name} is not a text file: it is full of bytes that no CSV holds. Export the leads as CSV or Excel."
        )


def _not_in(path: Path, name: str, encoding: str, head: bytes) -> str:
    """The sentence for a file that does not decode in encoding: where it fails and what it looks like."""
    line, byte = _undecodable(path, encoding)
    guess = detect_encoding(head)
    where = f": line {line:,} has the byte {byte.hex(' ').upper() or 'at the end'}, which {encoding} does not use"
    if guess.lower().replace("_", "-") == encoding.lower().replace("_", "-"):
        return f"{name} is not in {encoding}{where}. Set file.encoding in the mapping to the file's encoding."
    return (
        f"{name} is not in {encoding}{where}. It looks like {guess}: set file.encoding in the mapping to {guess} "
        "(or to auto)."
    )


def _undecodable(path: Path, encoding: str) -> tuple[int, bytes]:
    """The line of the first bytes that do not decode in encoding, and those bytes."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return line + chunk[: exc.start].count(b"\n"), chunk[exc.start : exc.end]
            line += chunk.count(b"\n")
    return line, b""


def _transcoded(path: Path, encoding: str, name: str, head: bytes) -> Path:
    # polars reads UTF-8 only: write a UTF-8 copy, a megabyte at a time, so memory stays bounded.
    handle, target_name = tempfile.mkstemp(prefix="handoff-import-", suffix=".csv")
    target = Path(target_name)
    try:
        with path.open(encoding=encoding, newline="") as source, open(handle, "w", encoding="utf-8", newline="") as out:
            while chunk := source.read(1 << 20):
                out.write(chunk)
    except UnicodeError as exc:
        target.unlink(missing_ok=True)
        raise ImportRefused(_not_in(path, name, encoding, head)) from exc
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def _refuse_duplicate_names(header: list[str], name: str) -> None:
    seen: dict[str, int] = {}
    for number, column in enumerate(header, start=1):
        key = column.strip().lstrip("\ufeff")
        if key and key in seen:
            raise ImportRefused(
                f"{name} has two columns named “{key}” (columns {seen[key]} and {number}): rename one, so that the "
                "mapping can tell them apart."
            )
        seen.setdefault(key, number)


def _records(text_path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Each record of a UTF-8 CSV after the header, with the line it starts on."""
    with _long_fields(), text_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        next(reader, None)
        line = reader.line_num
        for row in reader:
            yield line + 1, row
            line = reader.line_num


def _header_width(text_path: Path, delimiter: str) -> int:
    with _long_fields(), text_path.open(encoding="utf-8", newline="") as handle:
        return len(next(csv.reader(handle, delimiter=delimiter), []))


def _ragged_row(text_path: Path, delimiter: str) -> str:
    width = _header_width(text_path, delimiter)
    for line, row in _records(text_path, delimiter):
        if len(row) > width:
            return f"line {line:,} has {len(row)} fields but the header has {width}"
    return "a row does not match the header"


def _csv_fault(text_path: Path, delimiter: str) -> str:
    """Where Python's strict CSV reader stops, as "line N: why"."""
    with _long_fields(), text_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, strict=True)
        start = 1
        try:
            for _ in reader:
                start = reader.line_num + 1
        except csv.Error as exc:
            return f"the row that starts on line {start:,} is not properly quoted ({exc})"
    return "a field is not properly quoted"


def _refuse_short_rows(frame: pl.DataFrame, text_path: Path, delimiter: str, name: str) -> None:
    """Refuse a file whose rows have fewer fields than its header (polars would fill them in, empty)."""
    if frame.width < 2 or frame[frame.columns[-1]].null_count() == 0:
        return  # every row reaches the last column
    width = _header_width(text_path, delimiter)
    # A blank line is an empty row (skipped, with a note), not a short one.
    rows = _records(text_path, delimiter)
    short = [(line, len(row)) for line, row in rows if len(row) < width and any(c.strip() for c in row)]
    if not short:
        return
    line, fields = short[0]
    more = ""
    if len(short) > 1:
        shown = ", ".join(f"{n:,}" for n, _ in short[1:6]) + (", …" if len(short) > 6 else "")
        more = f" (and {len(short) - 1:,} more: lines {shown})"
    raise ImportRefused(
        f"{name}: line {line:,} has {fields} field{'s' if fields != 1 else ''} but the header has {width}{more}. "
        "A delimiter is missing or the export cut the row short: fix it and try again."
    )


def _names(columns: list[str]) -> list[str]:
    # A trailing delimiter in the header makes a column without a name: give it one a person can read.
    return [str(c).strip() or f"(unnamed column {i + 1})" for i, c in enumerate(columns)]


def _strings(frame: pl.DataFrame) -> pl.DataFrame:
    columns = _names(frame.columns)
    return frame.rename(dict(zip(frame.columns, columns, strict=True))).select(pl.all().cast(pl.String))
